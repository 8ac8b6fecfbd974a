import { parseIpv4 } from "../../../core/ip.ts";
import { type Rng, seededRng } from "../../../core/rng.ts";
import type { ConntrackEntry } from "../../../model/conntrack.ts";
import { makePacket, type Packet, PROTO, TCP } from "../../../model/packet.ts";
import type { Twin } from "../../../model/twin.ts";
import { AzureLbFabric } from "../fabric/load-balancer.ts";
import { PROBE_SOURCE, type ProbeFn } from "../fabric/probes.ts";
import {
  type Arrival,
  BulkNode,
  type BulkPod,
  type ConntrackFactory,
  type Link,
  type Owner,
} from "./node.ts";
import { PASS, type PassResult } from "./pass.ts";

/**
 * Bulk mode: many new TCP connections from outside clients to a load-balanced frontend, through the
 * same models the World moves frames with (world/world.ts): the Azure LB (rule, 5-tuple hash over
 * healthy backends, floating IP, flow table), each node's netfilter with its persistent conntrack
 * table (pass.ts), its bridge, routes and veths (node.ts), the pod, and the pod's SYN-ACK back
 * through conntrack's reverse NAT and out of the node's NIC (DSR). Nothing is narrated or captured:
 * per flow only where it went, what the pod saw and the verdict, written into a reused record.
 * Pure and deterministic given the twin, the seed and the flows' times, like the World; with the
 * same seed and the same flows in the same order it makes the World's choices.
 */

/** What became of one connection attempt. */
export const VERDICT = {
  /** The SYN reached a pod and the pod's SYN-ACK left the cluster towards the client. */
  answered: 0,
  /** The load balancer dropped the SYN (no rule, no healthy backend...). */
  lbDropped: 1,
  /** A node dropped or rejected the SYN (netfilter, NAT, routing, TTL). */
  dropped: 2,
  /** The SYN ended somewhere other than a pod (a node's own socket, outside the cluster). */
  notToPod: 3,
  /** The SYN reached a pod but its SYN-ACK did not leave towards the client. */
  replyLost: 4,
} as const;
export type Verdict = (typeof VERDICT)[keyof typeof VERDICT];
export const VERDICT_NAMES: readonly string[] = [
  "answered",
  "lb-dropped",
  "dropped",
  "not-to-pod",
  "reply-lost",
];

/** Where a packet's walk ended. */
const END = { pod: 1, node: 2, outside: 3, dropped: 4 } as const;
type End = (typeof END)[keyof typeof END];

/** More node passes than this for one packet is a routing loop (the World stops at 64 hops). */
const MAX_PASSES = 16;
/** The TTL a Linux pod answers with (net.ipv4.ip_default_ttl). */
const POD_TTL = 64;
/** IP + TCP headers with the usual SYN options (MSS, SACK permitted, timestamps, window scale). */
const SYN_LENGTH = 60;

export interface BulkOptions {
  /** The World's seed: statistic draws on the nodes and the LB's flow hash. */
  readonly seed: number;
  /** Virtual time (µs) at which the twin starts (the LB's probe schedule starts here). */
  readonly start: number;
  /** Answers the LB's health probes; without it every backend is up. */
  readonly probe?: ProbeFn;
  /** Each node's conntrack table (default: FlatConntrack with kube-proxy's timeouts). */
  readonly conntrack?: ConntrackFactory;
}

/** One connection's result: overwritten by each connect(). */
export interface FlowResult {
  verdict: Verdict;
  /** The node the load balancer chose, or null when it dropped the SYN. */
  node: BulkNode | null;
  /** The pod the SYN reached. */
  pod: BulkPod | null;
  /** The source address and port the pod saw (the client's, or the node's after MASQUERADE). */
  seenSrc: number;
  seenSport: number;
  /**
   * The conntrack entry the SYN made (or matched) on the first node it reached: a view of the
   * node's table (flat-conntrack.ts), readable while the entry lives.
   */
  entry: ConntrackEntry | null;
  /** The SYN-ACK's source as it left towards the client (the frontend, for DSR). */
  replySrc: number;
  replySport: number;
  /** Why the SYN or SYN-ACK was lost, when it was. */
  reason: string | null;
}

