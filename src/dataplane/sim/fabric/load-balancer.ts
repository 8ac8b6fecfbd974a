import type { AzureState } from "../../../model/azure.ts";
import { type Packet, PROTO } from "../../../model/packet.ts";
import { distributionHash } from "./flow-hash.ts";
import { FlowTable } from "./flow-table.ts";
import { type ProbeFn, ProbeScheduler } from "./probes.ts";
import {
  type Backend,
  type LbTopology,
  type ResolvedRule,
  resolveTopology,
  ruleMatches,
} from "./topology.ts";

/**
 * The Azure Load Balancer's data path for inbound traffic (docs/azure.md §3, AZDOC `concepts.md`,
 * `distribution-mode-concepts.md`, `load-balancer-multivip-overview.md`): a pass-through L4 balancer
 * that rewrites only L3/L4 destination fields. A packet to a frontend IP and port picks the rule,
 * then a backend among the healthy pool members by the rule's distribution hash; the choice is kept
 * in a flow table for the rule's idle timeout, so a flow's packets all reach one node while new flows
 * re-hash over whatever is healthy when they start.
 *
 * Replies never cross the LB: Azure "always operates in a DSR flow topology regardless of whether
 * Floating IP is enabled"; the host's SDN rewrites the reply's source back to the frontend. `reply()`
 * models that host-side reversal with the same flow table.
 *
 * Probe-down behaviour (docs/azure.md §2.3, AZDOC `load-balancer-custom-probe-overview.md`):
 * established TCP flows stay on their backend when it goes down; when every backend is down a Basic
 * LB ends its TCP flows and a Standard one keeps them (`noHealthyBackendsBehavior` is not modelled);
 * UDP flows move to a healthy backend, and end when none is left.
 *
 * Not documented by Azure, chosen here: a packet with no flow state (a mid-stream TCP segment after
 * the idle timeout, say) is balanced like a new flow, as a stateless hash would; the backend's own
 * conntrack then decides its fate. Times are milliseconds on the virtual clock.
 */

export type LbDropReason = "not-ipv4" | "no-frontend" | "no-rule" | "empty-pool" | "no-healthy-backend";

export interface LbForwarded {
  readonly verdict: "forwarded";
  /** The packet as the backend node receives it. */
  readonly packet: Packet;
  readonly rule: ResolvedRule;
  readonly backend: Backend;
  /** `moved`: a UDP flow whose backend went down, re-hashed to a healthy one. */
  readonly flow: "new" | "established" | "moved";
  /** How many backends were healthy when this packet was balanced. */
  readonly healthy: number;
}

export interface LbDropped {
  readonly verdict: "dropped";
  readonly reason: LbDropReason;
  readonly detail: string;
  readonly rule: ResolvedRule | null;
}

export type LbRouteResult = LbForwarded | LbDropped;

export type LbReplyResult =
  | { readonly verdict: "rewritten"; readonly packet: Packet; readonly flow: LbFlow }
  /** Not a reply of an LB flow (outbound traffic, a flow past its idle timeout): left as it is. */
  | { readonly verdict: "not-lb-flow" };

export interface LbFlow {
  readonly rule: ResolvedRule;
  readonly client: number;
  readonly clientPort: number;
  readonly proto: number;
  readonly frontendPort: number;
  readonly backend: Backend;
  readonly created: number;
  readonly expiresAt: number;
}

/** A flow that reached its idle timeout; `tcpReset` when the LB sends RSTs both ways (AZDOC `load-balancer-tcp-reset.md`). */
export interface LbExpiredFlow {
  readonly flow: LbFlow;
  readonly tcpReset: boolean;
}

export interface BackendHealth {
  healthyBackends(rule: ResolvedRule, now: number): readonly Backend[];
}

export interface AzureLbFabricOptions {
  /** The twin's seed: the flow hash and the probes' offsets derive from it. */
  readonly seed: number;
  /** Virtual time (ms) at which the fabric starts, for the probe schedule. */
  readonly start: number;
  /** Answers health probes; without it every pool member is always healthy. */
  readonly probe?: ProbeFn;
  readonly recordAllProbes?: boolean;
  /**
   * The backend node (its IP) a new flow goes to, instead of the flow hash; null: hash as usual.
   * `lab verify` pins the backend the real lab's hash chose, to follow the same flow in the twin.
   */
  readonly pinBackend?: (p: Packet) => number | null;
}

const ALL_UP: BackendHealth = { healthyBackends: (rule) => rule.backends };

export class AzureLbFabric {
  readonly topology: LbTopology;
  /** The probe scheduler, when the fabric was given a probe callback. */
  readonly probes: ProbeScheduler | null;
  private readonly health: BackendHealth;
  private readonly seed: number;
  private readonly pinBackend: ((p: Packet) => number | null) | null;
  /** Keyed by (proto, VIP, frontend port, client, client port). */
  private readonly flows = new FlowTable();
  /**
   * Where replies come from → the rules they may belong to: the VIP with floating IP, else each
   * backend node. A reply then finds its flow in `flows` (one table to fill per new flow, not two).
   */
  private readonly replySources = new Map<number, ResolvedRule[]>();
  /** How the last balanced packet's flow was found, and how many backends were healthy then. */
  private lastFlow: LbForwarded["flow"] = "new";
  private lastHealthy = 0;

