/**
 * `iptables -L` as we print it against the real iptables-legacy 1.8.9: the same ruleset is restored
 * into a throwaway network namespace (never the host's tables) and listed with each flag set.
 * Needs root and iptables-legacy; skipped with the reason otherwise.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { parseIptablesSave } from "../../../inputs/iptables/parse-save.ts";
import { iptablesList } from "./iptables-list.ts";
import { seedNode } from "./testdata/seed-node.ts";

const root = fileURLToPath(new URL("../../../../", import.meta.url));

/** Matches and targets kube-proxy, the kubelet, docker and AKS write, beyond the seed's dump. */
const EXTRA = `*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:KUBE-GOTO - [0:0]
:KUBE-MISC - [0:0]
-A INPUT -j KUBE-MISC
-A KUBE-MISC -p tcp -m comment --comment "default/x: has no endpoints" -m tcp --dport 8080 -j REJECT --reject-with icmp-port-unreachable
-A KUBE-MISC -m conntrack --ctstate INVALID -j DROP
-A KUBE-MISC -i eth0 ! -o docker0 -p udp -m udp --sport 53 --dport 1000:2000 -j ACCEPT
-A KUBE-MISC -s 10.0.0.0/8 -d 127.0.0.1/32 -p tcp -m multiport --dports 80,443 -j ACCEPT
-A KUBE-MISC -p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN -j ACCEPT
-A KUBE-MISC -m state --state RELATED,ESTABLISHED -j ACCEPT
-A KUBE-MISC -p icmp -m icmp --icmp-type 8 -j ACCEPT
-A KUBE-MISC -m statistic --mode random --probability 0.33332999982 -j RETURN
-A KUBE-MISC -m mark ! --mark 0x4000/0x4000 -j RETURN
-A KUBE-MISC -m addrtype --src-type LOCAL -j RETURN
-A KUBE-MISC -m physdev --physdev-is-bridged -j ACCEPT
-A KUBE-MISC -j MARK --set-xmark 0x8000/0xffffffff
-A KUBE-MISC -j MARK --set-xmark 0x0/0x4000
-A KUBE-MISC -g KUBE-GOTO
-A KUBE-MISC
COMMIT
*mangle
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -p tcp -m tcp --dport 22 -j CONNMARK --set-xmark 0x1/0xffffffff
-A PREROUTING -j CONNMARK --restore-mark --nfmask 0xffffffff --ctmask 0xffffffff
COMMIT
`;

const skip = (() => {
  if (process.platform !== "linux") return "needs Linux network namespaces";
  if (process.getuid?.() !== 0) return "needs root to create a network namespace";
  if (spawnSync("which", ["iptables-legacy-restore"]).status !== 0) return "needs iptables-legacy";
  const v = spawnSync("iptables-legacy", ["--version"], { encoding: "utf8" }).stdout;
  return v.includes("v1.8.9") ? false : `needs iptables 1.8.9 (found ${v.trim()})`;
})();

const FLAG_SETS: readonly string[][] = [
  [],
  ["-n"],
  ["-v"],
  ["-n", "-v"],
  ["-n", "-v", "-x", "--line-numbers"],
  ["--line-numbers"],
];

describe("iptables -L against iptables-legacy 1.8.9", { skip }, () => {
  const ns = `pwn-${process.pid}`;
  const sources = {
    seed: readFileSync(`${root}examples/seed-cluster.rules`, "utf8"),
    extra: EXTRA,
  };
  before(() => {
    execFileSync("ip", ["netns", "add", ns]);
  });
  after(() => {
    spawnSync("ip", ["netns", "del", ns]);
  });

  for (const [name, text] of Object.entries(sources)) {
    it(`${name}: every table, with each set of flags`, () => {
      execFileSync("ip", ["netns", "exec", ns, "iptables-legacy-restore"], { input: text });
      const parsed = parseIptablesSave(text, name);
      assert.deepEqual(parsed.diagnostics, []);
      const node = { ...seedNode(parsed.value, "cluster"), iptablesVersion: "1.8.9" };
      for (const table of parsed.value.dumps[0]!.tables) {
        for (const flags of FLAG_SETS) {
          const args = ["-t", table.name, "-L", ...flags];
          const real = execFileSync("ip", ["netns", "exec", ns, "iptables-legacy", ...args], {
            encoding: "utf8",
          });
          const ours = iptablesList(node, args);
          assert.equal(ours.exitCode, 0, ours.stderr);
          assert.equal(ours.stdout, real, `iptables ${args.join(" ")}`);
        }
      }
    });
  }

  it("one chain, and a missing one", () => {
    execFileSync("ip", ["netns", "exec", ns, "iptables-legacy-restore"], { input: sources.seed });
    const node = {
      ...seedNode(parseIptablesSave(sources.seed, "seed").value, "cluster"),
      iptablesVersion: "1.8.9",
    };
    const args = ["-t", "nat", "-L", "KUBE-MARK-MASQ"];
    const real = execFileSync("ip", ["netns", "exec", ns, "iptables-legacy", ...args], { encoding: "utf8" });
    assert.equal(iptablesList(node, args).stdout, real);
    const missing = spawnSync("ip", ["netns", "exec", ns, "iptables-legacy", "-L", "NOPE"], {
      encoding: "utf8",
    });
    const ours = iptablesList(node, ["-L", "NOPE"]);
    assert.equal(ours.stderr, missing.stderr);
    assert.equal(ours.exitCode, missing.status);
  });
});
