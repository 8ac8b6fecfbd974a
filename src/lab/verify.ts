import { randomInt } from "node:crypto";
import { parseIpv4 } from "../core/ip.ts";
import type { Twin } from "../model/twin.ts";
import { iptablesSave } from "../outputs/emulate/node/iptables-save.ts";
import type { LabPlan } from "./plan.ts";
import { pauseProbes, readProbeState, resumeProbes, waitForProbeRound } from "./probes.ts";
import { LabError, LabInterrupted, labDown, labUp, readLedger } from "./run.ts";
import {
  addCounters,
  type CounterRow,
  compareCounters,
  compareFlow,
  counterDelta,
  DISTRIBUTION_ALPHA,
  type Disagreement,
  type Distribution,
  distribution,
  type FlowVerdict,
  type LabFlow,
} from "./verify-compare.ts";
import {
  SPORT_FIRST,
  SPORT_LAST,
  type VerifyFlow,
  type VerifyTarget,
  verifyFlows,
  verifyTargets,
} from "./verify-flows.ts";
import { labBackends, labConntrack, labCounters, labGet } from "./verify-lab.ts";
import { flowEntries, type SimContext, type SimPath, simContext, simFlow, simHealthy } from "./verify-sim.ts";

/**
 * `packetwalk lab verify`: the same flows through the lab (real kernel) and the twin (simulator),
 * compared. The lab is built first when none is up and removed afterwards; one that is up must be
 * of the same twin. While the flows run, the lab's prober is paused (its packets would move the
 * counters); the twin's worlds run without probes and with the LB backend the lab's hash chose.
 */

export interface VerifyOptions {
  readonly flows: number;
  /** curl's --max-time per flow (s): how long a dropped flow costs. */
  readonly timeoutS: number;
  /** The twin's seed. */
  readonly seed: number;
  /** The first client port; default: random inside SPORT_FIRST..SPORT_LAST (a rerun meets no TIME_WAIT). */
  readonly sportBase?: number;
  readonly log: (line: string) => void;
  readonly aborted: () => boolean;
  /** Stop and restart the lab's health probes around the measurement (src/lab/probes.ts). */
  readonly pauseProbes?: () => Promise<void>;
  readonly resumeProbes?: () => void;
  /** The lab's prober's view: per frontend VIP, its healthy backends' node IPs; null: the plan's. */
  readonly labHealthy?: () => ReadonlyMap<string, readonly string[]> | null;
}

export interface FrontendRow {
  readonly vip: string;
  readonly port: number;
  readonly lab: readonly string[];
  readonly twin: readonly string[];
  readonly agree: boolean;
}

export interface VerifyReport {
  readonly scenario: string;
  readonly builtLab: boolean;
  readonly targets: readonly VerifyTarget[];
  readonly flows: readonly FlowVerdict[];
  readonly distributions: readonly Distribution[];
  readonly counters: readonly CounterRow[];
  /** Flows whose counts are left out of the counter comparison (no pinned twin run matched them). */
  readonly uncounted: number;
  readonly frontends: readonly FrontendRow[];
  readonly disagreements: readonly Disagreement[];
}

function sameLab(
  plan: LabPlan,
  ledgerHosts: readonly { name: string; twinName: string; ip: string | null }[],
) {
  const key = (h: { name: string; twinName: string; ip: string | null }) => `${h.name} ${h.twinName} ${h.ip}`;
  return plan.namespaces.map(key).join("\n") === ledgerHosts.map(key).join("\n");
}

