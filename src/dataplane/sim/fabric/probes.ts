import { hashString } from "./flow-hash.ts";
import type { Backend, LbTopology, ResolvedProbe, ResolvedRule } from "./topology.ts";
import { probeThreshold } from "./topology.ts";

/**
 * Azure Load Balancer health probes on the virtual clock (docs/azure.md §2.3, AZDOC
 * `load-balancer-custom-probe-overview.md`): every probe is sent to each backend's DIP (the node's
 * primary IP, never the VIP) every intervalInSeconds from 168.63.129.16; a backend is marked down
 * after `probeThreshold` (2019: `numberOfProbes`) consecutive failures and up again after as many
 * consecutive successes. The probe itself is answered by the caller (the integration runs the twin:
 * a TCP handshake to the node port, an HTTP GET of kube-proxy's health check).
 *
 * Modelling choices (Azure documents none of these): every backend starts up, as on an LB that
 * has converged before the story begins; each backend's first probe comes at an offset in
 * [0, interval) derived from the seed, the probe and the node, so probes to different nodes do not
 * all fire at once; the "flapping backends are held down longer" policy is not modelled.
 * Times are milliseconds on the virtual clock, like the conntrack table's.
 */

/** The source of every IPv4 probe (AZDOC: "the IP address 168.63.129.16"). */
export const PROBE_SOURCE = "168.63.129.16";

export type ProbeResult = "up" | "down";

export interface ProbeTarget {
  readonly source: typeof PROBE_SOURCE;
  readonly nodeIp: string;
  readonly port: number;
  readonly protocol: "Tcp" | "Http" | "Https";
  /** The request path of Http(s) probes (`/` when the probe has none); null for Tcp. */
  readonly path: string | null;
  readonly lb: string;
  readonly probe: string;
}

export type ProbeFn = (target: ProbeTarget, now: number) => ProbeResult;

export interface ProbeEvent {
  readonly time: number;
  readonly lb: string;
  readonly probe: string;
  readonly probeId: string;
  readonly nodeIp: string;
  readonly port: number;
  readonly protocol: ProbeTarget["protocol"];
  readonly path: string | null;
  readonly result: ProbeResult;
  /** How many results in a row (this one included) have been the same. */
  readonly consecutive: number;
  /** The backend's state after this probe. */
  readonly state: ProbeResult;
  readonly changed: boolean;
}

export interface ProbeSchedulerOptions {
  readonly seed: number;
  /** Virtual time (ms) at which probing starts; the first probe of each backend comes within one interval. */
  readonly start: number;
  /** Keep every probe event (default true); bulk runs can keep only the state changes. */
  readonly recordAll?: boolean;
}

interface Target {
  readonly order: number;
  readonly spec: ProbeTarget;
  readonly probeId: string;
  readonly intervalMs: number;
  readonly threshold: number;
  next: number;
  up: boolean;
  lastResult: ProbeResult | null;
  run: number;
  /** State changes in time order: [time, up]. */
  readonly changes: Array<readonly [number, boolean]>;
}

const targetKey = (probeId: string, nodeIp: number): string => `${probeId.toLowerCase()}|${nodeIp}`;

export class ProbeScheduler {
  private readonly targets = new Map<string, Target>();
  private readonly heap: Target[] = [];
  private readonly recorded: ProbeEvent[] = [];
  private advancedTo: number;
  /** Bumped on every state change: the per-rule healthy lists below are valid while it stands. */
  private version = 0;
  private readonly current = new Map<ResolvedRule, { version: number; healthy: readonly Backend[] }>();

  constructor(
    topology: LbTopology,
    private readonly probe: ProbeFn,
    private readonly options: ProbeSchedulerOptions,
  ) {
    this.advancedTo = options.start;
    for (const rp of topology.probes) for (const b of rp.backends) this.addTarget(rp, b);
  }

  /** Virtual time up to which every due probe has run. */
  get time(): number {
    return this.advancedTo;
  }

  /** Every probe event so far (only state changes when `recordAll` is false), in time order. */
  get events(): readonly ProbeEvent[] {
    return this.recorded;
  }

