/**
 * The iptables engine against a real kernel. The seed's AKS node is rebuilt in network namespaces
 * (topology.ts), the seed's iptables-save dump is loaded with iptables-restore, real packets are sent,
 * and what the kernel did is compared, flow by flow, with what traceExact / traceSampled say:
 *  - which pod got the flow and the source address it saw (Cluster: the node, Local: the client);
 *  - the `conntrack -L` entry on the node (whole line for a SYN probe, tuples for a full exchange);
 *  - the rule and policy counters that moved (`iptables-save -c` before and after), packets and bytes.
 * The kernel picks the endpoint at random, so each flow is compared with the simulator's branch that
 * DNATs to the pod the kernel chose. Assertions read actual = simulator, expected = kernel.
 * Needs root, iproute2, iptables (legacy; nft too if present),
 * conntrack-tools and python3; skipped otherwise. Nothing is created outside our own namespaces.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, it, test } from "node:test";
import { fileURLToPath } from "node:url";
import { toNumber } from "../../src/core/dyadic.ts";
import { formatIp, parseIpv4 } from "../../src/core/ip.ts";
import { seededRng } from "../../src/core/rng.ts";
import { ConntrackTable } from "../../src/dataplane/sim/conntrack/table.ts";
import { type CompiledRuleset, compileRuleset } from "../../src/dataplane/sim/netfilter/compile.ts";
import type { HostAddresses } from "../../src/dataplane/sim/netfilter/env.ts";
import { newEngineState } from "../../src/dataplane/sim/netfilter/env.ts";
import { type HostTraversal, traverseHost } from "../../src/dataplane/sim/netfilter/host.ts";
import { staticHost } from "../../src/dataplane/sim/netfilter/static-host.ts";
import { type TraceOutcome, traceExact, traceSampled } from "../../src/dataplane/sim/netfilter/trace.ts";
import { parseIptablesSave } from "../../src/inputs/iptables/parse-save.ts";
import type { RulesetFile } from "../../src/model/netfilter/ruleset.ts";
import { makePacket, PROTO, TCP } from "../../src/model/packet.ts";
import { formatConntrackEntry } from "../../src/outputs/render/conntrack-list.ts";
import {
  addCounts,
  type Count,
  type CounterKey,
  type CtLine,
  delta,
  describeCounts,
  entryTuples,
  kernelCounters,
  normaliseCt,
  onlyTable,
  parseCtLine,
  policyKey,
  RuleIndex,
  ruleKey,
  simCounters,
  sleep,
  waitFor,
} from "./compare.ts";
import { have, Lab, labSkipReason } from "./netns.ts";
import {
  AksNode,
  type Backend,
  BRIDGE,
  CLIENT_IP,
  LEGACY,
  NFT,
  NODE_IP,
  PROBE_LENGTH,
  parsePeer,
  pythonPath,
  SEED_CLUSTER,
  SEED_LOCAL,
  type SeedSpec,
} from "./topology.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const TOOLS = [
  "ip",
  "sysctl",
  "iptables-legacy",
  "iptables-legacy-restore",
  "iptables-legacy-save",
  "conntrack",
  "python3",
];
const SKIP = labSkipReason(TOOLS);
/** A Linux connect() SYN: 20 bytes IPv4, 20 TCP, 20 of options (MSS, SACK-permitted, timestamps, window scale). */
const CONNECT_SYN_LENGTH = 60;

const ip4 = (text: string): number => {
  const v = parseIpv4(text);
  if (v === null) throw new Error(`bad address ${text}`);
  return v;
};

/** The simulator side of one seed: its ruleset, the node's addresses, and traces of our packets. */
class Sim {
  readonly file: RulesetFile;
  readonly rules: CompiledRuleset;
  readonly index: RuleIndex;
  readonly host: HostAddresses;

  constructor(
    readonly text: string,
    name: string,
  ) {
    const parsed = parseIptablesSave(text, name);
    const errors = parsed.diagnostics.filter((d) => d.severity === "error");
    if (errors.length > 0) throw new Error(`${name}: ${errors.map((d) => d.message).join("; ")}`);
    this.file = parsed.value;
    this.rules = compileRuleset(this.file, { sourceName: name });
    this.index = new RuleIndex(this.file);
    this.host = staticHost({
      localIps: [{ family: 4, addr: ip4(NODE_IP) }],
      ifaceAddrs: new Map([[BRIDGE, { family: 4, addr: ip4(NODE_IP) }]]),
    });
  }