export async function labVerify(
  twin: Twin,
  plan: LabPlan,
  ledgerPath: string,
  o: VerifyOptions,
): Promise<VerifyReport> {
  const targets = verifyTargets(twin, plan);
  if (targets.length === 0)
    throw new LabError(`${plan.scenario} has nothing to verify: no service or pod to reach`);
  const span = SPORT_LAST - SPORT_FIRST + 1;
  if (o.flows < 1 || o.flows > span) throw new LabError(`--flows must be 1..${span}`);
  const base = o.sportBase ?? SPORT_FIRST + randomInt(0, span - o.flows + 1);
  const flows = verifyFlows(targets, o.flows, base);

  const ledger = readLedger(ledgerPath);
  let built = false;
  if (ledger) {
    if (ledger.state !== "up" || !sameLab(plan, ledger.hosts))
      throw new LabError(
        `The lab that is up (${ledger.scenario}, ${ledger.state}) is not this twin's: run \`packetwalk lab down\` first, or verify --scenario ${ledger.scenario}`,
      );
  } else {
    o.log(`no lab is up: building the lab of ${plan.scenario}`);
    built = true;
  }
  try {
    if (built) await labUp(plan, ledgerPath, { log: o.log, aborted: o.aborted });
    const lab = await measure(plan, targets, flows, o);
    o.log("running the same flows through the twin");
    return judge(twin, targets, flows, lab, o, built);
  } finally {
    if (built) {
      const down = labDown(ledgerPath);
      o.log(`removed the lab: ${down.namespaces.length} namespace(s)`);
    }
  }
}

interface LabMeasurement {
  readonly results: readonly LabFlow[];
  readonly counters: Map<string, Map<string, number>>;
  readonly texts: Map<string, Map<string, string>>;
  readonly healthy: ReadonlyMap<string, readonly string[]>;
}

async function measure(
  plan: LabPlan,
  targets: readonly VerifyTarget[],
  flows: readonly VerifyFlow[],
  o: VerifyOptions,
): Promise<LabMeasurement> {
  const nodes = plan.namespaces.filter((n) => n.role === "node");
  const nodeOfIp = new Map(nodes.map((n) => [n.ip as string, n.twinName]));
  o.log("letting the lab's probes finish a round, then pausing them");
  await o.pauseProbes?.();
  try {
    const healthy = o.labHealthy?.() ?? new Map(plan.frontends.map((f) => [f.vip, f.backends] as const));
    const before = new Map(nodes.map((n) => [n.twinName, labCounters(n.name).counts] as const));
    // An outside host's veth on the VNet side has its namespace's name (plan.ts).
    const azSide = (ns: string) => ns;
    const lbFlows = flows.filter((f) => targets[f.target]?.vip);
    const via = labBackends(
      lbFlows.map((f) => {
        const t = targets[f.target] as VerifyTarget;
        return {
          vip: t.vip as string,
          client: t.fromIp,
          sport: f.sport,
          dport: t.to.port,
          iif: azSide(t.ns),
        };
      }),
    );
    const backendOf = new Map(lbFlows.map((f, i) => [f.n, via[i] ?? null] as const));
    o.log(
      `sending ${flows.length} flows over ${targets.length} targets (client ports ${flows[0]?.sport}..${flows.at(-1)?.sport})`,
    );
    const answers = flows.map((f, i) => {
      if (o.aborted()) throw new LabInterrupted("interrupted");
      if (i > 0 && i % 50 === 0) o.log(`  ${i}/${flows.length}`);
      const t = targets[f.target] as VerifyTarget;
      return labGet(t.ns, t, f.sport, o.timeoutS);
    });
    const after = new Map(nodes.map((n) => [n.twinName, labCounters(n.name)] as const));
    const conntrack = new Map(nodes.map((n) => [n.twinName, labConntrack(n.name)] as const));
    const results = flows.map((f, i): LabFlow => {
      const a = answers[i] as ReturnType<typeof labGet>;
      const body = a.outcome === "completed" ? parseAnswer(a.body) : null;
      const ip = backendOf.get(f.n) ?? null;
      const ct = flowEntries(conntrack, f.sport);
      return {
        outcome: a.outcome === "completed" && !body ? "error" : a.outcome,
        pod: body?.pod ?? null,
        source: body?.source ?? null,
        backend: ip === null ? null : (nodeOfIp.get(ip) ?? ip),
        conntrack: ct,
        error: a.outcome === "completed" && !body ? `not a whereami answer: ${a.body.slice(0, 80)}` : a.error,
      };
    });
    return {
      results,
      counters: counterDelta(before, new Map([...after].map(([n, c]) => [n, c.counts] as const))),
      texts: new Map([...after].map(([n, c]) => [n, c.texts] as const)),
      healthy,
    };
  } finally {
    o.resumeProbes?.();
  }
}