  constructor(azure: AzureState, options: AzureLbFabricOptions) {
    this.topology = resolveTopology(azure);
    this.seed = options.seed >>> 0;
    this.pinBackend = options.pinBackend ?? null;
    this.probes = options.probe
      ? new ProbeScheduler(this.topology, options.probe, {
          seed: this.seed,
          start: options.start,
          ...(options.recordAllProbes === undefined ? {} : { recordAll: options.recordAllProbes }),
        })
      : null;
    this.health = this.probes ?? ALL_UP;
    for (const rr of this.topology.rules) {
      const sources = rr.rule.enableFloatingIp ? [rr.frontendIp] : rr.backends.map((b) => b.nodeIp);
      for (const src of new Set(sources)) {
        const list = this.replySources.get(src);
        if (list) list.push(rr);
        else this.replySources.set(src, [rr]);
      }
    }
  }

  /** A packet arriving from outside at a frontend: the rewritten packet and its backend, or why it was dropped. */
  route(p: Packet, now: number): LbRouteResult {
    const e = this.balance(p, now);
    return typeof e === "number" ? this.forward(p, e, this.lastFlow, this.lastHealthy) : e;
  }

  /**
   * route() for bulk traffic: the same decision and flow table, but the packet is rewritten in place
   * and nothing else is allocated. The backend, or why the packet was dropped.
   */
  routeInPlace(p: Packet, now: number): Backend | LbDropped {
    const e = this.balance(p, now);
    if (typeof e !== "number") return e;
    const backend = this.flows.backend(e);
    const r = this.flows.rule(e).rule;
    if (!r.enableFloatingIp) p.dst = backend.nodeIp;
    if (r.backendPort !== 0) p.dport = r.backendPort;
    return backend;
  }

  /** The slot of the flow a packet belongs to, created or found, or the drop; `lastFlow`/`lastHealthy` say how. */
  private balance(p: Packet, now: number): number | LbDropped {
    if (p.family !== 4 || typeof p.dst !== "number" || typeof p.src !== "number") {
      return drop("not-ipv4", "the twin's load balancers are IPv4 only", null);
    }
    const rules = this.topology.byFrontend.get(p.dst);
    if (rules === undefined) return drop("no-frontend", "no load balancer frontend has this address", null);
    let rr: ResolvedRule | undefined;
    for (const r of rules) {
      if (ruleMatches(r.rule, p.proto, p.dport)) {
        rr = r;
        break;
      }
    }
    if (rr === undefined)
      return drop("no-rule", "no load-balancing rule on this frontend takes this protocol and port", null);

    const flows = this.flows;
    let entry = flows.find(p.proto, p.dst, p.dport, p.src, p.sport);
    if (entry >= 0 && flows.expiresAt(entry) <= now) {
      flows.delete(entry);
      entry = -1;
    }
    const healthy = this.health.healthyBackends(rr, now);
    const idleMs = rr.rule.idleTimeoutInMinutes * 60_000;
    this.lastHealthy = healthy.length;

    if (entry >= 0) {
      this.lastFlow = "established";
      if (!healthy.includes(flows.backend(entry))) {
        if (p.proto === PROTO.tcp) {
          if (healthy.length === 0 && rr.lb.sku === "Basic") {
            flows.delete(entry);
            return drop(
              "no-healthy-backend",
              "every backend is down: a Basic load balancer ends its TCP flows",
              rr,
            );
          }
        } else {
          if (healthy.length === 0) {
            flows.delete(entry);
            return drop("no-healthy-backend", "every backend is down: UDP flows end", rr);
          }
          flows.setBackend(entry, this.pick(rr, p, healthy));
          this.lastFlow = "moved";
        }
      }
      flows.setExpiresAt(entry, now + idleMs);
      return entry;
    }

    if (rr.backends.length === 0) return drop("empty-pool", "the rule's backend pool has no members", rr);
    if (healthy.length === 0)
      return drop("no-healthy-backend", "every backend of the rule is probed down", rr);
    const backend = this.pick(rr, p, healthy);
    this.lastFlow = "new";
    return flows.add(rr, p.proto, p.dport, p.src, p.sport, backend, now, now + idleMs);
  }

  /**
   * A reply leaving a backend node towards the client. It does not pass the LB (DSR); the host's SDN
   * restores the frontend: with floating IP the node already answers from the VIP and only the port
   * maps back; without it the source node IP becomes the VIP.
   */
  reply(p: Packet, now: number): LbReplyResult {
    const slot = this.liveReplyFlow(p, now);
    if (slot < 0) return { verdict: "not-lb-flow" };
    return {
      verdict: "rewritten",
      packet: {
        ...p,
        src: this.flows.frontendIp(slot),
        sport: this.flows.frontendPort(slot),
      },
      flow: this.view(slot),
    };
  }

