import type { Diagnostic } from "../../core/diagnostic.ts";

/**
 * Prints parse problems so that a 100,000-line dump is diagnosable in a terminal: each problem with
 * file:line:column, the offending line cut around the column with a caret, at most `limit` of
 * them, then a count per code for the rest.
 */
export function renderDiagnostics(
  diags: readonly Diagnostic[],
  sourceText: string | null,
  limit = 20,
): string {
  if (diags.length === 0) return "";
  const lines = sourceText?.split(/\r?\n/) ?? [];
  const out: string[] = [];
  for (const d of diags.slice(0, limit)) {
    const s = d.source;
    out.push(
      `${s ? `${s.file}:${s.line}${s.column ? `:${s.column}` : ""}: ` : ""}${d.severity}: ${d.message} [${d.code}]`,
    );
    const text = s ? lines[s.line - 1] : undefined;
    if (s && text !== undefined) {
      const col = Math.max(1, s.column || 1);
      const start = Math.max(0, col - 60);
      const excerpt =
        (start > 0 ? "..." : "") + text.slice(start, start + 110) + (text.length > start + 110 ? "..." : "");
      out.push(`    ${excerpt}`);
      if (s.column) out.push(`    ${" ".repeat(col - 1 - start + (start > 0 ? 3 : 0))}^`);
    }
  }
  if (diags.length > limit) {
    const byCode = new Map<string, number>();
    for (const d of diags.slice(limit)) byCode.set(d.code, (byCode.get(d.code) ?? 0) + 1);
    const summary = [...byCode].map(([c, n]) => `${c} ${n}`).join(", ");
    out.push(`... and ${diags.length - limit} more (${summary})`);
  }
  const errors = diags.filter((d) => d.severity === "error").length;
  out.push(
    `${errors} error${errors === 1 ? "" : "s"}, ${diags.length - errors} warning${diags.length - errors === 1 ? "" : "s"}`,
  );
  return `${out.join("\n")}\n`;
}