export interface RunOptions {
  readonly count: number;
  /** Draws the clients' addresses and ports. */
  readonly rng: Rng;
  /** The frontend (VIP) and port. */
  readonly to: { readonly ip: number; readonly port: number };
  /** Virtual time (µs) of the first flow, and between flows. */
  readonly start: number;
  readonly gapUs: number;
  /** The clients' TTL (default 128, Windows). */
  readonly ttl?: number;
  /** Virtual time between sweeps of expired conntrack entries and LB flows (default 30 s). */
  readonly gcEveryUs?: number;
}

/** Per-flow results of a run (index = flow number), and the totals. */
export interface BulkRun {
  readonly count: number;
  readonly client: Uint32Array;
  readonly clientPort: Uint16Array;
  readonly verdict: Uint8Array;
  /** Index into BulkTwin.nodes, -1 when the LB dropped the flow. */
  readonly node: Int16Array;
  /** Index into BulkTwin.pods, -1 when no pod got the SYN. */
  readonly pod: Int32Array;
  readonly seenSrc: Uint32Array;
  readonly seenSport: Uint16Array;
  /** The SYN-ACK's source as it left towards the client (0 when it did not). */
  readonly replySrc: Uint32Array;
  readonly replySport: Uint16Array;
  /** Flows per pod (index into BulkTwin.pods) and per verdict (VERDICT). */
  readonly perPod: Uint32Array;
  readonly perVerdict: Uint32Array;
  /** How many times a rule could not be evaluated faithfully during the run (unknown modules...). */
  readonly uncertain: number;
}

export class BulkTwin {
  readonly fabric: AzureLbFabric;
  readonly nodes: readonly BulkNode[];
  readonly pods: readonly BulkPod[];
  readonly owners = new Map<number, Owner>();
  readonly last: FlowResult = {
    verdict: VERDICT.answered,
    node: null,
    pod: null,
    seenSrc: 0,
    seenSport: 0,
    entry: null,
    replySrc: 0,
    replySport: 0,
    reason: null,
  };
  /** The frontends and the twin's own addresses, which no outside client may have. */
  private readonly notClients = new Set<number>();
  private readonly syn: Packet = makePacket({ family: 4, proto: PROTO.tcp, src: 0, dst: 0 });
  private readonly synAck: Packet = makePacket({ family: 4, proto: PROTO.tcp, src: 0, dst: 0 });
  // The walk in progress.
  private ms = 0;
  private ttl = 0;
  private passes = 0;
  private lbNode: BulkNode | null = null;
  /** The load balancer dropped the packet. */
  private lbDrop = false;
  private entry: ConntrackEntry | null = null;
  /** Whether the SYN's first node pass happened (its conntrack entry is the flow's). */
  private entryKept = false;
  private endPod: BulkPod | null = null;
  private reason: string | null = null;

  constructor(
    readonly twin: Twin,
    options: BulkOptions,
  ) {
    // One RNG for every node's statistic draws, as the World has.
    const rng = seededRng(options.seed);
    const nodes: BulkNode[] = [];
    const pods: BulkPod[] = [];
    for (const n of twin.nodes) {
      const node = new BulkNode(
        n,
        nodes.length,
        rng,
        pods.length,
        options.conntrack ? { conntrack: options.conntrack } : {},
      );
      nodes.push(node);
      pods.push(...node.pods.values());
      for (const ip of node.host.addresses()) {
        if (ip >>> 24 !== 127 && !this.owners.has(ip)) this.owners.set(ip, { node, pod: null });
      }
      for (const pod of node.pods.values()) {
        for (const ip of pod.l3.addresses()) if (ip >>> 24 !== 127) this.owners.set(ip, { node, pod });
      }
    }
    this.nodes = nodes;
    this.pods = pods;
    for (const n of nodes) n.setOwners(this.owners);
    this.fabric = new AzureLbFabric(twin.azure, {
      seed: options.seed,
      start: Math.floor(options.start / 1000),
      recordAllProbes: false,
      ...(options.probe ? { probe: options.probe } : {}),
    });
    for (const ip of this.owners.keys()) this.notClients.add(ip);
    for (const ip of this.fabric.topology.byFrontend.keys()) this.notClients.add(ip);
    this.notClients.add(parseIpv4(PROBE_SOURCE) as number);
  }