  /** Runs every probe due at or before `to`, in time order (ties: probe order, then pool order). */
  advance(to: number): ProbeEvent[] {
    const ran: ProbeEvent[] = [];
    for (;;) {
      const t = this.heap[0];
      if (t === undefined || t.next > to) break;
      const now = t.next;
      const result = this.probe(t.spec, now);
      t.run = result === t.lastResult ? t.run + 1 : 1;
      t.lastResult = result;
      const changed = (result === "down") === t.up && t.run >= t.threshold;
      if (changed) {
        t.up = !t.up;
        t.changes.push([now, t.up]);
        this.version++;
      }
      const event: ProbeEvent = {
        time: now,
        lb: t.spec.lb,
        probe: t.spec.probe,
        probeId: t.probeId,
        nodeIp: t.spec.nodeIp,
        port: t.spec.port,
        protocol: t.spec.protocol,
        path: t.spec.path,
        result,
        consecutive: t.run,
        state: t.up ? "up" : "down",
        changed,
      };
      ran.push(event);
      if (changed || this.options.recordAll !== false) this.recorded.push(event);
      t.next = now + t.intervalMs;
      this.siftDown(0);
    }
    if (to > this.advancedTo) this.advancedTo = to;
    return ran;
  }

  /** The backend's probe state at `now` (advancing the clock first if `now` is ahead of it). */
  isUp(probeId: string, nodeIp: number, now: number): boolean {
    const t = this.targets.get(targetKey(probeId, nodeIp));
    if (t === undefined) return true;
    if (now > this.advancedTo) this.advance(now);
    return stateAt(t, now);
  }

  /**
   * The rule's pool members that are up at `now`, in pool order. A rule without a probe balances
   * to every member (cloud-provider-azure's `no_probe_rule`; the LB has nothing to judge them by).
   */
  healthyBackends(rule: ResolvedRule, now: number): readonly Backend[] {
    const probe = rule.probe;
    if (probe === null) return rule.backends;
    if (now > this.advancedTo) this.advance(now);
    if (now < this.advancedTo) return rule.backends.filter((b) => this.isUp(probe.id, b.nodeIp, now));
    // At the clock's edge the live states answer; cached per rule (this runs for every new flow).
    const cached = this.current.get(rule);
    if (cached !== undefined && cached.version === this.version) return cached.healthy;
    const healthy = rule.backends.filter((b) => this.targets.get(targetKey(probe.id, b.nodeIp))?.up ?? true);
    this.current.set(rule, { version: this.version, healthy });
    return healthy;
  }

  private addTarget(rp: ResolvedProbe, backend: Backend): void {
    const key = targetKey(rp.probe.id, backend.nodeIp);
    if (this.targets.has(key)) return;
    const intervalMs = Math.max(1, rp.probe.intervalInSeconds) * 1000;
    const offset = hashString(this.options.seed, key) % intervalMs;
    const http = rp.probe.protocol !== "Tcp";
    const target: Target = {
      order: this.targets.size,
      spec: {
        source: PROBE_SOURCE,
        nodeIp: backend.nodeIpText,
        port: rp.probe.port,
        protocol: rp.probe.protocol,
        path: http ? (rp.probe.requestPath ?? "/") : null,
        lb: rp.lb.name,
        probe: rp.probe.name,
      },
      probeId: rp.probe.id,
      intervalMs,
      threshold: probeThreshold(rp.probe),
      next: this.options.start + offset,
      up: true,
      lastResult: null,
      run: 0,
      changes: [],
    };
    this.targets.set(key, target);
    this.heap.push(target);
    this.siftUp(this.heap.length - 1);
  }

  private siftUp(i: number): void {
    const h = this.heap;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(h[i]!, h[parent]!)) break;
      [h[i], h[parent]] = [h[parent]!, h[i]!];
      i = parent;
    }
  }

  private siftDown(i: number): void {
    const h = this.heap;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && before(h[l]!, h[m]!)) m = l;
      if (r < h.length && before(h[r]!, h[m]!)) m = r;
      if (m === i) return;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
  }
}

function before(a: Target, b: Target): boolean {
  return a.next < b.next || (a.next === b.next && a.order < b.order);
}

/** The state after every probe at or before `now` (binary search over the changes). */
function stateAt(t: Target, now: number): boolean {
  let lo = 0;
  let hi = t.changes.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (t.changes[mid]![0] <= now) lo = mid + 1;
    else hi = mid;
  }
  return lo === 0 ? true : t.changes[lo - 1]![1];
}
