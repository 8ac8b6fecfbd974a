import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { buildTwin } from "../../../controlplane/build-twin.ts";
import { seedCluster, seedLocal } from "../../../controlplane/testdata/seed-scenario.ts";
import { parseIpv4 } from "../../../core/ip.ts";
import { seededRng } from "../../../core/rng.ts";
import type { ConntrackEntry } from "../../../model/conntrack.ts";
import type { TcpOption } from "../../../model/frame.ts";
import { makePacket, PROTO, TCP } from "../../../model/packet.ts";
import type { Scenario } from "../../../model/scenario.ts";
import type { Twin } from "../../../model/twin.ts";
import { ConntrackTable } from "../conntrack/table.ts";
import { KUBE_PROXY_TIMEOUTS } from "../conntrack/timeouts.ts";
import { tcpFrame } from "../endpoints/segment.ts";
import type { EngineState } from "../netfilter/env.ts";
import type { SendResult } from "../world/types.ts";
import { World } from "../world/world.ts";
import { BulkTwin, VERDICT } from "./bulk.ts";
import type { TableWalker } from "./table-walk.ts";

const ip = (s: string): number => parseIpv4(s)!;
const laptop = { kind: "host", name: "laptop" } as const;
const SEED = 11;
/** A Linux SYN's options (MSS, SACK permitted, timestamps, NOP, window scale): 60 bytes, as bulk counts. */
const SYN_OPTIONS: TcpOption[] = [
  { kind: "mss", value: 1460 },
  { kind: "sackOK" },
  { kind: "timestamp", value: 1, echo: 0 },
  { kind: "nop" },
  { kind: "wscale", value: 7 },
];

function frame(
  time: number,
  src: number,
  sport: number,
  dst: number,
  dport: number,
  flags: number,
  ttl: number,
) {
  return tcpFrame(
    { time, srcMac: "00:11:22:33:44:55", dstMac: "12:34:56:78:9a:bc", ipId: 1, ttl, dontFragment: true },
    {
      src: { ip: src, port: sport },
      dst: { ip: dst, port: dport },
      flags,
      seq: 1,
      ack: flags & TCP.ACK ? 2 : 0,
      window: 64240,
      options: SYN_OPTIONS,
      payload: new Uint8Array(0),
    },
  );
}

/** The same connection in the World: the client's SYN, then the pod's SYN-ACK from where it arrived. */
function worldConnect(w: World, client: number, sport: number, vip: number, time: number) {
  const syn = w.send(frame(time, client, sport, vip, 80, TCP.SYN, 128), laptop);
  const at = syn.delivered?.at;
  if (!syn.delivered || at?.kind !== "pod") return { syn, at: null, seen: null, reply: null };
  const seen = syn.delivered.frame.packet;
  const reply = w.send(
    frame(time, seen.dst as number, seen.dport, seen.src as number, seen.sport, TCP.SYN | TCP.ACK, 64),
    at,
  );
  return { syn, at, seen, reply };
}

/** The SYN-ACK as it left the cluster: the last node NIC it went out of. */
function leftNic(r: SendResult) {
  return r.hops.findLast((h) => h.where.kind === "node" && h.iface === "eth0" && h.direction === "out")?.after
    .packet;
}

function origPacket(client: number, sport: number, vip: number) {
  return makePacket({
    family: 4,
    proto: PROTO.tcp,
    src: client,
    dst: vip,
    sport,
    dport: 80,
    tcpFlags: TCP.ACK,
  });
}

/** A bulk node's confirmed entries, whichever table it keeps. */
function bulkList(node: BulkTwin["nodes"][number]) {
  return (node.conntrack as unknown as { list(): ConntrackEntry[] }).list().map(shape);
}

function shape(e: ConntrackEntry | null | undefined) {
  return e
    ? { orig: e.orig, reply: e.reply, tcpState: e.tcpState, status: e.status, expiresAt: e.expiresAt }
    : null;
}

/** Rule counters by chain and rule, with their packets and bytes: the World's, and bulk's. */
function counters(state: EngineState): string[] {
  return [...state.ruleCounters]
    .map(([cr, c]) => `${cr.table} ${cr.rule.chain}: ${cr.text}: ${c.packets}/${c.bytes}`)
    .sort();
}
function bulkCounters(walker: TableWalker): string[] {
  return [...walker.ruleCounts]
    .map(([cr, c]) => `${cr.table} ${cr.rule.chain}: ${cr.text}: ${c.packets}/${c.bytes}`)
    .sort();
}
function policyCounters(state: EngineState): string[] {
  return [...state.policyCounters].map(([k, c]) => `${k} ${c.packets}/${c.bytes}`).sort();
}
function bulkPolicyCounters(walker: TableWalker): string[] {
  return [...walker.policyCounts].map(([ch, c]) => `${ch.table}/${ch.name} ${c.packets}/${c.bytes}`).sort();
}