  /**
   * One new connection: the client's SYN to `to:dport` at `timeUs`, then the pod's SYN-ACK. The
   * result is in `last` (overwritten by the next call).
   */
  connect(client: number, sport: number, to: number, dport: number, timeUs: number, ttl = 128): Verdict {
    const last = this.last;
    this.ms = Math.floor(timeUs / 1000);
    this.fabric.probes?.advance(this.ms);
    const p = this.syn;
    setTcp(p, client, sport, to, dport, TCP.SYN);
    this.startWalk(ttl);
    const end = this.fromWire(p, false);
    last.node = this.lbNode;
    last.entry = this.entry;
    last.pod = null;
    last.seenSrc = 0;
    last.seenSport = 0;
    last.replySrc = 0;
    last.replySport = 0;
    if (end !== END.pod) {
      last.reason = this.reason;
      last.verdict = this.lbDrop
        ? VERDICT.lbDropped
        : end === END.dropped
          ? VERDICT.dropped
          : VERDICT.notToPod;
      return last.verdict;
    }
    const pod = this.endPod as BulkPod; // END.pod sets it
    last.pod = pod;
    last.seenSrc = p.src as number;
    last.seenSport = p.sport;
    // The pod answers from where the SYN was addressed, to whom it saw.
    const q = this.synAck;
    setTcp(q, p.dst as number, p.dport, p.src as number, p.sport, TCP.SYN | TCP.ACK);
    this.ttl = POD_TTL;
    this.passes = 0;
    this.entryKept = true; // the flow's entry is the SYN's
    const back = this.podOut(pod, q);
    last.reason = this.reason;
    if (back === END.outside && q.dst === client && q.dport === sport) {
      last.replySrc = q.src as number;
      last.replySport = q.sport;
      last.verdict = VERDICT.answered;
    } else last.verdict = VERDICT.replyLost;
    return last.verdict;
  }

  /**
   * `count` connections from random outside clients (public unicast addresses, ports 1024-65535),
   * `gapUs` apart on the virtual clock. Expired conntrack entries and LB flows are swept every
   * `gcEveryUs`, as the kernel's conntrack gc worker and the LB's idle timeout would: an expired
   * entry is never matched again, so the sweep changes no result, only memory.
   */
  run(o: RunOptions): BulkRun {
    const n = o.count;
    const r = {
      count: n,
      client: new Uint32Array(n),
      clientPort: new Uint16Array(n),
      verdict: new Uint8Array(n),
      node: new Int16Array(n),
      pod: new Int32Array(n),
      seenSrc: new Uint32Array(n),
      seenSport: new Uint16Array(n),
      replySrc: new Uint32Array(n),
      replySport: new Uint16Array(n),
      perPod: new Uint32Array(this.pods.length),
      perVerdict: new Uint32Array(VERDICT_NAMES.length),
      uncertain: 0,
    };
    for (const node of this.nodes) r.uncertain -= node.pass.uncertain;
    const gcEvery = o.gcEveryUs ?? 30_000_000;
    let nextGc = o.start + gcEvery;
    const last = this.last;
    for (let i = 0; i < n; i++) {
      const t = o.start + i * o.gapUs;
      if (t >= nextGc) {
        this.sweep(t);
        nextGc = t + gcEvery;
      }
      const client = this.outsideClient(o.rng);
      const sport = 1024 + (o.rng.nextU32() % 64512);
      const v = this.connect(client, sport, o.to.ip, o.to.port, t, o.ttl);
      r.client[i] = client;
      r.clientPort[i] = sport;
      r.verdict[i] = v;
      r.perVerdict[v] = (r.perVerdict[v] as number) + 1;
      r.node[i] = last.node ? last.node.index : -1;
      const pod = last.pod;
      r.pod[i] = pod ? pod.index : -1;
      if (pod) r.perPod[pod.index] = (r.perPod[pod.index] as number) + 1;
      r.seenSrc[i] = last.seenSrc;
      r.seenSport[i] = last.seenSport;
      r.replySrc[i] = last.replySrc;
      r.replySport[i] = last.replySport;
    }
    for (const node of this.nodes) r.uncertain += node.pass.uncertain;
    return r;
  }

