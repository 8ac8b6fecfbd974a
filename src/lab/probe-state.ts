import { dirname, join } from "node:path";
import type { LabProber } from "./plan.ts";
import { routeArgs, vipRoute } from "./route.ts";

/**
 * The prober's decisions, pure: a probe result in, the backends' states, the VIP routes wanted and
 * the round counter out. The semantics are the simulator's (fabric/probes.ts ProbeScheduler.advance):
 * a run counts equal results in a row, and the backend flips (down on failures, up on successes)
 * when a result against its state has run `threshold` times. One difference, on purpose: the
 * scheduler starts every backend up (an LB converged before the story begins), the lab starts each
 * from the plan's static judgement, which is what that converged LB would hold and what the routes
 * `lab up` added say.
 */

export const PROBE_STATE_VERSION = 1;

/** Where the prober keeps its state: next to the ledger. */
export function probeStatePath(ledgerPath: string): string {
  return join(dirname(ledgerPath), "lab-probes.json");
}

export type ProbeResult = "up" | "down";

export interface BackendProbe {
  readonly up: boolean;
  /** The last probe's result; null before the first. */
  readonly result: ProbeResult | null;
  /** Equal results in a row, the last included (the scheduler's `run`, ProbeEvent.consecutive). */
  readonly consecutive: number;
  /** Consecutive failures (0 after a success). */
  readonly failures: number;
  /** What the last probe saw (`HTTP 503`, `connect: ECONNREFUSED`...); `static judgement` before it. */
  readonly text: string;
  /** ISO time of the last result; null before the first. */
  readonly time: string | null;
  /** Probes done. */
  readonly probes: number;
}

export interface FrontendProbeState {
  readonly vip: string;
  /** The backends' node IPs that are up, in pool order: what the route should say. */
  readonly healthy: readonly string[];
  /** The route installed in pwl-az now, as `ip route` words. */
  readonly route: string;
  readonly backends: readonly ({ readonly nodeIp: string; readonly target: string | null } & BackendProbe)[];
}

export interface ProbeState {
  readonly version: number;
  /** The prober's process. */
  readonly pid: number;
  readonly source: string;
  /** No probe runs (none in flight either, its sockets closed): set on SIGUSR1, cleared on SIGUSR2. */
  readonly paused: boolean;
  /** Times it has confirmed a pause (a waiter compares it with the count before it asked). */
  readonly pauses: number;
  /** Full rounds done: each completes once every target has been probed since the last one did. */
  readonly round: number;
  /** Targets probed in the round under way. */
  readonly roundSeen: readonly string[];
  readonly updatedAt: string;
  /** Per probe target key (`<probe id>|<node IP>`). */
  readonly targets: Readonly<Record<string, BackendProbe>>;
  readonly frontends: readonly FrontendProbeState[];
  /** The last route that could not be set, if any. */
  readonly error: string | null;
}

const STATIC: Omit<BackendProbe, "up"> = {
  result: null,
  consecutive: 0,
  failures: 0,
  text: "static judgement",
  time: null,
  probes: 0,
};
const NO_PROBE: BackendProbe = { ...STATIC, up: true, text: "no probe" };

/** The `ip route` words for a frontend's healthy backends (as plan.ts writes the first one). */
export function vipRouteWords(prober: LabProber, vip: string, healthy: readonly string[]): string[] {
  const fe = prober.frontends.find((f) => f.vip === vip);
  const hops = healthy.map((ip) => ({ via: ip, dev: fe?.backends.find((b) => b.nodeIp === ip)?.dev ?? "" }));
  return routeArgs(vipRoute(prober.ns, vip, hops));
}

function frontendsOf(
  prober: LabProber,
  targets: Readonly<Record<string, BackendProbe>>,
  routes: ReadonlyMap<string, string>,
): FrontendProbeState[] {
  return prober.frontends.map((f) => {
    const backends = f.backends.map((b) => ({
      nodeIp: b.nodeIp,
      target: b.target,
      ...(b.target === null ? NO_PROBE : (targets[b.target] ?? NO_PROBE)),
    }));
    const healthy = backends.filter((b) => b.up).map((b) => b.nodeIp);
    return {
      vip: f.vip,
      healthy,
      route: routes.get(f.vip) ?? vipRouteWords(prober, f.vip, healthy).join(" "),
      backends,
    };
  });
}

/** Before any probe: the static judgement, and the routes `lab up` installed from it. */
export function initialProbeState(prober: LabProber, pid: number, time: string): ProbeState {
  const targets: Record<string, BackendProbe> = {};
  for (const t of prober.targets) targets[t.key] = { ...STATIC, up: t.initiallyUp };
  return {
    version: PROBE_STATE_VERSION,
    pid,
    source: prober.source,
    paused: false,
    pauses: 0,
    round: 0,
    roundSeen: [],
    updatedAt: time,
    targets,
    frontends: frontendsOf(prober, targets, new Map()),
    error: null,
  };
}

/** One probe's result, as ProbeScheduler.advance takes it; the frontends' healthy sets follow. */
export function recordProbe(
  prober: LabProber,
  state: ProbeState,
  key: string,
  ok: boolean,
  text: string,
  time: string,
): ProbeState {
  const t = prober.targets.find((x) => x.key === key);
  const prev = state.targets[key];
  if (!t || !prev) return state;
  const result: ProbeResult = ok ? "up" : "down";
  const consecutive = result === prev.result ? prev.consecutive + 1 : 1;
  const flips = (result === "down") === prev.up && consecutive >= t.threshold;
  const next: BackendProbe = {
    up: flips ? !prev.up : prev.up,
    result,
    consecutive,
    failures: ok ? 0 : consecutive,
    text,
    time,
    probes: prev.probes + 1,
  };
  const targets = { ...state.targets, [key]: next };
  const seen = state.roundSeen.includes(key) ? state.roundSeen : [...state.roundSeen, key];
  const full = prober.targets.every((x) => seen.includes(x.key));
  const routes = new Map(state.frontends.map((f) => [f.vip, f.route]));
  return {
    ...state,
    round: full ? state.round + 1 : state.round,
    roundSeen: full ? [] : seen,
    updatedAt: time,
    targets,
    frontends: frontendsOf(prober, targets, routes),
  };
}

export interface RouteChange {
  readonly vip: string;
  readonly healthy: readonly string[];
  /** `ip route replace` words. */
  readonly args: readonly string[];
  readonly text: string;
}

/** The frontends whose installed route no longer says their healthy set. */
export function routeChanges(prober: LabProber, state: ProbeState): RouteChange[] {
  const out: RouteChange[] = [];
  for (const f of state.frontends) {
    const args = vipRouteWords(prober, f.vip, f.healthy);
    const text = args.join(" ");
    if (text !== f.route) out.push({ vip: f.vip, healthy: f.healthy, args, text });
  }
  return out;
}

/** The route of `vip` was replaced (or could not be: `error`). */
export function markRouted(
  state: ProbeState,
  vip: string,
  text: string | null,
  error: string | null,
): ProbeState {
  return {
    ...state,
    frontends: state.frontends.map((f) => (f.vip === vip && text !== null ? { ...f, route: text } : f)),
    error: error ?? state.error,
  };
}

/** Paused (confirmed: nothing in flight) or running again; a resumed prober starts a fresh round. */
export function setPaused(state: ProbeState, paused: boolean, time: string): ProbeState {
  return paused
    ? { ...state, paused: true, pauses: state.pauses + 1, updatedAt: time }
    : { ...state, paused: false, roundSeen: [], updatedAt: time };
}