/** The lab servers' JSON answer (run.ts SERVER_JS). */
function parseAnswer(body: string): { pod: string; source: string } | null {
  try {
    const j = JSON.parse(body) as { pod?: unknown; source?: unknown };
    if (typeof j.pod !== "string" || typeof j.source !== "string") return null;
    // An IPv4 peer of a dual-stack socket reads ::ffff:a.b.c.d.
    return { pod: j.pod, source: j.source.replace(/^::ffff:/, "") };
  } catch {
    return null;
  }
}

function judge(
  twin: Twin,
  targets: readonly VerifyTarget[],
  flows: readonly VerifyFlow[],
  lab: LabMeasurement,
  o: VerifyOptions,
  built: boolean,
): VerifyReport {
  const saved = new Map(twin.nodes.map((n) => [n.name, iptablesSave(n, [], twin.now).stdout] as const));
  const ctx = simContext(twin, o.seed, saved);
  const nodeOfIp = new Map(twin.nodes.map((n) => [n.ip, n.name] as const));
  const disagreements: Disagreement[] = [];

  // The frontends' healthy backends: the lab's prober against the twin's probes.
  const frontends: FrontendRow[] = [];
  const twinHealthy = new Map<string, string[] | null>();
  for (const t of targets) {
    if (!t.vip || twinHealthy.has(`${t.vip}:${t.to.port}`)) continue;
    const h = simHealthy(twin, o.seed, t.to.ip, t.to.port);
    twinHealthy.set(`${t.vip}:${t.to.port}`, h);
    const l = [...(lab.healthy.get(t.vip) ?? [])].sort();
    const tw = [...(h ?? [])].sort();
    const agree = l.join() === tw.join();
    frontends.push({ vip: t.vip, port: t.to.port, lab: l, twin: tw, agree });
    if (!agree)
      disagreements.push({
        flow: null,
        target: `${t.vip}:${t.to.port}`,
        field: "healthy backends",
        lab: l.join(", ") || "none",
        twin: tw.join(", ") || "none",
      });
  }

  const verdicts: FlowVerdict[] = [];
  const twinCounters = new Map<string, Map<string, number>>();
  let uncounted = 0;
  const loose = new Set<string>();
  const labKeys = new Map<number, string[]>();
  flows.forEach((f, i) => {
    const t = targets[f.target] as VerifyTarget;
    const l = lab.results[i] as LabFlow;
    const healthy = t.vip ? (twinHealthy.get(`${t.vip}:${t.to.port}`) ?? null) : null;
    const backendIp =
      l.backend === null ? undefined : parseIpv4(twin.nodes.find((n) => n.name === l.backend)?.ip ?? "");
    // No healthy backend in the twin: its LB drops the flow; run it with the probes that decided so.
    const noBackend = t.vip !== null && healthy !== null && healthy.length === 0;
    const paths = simFlow(ctx, t, f.sport, noBackend ? undefined : (backendIp ?? undefined), noBackend);
    const v = compareFlow(f, t, l, paths, healthy, nodeOfIp);
    verdicts.push(v);
    disagreements.push(...v.disagreements);
    if (v.path && v.path.outcome === "timeout")
      for (const [node, m] of v.path.counters) for (const k of m.keys()) loose.add(`${node} ${k}`);
    if (v.path && !noBackend) addCounters(twinCounters, v.path.counters);
    else if (!v.path) uncounted++;
    const keys = labKeys.get(f.target) ?? [];
    keys.push(outcomeKey(t, l.backend, l.pod, l.outcome));
    labKeys.set(f.target, keys);
  });

  const distributions: Distribution[] = [];
  targets.forEach((t, ti) => {
    const mine = flows.filter((f) => f.target === ti);
    const first = mine[0];
    if (!first) return;
    const expected = new Map<string, number>();
    const healthy = t.vip ? (twinHealthy.get(`${t.vip}:${t.to.port}`) ?? []) : null;
    const add = (paths: readonly SimPath[], backend: string | null, weight: number) => {
      for (const p of paths) {
        const k = outcomeKey(t, backend, p.pod, p.outcome);
        expected.set(k, (expected.get(k) ?? 0) + p.probability * weight);
      }
    };
    if (healthy === null) add(simFlow(ctx, t, first.sport), null, 1);
    else if (healthy.length === 0) add(simFlow(ctx, t, first.sport, undefined, true), null, 1);
    else
      for (const ip of healthy)
        add(
          simFlow(ctx, t, first.sport, parseIpv4(ip) as number),
          nodeOfIp.get(ip) ?? ip,
          1 / healthy.length,
        );
    const d = distribution(t, labKeys.get(ti) ?? [], expected);
    distributions.push(d);
    if (d.p < DISTRIBUTION_ALPHA)
      disagreements.push({
        flow: null,
        target: t.label,
        field: "distribution",
        lab: d.rows.map((r) => `${r.key} ${r.lab}`).join(", "),
        twin: d.rows.map((r) => `${r.key} ${(r.twin * d.flows).toFixed(1)}`).join(", "),
      });
  });

  const counters = compareCounters(lab.counters, twinCounters, mergeTexts(ctx, lab.texts), loose);
  for (const c of counters)
    if (!c.agree)
      disagreements.push({
        flow: null,
        target: `${c.node}: ${c.text}`,
        field: c.exact ? "packets (nat)" : "counter moved",
        lab: String(c.lab),
        twin: String(c.twin),
      });
  return {
    scenario: twin.scenario.name,
    builtLab: built,
    targets,
    flows: verdicts,
    distributions,
    counters,
    uncounted,
    frontends,
    disagreements,
  };
}

