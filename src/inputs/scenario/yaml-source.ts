import {
  type Document,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  parseAllDocuments,
  parseDocument,
} from "yaml";
import type { Diagnostic } from "../../core/diagnostic.ts";

/**
 * YAML text with positions: every value read from a scenario or manifest can be traced back to its
 * file, line and column, so an error names the spot the user has to edit. `lineOffset` and
 * `columnOffset` place a document that sits inside another file (a `|` block in a scenario).
 */

export type PathSegment = string | number;

export interface Where {
  readonly file: string;
  /** Position of the value at `path`; with `key`, of that key inside the map at `path`. */
  at(path: readonly PathSegment[], key?: string): { line: number; column: number };
}

export interface YamlDoc {
  readonly doc: Document.Parsed;
  readonly where: Where;
}

const OPTIONS = { prettyErrors: false, uniqueKeys: true, version: "1.2" } as const;

/** The node at `path`, or the deepest node on the way there (an error in a missing field points at its parent). */
function nodeAt(doc: Document.Parsed, path: readonly PathSegment[], key?: string): Node | null {
  let node: unknown = doc.contents;
  for (const seg of key === undefined ? path : [...path, key]) {
    if (isMap(node)) {
      const pair = node.items.find(
        (p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg),
      );
      if (!pair) break;
      // For the unknown key itself, point at the key; for a value, at the value (or the key if empty).
      const last = key !== undefined && seg === key;
      node = last || pair.value === null ? pair.key : pair.value;
    } else if (isSeq(node) && typeof seg === "number" && node.items[seg] !== undefined) {
      node = node.items[seg];
    } else break;
  }
  return (node as Node | null) ?? null;
}

function whereOf(
  doc: Document.Parsed,
  lc: LineCounter,
  file: string,
  lineOffset = 0,
  columnOffset = 0,
): Where {
  return {
    file,
    at(path, key) {
      const node = nodeAt(doc, path, key);
      const offset = node?.range?.[0] ?? 0;
      const pos = lc.linePos(offset);
      return { line: pos.line + lineOffset, column: pos.col + columnOffset };
    },
  };
}

/** Turns the yaml package's errors into diagnostics (`BAD_INDENT` becomes `yaml-bad-indent`). */
function yamlDiagnostics(
  doc: Document.Parsed,
  lc: LineCounter,
  what: string,
  file: string,
  lineOffset: number,
  columnOffset: number,
): Diagnostic[] {
  return doc.errors.map((e) => {
    const pos = lc.linePos(e.pos[0]);
    const line = pos.line + lineOffset;
    // The package appends " at line N, column M" and a snippet; we print our own position.
    const why = (e.message.split("\n")[0] ?? "").replace(/ at line \d+, column \d+:?$/, "");
    return {
      code: `yaml-${e.code.toLowerCase().replaceAll("_", "-")}`,
      severity: "error" as const,
      message: `Cannot read ${what} ${file} at line ${line}: ${why.charAt(0).toLowerCase()}${why.slice(1)}`,
      source: { file, line, column: pos.col + columnOffset },
    };
  });
}

/** One YAML document (a scenario file). */
export function readYaml(
  text: string,
  file: string,
  what: string,
): { doc: YamlDoc | null; diagnostics: Diagnostic[] } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { ...OPTIONS, lineCounter });
  const diagnostics = yamlDiagnostics(doc, lineCounter, what, file, 0, 0);
  return { doc: diagnostics.length ? null : { doc, where: whereOf(doc, lineCounter, file) }, diagnostics };
}

/** Every document of a multi-document stream (a manifest file or a `|` block), empty ones dropped. */
export function readYamlStream(
  text: string,
  file: string,
  what: string,
  lineOffset = 0,
  columnOffset = 0,
): { docs: YamlDoc[]; diagnostics: Diagnostic[] } {
  const lineCounter = new LineCounter();
  const all = parseAllDocuments(text, { ...OPTIONS, lineCounter });
  // parseAllDocuments returns an EmptyStream (an array with an `empty` flag) for blank input.
  const list = Array.isArray(all) ? all : [];
  const diagnostics: Diagnostic[] = [];
  const docs: YamlDoc[] = [];
  for (const doc of list) {
    const errs = yamlDiagnostics(doc, lineCounter, what, file, lineOffset, columnOffset);
    diagnostics.push(...errs);
    if (errs.length === 0 && doc.contents !== null)
      docs.push({ doc, where: whereOf(doc, lineCounter, file, lineOffset, columnOffset) });
  }
  return { docs, diagnostics };
}

/** The node at `path` (for reading a scalar's source text or a block's position). */
export function getNode(doc: Document.Parsed, path: readonly PathSegment[]): Node | null {
  const node = doc.getIn(path, true);
  return node && typeof node === "object" && "range" in (node as object) ? (node as Node) : null;
}

/**
 * Where a block scalar's text starts in its file: the line after the `|` header and the indent
 * the yaml package strips, so positions inside an inline manifest map back onto the scenario.
 */
export function blockOrigin(
  fileText: string,
  doc: YamlDoc,
  path: readonly PathSegment[],
): { lineOffset: number; columnOffset: number } {
  const node = getNode(doc.doc, path);
  const start = doc.where.at(path);
  if (!node || !isScalar(node) || (node.type !== "BLOCK_LITERAL" && node.type !== "BLOCK_FOLDED"))
    return { lineOffset: start.line - 1, columnOffset: 0 };
  const lines = fileText.split(/\r?\n/);
  const first = lines.slice(start.line).find((l) => l.trim() !== "") ?? "";
  return { lineOffset: start.line, columnOffset: first.length - first.trimStart().length };
}
