/**
 * The Azure CLI's output formats, as knack (microsoft/knack knack/output.py: format_json,
 * _TableOutput, _TsvOutput; read in python3-knack 0.10.1) and tabulate 0.8.9 (tablefmt "simple",
 * disable_numparse) print them. Values are JSON as Python sees them: null is None, booleans
 * print True/False through str().
 */

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/**
 * Objects that came from the command's own result (plain Python dicts) rather than from a
 * JMESPath multiselect hash (knack passes Options(OrderedDict), so those are ordered dicts): the
 * TSV writer sorts the keys of the former and keeps the order of the latter.
 */
export type Originals = WeakSet<object>;

/** json.dumps(result, ensure_ascii=False, indent=2, sort_keys=True, separators=(',', ': ')) + '\n'. */
export function formatJson(value: Json): string {
  const sorted = (v: Json): Json => {
    if (Array.isArray(v)) return v.map(sorted);
    if (v !== null && typeof v === "object") {
      // Python sorts str keys by code point; for the BMP that is UTF-16 code-unit order.
      const keys = Object.keys(v).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      return Object.fromEntries(keys.map((k) => [k, sorted(v[k]!)]));
    }
    return v;
  };
  // JSON.stringify and Python agree on escapes with ensure_ascii=False, and on `[]`/`{}` when empty.
  return JSON.stringify(sorted(value), null, 2) + "\n";
}

/** Python's str() of a scalar. */
export function pyStr(v: Json): string {
  if (v === null) return "None";
  if (v === true) return "True";
  if (v === false) return "False";
  if (typeof v === "number") return Number.isInteger(v) && Math.abs(v) < 1e16 ? String(v) : pyFloat(v);
  return String(v);
}

function pyFloat(v: number): string {
  if (Number.isNaN(v)) return "nan";
  if (!Number.isFinite(v)) return v > 0 ? "inf" : "-inf";
  const s = String(v);
  return /[.e]/.test(s) ? s.replace(/e([+-])(\d)$/, "e$10$2") : `${s}.0`;
}

function isObject(v: Json): v is { [k: string]: Json } {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function width(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

/** knack's _TableOutput._auto_table_item: one row (column name → value) per item. */
function tableRow(item: Json, sortKeys: boolean): Map<string, Json> {
  const row = new Map<string, Json>();
  if (isObject(item)) {
    const keys = sortKeys ? Object.keys(item).sort() : Object.keys(item);
    for (const k of keys) {
      if (k === "id" || k === "type" || k === "etag") continue;
      const v = item[k]!;
      if (v !== null && typeof v !== "object") row.set(k ? k[0]!.toUpperCase() + k.slice(1) : k, v);
    }
  } else if (Array.isArray(item)) {
    for (const [i, v] of item.entries()) row.set(`Column${i + 1}`, v);
  } else row.set("Result", item);
  return row;
}

/**
 * format_table: the result (a list, or one item) as tabulate's "simple" table with the keys of
 * all rows as headers (first-seen order); columns left-aligned, each as wide as its longest cell
 * and at least its header plus 2, joined by two spaces, trailing blanks trimmed. Keys are sorted
 * unless a query or a table transformer shaped the result.
 */
export function formatTable(result: Json, sortKeys: boolean): string {
  const items = Array.isArray(result) ? result : [result];
  if (items.length === 0) return "\n";
  const rows = items.map((i) => tableRow(i, sortKeys));
  const headers: string[] = [];
  for (const r of rows) for (const k of r.keys()) if (!headers.includes(k)) headers.push(k);
  if (headers.length === 0)
    throw new Error("Table output unavailable. Use the --query option to specify an appropriate query.");
  const cells = rows.map((r) => headers.map((h) => (r.has(h) ? pyStr(r.get(h)!) : "")));
  const widths = headers.map((h, j) => Math.max(width(h) + 2, ...cells.map((c) => width(c[j]!))));
  const line = (texts: readonly string[]): string =>
    texts
      .map((t, j) => t + " ".repeat(widths[j]! - width(t)))
      .join("  ")
      .trimEnd();
  return [line(headers), line(widths.map((w) => "-".repeat(w))), ...cells.map(line)].join("\n") + "\n";
}

/** _TsvOutput._dump_obj: a nested list prints its length, a nested dict nothing, a scalar str(). */
function tsvValue(v: Json): string {
  if (Array.isArray(v)) return String(v.length);
  if (isObject(v)) return "";
  return pyStr(v);
}

/** format_tsv: one line per item; dicts as their values (sorted keys for command results), lists as theirs. */
export function formatTsv(result: Json, originals: Originals): string {
  const items = Array.isArray(result) ? result : [result];
  let out = "";
  for (const item of items) {
    if (isObject(item)) {
      const keys = originals.has(item) ? Object.keys(item).sort() : Object.keys(item);
      out += keys.map((k) => tsvValue(item[k]!)).join("\t");
    } else if (Array.isArray(item)) out += item.map(tsvValue).join("\t");
    else if (typeof item === "boolean") out += String(item);
    else out += tsvValue(item);
    out += "\n";
  }
  return out;
}