  /** Drops expired conntrack entries and LB flows (no result changes: see run()). */
  sweep(timeUs: number): void {
    const ms = Math.floor(timeUs / 1000);
    for (const node of this.nodes) {
      node.nowMs = ms;
      void node.conntrack.size; // reading `size` purges the expired entries (table.ts purgeExpired)
    }
    this.fabric.forgetExpired(ms);
  }

  /** A public unicast address that is none of the twin's (1.0.0.0-223.255.255.255 minus private and special ranges). */
  private outsideClient(rng: Rng): number {
    for (;;) {
      const a = rng.nextU32();
      const top = a >>> 24;
      if (top === 0 || top === 10 || top === 127 || top >= 224) continue;
      if (a >>> 22 === 0x191) continue; // 100.64.0.0/10, carrier-grade NAT
      if (a >>> 16 === 0xa9fe || a >>> 16 === 0xc0a8 || a >>> 20 === 0xac1) continue; // 169.254/16, 192.168/16, 172.16/12
      if (this.notClients.has(a)) continue;
      return a;
    }
  }

  // ---- the walk: world/fabric-hops.ts, node-hops.ts, link-hops.ts, pod-hops.ts without hops ----

  /** A packet on Azure's network (fabricIn): a frontend's LB, a node's or pod's NIC, or outside. */
  private fromWire(p: Packet, fromVnet: boolean): End {
    const dst = p.dst as number;
    if (this.fabric.topology.byFrontend.has(dst)) {
      const backend = this.fabric.routeInPlace(p, this.ms);
      if ("verdict" in backend) {
        this.lbDrop = true;
        return this.drop(backend.detail);
      }
      const owner = this.owners.get(backend.nodeIp);
      if (owner === undefined || owner.pod !== null)
        return this.drop(`backend ${backend.nodeIpText} is no node of the twin`);
      this.lbNode ??= owner.node;
      return this.arrive(owner.node, owner.node.fromWire, p);
    }
    const owner = this.owners.get(dst);
    if (owner !== undefined) {
      if (!fromVnet) return this.drop("a private VNet address: not routable from the internet");
      // Azure CNI: pod IPs are secondary IP configurations of their node's NIC.
      return this.arrive(owner.node, owner.node.fromWire, p);
    }
    // An outside host, the wireserver, or the internet (the World's SDN drops what the twin does not know).
    return END.outside;
  }

