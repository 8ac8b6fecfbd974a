import type { z } from "zod";
import type { Diagnostic } from "../../core/diagnostic.ts";
import type { PathSegment, Where } from "./yaml-source.ts";

/**
 * zod issues as diagnostics: the field's path as the user wrote it (`vnet.subnets[1].prefix`), the
 * sentence the schema carries, and what was found there, at the line and column of that value.
 */

/** `cluster.maxPods`, `vnet.subnets[1]`, `pins.nodePorts["default/whereami:80"]`. */
export function pathText(path: readonly PathSegment[]): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(seg)) out += out ? `.${seg}` : seg;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out || "the file";
}

/** A value as the user would recognise it in an error message. */
export function shown(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a map";
  if (typeof value === "string")
    return value === "" ? '""' : /[\s"]/.test(value) ? JSON.stringify(value) : value;
  return String(value);
}

function valueAt(root: unknown, path: readonly PathSegment[]): unknown {
  let v: unknown = root;
  for (const seg of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<string | number, unknown>)[seg];
  }
  return v;
}

interface Def {
  readonly type: string;
  readonly shape?: Record<string, { _zod: { def: Def } }>;
  readonly innerType?: { _zod: { def: Def } };
  readonly element?: { _zod: { def: Def } };
  readonly valueType?: { _zod: { def: Def } };
  readonly in?: { _zod: { def: Def } };
}

/** The field names the schema allows at `path` (for "unknown field" messages). */
function allowedKeys(schema: z.ZodType, path: readonly PathSegment[]): string[] {
  let def = (schema as unknown as { _zod: { def: Def } })._zod.def;
  const unwrap = () => {
    while (def.innerType || (def.type === "pipe" && def.in)) def = (def.innerType ?? def.in)!._zod.def;
  };
  for (const seg of path) {
    unwrap();
    const next =
      def.type === "object"
        ? def.shape?.[String(seg)]
        : def.type === "array"
          ? def.element
          : def.type === "record"
            ? def.valueType
            : undefined;
    if (!next) return [];
    def = next._zod.def;
  }
  unwrap();
  return def.type === "object" && def.shape ? Object.keys(def.shape) : [];
}

export function issueDiagnostics(
  issues: readonly z.core.$ZodIssue[],
  schema: z.ZodType,
  raw: unknown,
  where: Where,
  what: string,
  prefix: readonly PathSegment[] = [],
): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const issue of issues) {
    const path = issue.path.filter((p): p is PathSegment => typeof p !== "symbol");
    const full = [...prefix, ...path];
    if (issue.code === "unrecognized_keys") {
      const allowed = allowedKeys(schema, path);
      for (const key of issue.keys) {
        const pos = where.at(full, key);
        const field = pathText([...full, key]);
        out.push({
          code: "scenario-unknown-field",
          severity: "error",
          message: `Cannot read ${what} ${where.file} at line ${pos.line}: unknown field ${field}${
            allowed.length ? ` (expected one of ${allowed.join(", ")})` : ""
          }`,
          source: { file: where.file, ...pos },
        });
      }
      continue;
    }
    if (issue.code === "invalid_key") {
      // A bad map key: zod puts the key last in the path and the key schema's sentence inside.
      const key = String(full[full.length - 1]);
      const pos = where.at(full.slice(0, -1), key);
      const why = issue.issues[0]?.message ?? issue.message;
      out.push({
        code: "scenario-invalid-field",
        severity: "error",
        message: `Cannot read ${what} ${where.file} at line ${pos.line}: key ${shown(key)} of ${pathText(full.slice(0, -1))} ${why}`,
        source: { file: where.file, ...pos },
      });
      continue;
    }
    const value = valueAt(raw, path);
    const pos = where.at(full);
    const field = pathText(full);
    const found =
      value === undefined
        ? `${field} is missing: it ${issue.message}`
        : `${field} ${issue.message}, found ${shown(value)}`;
    out.push({
      code: "scenario-invalid-field",
      severity: "error",
      message: `Cannot read ${what} ${where.file} at line ${pos.line}: ${found}`,
      source: { file: where.file, ...pos },
    });
  }
  return out;
}
