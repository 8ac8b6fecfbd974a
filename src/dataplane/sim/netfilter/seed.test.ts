import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { pkt, trace } from "../../../../test/support/netfilter.ts";
import { formatConntrackEntry } from "../../../outputs/render/conntrack-list.ts";

/**
 * The seed's node (aks-nodepool1-31351229-0, kube-proxy 1.11): its whereami service with
 * externalTrafficPolicy Cluster, then Local, traced the way the seed explains it.
 */
const rules = (name: string) =>
  readFileSync(new URL(`../../../../examples/${name}`, import.meta.url), "utf8");
const NODE = { in: "azure0", localIps: ["10.13.76.4"] };

test("Cluster, from the author's laptop to the VIP: two pods at 0.5 each, and the pod sees the node's IP", () => {
  const t = trace(
    rules("seed-cluster.rules"),
    pkt({ src: "109.125.120.58", sport: 51535, dst: "51.144.176.251", dport: 80 }),
    NODE,
  );
  assert.deepEqual(t.probabilities, [0.5, 0.5]);
  const [a, b] = t.outcomes.map((o) => o.traversal);
  assert.deepEqual(
    [a?.dnat?.to, b?.dnat?.to],
    [
      { addr: "10.13.76.26", port: 80 },
      { addr: "10.13.76.7", port: 80 },
    ],
  );
  for (const o of [a, b]) {
    assert.equal(o?.verdict, "ACCEPT");
    assert.equal(o?.disposition, "forward");
    assert.deepEqual(o?.snat?.to, { addr: "10.13.76.4", port: 51535 }, "MASQUERADE to the node's address");
    assert.equal(o?.packet.mark, 0x4000);
  }
  // The seed's conntrack line, in the SYN_SENT state of a first packet.
  assert.equal(
    formatConntrackEntry(b!.conntrack!, 0),
    "tcp      6 120 SYN_SENT src=109.125.120.58 dst=51.144.176.251 sport=51535 dport=80 [UNREPLIED] src=10.13.76.7 dst=10.13.76.4 sport=80 dport=51535 mark=0 use=1",
  );
  assert.deepEqual(
    a?.hits.filter((h) => h.table === "nat").map((h) => h.chain),
    [
      "PREROUTING",
      "KUBE-SERVICES",
      "KUBE-FW-7G2JV7LNOR6DDNIY",
      "KUBE-MARK-MASQ",
      "KUBE-FW-7G2JV7LNOR6DDNIY",
      "KUBE-SVC-7G2JV7LNOR6DDNIY",
      "KUBE-SEP-6HBOEI5FVFTJNRJ3",
      "POSTROUTING",
      "KUBE-POSTROUTING",
    ],
  );
});

test("Local, from a client to the VIP: no KUBE-MARK-MASQ, the pod sees the client's IP", () => {
  const t = trace(
    rules("seed-local.rules"),
    pkt({ src: "167.220.196.180", sport: 57675, dst: "13.93.66.174" }),
    NODE,
  );
  assert.deepEqual(t.probabilities, [0.5, 0.5]);
  const o = t.outcomes[0]!.traversal;
  assert.equal(o.snat, null);
  assert.equal(o.packet.mark, 0);
  assert.ok(o.hits.some((h) => h.chain === "KUBE-XLB-7G2JV7LNOR6DDNIY"));
  assert.ok(!o.hits.some((h) => h.chain === "KUBE-MARK-MASQ"));
  assert.equal(
    formatConntrackEntry(o.conntrack!, 0),
    "tcp      6 120 SYN_SENT src=167.220.196.180 dst=13.93.66.174 sport=57675 dport=80 [UNREPLIED] src=10.13.76.15 dst=167.220.196.180 sport=80 dport=57675 mark=0 use=1",
  );
});

test("from a pod inside 10.13.76.0/24 to the cluster IP: not masqueraded", () => {
  const t = trace(rules("seed-cluster.rules"), pkt({ src: "10.13.76.30", dst: "10.0.159.58" }), NODE);
  for (const o of t.outcomes) {
    assert.equal(o.traversal.snat, null);
    assert.equal(o.traversal.packet.src, t.outcomes[0]!.traversal.packet.src);
  }
});

test("from outside the pod range to the cluster IP: marked and masqueraded", () => {
  const t = trace(rules("seed-cluster.rules"), pkt({ src: "10.13.1.4", dst: "10.0.159.58" }), NODE);
  for (const o of t.outcomes) assert.deepEqual(o.traversal.snat?.to.addr, "10.13.76.4");
});

test("a pod reaching its own service (hairpin) is masqueraded by its KUBE-SEP rule", () => {
  const t = trace(rules("seed-cluster.rules"), pkt({ src: "10.13.76.26", dst: "10.0.159.58" }), NODE);
  const self = t.outcomes.find((o) => o.traversal.dnat?.to.addr === "10.13.76.26")!.traversal;
  assert.deepEqual(self.snat?.to.addr, "10.13.76.4");
  const other = t.outcomes.find((o) => o.traversal.dnat?.to.addr === "10.13.76.7")!.traversal;
  assert.equal(other.snat, null);
});

test("to the node port from the jump VM: KUBE-NODEPORTS, masqueraded", () => {
  const t = trace(
    rules("seed-cluster.rules"),
    pkt({ src: "10.13.1.4", dst: "10.13.76.4", dport: 30064 }),
    NODE,
  );
  assert.deepEqual(t.probabilities, [0.5, 0.5]);
  for (const o of t.outcomes) {
    assert.ok(o.traversal.hits.some((h) => h.chain === "KUBE-NODEPORTS"));
    assert.equal(o.traversal.snat?.to.addr, "10.13.76.4");
  }
});

test("Local: the node port masquerades only traffic from 127.0.0.0/8", () => {
  const t = trace(
    rules("seed-local.rules"),
    pkt({ src: "10.13.1.4", dst: "10.13.76.4", dport: 32663 }),
    NODE,
  );
  for (const o of t.outcomes) assert.equal(o.traversal.snat, null);
});

test("Local: a pod reaching the VIP is sent to the cluster-wide service chain", () => {
  const t = trace(rules("seed-local.rules"), pkt({ src: "10.13.76.30", dst: "13.93.66.174" }), NODE);
  for (const o of t.outcomes)
    assert.ok(o.traversal.hits.some((h) => h.chain === "KUBE-SVC-7G2JV7LNOR6DDNIY"));
});

test("a pod reaching the wireserver over TCP 80 is dropped by the FORWARD rule", () => {
  const t = trace(rules("seed-cluster.rules"), pkt({ src: "10.13.76.26", dst: "168.63.129.16" }), NODE);
  assert.equal(t.outcomes[0]?.traversal.verdict, "DROP");
});

test("a pod going to the internet is masqueraded by the AKS rule (not 10.0.0.0/8, not the wireserver)", () => {
  const t = trace(
    rules("seed-cluster.rules"),
    pkt({ src: "10.13.76.26", dst: "93.184.216.34", dport: 443 }),
    { ...NODE, out: "eth0" },
  );
  const o = t.outcomes[0]!.traversal;
  assert.equal(o.snat?.to.addr, "10.13.76.4");
  assert.ok(o.hits.some((h) => h.rule.includes("! --dst-range 168.63.129.16-168.63.129.16")));
});