  private syn(src: string, dst: string, sport: number, dport: number, length: number) {
    return makePacket({
      family: 4,
      proto: PROTO.tcp,
      src: ip4(src),
      dst: ip4(dst),
      sport,
      dport,
      tcpFlags: TCP.SYN,
      length,
    });
  }

  /** A SYN from the internet client, arriving on the bridge (where eth0 is enslaved). */
  fromClient(dst: string, dport: number, sport: number, length = PROBE_LENGTH): TraceOutcome[] {
    return this.arriving(CLIENT_IP, dst, dport, sport, length);
  }

  /** A SYN arriving on the bridge from any of its ports (the client's NIC or a pod's veth). */
  arriving(src: string, dst: string, dport: number, sport: number, length = PROBE_LENGTH): TraceOutcome[] {
    const r = traceExact(
      this.rules,
      { packet: this.syn(src, dst, sport, dport, length), inIface: BRIDGE, outIface: BRIDGE },
      { host: this.host, forwarding: true },
    );
    assert.equal(r.truncated, false);
    return r.outcomes;
  }

  sampledFromClient(dst: string, dport: number, sport: number, seed: number): TraceOutcome {
    return traceSampled(
      this.rules,
      { packet: this.syn(CLIENT_IP, dst, sport, dport, PROBE_LENGTH), inIface: BRIDGE, outIface: BRIDGE },
      { host: this.host, forwarding: true, seed },
    );
  }

  /** A SYN the node itself sends to one of its own addresses (the node port). */
  fromHost(dst: string, dport: number, sport: number, length = PROBE_LENGTH): TraceOutcome[] {
    const r = traceExact(
      this.rules,
      { packet: this.syn(NODE_IP, dst, sport, dport, length), inIface: null, outIface: BRIDGE },
      { host: this.host, forwarding: true },
    );
    assert.equal(r.truncated, false);
    return r.outcomes;
  }

  /**
   * A SYN from the client to a closed port of the node, then the node's RST+ACK, through one
   * conntrack table and one set of counters (traverseHost, the engine under traceExact).
   */
  closedPort(dport: number, sport: number) {
    const conntrack = new ConntrackTable({ now: () => 0 });
    const state = newEngineState();
    const ctx = {
      rules: this.rules,
      host: this.host,
      conntrack,
      state,
      now: 0,
      rng: seededRng(1),
      forwarding: true,
      choose: (): boolean => {
        throw new Error("no random match on this path");
      },
    };
    const syn = traverseHost(ctx, {
      packet: this.syn(CLIENT_IP, NODE_IP, sport, dport, PROBE_LENGTH),
      inIface: BRIDGE,
      outIface: null,
    });
    const rst = makePacket({
      family: 4,
      proto: PROTO.tcp,
      src: ip4(NODE_IP),
      dst: ip4(CLIENT_IP),
      sport: dport,
      dport: sport,
      tcpFlags: TCP.RST | TCP.ACK,
      length: PROBE_LENGTH,
    });
    const reply: HostTraversal = traverseHost(ctx, { packet: rst, inIface: null, outIface: BRIDGE });
    return { syn, reply, conntrack, counters: simCounters(state, this.index) };
  }

  counters(o: TraceOutcome): Map<CounterKey, Count> {
    return simCounters(o.state, this.index);
  }

  /** The rules and policies the trace says it hit (traversal.hits), in counter keys, sorted. */
  hitKeys(o: TraceOutcome): CounterKey[] {
    const byLine = new Map<string, CounterKey>();
    for (const dump of this.file.dumps)
      for (const table of dump.tables)
        for (const chain of table.chains)
          chain.rules.forEach((r, i) => {
            byLine.set(`${table.name} ${chain.name} ${r.line}`, ruleKey(table.name, chain.name, i));
          });
    return o.traversal.hits
      .map((h) =>
        h.line === 0 ? policyKey(h.table, h.chain) : byLine.get(`${h.table} ${h.chain} ${h.line}`),
      )
      .map((k) => k ?? "(a hit on no rule of the file)")
      .sort();
  }
}

