import type { VerifyFlow, VerifyTarget } from "./verify-flows.ts";
import type { SimPath } from "./verify-sim.ts";

/**
 * `lab verify`'s judgement: the lab's flows against the twin's, field by field, the spread of many
 * flows over the pods against the twin's exact probabilities, the rules' counters and the load
 * balancer's probes. Pure: verify.ts gathers both sides, this decides, verify-report.ts prints.
 */

/** What the lab did with one flow. */
export interface LabFlow {
  /** completed, refused, unreachable, reset, timeout, error. */
  readonly outcome: string;
  /** The pod that answered (`namespace/name`), from its answer. */
  readonly pod: string | null;
  /** The source address the pod's socket saw. */
  readonly source: string | null;
  /** The node the LB's hash sent the flow to (frontend flows), by name; null otherwise. */
  readonly backend: string | null;
  /** Per node, its conntrack entries of this flow (ctKey form), sorted. */
  readonly conntrack: ReadonlyMap<string, readonly string[]>;
  /** curl's complaint when it did not complete. */
  readonly error: string | null;
}

export interface Disagreement {
  /** 1-based flow number, or null for a target-, rule- or frontend-wide finding. */
  readonly flow: number | null;
  readonly target: string;
  readonly field: string;
  readonly lab: string;
  readonly twin: string;
}

export interface FlowVerdict {
  readonly flow: VerifyFlow;
  readonly lab: LabFlow;
  /** The twin's path the lab's flow matches (same pod, or same outcome), null when none does. */
  readonly path: SimPath | null;
  readonly disagreements: readonly Disagreement[];
}

const show = (x: string | null): string => x ?? "-";

/** One flow: the twin's paths for the LB's choice must hold the lab's outcome, pod, source and conntrack. */
export function compareFlow(
  flow: VerifyFlow,
  target: VerifyTarget,
  lab: LabFlow,
  paths: readonly SimPath[],
  healthy: readonly string[] | null,
  nodeOfIp: ReadonlyMap<string, string>,
): FlowVerdict {
  const out: Disagreement[] = [];
  const d = (field: string, l: string, t: string) =>
    out.push({ flow: flow.n, target: target.label, field, lab: l, twin: t });
  if (lab.backend !== null && healthy !== null) {
    const names = healthy.map((ip) => nodeOfIp.get(ip) ?? ip);
    if (!names.includes(lab.backend)) d("lb backend", lab.backend, `one of ${names.join(", ") || "none"}`);
  }
  const outcomes = [...new Set(paths.map((p) => p.outcome))];
  const path =
    paths.find((p) => p.outcome === lab.outcome && p.pod === lab.pod) ??
    (lab.pod === null ? null : (paths.find((p) => p.pod === lab.pod) ?? null));
  if (!path) {
    if (!outcomes.includes(lab.outcome))
      d("outcome", `${lab.outcome}${lab.error ? ` (${lab.error})` : ""}`, outcomes.join(" or "));
    else
      d(
        "pod",
        show(lab.pod),
        paths
          .filter((p) => p.outcome === lab.outcome)
          .map((p) => show(p.pod))
          .join(" or "),
      );
    return { flow, lab, path: null, disagreements: out };
  }
  if (path.outcome !== lab.outcome) d("outcome", lab.outcome, path.outcome);
  if (path.source !== lab.source) d("source seen by pod", show(lab.source), show(path.source));
  for (const node of new Set([...lab.conntrack.keys(), ...path.conntrack.keys()])) {
    const l = lab.conntrack.get(node) ?? [];
    const t = path.conntrack.get(node) ?? [];
    if (l.join("\n") !== t.join("\n"))
      d(`conntrack on ${node}`, l.join(" | ") || "no entry", t.join(" | ") || "no entry");
  }
  return { flow, lab, path, disagreements: out };
}

// ------------------------------------------------------------------------------- distributions

export interface Distribution {
  readonly target: VerifyTarget;
  readonly flows: number;
  /** Outcome key (`node → pod`, or the outcome when no pod answered) → [lab count, twin probability]. */
  readonly rows: readonly { readonly key: string; readonly lab: number; readonly twin: number }[];
  /** Probability of a spread at least this far from the twin's (binomial, Bonferroni over the keys). */
  readonly p: number;
}

/** Below this a target's spread disagrees: about one false alarm in 10,000 targets. */
export const DISTRIBUTION_ALPHA = 1e-4;

/** ln(n!) by summing: n stays in the thousands. */
function lnFactorials(n: number): Float64Array {
  const f = new Float64Array(n + 1);
  for (let i = 2; i <= n; i++) f[i] = (f[i - 1] as number) + Math.log(i);
  return f;
}