  /**
   * reply() for bulk traffic: the same flow found and kept from going idle, the packet's source
   * rewritten to the frontend in place, nothing allocated. False when it is not an LB flow's reply.
   */
  replyInPlace(p: Packet, now: number): boolean {
    const slot = this.liveReplyFlow(p, now);
    if (slot < 0) return false;
    p.src = this.flows.frontendIp(slot);
    p.sport = this.flows.frontendPort(slot);
    return true;
  }

  /** The live flow a reply belongs to, refreshed, or -1. */
  private liveReplyFlow(p: Packet, now: number): number {
    if (p.family !== 4 || typeof p.src !== "number" || typeof p.dst !== "number") return -1;
    const slot = this.replyFlow(p);
    if (slot < 0 || this.flows.expiresAt(slot) <= now) return -1;
    // The host sees both directions; any packet keeps the flow from going idle.
    this.flows.setExpiresAt(slot, now + this.flows.rule(slot).rule.idleTimeoutInMinutes * 60_000);
    return slot;
  }

  /** Removes the flows idle past their rule's timeout and says which get TCP resets. */
  expire(now: number): LbExpiredFlow[] {
    const out: LbExpiredFlow[] = [];
    for (const slot of this.expired(now)) {
      const flow = this.view(slot);
      this.flows.delete(slot);
      // Standard only, ESTABLISHED TCP only (AZDOC `load-balancer-tcp-reset.md`); the LB does not
      // track TCP states here, so every TCP flow counts.
      const reset =
        flow.proto === PROTO.tcp && flow.rule.lb.sku === "Standard" && flow.rule.rule.enableTcpReset === true;
      out.push({ flow, tcpReset: reset });
    }
    return out;
  }

  /** expire() without its report, for bulk traffic: how many flows were removed. */
  forgetExpired(now: number): number {
    return this.flows.deleteExpired(now);
  }

  /** The slots of the flows idle past their timeout, in table order. */
  private expired(now: number): number[] {
    const dead: number[] = [];
    this.flows.forEach((slot) => {
      if (this.flows.expiresAt(slot) <= now) dead.push(slot);
    });
    return dead;
  }

  /** How many flows the table holds (idle ones included until expire() or a packet removes them). */
  get flowCount(): number {
    return this.flows.size;
  }

  /** The live flows at `now`, in creation order. */
  flowTable(now: number): LbFlow[] {
    const live: LbFlow[] = [];
    this.flows.forEach((slot) => {
      if (this.flows.expiresAt(slot) > now) live.push(this.view(slot));
    });
    return live.sort((a, b) => a.created - b.created);
  }

  private pick(rr: ResolvedRule, p: Packet, healthy: readonly Backend[]): Backend {
    const pinned = this.pinBackend?.(p) ?? null;
    // A pinned backend is taken even when probed down: the caller compares with a real LB's choice.
    const forced = pinned === null ? undefined : rr.backends.find((b) => b.nodeIp === pinned);
    if (forced) return forced;
    const h = distributionHash(this.seed, rr.rule.loadDistribution, {
      proto: p.proto,
      src: p.src as number,
      sport: p.sport,
      dst: p.dst as number,
      dport: p.dport,
    });
    return healthy[h % healthy.length]!;
  }

  private forward(p: Packet, slot: number, flow: LbForwarded["flow"], healthy: number): LbForwarded {
    const rule = this.flows.rule(slot);
    const backend = this.flows.backend(slot);
    const r = rule.rule;
    // Floating IP keeps the VIP as destination; otherwise the backend's DIP. BackendPort 0 is HA ports.
    const dst = r.enableFloatingIp ? p.dst : backend.nodeIp;
    const dport = r.backendPort === 0 ? p.dport : r.backendPort;
    return { verdict: "forwarded", packet: { ...p, dst, dport }, rule, backend, flow, healthy };
  }

  private replyFlow(p: Packet): number {
    for (const rr of this.replySources.get(p.src as number) ?? []) {
      const r = rr.rule;
      if (r.backendPort !== 0 && r.backendPort !== p.sport) continue;
      const frontendPort = r.backendPort === 0 ? p.sport : r.frontendPort;
      const slot = this.flows.find(p.proto, rr.frontendIp, frontendPort, p.dst as number, p.dport);
      if (
        slot >= 0 &&
        this.flows.rule(slot) === rr &&
        (r.enableFloatingIp || this.flows.backend(slot).nodeIp === p.src)
      )
        return slot;
    }
    return -1;
  }

  private view(slot: number): LbFlow {
    const f = this.flows;
    return {
      rule: f.rule(slot),
      client: f.client(slot),
      clientPort: f.clientPort(slot),
      proto: f.proto(slot),
      frontendPort: f.frontendPort(slot),
      backend: f.backend(slot),
      created: f.created(slot),
      expiresAt: f.expiresAt(slot),
    };
  }
}

function drop(reason: LbDropReason, detail: string, rule: ResolvedRule | null): LbDropped {
  return { verdict: "dropped", reason, detail, rule };
}
