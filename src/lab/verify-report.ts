import type { VerifyReport } from "./verify.ts";

/**
 * `lab verify`'s output: a table per check (frontends' probes, per target the flows' outcomes and
 * spread over the pods, the rule counters), then every disagreement, then one summary line. JSON
 * carries the same with each flow in full. Pure.
 */

function table(head: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (r: readonly string[]) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] as number)))
      .join("  ")
      .trimEnd();
  return [line(head), ...rows.map(line)];
}

const pct = (x: number) => (x >= 0.001 ? x.toFixed(3) : x.toExponential(1));

export function verifyText(r: VerifyReport, maxDisagreements = 40): string {
  const out: string[] = [];
  const sports = r.flows.map((f) => f.flow.sport);
  out.push(
    `lab verify: ${r.scenario}: ${r.flows.length} flows over ${r.targets.length} targets, client ports ${Math.min(...sports)}-${Math.max(...sports)}${r.builtLab ? " (lab built for this run and removed)" : ""}`,
    "",
  );
  if (r.frontends.length > 0) {
    out.push("Load balancer frontends, healthy backends (lab's probes | twin's probes):");
    out.push(
      ...table(
        ["FRONTEND", "LAB", "TWIN", "RESULT"],
        r.frontends.map((f) => [
          `${f.vip}:${f.port}`,
          f.lab.join(",") || "none",
          f.twin.join(",") || "none",
          f.agree ? "ok" : "DIFFERENT",
        ]),
      ).map((l) => `  ${l}`),
      "",
    );
  }
  out.push(
    "Targets (spread: lab count | twin's expected count; p: chance of a spread this far from the twin's):",
  );
  const rows = r.targets.map((t, ti) => {
    const flows = r.flows.filter((f) => f.flow.target === ti);
    const d = r.distributions.find((x) => x.target === t);
    const outcomes = [...new Set(flows.map((f) => f.lab.outcome))].join(",");
    const sources = [...new Set(flows.map((f) => f.lab.source ?? "-"))].join(",");
    const spread = d
      ? d.rows.map((x) => `${x.key} ${x.lab}|${(x.twin * d.flows).toFixed(1)}`).join("; ")
      : "";
    const bad = flows.some((f) => f.disagreements.length > 0) || (d !== undefined && d.p < 1e-4);
    return [
      t.label,
      String(flows.length),
      outcomes,
      sources,
      spread,
      d ? pct(d.p) : "-",
      bad ? "DIFFERENT" : "ok",
    ];
  });
  out.push(
    ...table(["TARGET", "FLOWS", "LAB OUTCOME", "SOURCE SEEN", "SPREAD", "p", "RESULT"], rows).map(
      (l) => `  ${l}`,
    ),
    "",
  );
  const moved = r.counters.length;
  const wrong = r.counters.filter((c) => !c.agree);
  out.push(
    `Rule counters: ${moved} rules moved in the lab or the twin, ${moved - wrong.length} agree (nat: same packet count; other tables: moved in both)${r.uncounted > 0 ? `; ${r.uncounted} flow(s) without a matching twin path left out` : ""}.`,
  );
  if (wrong.length > 0)
    out.push(
      ...table(
        ["NODE", "LAB", "TWIN", "RULE"],
        wrong.map((c) => [c.node, String(c.lab), String(c.twin), c.text]),
      ).map((l) => `  ${l}`),
    );
  out.push("");
  if (r.disagreements.length > 0) {
    out.push(
      `Disagreements (${r.disagreements.length}${r.disagreements.length > maxDisagreements ? `, first ${maxDisagreements}` : ""}):`,
    );
    out.push(
      ...table(
        ["FLOW", "TARGET", "FIELD", "LAB", "TWIN"],
        r.disagreements
          .slice(0, maxDisagreements)
          .map((d) => [d.flow === null ? "-" : String(d.flow), d.target, d.field, d.lab, d.twin]),
      ).map((l) => `  ${l}`),
      "",
    );
  }
  out.push(
    r.disagreements.length === 0
      ? `OK: the lab and the twin agree on all ${r.flows.length} flows (outcome, pod, source seen, conntrack), ${r.distributions.length} spreads, ${moved} rule counters and ${r.frontends.length} frontends' probes.`
      : `DIFFERENT: ${r.disagreements.length} disagreement(s) between the lab and the twin.`,
  );
  return `${out.join("\n")}\n`;
}

export function verifyJson(r: VerifyReport): string {
  const obj = {
    scenario: r.scenario,
    agree: r.disagreements.length === 0,
    builtLab: r.builtLab,
    frontends: r.frontends,
    targets: r.targets.map((t, i) => ({
      label: t.label,
      kind: t.kind,
      from: t.fromText,
      to: t.toText,
      service: t.service,
      distribution: r.distributions.find((d) => d.target === t)?.rows ?? [],
      p: r.distributions.find((d) => d.target === t)?.p ?? null,
      index: i,
    })),
    flows: r.flows.map((f) => ({
      n: f.flow.n,
      target: f.flow.target,
      sport: f.flow.sport,
      lab: { ...f.lab, conntrack: Object.fromEntries(f.lab.conntrack) },
      twin: f.path
        ? {
            probability: f.path.probabilityText,
            outcome: f.path.outcome,
            pod: f.path.pod,
            node: f.path.node,
            source: f.path.source,
            conntrack: Object.fromEntries(f.path.conntrack),
          }
        : null,
      disagreements: f.disagreements,
    })),
    counters: r.counters,
    uncounted: r.uncounted,
    disagreements: r.disagreements,
  };
  return `${JSON.stringify(obj, null, 2)}\n`;
}