/** Bulk's own conntrack table, and the World's. */
const TABLES = [
  ["FlatConntrack", {}],
  [
    "ConntrackTable",
    { conntrack: (now: () => number) => new ConntrackTable({ now, timeouts: KUBE_PROXY_TIMEOUTS }) },
  ],
] as const;

const transparent: Scenario = { ...seedCluster, cluster: { ...seedCluster.cluster, cniMode: "transparent" } };
/** Three nodes, the two pods on two of them: the LB's third node forwards to a pod on another. */
const threeNodes: Scenario = { ...seedCluster, cluster: { ...seedCluster.cluster, nodeCount: 3 } };
const CASES: readonly [string, Scenario, string][] = [
  ["seed-cluster (externalTrafficPolicy Cluster)", seedCluster, "51.144.176.251"],
  ["seed-local (externalTrafficPolicy Local)", seedLocal, "13.93.66.174"],
  ["seed-cluster in transparent mode", transparent, "51.144.176.251"],
  ["seed-cluster on three nodes", threeNodes, "51.144.176.251"],
];

for (const [title, scenario, vipText] of CASES) {
  describe(`bulk mode against the World: ${title}`, () => {
    const twin: Twin = buildTwin(scenario);
    const start = twin.now * 1_000_000;
    const vip = ip(vipText);
    const local = scenario === seedLocal;

    for (const [table, conntrack] of TABLES)
      it(`200 flows (${table}): the same pod, source seen, conntrack entry, reply source and rule counters per flow`, () => {
        const bulk = new BulkTwin(twin, { seed: SEED, start, ...conntrack });
        const w = new World(twin, { seed: SEED, start });
        const first = start + 1_000_000;
        const run = bulk.run({
          count: 200,
          rng: seededRng(7),
          to: { ip: vip, port: 80 },
          start: first,
          gapUs: 1000,
        });
        const pods = new Set<string>();
        for (let i = 0; i < run.count; i++) {
          const client = run.client[i]!;
          const sport = run.clientPort[i]!;
          const c = worldConnect(w, client, sport, vip, first + i * 1000);
          assert.ok(c.at && c.seen && c.reply, `flow ${i}: the World's SYN ${c.syn.fate}`);
          assert.equal(run.verdict[i], VERDICT.answered, `flow ${i}`);
          const pod = bulk.pods[run.pod[i]!]!;
          assert.equal(pod.id, c.at.pod, `flow ${i}: pod`);
          assert.equal(pod.node.node.name, c.at.node);
          // The node the LB chose: the World's first node hop.
          const lbNode = c.syn.hops.find((h) => h.where.kind === "node")?.where;
          assert.ok(lbNode?.kind === "node");
          const bulkLbNode = bulk.nodes[run.node[i]!]!;
          assert.equal(bulkLbNode.node.name, lbNode.node, `flow ${i}: LB backend`);
          pods.add(pod.id);
          assert.equal(run.seenSrc[i], c.seen.src, `flow ${i}: source the pod saw`);
          assert.equal(run.seenSport[i], c.seen.sport);
          // One node: the client (Local) or the node's address (Cluster's MASQUERADE).
          if (twin.nodes.length === 1) assert.equal(run.seenSrc[i], local ? client : ip(bulkLbNode.node.ip));
          // DSR: the SYN-ACK leaves the node from the VIP, in the World and in bulk.
          const out = leftNic(c.reply);
          assert.ok(out, `flow ${i}: the World's SYN-ACK did not leave eth0 (${c.reply.fate})`);
          assert.deepEqual([run.replySrc[i], run.replySport[i]], [out.src, out.sport]);
          assert.deepEqual([out.src, out.sport], [vip, 80]);
          // The entry the SYN made on the LB's node, both tuples.
          const tuple = origPacket(client, sport, vip);
          const worldEntry = w.stack(lbNode.node).conntrack.lookup(tuple)?.entry;
          const bulkEntry = bulkLbNode.conntrack.lookup(tuple)?.entry;
          assert.ok(worldEntry && bulkEntry);
          assert.deepEqual(shape(bulkEntry), shape(worldEntry), `flow ${i}: conntrack entry`);
          assert.equal(bulkEntry.tcpState, "SYN_RECV");
        }
        assert.equal(pods.size, 2, "both whereami pods answer");
        for (const node of bulk.nodes) {
          // Every node's whole table (a pod's node forwarding another node's flows has entries too).
          const worldTable = w.stack(node.node.name).conntrack.list().map(shape);
          assert.deepEqual(bulkList(node), worldTable, `${node.node.name}: conntrack -L`);
          const world = w.stack(node.node.name).state;
          assert.deepEqual(bulkCounters(node.pass.walker), counters(world), "rule counters");
          assert.deepEqual(bulkPolicyCounters(node.pass.walker), policyCounters(world), "policy counters");
        }
      });

    it("20,000 flows: each whereami pod gets about half (binomial bounds)", () => {
      const bulk = new BulkTwin(twin, { seed: SEED + 1, start });
      const n = 20_000;
      const run = bulk.run({ count: n, rng: seededRng(99), to: { ip: vip, port: 80 }, start, gapUs: 500 });
      assert.equal(run.perVerdict[VERDICT.answered], n);
      const counts = bulk.pods.map((p) => [p.id, run.perPod[p.index]!] as const).filter(([, c]) => c > 0);
      assert.equal(counts.length, 2);
      assert.equal(counts[0]![1] + counts[1]![1], n);
      // statistic --probability 0.5: Binomial(20000, 1/2) has sd 70.7; 5 sd either side.
      const sd = Math.sqrt(n * 0.25);
      for (const [id, c] of counts) {
        assert.match(id, /^default\/whereami-/);
        assert.ok(Math.abs(c - n / 2) < 5 * sd, `${id}: ${c} of ${n}`);
      }
    });
  });
}

