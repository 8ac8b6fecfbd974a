import { posix } from "node:path";
import type { Diagnostic } from "../../core/diagnostic.ts";
import type { Manifest } from "../../model/scenario.ts";
import { issueDiagnostics, pathText } from "./issues.ts";
import { schemaFor } from "./manifest-schema.ts";
import { blockOrigin, type PathSegment, readYamlStream, type Where, type YamlDoc } from "./yaml-source.ts";

/**
 * Reads a scenario's `manifests:` (or `later:`) group. Each entry is a Kubernetes object written
 * inline, a string holding a multi-document YAML stream (`|` block), or `file: NAME.yaml` (read
 * through the caller's `readFile`, relative to the scenario, any number of `---` documents). The
 * whole group may also be one multi-document string. Every object must be a kind the twin models.
 */

export type ReadFile = (path: string) => string | null;

/** A manifest with where its fields are in the text, for the semantic checks' messages. */
export interface LocatedManifest {
  readonly manifest: Manifest;
  readonly where: Where;
  /** Path of the object's root inside `where` (non-empty for an object inline in the scenario). */
  readonly root: readonly PathSegment[];
}

interface Ctx {
  readonly scenario: YamlDoc;
  readonly scenarioText: string;
  readonly readFile: ReadFile | undefined;
  readonly out: LocatedManifest[];
  readonly diagnostics: Diagnostic[];
}

function error(
  code: string,
  where: Where,
  path: readonly PathSegment[],
  what: string,
  why: string,
): Diagnostic {
  const pos = where.at(path);
  return {
    code,
    severity: "error",
    message: `Cannot read ${what} ${where.file} at line ${pos.line}: ${why}`,
    source: { file: where.file, ...pos },
  };
}

/** Checks one object's kind and fields; keeps it when they are usable. */
function accept(ctx: Ctx, object: unknown, where: Where, root: readonly PathSegment[], what: string): void {
  if (object === null || typeof object !== "object" || Array.isArray(object)) {
    ctx.diagnostics.push(
      error(
        "scenario-manifest",
        where,
        root,
        what,
        "a manifest must be a map with apiVersion, kind, metadata and spec",
      ),
    );
    return;
  }
  const obj = object as Record<string, unknown>;
  const found = schemaFor(obj.apiVersion, obj.kind);
  if ("why" in found) {
    ctx.diagnostics.push(
      error(
        "scenario-manifest-kind",
        where,
        [...root, obj.kind === undefined ? "apiVersion" : "kind"],
        what,
        found.why,
      ),
    );
    return;
  }
  const parsed = found.schema.safeParse(obj);
  if (!parsed.success) {
    ctx.diagnostics.push(...issueDiagnostics(parsed.error.issues, found.schema, obj, where, what, root));
    return;
  }
  ctx.out.push({
    manifest: { object: obj, source: { file: where.file, line: where.at(root).line } },
    where,
    root,
  });
}

/** A multi-document stream: from a file, or a string inside the scenario. */
function acceptStream(
  ctx: Ctx,
  text: string,
  file: string,
  what: string,
  lineOffset: number,
  columnOffset: number,
): void {
  const { docs, diagnostics } = readYamlStream(text, file, what, lineOffset, columnOffset);
  ctx.diagnostics.push(...diagnostics);
  for (const d of docs) {
    let object: unknown;
    try {
      // Aliases are resolved only here: `*x` without an anchor `&x` fails now, not when parsing.
      object = d.doc.toJS({ maxAliasCount: 100 });
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      ctx.diagnostics.push(error("scenario-yaml", d.where, [], what, why));
      continue;
    }
    accept(ctx, object, d.where, [], what);
  }
}

function acceptFile(ctx: Ctx, file: unknown, path: readonly PathSegment[]): void {
  const where = ctx.scenario.where;
  if (typeof file !== "string" || file === "") {
    ctx.diagnostics.push(
      error(
        "scenario-manifest-file",
        where,
        path,
        "scenario",
        `${pathText(path)} must be a file name like whereami.yaml`,
      ),
    );
    return;
  }
  const resolved = posix.isAbsolute(file) ? file : posix.join(posix.dirname(where.file), file);
  const text = ctx.readFile ? ctx.readFile(resolved) : null;
  if (text === null) {
    ctx.diagnostics.push(
      error(
        "scenario-manifest-file",
        where,
        path,
        "scenario",
        `cannot read manifest file ${resolved}${ctx.readFile ? "" : " (no files can be read here)"}`,
      ),
    );
    return;
  }
  acceptStream(ctx, text, resolved, "manifest", 0, 0);
}

function acceptString(ctx: Ctx, text: string, path: readonly PathSegment[]): void {
  const { lineOffset, columnOffset } = blockOrigin(ctx.scenarioText, ctx.scenario, path);
  acceptStream(ctx, text, ctx.scenario.where.file, "scenario", lineOffset, columnOffset);
}

export function readManifestGroup(
  group: "manifests" | "later",
  value: unknown,
  scenario: YamlDoc,
  scenarioText: string,
  readFile: ReadFile | undefined,
): { manifests: LocatedManifest[]; diagnostics: Diagnostic[] } {
  const ctx: Ctx = { scenario, scenarioText, readFile, out: [], diagnostics: [] };
  if (value === undefined || value === null) return { manifests: [], diagnostics: [] };
  if (typeof value === "string") acceptString(ctx, value, [group]);
  else if (!Array.isArray(value))
    ctx.diagnostics.push(
      error(
        "scenario-invalid-field",
        scenario.where,
        [group],
        "scenario",
        `${group} must be a list of manifests, file: entries or a multi-document YAML string`,
      ),
    );
  else
    value.forEach((item, i) => {
      const path = [group, i];
      if (typeof item === "string") acceptString(ctx, item, path);
      else if (item && typeof item === "object" && !Array.isArray(item) && "file" in item) {
        const extra = Object.keys(item).filter((k) => k !== "file");
        if (extra.length)
          ctx.diagnostics.push(
            error(
              "scenario-unknown-field",
              scenario.where,
              path,
              "scenario",
              `a file entry takes only "file", found ${extra.join(", ")}`,
            ),
          );
        else acceptFile(ctx, (item as { file: unknown }).file, [...path, "file"]);
      } else accept(ctx, item, scenario.where, path, "scenario");
    });
  return { manifests: ctx.out, diagnostics: ctx.diagnostics };
}