/** Two-sided binomial tail: P(|X − np| ≥ |k − np|) for X ~ Bin(n, p). */
export function binomialTail(n: number, k: number, p: number): number {
  if (p <= 0) return k === 0 ? 1 : 0;
  if (p >= 1) return k === n ? 1 : 0;
  const lf = lnFactorials(n);
  const mean = n * p;
  const far = Math.abs(k - mean) - 1e-9;
  let sum = 0;
  for (let x = 0; x <= n; x++) {
    if (Math.abs(x - mean) < far) continue;
    sum += Math.exp(
      (lf[n] as number) -
        (lf[x] as number) -
        (lf[n - x] as number) +
        x * Math.log(p) +
        (n - x) * Math.log1p(-p),
    );
  }
  return Math.min(1, sum);
}

export function distribution(
  target: VerifyTarget,
  lab: readonly string[],
  twin: ReadonlyMap<string, number>,
): Distribution {
  const counts = new Map<string, number>();
  for (const k of lab) counts.set(k, (counts.get(k) ?? 0) + 1);
  const keys = [...new Set([...twin.keys(), ...counts.keys()])].sort();
  const rows = keys.map((key) => ({ key, lab: counts.get(key) ?? 0, twin: twin.get(key) ?? 0 }));
  const n = lab.length;
  let p = 1;
  for (const r of rows) p = Math.min(p, binomialTail(n, r.lab, r.twin));
  return { target, flows: n, rows, p: Math.min(1, p * Math.max(1, rows.length)) };
}

// ------------------------------------------------------------------------------------- counters

export interface CounterRow {
  readonly node: string;
  readonly key: string;
  readonly text: string;
  readonly lab: number;
  readonly twin: number;
  /** nat counts connections (only a flow's first packet crosses it): compared exactly; the rest: moved or not. */
  readonly exact: boolean;
  readonly agree: boolean;
}

/**
 * The rules whose packet counters moved in either world. nat rules see one packet per connection,
 * so their counts must be equal; other tables see every packet of the exchange, whose number
 * depends on the two TCP stacks' timing (delayed ACKs, coalesced segments), so there a rule must
 * have moved in both or in neither.
 */
export function compareCounters(
  lab: ReadonlyMap<string, ReadonlyMap<string, number>>,
  twin: ReadonlyMap<string, ReadonlyMap<string, number>>,
  texts: ReadonlyMap<string, ReadonlyMap<string, string>>,
  /** `node key` of rules a dropped flow reached: its SYN is resent until the client gives up, which
   * curl's --max-time cuts short in the lab, so those are compared moved-or-not. */
  loose: ReadonlySet<string> = new Set(),
): CounterRow[] {
  const rows: CounterRow[] = [];
  for (const node of [...new Set([...lab.keys(), ...twin.keys()])].sort()) {
    const l = lab.get(node) ?? new Map<string, number>();
    const t = twin.get(node) ?? new Map<string, number>();
    for (const key of [...new Set([...l.keys(), ...t.keys()])].sort()) {
      const a = l.get(key) ?? 0;
      const b = t.get(key) ?? 0;
      if (a === 0 && b === 0) continue;
      const exact = key.startsWith("nat ") && !loose.has(`${node} ${key}`);
      rows.push({
        node,
        key,
        text: texts.get(node)?.get(key) ?? key,
        lab: a,
        twin: b,
        exact,
        agree: exact ? a === b : a > 0 === b > 0,
      });
    }
  }
  return rows;
}

/** Sums per-node per-rule counts. */
export function addCounters(
  into: Map<string, Map<string, number>>,
  more: ReadonlyMap<string, ReadonlyMap<string, number>>,
): void {
  for (const [node, m] of more) {
    const acc = into.get(node) ?? new Map<string, number>();
    for (const [k, v] of m) acc.set(k, (acc.get(k) ?? 0) + v);
    into.set(node, acc);
  }
}

/** Per node, `after − before` for every rule that moved. */
export function counterDelta(
  before: ReadonlyMap<string, ReadonlyMap<string, number>>,
  after: ReadonlyMap<string, ReadonlyMap<string, number>>,
): Map<string, Map<string, number>> {
  const out = new Map<string, Map<string, number>>();
  for (const [node, a] of after) {
    const b = before.get(node);
    const m = new Map<string, number>();
    for (const [k, v] of a) {
      const dv = v - (b?.get(k) ?? 0);
      if (dv !== 0) m.set(k, dv);
    }
    if (m.size > 0) out.set(node, m);
  }
  return out;
}
