import type { Rng } from "../../../core/rng.ts";
import type { Rule } from "../../../model/netfilter/ruleset.ts";
import type { NetInterface, NodeState } from "../../../model/node.ts";
import type { Packet } from "../../../model/packet.ts";
import { ConntrackTable } from "../conntrack/table.ts";
import { KUBE_PROXY_TIMEOUTS } from "../conntrack/timeouts.ts";
import { type CompiledRuleset, compileRuleset } from "../netfilter/compile.ts";
import { type EngineState, newEngineState } from "../netfilter/env.ts";
import { type HostContext, type HostInput, type HostTraversal, traverseHost } from "../netfilter/host.ts";
import { NetnsL3 } from "./l3.ts";

/**
 * One node as the data plane runs it: its namespaces' routing, its compiled ruleset, and the state
 * that lives across packets: one conntrack table for the host namespace (pods' namespaces have no
 * rules of their own in the twin, so they need none) and the rules' counters.
 */
export class NodeStack {
  readonly rules: CompiledRuleset;
  readonly conntrack: ConntrackTable;
  readonly state: EngineState = newEngineState();
  readonly host: NetnsL3;
  /** Pod namespaces by id (`namespace/name`). */
  readonly pods = new Map<string, NetnsL3>();
  private nowMs = 0;
  /**
   * Decides `statistic --mode random` for the packets it answers (true/false) instead of the RNG;
   * null: draw as the kernel does. Exact mode over the whole world (walk-paths.ts) forces branches.
   */
  chooser: ((stored: number, rule: Rule, packet: Packet) => boolean | null) | null = null;

  constructor(
    readonly node: NodeState,
    private readonly rng: Rng,
  ) {
    this.rules = compileRuleset(node.ruleset, { sourceName: `${node.name} iptables-save` });
    // kube-proxy sets nf_conntrack_tcp_timeout_established and close_wait at start.
    this.conntrack = new ConntrackTable({ now: () => this.nowMs, timeouts: KUBE_PROXY_TIMEOUTS });
    const [hostNs, ...podNs] = node.netns;
    if (!hostNs) throw new Error(`node ${node.name} has no host namespace`);
    this.host = new NetnsL3(hostNs);
    for (const ns of podNs) this.pods.set(ns.id, new NetnsL3(ns));
  }

  /**
   * The host namespace's netfilter walk for one packet (host.ts), at `nowMs` on the virtual clock;
   * `route` is the node's routing decision after NAT (link-hops.ts nodeRouter).
   */
  traverse(input: HostInput, nowMs: number, route?: HostContext["route"]): HostTraversal {
    this.nowMs = nowMs;
    const rng = this.rng;
    return traverseHost(
      {
        rules: this.rules,
        host: this.host.hostAddresses(),
        conntrack: this.conntrack,
        state: this.state,
        now: nowMs,
        rng,
        forwarding: true,
        ...(route ? { route } : {}),
        // statistic --mode random: the kernel draws get_random_u32() & 0x7fffffff below `stored`.
        choose: (stored: number, rule: Rule) =>
          this.chooser?.(stored, rule, input.packet) ?? (rng.nextU32() & 0x7fffffff) < stored,
      },
      input,
    );
  }

  /**
   * The IP id of a datagram the kernel itself sends without DF (an ICMP error): ip_select_ident's
   * hashed per-destination counter, random from the outside.
   */
  ipId(): number {
    return this.rng.nextU32() & 0xffff;
  }

  iface(nsId: string, name: string): NetInterface | null {
    const ns = nsId === "host" ? this.host.ns : this.pods.get(nsId)?.ns;
    return ns?.interfaces.find((i) => i.name === name) ?? null;
  }

  /** The host-side interface a pod's veth is paired with, and back. */
  peerOf(nsId: string, ifaceName: string): { nsId: string; iface: NetInterface } | null {
    const i = this.iface(nsId, ifaceName);
    if (i?.kind !== "veth" || !i.peer) return null;
    const peerIndex = i.peer.index;
    if (nsId !== "host") {
      const h = this.host.ns.interfaces.find((x) => x.index === peerIndex);
      return h ? { nsId: "host", iface: h } : null;
    }
    for (const [id, ns] of this.pods) {
      const p = ns.ns.interfaces.find((x) => x.index === peerIndex && x.peer?.index === i.index);
      if (p) return { nsId: id, iface: p };
    }
    return null;
  }
}
