import type { PathReport, RuleRef, WalkReport } from "../render/walk-json.ts";

/**
 * What differs between two walks (the web view's comparison, e.g. the seed's Cluster against Local):
 * the values the page highlights side by side, and the chains only one side's packet went through.
 * Paths are paired by their order (each side lists them as its walk enumerated them).
 */

export type DifferenceField =
  | "from"
  | "to"
  | "verdict"
  | "probe"
  | "paths"
  | "sourceSeenByPod"
  | "endpoint"
  | "node"
  | "pathVerdict"
  | "probability"
  | "sourceSeenByClient"
  | "chain";

export interface Difference {
  readonly field: DifferenceField;
  /** 1-based path the difference is about; null for the walk as a whole. */
  readonly path: number | null;
  /** What it is, in words: "Source IP the pod sees (path 1)". */
  readonly label: string;
  /** The main side's value; for a chain, its rules hit (one per line), null when not hit. */
  readonly main: string | null;
  readonly compare: string | null;
  /** For `chain`: the chain only one side went through. */
  readonly chain: { readonly table: string; readonly name: string } | null;
}

function value(
  field: DifferenceField,
  path: number | null,
  label: string,
  main: string | null,
  compare: string | null,
): Difference | null {
  return main === compare
    ? null
    : { field, path, label: path === null ? label : `${label} (path ${path})`, main, compare, chain: null };
}

/** The host part of `IP:PORT` (the client's source port is the same on both sides by construction). */
const hostOf = (a: string | null): string | null => (a === null ? null : (a.split(":")[0] ?? a));

/**
 * Every rule the request hit, by chain (`table:chain`), in the order first hit. A KUBE-SEP-… chain
 * is named after its endpoint, which the endpoint difference already reports: left out here.
 */
function chainsHit(r: WalkReport): Map<string, RuleRef[]> {
  const chains = new Map<string, RuleRef[]>();
  for (const p of r.paths)
    for (const h of p.hops)
      for (const rule of h.rules) {
        if (rule.chain.startsWith("KUBE-SEP-")) continue;
        const key = `${rule.table}:${rule.chain}`;
        const list = chains.get(key) ?? [];
        if (!list.some((x) => x.rule === rule.rule)) list.push(rule);
        chains.set(key, list);
      }
  return chains;
}

function chainDifferences(a: WalkReport, b: WalkReport): Difference[] {
  const ca = chainsHit(a);
  const cb = chainsHit(b);
  const out: Difference[] = [];
  const text = (rules: readonly RuleRef[]): string => rules.map((r) => r.rule).join("\n");
  for (const [key, rules] of ca) if (!cb.has(key)) out.push(chainDiff(key, text(rules), null));
  for (const [key, rules] of cb) if (!ca.has(key)) out.push(chainDiff(key, null, text(rules)));
  return out;
}

function chainDiff(key: string, main: string | null, compare: string | null): Difference {
  const [table, name] = key.split(":") as [string, string];
  const side = main === null ? "compare" : "main";
  return {
    field: "chain",
    path: null,
    label: `${name} (${table}) hit only on the ${side} side`,
    main,
    compare,
    chain: { table, name },
  };
}

function pathDifferences(i: number, a: PathReport | undefined, b: PathReport | undefined): Difference[] {
  const n = i + 1;
  return [
    value(
      "sourceSeenByPod",
      n,
      "Source IP the pod sees",
      a?.sourceSeenByPod ?? null,
      b?.sourceSeenByPod ?? null,
    ),
    value("endpoint", n, "Endpoint", a?.endpoint ?? null, b?.endpoint ?? null),
    value("node", n, "Node", a?.node ?? null, b?.node ?? null),
    value("pathVerdict", n, "Verdict", a?.verdict ?? null, b?.verdict ?? null),
    value("probability", n, "Probability", a?.probabilityExact ?? null, b?.probabilityExact ?? null),
    value(
      "sourceSeenByClient",
      n,
      "Source of the reply the client sees",
      hostOf(a?.reply?.sourceSeenByClient ?? null),
      hostOf(b?.reply?.sourceSeenByClient ?? null),
    ),
  ].filter((d): d is Difference => d !== null);
}

/** The differences between the main walk `a` and the compared walk `b`, the walk's first. */
export function compareReports(a: WalkReport, b: WalkReport): Difference[] {
  const whole = [
    value("from", null, "Client", a.from, b.from),
    value("to", null, "Destination", a.to, b.to),
    value("verdict", null, "Verdict", a.verdict, b.verdict),
    value("probe", null, "Health probe", a.probe, b.probe),
    value("paths", null, "Paths", `${a.paths.length}`, `${b.paths.length}`),
  ].filter((d): d is Difference => d !== null);
  const paths: Difference[] = [];
  for (let i = 0; i < Math.max(a.paths.length, b.paths.length); i++)
    paths.push(...pathDifferences(i, a.paths[i], b.paths[i]));
  return [...whole, ...paths, ...chainDifferences(a, b)];
}