/** The simulator's branch that DNATs to the pod the kernel chose; exactly one must. */
function branchTo(outcomes: readonly TraceOutcome[], podIp: string): TraceOutcome {
  const hits = outcomes.filter((o) => o.traversal.dnat?.to.addr === podIp);
  assert.equal(
    hits.length,
    1,
    `expected one simulated branch DNATing to ${podIp}, got ${hits.length} (branches go to ${outcomes
      .map((o) => o.traversal.dnat?.to.addr ?? "no DNAT")
      .join(", ")})`,
  );
  return hits[0] as TraceOutcome;
}

/** The only confirmed conntrack entry the simulator has after a one-packet trace. */
function simEntry(o: TraceOutcome) {
  const list = o.conntrack.list();
  assert.equal(list.length, 1, `simulator has ${list.length} conntrack entries`);
  return list[0]!;
}

function seedWithRules(seed: string, table: "filter" | "nat", lines: readonly string[]): string {
  // iptables-restore input: extra -I/-A lines just before the table's COMMIT.
  const marker = `*${table}\n`;
  const start = seed.indexOf(marker);
  const commit = seed.indexOf("\nCOMMIT", start);
  assert.ok(start >= 0 && commit > start, `no *${table} table in the seed`);
  return `${seed.slice(0, commit + 1)}${lines.join("\n")}${seed.slice(commit)}`;
}

interface Suite {
  readonly spec: SeedSpec;
  readonly backend: Backend;
  /** Full set of checks, or the core flows only (second backend). */
  readonly full: boolean;
}

const SUITES: Suite[] = [
  { spec: SEED_CLUSTER, backend: LEGACY, full: true },
  { spec: SEED_LOCAL, backend: LEGACY, full: true },
];
if (SKIP === null && have(NFT.restore) && have(NFT.save))
  SUITES.push({ spec: SEED_CLUSTER, backend: NFT, full: false });

if (SKIP !== null) {
  test("iptables engine against a live kernel", (t) => {
    t.skip(SKIP);
  });
} else {
  for (const suite of SUITES) defineSuite(suite);
}

