import type { Rng } from "../../../core/rng.ts";
import type { NetInterface, NodeState } from "../../../model/node.ts";
import type { ConntrackTable } from "../conntrack/table.ts";
import { KUBE_PROXY_TIMEOUTS } from "../conntrack/timeouts.ts";
import { type CompiledRuleset, compileRuleset } from "../netfilter/compile.ts";
import { type EngineState, newEngineState } from "../netfilter/env.ts";
import { bridgeDecide } from "../world/bridge.ts";
import { NetnsL3 } from "../world/l3.ts";
import { AZURE_SDN_MAC } from "../world/walk.ts";
import { FlatConntrack } from "./flat-conntrack.ts";
import { NodePass, type PassConntrack, type PassRoute, type PassRouter } from "./pass.ts";

/**
 * One node for bulk traffic: its compiled ruleset, conntrack table and the state of its stateful
 * matches (what the World's NodeStack keeps; the rule counters are in pass.walker), and its layer 2
 * decided once per next hop instead of per frame: which bridge port or veth a next hop is behind,
 * which pod a veth leads to. The decisions are the World's (world/link-hops.ts, pod-hops.ts,
 * node-hops.ts) over the same twin data, which does not change while packets flow; only their
 * results are kept (per device and next hop: the gateway, or an on-link address of a local subnet).
 */

export interface BulkPod {
  /** Index in BulkTwin.pods. */
  readonly index: number;
  /** The pod's network namespace id: `namespace/name`. */
  readonly id: string;
  readonly node: BulkNode;
  readonly l3: NetnsL3;
  /** How its packets reach the host, by device and next hop (BulkNode.podExit). */
  readonly exits: Map<string, Map<number, Arrival>>;
}

/** How a frame reaches a host's IP stack, or is bridged past it (br_netfilter), or is lost. */
export type Arrival =
  | { readonly kind: "stack"; readonly inIface: string; readonly physIn: string | null }
  | { readonly kind: "bridged"; readonly bridge: string; readonly inPort: string; readonly outPort: string }
  | { readonly kind: "drop"; readonly reason: string };

/** What lies behind a host-namespace port: a pod's namespace, Azure's network, or nothing. */
export type Link =
  | { readonly kind: "pod"; readonly pod: BulkPod }
  | { readonly kind: "wire" }
  | { readonly kind: "drop"; readonly reason: string };

/** A routed packet's way out: the device, its bridge port, and what lies behind. */
export interface NextHop extends PassRoute {
  readonly link: Link;
}

/** Who owns an address: a node's host namespace or a pod (World.owners). */
export type Owner = { readonly node: BulkNode; readonly pod: BulkPod | null };

/** What bulk mode asks of a node's conntrack table: ConntrackTable's operations. */
export type BulkConntrack = PassConntrack & Pick<ConntrackTable, "lookup" | "size">;
/** Makes a node's conntrack table on the node's clock (virtual ms). */
export type ConntrackFactory = (now: () => number) => BulkConntrack;

export interface BulkNodeOptions {
  /**
   * The conntrack table to keep; default FlatConntrack (flat-conntrack.ts), which behaves as
   * NodeStack's ConntrackTable, with kube-proxy's timeouts as NodeStack sets them.
   */
  readonly conntrack?: ConntrackFactory;
}

const WIRE: Link = { kind: "wire" };

export class BulkNode implements PassRouter {
  readonly rules: CompiledRuleset;
  readonly conntrack: BulkConntrack;
  readonly state: EngineState = newEngineState();
  readonly host: NetnsL3;
  readonly pods = new Map<string, BulkPod>();
  readonly pass: NodePass;
  /** How frames from Azure's network (to the NIC's MAC) enter. */
  readonly fromWire: Arrival;
  nowMs = 0;
  private owners: ReadonlyMap<number, Owner> = new Map();
  private readonly hopMemo = new Map<string, Map<number, NextHop>>();
  private readonly portMemo = new Map<string, Link>();

  constructor(
    readonly node: NodeState,
    readonly index: number,
    rng: Rng,
    firstPodIndex: number,
    options: BulkNodeOptions = {},
  ) {
    this.rules = compileRuleset(node.ruleset, { sourceName: `${node.name} iptables-save` });
    const clock = () => this.nowMs;
    // kube-proxy sets nf_conntrack_tcp_timeout_established and close_wait at start (NodeStack).
    this.conntrack = options.conntrack
      ? options.conntrack(clock)
      : new FlatConntrack({ now: clock, timeouts: KUBE_PROXY_TIMEOUTS });
    const [hostNs, ...podNs] = node.netns;
    if (!hostNs) throw new Error(`node ${node.name} has no host namespace`);
    this.host = new NetnsL3(hostNs);
    let i = firstPodIndex;
    for (const ns of podNs)
      this.pods.set(ns.id, { index: i++, id: ns.id, node: this, l3: new NetnsL3(ns), exits: new Map() });
    // statistic --mode random: the kernel draws get_random_u32() & 0x7fffffff below `stored` (NodeStack).
    const choose = (stored: number) => (rng.nextU32() & 0x7fffffff) < stored;
    this.pass = new NodePass(
      this.rules,
      this.host.hostAddresses(),
      this.conntrack,
      this.state,
      rng,
      choose,
      this,
    );
    this.fromWire = this.wireArrival();
  }

  /** The twin's address owners, once every node exists (resolve() needs them). */
  setOwners(owners: ReadonlyMap<number, Owner>): void {
    this.owners = owners;
  }

  iface(nsId: string, name: string): NetInterface | null {
    const ns = nsId === "host" ? this.host.ns : this.pods.get(nsId)?.l3.ns;
    return ns?.interfaces.find((i) => i.name === name) ?? null;
  }

