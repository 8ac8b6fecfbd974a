/**
 * Problems found in input, collected rather than thrown. Messages follow one grammar
 * (`Cannot parse rule at line 42: unknown match module "foo"`), codes are stable.
 */

export type Severity = "error" | "warning" | "info";

export interface SourceLocation {
  readonly file: string;
  /** 1-based, as editors and dumps count. */
  readonly line: number;
  /** 1-based column of the offending token; 0 when the whole line is meant. */
  readonly column: number;
}

export interface Diagnostic {
  readonly code: string;
  readonly severity: Severity;
  readonly message: string;
  readonly source?: SourceLocation;
}

export function formatDiagnostic(d: Diagnostic): string {
  const where = d.source
    ? `${d.source.file}:${d.source.line}${d.source.column ? `:${d.source.column}` : ""}: `
    : "";
  return `${where}${d.severity}: ${d.message} [${d.code}]`;
}

/** The result of a parser: a value (possibly partial) plus every problem found on the way. */
export interface Parsed<T> {
  readonly value: T;
  readonly diagnostics: readonly Diagnostic[];
}
