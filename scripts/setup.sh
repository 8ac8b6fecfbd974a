#!/usr/bin/env bash
# One-time set-up on a fresh machine: the Debian tools the kernel tests drive (when we are root and
# apt is there), then the npm packages (npm ci also builds dist/ through the `prepare` script).
set -euo pipefail
cd "$(dirname "$0")/.."

# iptables/conntrack/ipset/iproute2/ping: the tests that check the simulator against the real kernel
# inside network namespaces they create. Without them (or without root) those tests skip and say why.
# python3-knack/python3-jmespath (with python3-tabulate): the az emulator's tests compare its
# -o table/tsv/json and --query with the real knack and jmespath (skipped without them).
# tshark/tcpdump: the pcap writer's tests read its files back with both; the tcpdump emulator's
# output and filters are compared with the real tcpdump (skipped without them).
# chromium: the web view's end-to-end tests drive it with playwright-core (skipped without it).
# curl: the lab's clients (`lab curl`, `lab verify`) run it inside the lab's namespaces.
packages=(iptables conntrack ipset iproute2 iputils-ping python3 python3-knack python3-jmespath python3-tabulate tshark
  tcpdump chromium curl)
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  missing=()
  for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    apt-get update -qq
    # wireshark-common asks whether non-root users may capture; answer no without a prompt.
    echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
else
  echo "setup: not root or no apt-get: skipping ${packages[*]} (the kernel tests will be skipped)"
fi

npm ci --no-audit --no-fund
