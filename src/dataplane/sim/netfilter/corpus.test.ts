import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { pkt, trace } from "../../../../test/support/netfilter.ts";

/** Every real dump traces packets of several kinds without a crash, and every path adds up to 1. */
const DUMPS = [
  "iptables-01-kind-ericpuwang.txt",
  "iptables-02-weave-bossjones.txt",
  "iptables-11-kubeadm-precni-dns-noendpoints-bossjones.txt",
  "kernel-save-legacy-1.8.9.txt",
  "kernel-save-nft-1.8.9.txt",
];

test("real dumps trace without a crash", () => {
  for (const f of DUMPS) {
    const text = readFileSync(new URL(`../../../inputs/iptables/testdata/${f}`, import.meta.url), "utf8");
    const packets = [
      pkt({ src: "192.168.1.10", dst: "10.96.0.10", proto: 17, dport: 53 }),
      pkt({ src: "10.244.0.5", dst: "10.96.0.1", dport: 443 }),
      pkt({ src: "10.32.0.3", dst: "8.8.8.8", dport: 443 }),
      pkt({ src: "1.2.3.4", dst: "172.18.0.5", dport: 6443, tcpFlags: 16 }),
      pkt({ src: "1.2.3.4", dst: "172.18.0.5", proto: 1, icmpType: 8, icmpCode: 0, icmpId: 7 }),
    ];
    for (const p of packets) {
      for (const opts of [
        { in: "eth0", localIps: ["172.18.0.5"] },
        { in: null, localIps: ["10.244.0.5", "1.2.3.4"] },
      ]) {
        const t = trace(text, p, opts);
        assert.ok(t.outcomes.length >= 1, f);
        const total = t.probabilities.reduce((a, b) => a + b, 0);
        assert.ok(Math.abs(total - 1) < 1e-12, `${f}: paths sum to ${total}`);
      }
    }
  }
});

test("kube-dns in the kind dump: a UDP query is balanced over both pods", () => {
  const text = readFileSync(
    new URL("../../../inputs/iptables/testdata/iptables-01-kind-ericpuwang.txt", import.meta.url),
    "utf8",
  );
  const t = trace(text, pkt({ src: "10.244.0.9", dst: "10.96.0.10", proto: 17, dport: 53 }), {
    in: "veth1",
    localIps: ["172.18.0.5"],
  });
  assert.deepEqual(
    t.outcomes.map((o) => o.traversal.dnat?.to),
    [
      { addr: "10.244.0.3", port: 53 },
      { addr: "10.244.0.4", port: 53 },
    ],
  );
  assert.deepEqual(t.probabilities, [0.5, 0.5]);
});
