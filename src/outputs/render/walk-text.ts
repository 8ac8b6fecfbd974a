import {
  answerWords,
  type HopReport,
  type PathReport,
  type ReplyReport,
  type WalkReport,
} from "./walk-json.ts";

/**
 * `packetwalk walk` as text: the story the seed tells, one block per path (probability, the pod,
 * the source it sees), each hop on one line with its address rewrite, the rules hit at their
 * `iptables-save` line and the conntrack entry made, then the answer's way back.
 */

function hopLines(h: HopReport, indent: string): string[] {
  const where = h.iface ? `${h.at} ${h.iface}` : h.at;
  const rewrite = h.before === h.after ? h.before : `${h.before}  =>  ${h.after}`;
  const out = [`${indent}${where.padEnd(44)} ${h.action.padEnd(9)} ${rewrite}`];
  if (h.note) out.push(`${indent}    (${h.note})`);
  for (const r of h.rules) {
    const line = r.line === null ? "     ?" : `${String(r.line).padStart(6)}`;
    out.push(`${indent}    ${r.table.padEnd(6)} line${line}: ${r.rule}`);
  }
  if (h.conntrack) out.push(`${indent}    conntrack: ${h.conntrack}`);
  return out;
}

function pathBlock(p: PathReport, i: number, n: number): string[] {
  const head = `Path ${i + 1} of ${n}, probability ${p.probabilityExact} (${p.probability}):`;
  const verdict = p.reason ? `${p.verdict} (${p.reason})` : p.verdict;
  const to =
    p.pod !== null
      ? ` ${p.endpoint} (pod ${p.pod} on ${p.node}), ${verdict}; the pod sees the source ${p.sourceSeenByPod}`
      : ` ${verdict}${p.node && !p.reason ? ` at ${p.node}` : ""}`;
  return [`${head}${to}`, ...p.hops.flatMap((h) => hopLines(h, "  "))];
}

function replyBlock(r: ReplyReport, first: PathReport): string[] {
  const seen = `${r.verdict}; the client sees it from ${r.sourceSeenByClient ?? "-"}`;
  if (r.answer === null)
    return [
      `Reply (path 1, from ${first.endpoint ?? "the server"}): ${seen}`,
      ...r.hops.flatMap((h) => hopLines(h, "  ")),
    ];
  // A kernel's answer instead of a server's: say whose and what, then the frame as tcpdump shows it.
  return [
    `Answer (path 1): ${answerWords(r.answer)} from ${r.sentBy}: ${seen}`,
    `  ${r.frame}`,
    ...r.hops.flatMap((h) => hopLines(h, "  ")),
  ];
}

export function walkText(r: WalkReport): string {
  const out: string[] = [
    `${r.proto} ${r.from} -> ${r.to} (scenario ${r.scenario}): ${r.verdict}, ${r.paths.length} path${r.paths.length === 1 ? "" : "s"}`,
  ];
  const lb = r.paths[0]?.balancer;
  if (lb) {
    // azure.md §2: the default distribution hashes the 5-tuple, so one flow always lands on one backend.
    const hash = lb.startsWith("rule ")
      ? " The backend is a hash of the 5-tuple: this is the LB's choice for this 5-tuple (another source port may land elsewhere)."
      : "";
    out.push(`Azure LB: ${lb}.${hash}`);
  }
  if (r.probe) out.push(`Health probe: ${r.probe}`);
  if (r.truncated) out.push("Warning: too many paths; the list is cut short.");
  r.paths.forEach((p, i) => {
    out.push("", ...pathBlock(p, i, r.paths.length));
  });
  const first = r.paths[0];
  if (r.reply && first) out.push("", ...replyBlock(r.reply, first));
  return `${out.join("\n")}\n`;
}

/** A rule as "CHAIN -> TARGET" (addresses differ between twins; the chain names are hashes of the service). */
function ruleShapes(r: WalkReport): Set<string> {
  const s = new Set<string>();
  const hops = r.paths.flatMap((p) => [...p.hops, ...(p.reply?.hops ?? [])]);
  for (const h of hops) {
    for (const x of h.rules) {
      const target = / -j (\S+)/.exec(x.rule)?.[1] ?? "(no target)";
      // Endpoint chains are named by a hash of the endpoint: compare their kind, not their name.
      s.add(`${x.table} ${x.chain} -> ${target}`.replace(/KUBE-SEP-[A-Z0-9]+/g, "KUBE-SEP-*"));
    }
  }
  return s;
}

/** `packetwalk walk --compare`: the two twins side by side, then the rules only one of them hits. */
export function compareText(a: WalkReport, b: WalkReport): string {
  const pathsOf = (r: WalkReport): string =>
    r.paths.map((p) => `${p.probabilityExact} ${p.endpoint ?? p.verdict}`).join(", ");
  const masq = (r: WalkReport): string =>
    r.paths.some((p) => p.hops.some((h) => h.rules.some((x) => x.chain === "KUBE-MARK-MASQ")))
      ? "yes (SNAT to the node)"
      : "no";
  const seen = (r: WalkReport): string =>
    [...new Set(r.paths.map((p) => p.sourceSeenByPod ?? "-"))].join(", ");
  const rows: [string, string, string][] = [
    ["", a.scenario, b.scenario],
    ["from", a.from, b.from],
    ["to", `${a.proto} ${a.to}`, `${b.proto} ${b.to}`],
    ["verdict", a.verdict, b.verdict],
    ["health probe", a.probe ?? "-", b.probe ?? "-"],
    ["paths", pathsOf(a), pathsOf(b)],
    ["source seen by pod", seen(a), seen(b)],
    ["KUBE-MARK-MASQ hit", masq(a), masq(b)],
    ["reply source at client", a.reply?.sourceSeenByClient ?? "-", b.reply?.sourceSeenByClient ?? "-"],
    ["kernel's answer", a.reply?.answer ?? "-", b.reply?.answer ?? "-"],
  ];
  const w0 = Math.max(...rows.map((r) => r[0].length)) + 2;
  const w1 = Math.max(...rows.map((r) => r[1].length)) + 2;
  const out = rows.map(([k, x, y]) => `${k.padEnd(w0)}${x.padEnd(w1)}${y}`.trimEnd());
  const sa = ruleShapes(a);
  const sb = ruleShapes(b);
  const onlyA = [...sa].filter((x) => !sb.has(x));
  const onlyB = [...sb].filter((x) => !sa.has(x));
  out.push(
    "",
    `Rules hit only in ${a.scenario}:`,
    ...(onlyA.length ? onlyA.map((x) => `  ${x}`) : ["  (none)"]),
  );
  out.push(`Rules hit only in ${b.scenario}:`, ...(onlyB.length ? onlyB.map((x) => `  ${x}`) : ["  (none)"]));
  return `${out.join("\n")}\n`;
}