  private arrive(node: BulkNode, a: Arrival, p: Packet): End {
    if (++this.passes > MAX_PASSES) return this.drop(`more than ${MAX_PASSES} node passes: a loop`);
    node.nowMs = this.ms;
    if (a.kind === "drop") return this.drop(a.reason);
    const pass = node.pass;
    if (a.kind === "stack") {
      // The host's IP stack (node-hops.ts stackIn): PREROUTING, the route, INPUT or FORWARD.
      const v = pass.arrive(p, a.inIface, null, a.physIn, null, false, this.ms);
      this.keepEntry(node);
      return v === PASS.local ? END.node : this.forwardOut(node, v, p);
    }
    // br_netfilter (link-hops.ts bridgeIn): a bridged frame walks PREROUTING, FORWARD and
    // POSTROUTING with in = out = the bridge; a DNAT makes it routed, and back out of this bridge it
    // is bridged again to the port of the new next hop's MAC.
    const dst = p.dst;
    const v = pass.arrive(p, a.bridge, a.bridge, a.inPort, a.outPort, true, this.ms);
    this.keepEntry(node);
    if (v !== PASS.forward || pass.outIface !== a.bridge) return this.forwardOut(node, v, p);
    if (p.dst === dst) return this.deliver(node.portOut(a.outPort), p);
    const port = pass.physOut;
    return port === null
      ? this.drop(`${a.bridge}: no port for the new next hop`)
      : this.deliver(node.portOut(port), p);
  }

  /** After a forward walk (node-hops.ts forwardOut): verdict, TTL, route, device. */
  private forwardOut(node: BulkNode, v: PassResult, p: Packet): End {
    if (v === PASS.dropped || v === PASS.rejected) {
      const pass = node.pass;
      const what = v === PASS.dropped ? "DROP" : "REJECT";
      return this.drop(`${what} in ${pass.stoppedTable ?? "conntrack"} ${pass.stoppedHook}`);
    }
    if (this.ttl <= 1) return this.drop("TTL exceeded");
    this.ttl--;
    const route = node.host.route(p.dst as number);
    if (!route) return this.drop("no route");
    return this.deliver(node.nextHop(route.dev, route.nextHop).link, p);
  }

  /** A pod sends (pod-hops.ts podOutput): its route, its veth, the host's bridge or stack. */
  private podOut(pod: BulkPod, p: Packet): End {
    if (pod.l3.isLocal(p.dst as number)) {
      this.endPod = pod;
      return END.pod;
    }
    const route = pod.l3.route(p.dst as number);
    if (!route) return this.drop("no route in the pod");
    return this.arrive(pod.node, pod.node.podExit(pod, route.dev, route.nextHop), p);
  }

  private deliver(link: Link, p: Packet): End {
    if (link.kind === "pod") {
      if (!link.pod.l3.isLocal(p.dst as number))
        return this.drop("not the pod's address (a pod does not forward)");
      this.endPod = link.pod;
      return END.pod;
    }
    if (link.kind === "drop") return this.drop(link.reason);
    // Out of the NIC: the host's SDN undoes the LB's rewrite of a non-floating-IP reply (fabricOut).
    const src = p.src;
    const sport = p.sport;
    // fabricOut applies the rewrite only when it changes the source address (floating IP replies
    // already come from the frontend), keeping the port then.
    if (this.fabric.replyInPlace(p, this.ms) && p.src === src) p.sport = sport;
    // The mark does not cross the wire (skb_scrub_packet), as in the World's portOut.
    p.mark = 0;
    return this.fromWire(p, true);
  }

  private startWalk(ttl: number): void {
    this.ttl = ttl;
    this.passes = 0;
    this.lbNode = null;
    this.lbDrop = false;
    this.entry = null;
    this.entryKept = false;
    this.endPod = null;
    this.reason = null;
  }

  private keepEntry(node: BulkNode): void {
    if (this.entryKept) return;
    this.entryKept = true;
    this.entry = node.pass.env.ct;
  }

  private drop(reason: string): End {
    this.reason = reason;
    return END.dropped;
  }
}

function setTcp(p: Packet, src: number, sport: number, dst: number, dport: number, flags: number): void {
  p.src = src;
  p.dst = dst;
  p.sport = sport;
  p.dport = dport;
  p.tcpFlags = flags;
  p.length = SYN_LENGTH;
  p.mark = 0;
}