/** What a flow became, as the distribution counts it: `node → pod` through a LB, else the pod (or the outcome). */
function outcomeKey(t: VerifyTarget, backend: string | null, pod: string | null, outcome: string): string {
  const end = pod ?? outcome;
  return t.vip ? `${backend ?? "no backend"} → ${end}` : end;
}

function mergeTexts(ctx: SimContext, lab: ReadonlyMap<string, ReadonlyMap<string, string>>) {
  const out = new Map<string, Map<string, string>>();
  for (const [node, m] of ctx.texts) out.set(node, new Map(m));
  for (const [node, m] of lab) {
    const acc = out.get(node) ?? new Map<string, string>();
    for (const [k, v] of m) if (!acc.has(k)) acc.set(k, v);
    out.set(node, acc);
  }
  return out;
}

/**
 * The lab prober's pause, resume and view, for labVerify: one whole round of probes first, so the
 * lab's verdict is the prober's own and not only the plan's (src/lab/probes.ts).
 */
export function verifyProbeHooks(
  ledgerPath: string,
): Pick<VerifyOptions, "pauseProbes" | "resumeProbes" | "labHealthy"> {
  return {
    pauseProbes: async () => {
      await waitForProbeRound(ledgerPath, 1, 60_000);
      await pauseProbes(ledgerPath);
    },
    resumeProbes: () => resumeProbes(ledgerPath),
    labHealthy: () => {
      const s = readProbeState(ledgerPath);
      return s ? new Map(s.frontends.map((f) => [f.vip, f.healthy] as const)) : null;
    },
  };
}