  /** The route of a destination and where it leads (link-hops.ts nodeRouter), for the pass. */
  routeTo(dst: number): NextHop | null {
    const r = this.host.route(dst);
    return r === null ? null : this.nextHop(r.dev, r.nextHop);
  }

  /**
   * A routed packet put on a host device towards `nextHop`: the bridge port nodeRouter names and
   * what link-hops.ts egress finds behind it, decided once per pair.
   */
  nextHop(dev: string, nextHop: number): NextHop {
    let byHop = this.hopMemo.get(dev);
    if (byHop === undefined) {
      byHop = new Map();
      this.hopMemo.set(dev, byHop);
    }
    let h = byHop.get(nextHop);
    if (h === undefined) {
      h = this.decideNextHop(dev, nextHop);
      byHop.set(nextHop, h);
    }
    return h;
  }

  /** A frame leaving by a host-namespace port (link-hops.ts portOut). */
  portOut(port: string): Link {
    let link = this.portMemo.get(port);
    if (link === undefined) {
      link = this.decidePort(port);
      this.portMemo.set(port, link);
    }
    return link;
  }

  /** A pod's packet to `nextHop` on its device `dev`: how it reaches the host (pod-hops.ts podOutput). */
  podExit(pod: BulkPod, dev: string, nextHop: number): Arrival {
    let byHop = pod.exits.get(dev);
    if (byHop === undefined) {
      byHop = new Map();
      pod.exits.set(dev, byHop);
    }
    let a = byHop.get(nextHop);
    if (a === undefined) {
      a = this.decidePodExit(pod, dev, nextHop);
      byHop.set(nextHop, a);
    }
    return a;
  }

  private wireArrival(): Arrival {
    const eth0 = this.iface("host", "eth0");
    if (!eth0) return { kind: "drop", reason: "the node has no eth0" };
    // Azure's SDN delivers to the NIC's MAC (node-hops.ts nodeEth0In).
    return eth0.master ? this.bridgeArrival(eth0.master, "eth0", eth0.mac) : this.stackArrival("eth0", null);
  }

  private stackArrival(inIface: string, physIn: string | null): Arrival {
    return { kind: "stack", inIface, physIn };
  }

  /** A bridge's decision for a frame in on `port` (link-hops.ts bridgeIn, bridge.ts). */
  private bridgeArrival(bridge: string, port: string, dstMac: string): Arrival {
    const br = this.node.bridges.find((b) => b.name === bridge);
    const dev = this.iface("host", bridge);
    if (!br || !dev) return { kind: "drop", reason: `bridge ${bridge} not found` };
    const d = bridgeDecide(br, port, dstMac, dev.mac);
    if (d.kind === "local") return this.stackArrival(bridge, port);
    if (d.kind === "forward") return { kind: "bridged", bridge, inPort: port, outPort: d.port };
    return {
      kind: "drop",
      reason:
        d.kind === "flood"
          ? "unknown destination MAC (flooding is not modelled)"
          : "destination MAC is behind the port it came from",
    };
  }

  private decideNextHop(dev: string, nextHop: number): NextHop {
    const iface = this.iface("host", dev);
    if (!iface) return { dev, physOut: null, link: { kind: "drop", reason: `no device ${dev}` } };
    if (iface.kind !== "bridge") return { dev, physOut: null, link: this.portOut(dev) };
    const mac = this.resolve("host", dev, nextHop);
    const br = this.node.bridges.find((b) => b.name === dev);
    const d = br ? bridgeDecide(br, null, mac, iface.mac) : null;
    if (d?.kind !== "forward")
      return { dev, physOut: null, link: { kind: "drop", reason: `${dev}: no port for ${mac}` } };
    return { dev, physOut: d.port, link: this.portOut(d.port) };
  }

  private decidePort(port: string): Link {
    const iface = this.iface("host", port);
    if (iface?.kind === "ether") return WIRE;
    if (iface?.kind !== "veth") return { kind: "drop", reason: `nothing beyond ${port}` };
    const peerIndex = iface.peer?.index;
    for (const pod of this.pods.values()) {
      if (pod.l3.ns.interfaces.some((x) => x.index === peerIndex && x.peer?.index === iface.index))
        return { kind: "pod", pod };
    }
    return { kind: "drop", reason: "veth without a peer" };
  }

  private decidePodExit(pod: BulkPod, dev: string, nextHop: number): Arrival {
    const mac = this.resolve(pod.id, dev, nextHop);
    const i = this.iface(pod.id, dev);
    const peerIndex = i?.kind === "veth" ? i.peer?.index : undefined;
    const peer = this.host.ns.interfaces.find((x) => x.index === peerIndex);
    if (!peer) return { kind: "drop", reason: "veth without a peer" };
    return peer.master ? this.bridgeArrival(peer.master, peer.name, mac) : this.stackArrival(peer.name, null);
  }

  /**
   * The MAC of a next hop (link-hops.ts resolve): the namespace's neighbour entry, else an address
   * of this node's host or pods, else Azure's SDN, which answers for every address.
   */
  private resolve(nsId: string, dev: string, ip: number): string {
    const l3 = nsId === "host" ? this.host : this.pods.get(nsId)?.l3;
    const known = l3?.neighbour(ip, dev);
    if (known) return known;
    const o = this.owners.get(ip);
    if (o && o.node === this) {
      if (o.pod) return this.iface(o.pod.id, "eth0")?.mac ?? AZURE_SDN_MAC;
      const hostDev = this.host.route(ip)?.dev;
      const hostIface = hostDev ? this.iface("host", hostDev) : null;
      if (hostIface) return hostIface.mac;
    }
    return AZURE_SDN_MAC;
  }
}