describe("bulk mode: NAT clashes, drops and determinism", () => {
  const twin = buildTwin(seedCluster);
  const start = twin.now * 1_000_000;
  const vip = ip("51.144.176.251");

  it("clients sharing a source port: MASQUERADE picks other ports exactly as the World does", () => {
    const bulk = new BulkTwin(twin, { seed: SEED, start });
    const w = new World(twin, { seed: SEED, start });
    const portsByPod = new Map<string, number[]>();
    for (let i = 0; i < 40; i++) {
      const client = ip("203.0.113.1") + i;
      const time = start + 1_000_000 + i * 1000;
      assert.equal(bulk.connect(client, 40000, vip, 80, time), VERDICT.answered);
      const c = worldConnect(w, client, 40000, vip, time);
      assert.ok(c.seen && c.at);
      assert.equal(bulk.last.pod?.id, c.at.pod);
      assert.equal(bulk.last.seenSport, c.seen.sport, `client ${i}`);
      assert.deepEqual(
        shape(bulk.last.entry),
        shape(w.stack(c.at.node).conntrack.lookup(origPacket(client, 40000, vip))?.entry),
      );
      const id = bulk.last.pod!.id;
      portsByPod.set(id, [...(portsByPod.get(id) ?? []), bulk.last.seenSport]);
    }
    // The reply tuple (pod:80 -> node:port) must be unique: per pod, the first flow keeps 40000
    // and every later one is moved to another port.
    assert.equal(portsByPod.size, 2);
    for (const ports of portsByPod.values()) {
      assert.equal(ports[0], 40000);
      assert.equal(new Set(ports).size, ports.length);
      assert.ok(ports.slice(1).every((p) => p !== 40000));
    }
  });

  it("a port the load balancer has no rule for: dropped by the LB, as in the World", () => {
    const bulk = new BulkTwin(twin, { seed: SEED, start });
    const w = new World(twin, { seed: SEED, start });
    assert.equal(bulk.connect(ip("198.51.100.7"), 50000, vip, 8080, start), VERDICT.lbDropped);
    assert.equal(bulk.last.node, null);
    assert.match(bulk.last.reason ?? "", /no load-balancing rule/);
    const r = w.send(frame(start, ip("198.51.100.7"), 50000, vip, 8080, TCP.SYN, 128), laptop);
    assert.equal(r.fate, "dropped");
    assert.equal(r.hops.at(-1)?.where.kind, "fabric");
  });

  it("the same seed and clients give the same results", () => {
    const go = () =>
      new BulkTwin(twin, { seed: 3, start }).run({
        count: 2000,
        rng: seededRng(5),
        to: { ip: vip, port: 80 },
        start,
        gapUs: 1000,
      });
    const a = go();
    const b = go();
    assert.deepEqual([...a.pod], [...b.pod]);
    assert.deepEqual([...a.seenSport], [...b.seenSport]);
    assert.deepEqual([...a.client], [...b.client]);
  });
});