function defineSuite({ spec, backend, full }: Suite): void {
  describe(`seed ${spec.name} (externalTrafficPolicy: ${spec.name === "cluster" ? "Cluster" : "Local"}) on iptables-${backend.name}`, () => {
    const lab = new Lab(spec.name === "cluster" ? "c" : "l");
    const seedText = readFileSync(`${ROOT}${spec.rulesFile}`, "utf8");
    const sim = new Sim(seedText, spec.rulesFile);
    /** What the pod sees as the source: the node (Cluster: MASQUERADE) or the client (Local). */
    const seenSource = spec.name === "cluster" ? NODE_IP : CLIENT_IP;
    let node: AksNode;
    let nextPort = 41_000;
    const ports = (n: number) => Array.from({ length: n }, () => nextPort++);

    before(async () => {
      node = new AksNode(lab, spec, backend, pythonPath());
      // Isolation is checked before any packet is sent; a failure aborts the whole suite.
      lab.verifyIsolation();
      node.restore(seedText);
      await node.startServers();
    });
    after(() => lab.destroy());

    const podOf = (ip: string) => {
      const pod = spec.pods.find((p) => p.ip === ip);
      assert.ok(pod, `kernel sent the flow to ${ip}, not one of the endpoints`);
      return pod.short;
    };

    /**
     * Waits until a finished HTTP flow's entry is TIME_WAIT: the last ACK has crossed the node, so
     * no packet of it can move a counter during the next measurement.
     */
    const quiesce = async (sport: number): Promise<CtLine> => {
      const read = () => {
        const lines = node.conntrack(["-p", "tcp", "--sport", String(sport)]);
        assert.equal(lines.length, 1, lines.join("\n"));
        return parseCtLine(lines[0]!);
      };
      await waitFor(`TIME_WAIT for source port ${sport}`, () => read().state === "TIME_WAIT");
      return read();
    };

    /** One SYN probe; returns the kernel's counter delta, its conntrack line, and the receiving pod. */
    const probe = async (fromNs: string, src: string, dst: string, dport: number, sport: number) => {
      const before = kernelCounters(node.saveCounters());
      const received = spec.pods.map((p) => node.probesReceived(p.short));
      node.sendSyns(fromNs, src, dst, dport, [sport]);
      let lines: string[] = [];
      await waitFor(`conntrack entry for source port ${sport}`, () => {
        lines = node.conntrack(["-p", "tcp", "--sport", String(sport)]);
        return lines.length > 0;
      });
      // The pod drops the probe in raw PREROUTING: wait until it did, so nothing is in flight.
      let pod = "";
      await waitFor("the probe to reach a pod", () => {
        const now = spec.pods.map((p) => node.probesReceived(p.short));
        const i = now.findIndex((n, k) => n !== received[k]);
        if (i >= 0) pod = spec.pods[i]!.short;
        return i >= 0;
      });
      const moved = delta(before, kernelCounters(node.saveCounters()));
      assert.equal(lines.length, 1, `conntrack entries for sport ${sport}:\n${lines.join("\n")}`);
      return { moved, line: lines[0]!, pod };
    };

    it("the lab is isolated from the host namespace", () => {
      lab.verifyIsolation();
    });

    it("the kernel holds the same rules, in the same chains and order", () => {
      const kernel = new RuleIndex(node.saveCounters());
      assert.deepEqual(new Map([...kernel.shape].sort()), new Map([...sim.index.shape].sort()));
      // Our writer prints each rule as the kernel's iptables-save does.
      const mismatched = [...sim.index.text].filter(([k, text]) => kernel.text.get(k) !== text);
      assert.deepEqual(
        mismatched.map(([k, text]) => `${k}\n  ours:   ${text}\n  kernel: ${kernel.text.get(k)}`),
        [],
      );
    });

    it("SYN probes from the client: pod, conntrack line and every counter match the simulated branch", async () => {
      for (const sport of ports(full ? 6 : 3)) {
        const k = await probe(node.client, CLIENT_IP, spec.vip, 80, sport);
        const ct = parseCtLine(k.line);
        const podIp = ct.reply.src;
        assert.equal(podOf(podIp), k.pod, "the pod that got the probe is the one conntrack names");
        const o = branchTo(sim.fromClient(spec.vip, 80, sport), podIp);
        assert.equal(o.traversal.verdict, "ACCEPT");
        assert.equal(o.traversal.disposition, "forward");
        assert.equal(toNumber(o.probability), 0.5);
        assert.deepEqual(
          describeCounts(sim.counters(o), sim.index),
          describeCounts(k.moved, sim.index),
          `counters for sport ${sport} (simulator vs kernel)`,
        );
        // The trace's own list of hits names the same rules as the kernel's counters, each once.
        assert.deepEqual(sim.hitKeys(o), [...k.moved.keys()].sort());
        assert.equal(normaliseCt(formatConntrackEntry(simEntry(o), 0)), normaliseCt(k.line));
        const p = o.traversal.packet;
        assert.equal(formatIp(4, p.src), seenSource, "source the pod sees");
        assert.equal(p.sport, sport);
      }
    });

    /** Probes one flow and checks everything against the simulated branch; returns the pod's IP. */
    const probeAndCompare = async (
      fromNs: string,
      src: string,
      dst: string,
      dport: number,
      sport: number,
    ) => {
      const k = await probe(fromNs, src, dst, dport, sport);
      const ct = parseCtLine(k.line);
      assert.equal(podOf(ct.reply.src), k.pod, "the pod that got the probe is the one conntrack names");
      const o = branchTo(sim.arriving(src, dst, dport, sport), ct.reply.src);
      assert.equal(o.traversal.verdict, "ACCEPT");
      assert.deepEqual(
        describeCounts(sim.counters(o), sim.index),
        describeCounts(k.moved, sim.index),
        `counters for ${src}:${sport} -> ${dst}:${dport} (simulator vs kernel)`,
      );
      assert.deepEqual(sim.hitKeys(o), [...k.moved.keys()].sort());
      assert.equal(normaliseCt(formatConntrackEntry(simEntry(o), 0)), normaliseCt(k.line));
      return { podIp: ct.reply.src, seen: formatIp(4, o.traversal.packet.src), ct };
    };

    it("SYN probes from the client to the node port (the LB health path and direct node-port access)", async () => {
      for (const sport of ports(full ? 4 : 2)) {
        const r = await probeAndCompare(node.client, CLIENT_IP, NODE_IP, spec.nodePort, sport);
        assert.equal(r.seen, seenSource);
      }
    });

    if (full)
      it("pods to the cluster IP: the other pod sees the caller, a pod reaching itself sees the node (hairpin MASQUERADE)", async () => {
        const [caller, other] = spec.pods as [SeedSpec["pods"][0], SeedSpec["pods"][0]];
        const seen = new Set<string>();
        // Until both endpoints were chosen; 30 fair coin flips all landing the same way is 2^-29.
        for (let i = 0; i < 30 && seen.size < 2; i++) {
          const sport = ports(1)[0]!;
          const r = await probeAndCompare(lab.ns(caller.short), caller.ip, spec.clusterIp, 80, sport);
          seen.add(r.podIp);
          assert.equal(r.seen, r.podIp === caller.ip ? NODE_IP : caller.ip, `source seen by ${r.podIp}`);
          assert.equal(r.ct.reply.dst, r.seen);
        }
        assert.deepEqual([...seen].sort(), [caller.ip, other.ip].sort());
      });

    it("local delivery: a SYN to a closed port of the node, the node's RST, counters and conntrack", async () => {
      const [sport] = ports(1) as [number];
      const dport = 9;
      const before = kernelCounters(node.saveCounters());
      const outputPolicy = "filter OUTPUT policy";
      node.sendSyns(node.client, CLIENT_IP, NODE_IP, dport, [sport]);
      await waitFor("the node's RST to cross OUTPUT", () => {
        const now = kernelCounters(node.saveCounters()).get(outputPolicy)?.packets ?? 0n;
        return now > (before.get(outputPolicy)?.packets ?? 0n);
      });
      const moved = delta(before, kernelCounters(node.saveCounters()));
      const r = sim.closedPort(dport, sport);
      assert.equal(r.syn.disposition, "local");
      assert.equal(r.reply.ctState, "ESTABLISHED");
      assert.deepEqual(describeCounts(r.counters, sim.index), describeCounts(moved, sim.index));
      // "If only reply is a RST ... we can delete the conntrack immediately" (nf_conntrack_proto_tcp.c).
      assert.deepEqual(node.conntrack(["-p", "tcp", "--sport", String(sport)]), []);
      assert.deepEqual(r.conntrack.list(), []);
    });

    it("HTTP flows from the client: the pod and the peer it saw, conntrack tuples, nat counters", async () => {
      for (const sport of ports(full ? 8 : 4)) {
        const before = kernelCounters(node.saveCounters());
        const body = node.http(node.client, spec.vip, 80, sport);
        const peer = parsePeer(body);
        assert.ok(peer, `no answer for sport ${sport}: ${body}`);
        const ct = await quiesce(sport);
        const moved = delta(before, kernelCounters(node.saveCounters()));
        assert.ok(ct.assured, `an answered flow is ASSURED: ${ct.line}`);
        assert.equal(podOf(ct.reply.src), peer.pod, "conntrack and the server agree on the pod");
        const o = branchTo(sim.fromClient(spec.vip, 80, sport, CONNECT_SYN_LENGTH), ct.reply.src);
        // The address and port the pod's socket saw: the node (Cluster) or the client (Local).
        assert.equal(peer.ip, seenSource);
        assert.deepEqual(
          { ip: formatIp(4, o.traversal.packet.src), port: o.traversal.packet.sport },
          { ip: peer.ip, port: peer.port },
        );
        // Both tuples of the entry; the reply goes back to whoever the pod saw.
        assert.deepEqual(entryTuples(simEntry(o)), { orig: ct.orig, reply: ct.reply });
        assert.equal(ct.reply.dst, seenSource);
        assert.equal(simEntry(o).mark, ct.mark);
        // Only a connection's first packet crosses the nat table; the rest would blur filter counters.
        assert.deepEqual(
          describeCounts(onlyTable(sim.counters(o), "nat"), sim.index),
          describeCounts(onlyTable(moved, "nat"), sim.index),
          `nat counters for sport ${sport}`,
        );
      }
    });

    it("from the node to its own node port: DNAT in OUTPUT, then MASQUERADE", async () => {
      const [probePort, httpPort] = ports(2) as [number, number];
      const k = await probe(node.node, NODE_IP, NODE_IP, spec.nodePort, probePort);
      const ct = parseCtLine(k.line);
      const o = branchTo(sim.fromHost(NODE_IP, spec.nodePort, probePort), ct.reply.src);
      assert.equal(o.traversal.verdict, "ACCEPT");
      assert.deepEqual(describeCounts(sim.counters(o), sim.index), describeCounts(k.moved, sim.index));
      assert.equal(normaliseCt(formatConntrackEntry(simEntry(o), 0)), normaliseCt(k.line));

      const before = kernelCounters(node.saveCounters());
      const body = node.http(node.node, NODE_IP, spec.nodePort, httpPort);
      const peer = parsePeer(body);
      assert.ok(peer, `no answer from the node port: ${body}`);
      const hct = await quiesce(httpPort);
      const moved = delta(before, kernelCounters(node.saveCounters()));
      assert.equal(peer.ip, NODE_IP);
      const ho = branchTo(sim.fromHost(NODE_IP, spec.nodePort, httpPort, CONNECT_SYN_LENGTH), hct.reply.src);
      assert.deepEqual(entryTuples(simEntry(ho)), { orig: hct.orig, reply: hct.reply });
      assert.deepEqual(
        { ip: formatIp(4, ho.traversal.packet.src), port: ho.traversal.packet.sport },
        { ip: peer.ip, port: peer.port },
      );
      assert.deepEqual(
        describeCounts(onlyTable(sim.counters(ho), "nat"), sim.index),
        describeCounts(onlyTable(moved, "nat"), sim.index),
      );
    });

    if (!full) return;

    it("distribution over 40 flows: both pods get traffic, counters add up to the simulated branches", async () => {
      const sports = ports(40);
      const before = kernelCounters(node.saveCounters());
      const receivedBefore = spec.pods.reduce((n, p) => n + node.probesReceived(p.short), 0n);
      node.sendSyns(node.client, CLIENT_IP, spec.vip, 80, sports);
      const entries = new Map<number, string>();
      await waitFor("40 conntrack entries", () => {
        for (const line of node.conntrack(["-p", "tcp", "-d", spec.vip])) {
          const ct = parseCtLine(line);
          if (sports.includes(ct.orig.sport)) entries.set(ct.orig.sport, ct.reply.src);
        }
        return entries.size === sports.length;
      });
      await waitFor("40 probes at the pods", () => {
        const total = spec.pods.reduce((n, p) => n + node.probesReceived(p.short), 0n);
        return total - receivedBefore === BigInt(sports.length);
      });
      const moved = delta(before, kernelCounters(node.saveCounters()));
      const expected = new Map<CounterKey, Count>();
      const perPod = new Map<string, number>(spec.pods.map((p) => [p.ip, 0]));
      for (const sport of sports) {
        const podIp = entries.get(sport)!;
        perPod.set(podIp, (perPod.get(podIp) ?? 0) + 1);
        addCounts(expected, sim.counters(branchTo(sim.fromClient(spec.vip, 80, sport), podIp)));
      }
      assert.deepEqual(describeCounts(expected, sim.index), describeCounts(moved, sim.index));
      // Binomial(40, 1/2): P(k <= 4 or k >= 36) < 2e-7, so this never flakes on a fair kernel.
      for (const [podIp, n] of perPod) assert.ok(n >= 5 && n <= 35, `${podIp} got ${n} of 40 flows`);

      // The simulator: two branches of exactly 1/2, and seeded sampling spreads like the kernel.
      const exact = sim.fromClient(spec.vip, 80, sports[0]!);
      assert.deepEqual(exact.map((o) => toNumber(o.probability)).sort(), [0.5, 0.5]);
      const sampled = new Map<string, number>();
      for (let seed = 1; seed <= 40; seed++) {
        const s = sim.sampledFromClient(spec.vip, 80, sports[0]!, seed);
        const to = s.traversal.dnat?.to.addr ?? "none";
        sampled.set(to, (sampled.get(to) ?? 0) + 1);
        assert.deepEqual(
          describeCounts(sim.counters(s), sim.index),
          describeCounts(sim.counters(branchTo(exact, to)), sim.index),
          `sampled run with seed ${seed} follows the exact branch to ${to}`,
        );
      }
      for (const p of spec.pods) {
        const n = sampled.get(p.ip) ?? 0;
        assert.ok(n >= 5 && n <= 35, `traceSampled sent ${n} of 40 seeds to ${p.ip}`);
      }
    });

    it("a DROP in filter FORWARD: the kernel and the simulator drop, no conntrack entry, no pod sees it", async () => {
      const dropText = seedWithRules(seedText, "filter", [`-I FORWARD 1 -s ${CLIENT_IP}/32 -j DROP`]);
      const dropSim = new Sim(dropText, `${spec.rulesFile} + DROP`);
      node.restore(dropText);
      try {
        const [sport, httpPort] = ports(2) as [number, number];
        const before = kernelCounters(node.saveCounters());
        const received = spec.pods.map((p) => node.probesReceived(p.short));
        node.sendSyns(node.client, CLIENT_IP, spec.vip, 80, [sport]);
        await waitFor("the DROP rule to count the probe", () => {
          const c = kernelCounters(node.saveCounters()).get("filter FORWARD #1");
          return (c?.packets ?? 0n) > (before.get("filter FORWARD #1")?.packets ?? 0n);
        });
        await sleep(100);
        const moved = delta(before, kernelCounters(node.saveCounters()));
        assert.deepEqual(node.conntrack(["-p", "tcp", "--sport", String(sport)]), []);
        assert.deepEqual(
          spec.pods.map((p) => node.probesReceived(p.short)),
          received,
        );

        const outcomes = dropSim.fromClient(spec.vip, 80, sport);
        for (const o of outcomes) {
          assert.equal(o.traversal.verdict, "DROP");
          assert.deepEqual(o.traversal.stoppedAt, { hook: "FORWARD", table: "filter" });
          assert.deepEqual(o.conntrack.list(), []);
        }
        // DNAT happened before the drop, so the kernel's nat counters name the pod it chose.
        const chosen = outcomes.filter(
          (o) =>
            describeCounts(dropSim.counters(o), dropSim.index).join("\n") ===
            describeCounts(moved, dropSim.index).join("\n"),
        );
        assert.equal(
          chosen.length,
          1,
          `kernel counters ${JSON.stringify(describeCounts(moved, dropSim.index), null, 1)} match no simulated branch:\n${outcomes
            .map((o) => describeCounts(dropSim.counters(o), dropSim.index).join("\n"))
            .join("\n--\n")}`,
        );

        const body = node.http(node.client, spec.vip, 80, httpPort, 1);
        assert.equal(body, "error timeout");
      } finally {
        node.restore(seedText);
      }
    });

    it("-o in OUTPUT is the route of the original destination (lo), POSTROUTING sees the new one", async () => {
      // Count-only rules: they change nothing but tell which out-interface each hook saw.
      let text = seedWithRules(seedText, "nat", [
        "-I OUTPUT 1 -o lo -p tcp",
        `-I OUTPUT 2 -o ${BRIDGE} -p tcp`,
        "-I POSTROUTING 1 -o lo -p tcp",
        `-I POSTROUTING 2 -o ${BRIDGE} -p tcp`,
      ]);
      text = seedWithRules(text, "filter", ["-I OUTPUT 1 -o lo -p tcp", `-I OUTPUT 2 -o ${BRIDGE} -p tcp`]);
      const outSim = new Sim(text, `${spec.rulesFile} + -o counters`);
      node.restore(text);
      try {
        const [sport] = ports(1) as [number];
        const k = await probe(node.node, NODE_IP, NODE_IP, spec.nodePort, sport);
        const o = branchTo(outSim.fromHost(NODE_IP, spec.nodePort, sport), parseCtLine(k.line).reply.src);
        const interesting = (m: Map<CounterKey, Count>) =>
          describeCounts(m, outSim.index).filter((l) => / -o /.test(l) && / (#1|#2):/.test(l));
        assert.deepEqual(interesting(outSim.counters(o)), interesting(k.moved));
        assert.deepEqual(
          describeCounts(outSim.counters(o), outSim.index),
          describeCounts(k.moved, outSim.index),
        );
      } finally {
        node.restore(seedText);
      }
    });
  });
}
