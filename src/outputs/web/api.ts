import { buildTwin } from "../../controlplane/build-twin.ts";
import { parseScenario } from "../../inputs/scenario/parse.ts";
import type { Twin } from "../../model/twin.ts";
import { conntrack } from "../emulate/node/conntrack.ts";
import { iptablesSave } from "../emulate/node/iptables-save.ts";
import type { WalkReport } from "../render/walk-json.ts";
import { type CaptureFile, captureFiles, runWalk, WalkError, type WalkRun } from "../render/walk-run.ts";
import { compareReports, type Difference } from "./compare.ts";
import type { ApiError, TwinResponse } from "./contract.ts";
import { layoutOf } from "./layout.ts";
import { topologyOf } from "./topology.ts";

/**
 * The web view's JSON API: pure apart from the state it is given (the twins in memory, the recent
 * walks), so tests call it without a socket; server.ts carries requests to it. Every answer to a
 * mistake is a 4xx with an ApiError saying what was wrong; nothing here reads or writes files.
 */

export type SideName = "main" | "compare";

export interface Side {
  /** The scenario's name as the user knows it (a built-in's name, a file, or the pasted scenario's `name`). */
  readonly scenario: string;
  readonly twin: Twin;
}

interface StoredWalk {
  readonly id: string;
  readonly side: SideName;
  readonly twin: Twin;
  readonly run: WalkRun;
  readonly captures: readonly CaptureFile[];
}

/** The most recently used `max` values; the oldest goes when a new one comes. */
export class Lru<V> {
  private readonly map = new Map<string, V>();
  constructor(readonly max: number) {}
  get(key: string): V | undefined {
    const v = this.map.get(key);
    if (v !== undefined) {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }
  set(key: string, v: V): void {
    this.map.delete(key);
    this.map.set(key, v);
    for (const oldest of this.map.keys()) {
      if (this.map.size <= this.max) break;
      this.map.delete(oldest);
    }
  }
  get size(): number {
    return this.map.size;
  }
}

export interface ApiState {
  sides: { main: Side; compare: Side | null };
  readonly builtIn: readonly string[];
  readonly walks: Lru<StoredWalk>;
  nextWalk: number;
  /** Each twin's view, computed once (a twin is never changed in place: a new scenario is a new twin). */
  readonly views: WeakMap<Twin, TwinResponse>;
}

/** Walks kept for their pcap and conntrack downloads. */
export const KEPT_WALKS = 20;

export function createApiState(o: {
  main: Side;
  compare: Side | null;
  builtIn: readonly string[];
  keep?: number;
}): ApiState {
  return {
    sides: { main: o.main, compare: o.compare },
    builtIn: o.builtIn,
    walks: new Lru(o.keep ?? KEPT_WALKS),
    nextWalk: 1,
    views: new WeakMap(),
  };
}

export interface ApiRequest {
  readonly method: string;
  /** The path as sent, without the query (`/api/walks/w1/pcap`). */
  readonly path: string;
  readonly query: URLSearchParams;
  /** The request body as text, null when none was sent. */
  readonly body: string | null;
}

export interface ApiResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string | Uint8Array;
}

/** A mistake of the request, answered with its status and an ApiError. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly diagnostics?: ApiError["diagnostics"],
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

const JSON_TYPE = "application/json; charset=utf-8";

function json(status: number, value: unknown, headers: Record<string, string> = {}): ApiResponse {
  return { status, headers: { "Content-Type": JSON_TYPE, ...headers }, body: JSON.stringify(value) };
}

function errorResponse(e: HttpError): ApiResponse {
  const body: ApiError = e.diagnostics
    ? { error: e.message, diagnostics: e.diagnostics }
    : { error: e.message };
  return json(e.status, body, { ...e.headers });
}

// ---- request bodies ----

type FieldType = "string" | "proto" | "side" | "seed";

/** The JSON object a POST sent, each field of the expected type; unknown fields are a mistake. */
function readBody(body: string | null, fields: Readonly<Record<string, FieldType>>): Record<string, unknown> {
  if (body === null || body.trim() === "") return {};
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (e) {
    throw new HttpError(400, `The request body is not JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new HttpError(400, "The request body must be a JSON object");
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    const type = fields[key];
    if (type === undefined)
      throw new HttpError(400, `Unknown field "${key}": expected ${Object.keys(fields).join(", ")}`);
    // A page's empty input or a null means "the default".
    if (v === null || (typeof v === "string" && v.trim() === "" && key !== "text")) continue;
    out[key] = checkField(key, type, v);
  }
  return out;
}

function checkField(key: string, type: FieldType, v: unknown): unknown {
  switch (type) {
    case "string":
      if (typeof v !== "string") throw new HttpError(400, `Field "${key}" must be a string`);
      return key === "text" ? v : v.trim();
    case "proto":
      if (v !== "tcp" && v !== "udp") throw new HttpError(400, `Field "${key}": expected "tcp" or "udp"`);
      return v;
    case "side":
      if (v !== "main" && v !== "compare")
        throw new HttpError(400, `Field "${key}": expected "main" or "compare"`);
      return v;
    case "seed":
      if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0)
        throw new HttpError(400, `Field "${key}" must be a whole number, 0 or more`);
      return v;
  }
}

function sideParam(q: URLSearchParams): SideName {
  const s = q.get("side");
  if (s === null || s === "" || s === "main") return "main";
  if (s === "compare") return "compare";
  throw new HttpError(400, `side=${s}: expected main or compare`);
}

function sideOf(state: ApiState, name: SideName): Side {
  const side = state.sides[name];
  if (!side)
    throw new HttpError(
      404,
      "There is no twin to compare with: send one with POST /api/scenario {side: compare}",
    );
  return side;
}

/** A 1-based path number of a walk. */
function pathParam(q: URLSearchParams, w: StoredWalk): number {
  const text = q.get("path") ?? "1";
  const n = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isInteger(n)) throw new HttpError(400, `path=${text}: expected a path number (1, 2...)`);
  if (n < 1 || n > w.run.paths.length)
    throw new HttpError(
      404,
      `path=${text}: walk ${w.id} has ${w.run.paths.length} path${w.run.paths.length === 1 ? "" : "s"}`,
    );
  return n;
}

// ---- routes ----

function twinResponse(state: ApiState, side: Side): TwinResponse {
  let view = state.views.get(side.twin);
  if (!view) {
    const topology = topologyOf(side.twin, side.scenario);
    view = { topology, layout: layoutOf(topology) };
    state.views.set(side.twin, view);
  }
  return view;
}

interface WalkAnswer {
  readonly id: string;
  readonly side: SideName;
  readonly report: WalkReport;
  readonly captures: readonly {
    readonly path: number;
    readonly where: string;
    readonly iface: string;
    readonly frames: number;
    readonly url: string;
  }[];
}

function walk(
  state: ApiState,
  sideName: SideName,
  o: { from?: string; to?: string; proto?: "tcp" | "udp"; seed?: number },
): WalkAnswer {
  const side = sideOf(state, sideName);
  let run: WalkRun;
  try {
    run = runWalk(side.twin, side.scenario, {
      ...(o.from === undefined ? {} : { from: o.from }),
      ...(o.to === undefined ? {} : { to: o.to }),
      proto: o.proto ?? "tcp",
      ...(o.seed === undefined ? {} : { seed: o.seed }),
      names: { from: "from", to: "to" },
    });
  } catch (e) {
    if (e instanceof WalkError)
      throw new HttpError(400, sideName === "main" ? e.message : `${side.scenario}: ${e.message}`);
    throw e;
  }
  const id = `w${state.nextWalk++}`;
  const captures = captureFiles(run);
  state.walks.set(id, { id, side: sideName, twin: side.twin, run, captures });
  return {
    id,
    side: sideName,
    report: run.report,
    captures: captures.map((c) => ({
      path: c.path,
      where: c.where,
      iface: c.iface,
      frames: c.frames,
      url: `/api/walks/${id}/pcap?${new URLSearchParams({ path: `${c.path}`, where: c.where, iface: c.iface })}`,
    })),
  };
}

const WALK_FIELDS = { from: "string", to: "string", proto: "proto", side: "side", seed: "seed" } as const;
// `side` is accepted and ignored: a comparison walks both.
const COMPARE_FIELDS = { from: "string", to: "string", proto: "proto", side: "side", seed: "seed" } as const;

function postWalk(state: ApiState, body: string | null): ApiResponse {
  const b = readBody(body, WALK_FIELDS) as { side?: SideName } & Parameters<typeof walk>[2];
  const { side = "main", ...o } = b;
  return json(200, walk(state, side, o));
}

function postCompare(state: ApiState, body: string | null): ApiResponse {
  const { side: _both, ...o } = readBody(body, COMPARE_FIELDS) as Parameters<typeof walk>[2] & {
    side?: SideName;
  };
  sideOf(state, "compare");
  const main = walk(state, "main", o);
  // The same client and destination on both sides when given; else each twin's own defaults.
  const compare = walk(state, "compare", o);
  const differences: Difference[] = compareReports(main.report, compare.report);
  return json(200, { main, compare, differences });
}

function findWalk(state: ApiState, id: string): StoredWalk {
  const w = state.walks.get(id);
  if (!w)
    throw new HttpError(
      404,
      `No walk "${id}": it is not one of the last ${state.walks.max} walks (send the packet again)`,
    );
  return w;
}

function pcap(state: ApiState, id: string, q: URLSearchParams): ApiResponse {
  const w = findWalk(state, id);
  const path = pathParam(q, w);
  const where = q.get("where");
  const iface = q.get("iface");
  if (!where || !iface)
    throw new HttpError(400, "Give the capture's where= and iface= (see the walk's captures)");
  const c = w.captures.find((x) => x.path === path && x.where === where && x.iface === iface);
  if (!c) throw new HttpError(404, `Walk ${id} path ${path} crossed no ${where} ${iface} with its packets`);
  return {
    status: 200,
    headers: {
      "Content-Type": "application/vnd.tcpdump.pcap",
      // The name `walk --pcap` writes, its path-N/ folder folded into the name.
      "Content-Disposition": `attachment; filename="${c.file.replace(/\//g, "_")}"`,
    },
    body: c.bytes,
  };
}

function conntrackOf(state: ApiState, id: string, q: URLSearchParams): ApiResponse {
  const w = findWalk(state, id);
  const n = pathParam(q, w);
  const p = w.run.paths[n - 1]!;
  const name = q.get("node") || w.run.report.paths[n - 1]?.node || w.twin.nodes[0]?.name;
  const node = w.twin.nodes.find((x) => x.name === name);
  if (!node) throw new HttpError(404, `No node "${name ?? ""}" in ${w.run.report.scenario}`);
  // "After the walk": the clock at the last frame the world saw.
  let nowUs = p.time;
  for (const c of p.world.captures.all()) for (const f of c.frames) nowUs = Math.max(nowUs, f.time);
  const r = conntrack(node, ["-L"], { world: p.world, nowUs });
  // As a terminal shows it: the entries (stdout), then the count (stderr).
  return json(200, { node: node.name, text: r.stdout + r.stderr });
}

function iptablesOf(state: ApiState, nodeName: string, q: URLSearchParams): ApiResponse {
  const side = sideOf(state, sideParam(q));
  const node = side.twin.nodes.find((n) => n.name === nodeName);
  if (!node)
    throw new HttpError(
      404,
      `No node "${nodeName}" in ${side.scenario}: its nodes are ${side.twin.nodes.map((n) => n.name).join(", ")}`,
    );
  // The same arguments and clock as the walk's, so its rules' line numbers point into this text.
  return json(200, { node: node.name, text: iptablesSave(node, [], side.twin.now).stdout });
}

function postScenario(state: ApiState, body: string | null): ApiResponse {
  const b = readBody(body, { text: "string", side: "side" }) as { text?: string; side?: SideName };
  if (b.text === undefined || b.text.trim() === "")
    throw new HttpError(400, 'Give the scenario as {"text": "<YAML>"}');
  const sideName = b.side ?? "main";
  // Files a scenario names (`file:` manifests) are not read: the server reads nothing but its page.
  const parsed = parseScenario(b.text, "scenario.yaml", () => null);
  const errors = parsed.diagnostics.filter((d) => d.severity === "error");
  if (!parsed.value || errors.length > 0) {
    const first = errors[0];
    const at = first?.source ? ` at line ${first.source.line}` : "";
    throw new HttpError(
      400,
      `The scenario has ${errors.length || 1} error${errors.length > 1 ? "s" : ""}${at}: ${first?.message ?? "it cannot be read"}`,
      errors.map((d) => ({
        message: d.message,
        line: d.source?.line ?? null,
        column: d.source?.column ? d.source.column : null,
      })),
    );
  }
  let twin: Twin;
  try {
    twin = buildTwin(parsed.value);
  } catch (e) {
    throw new HttpError(400, `Cannot build the twin: ${e instanceof Error ? e.message : String(e)}`);
  }
  const side: Side = { scenario: parsed.value.name, twin };
  const view = twinResponse(state, side);
  state.sides = { ...state.sides, [sideName]: side };
  return json(200, view);
}

interface Route {
  readonly pattern: RegExp;
  readonly method: "GET" | "POST";
  readonly handle: (state: ApiState, req: ApiRequest, params: readonly string[]) => ApiResponse;
}

const ROUTES: readonly Route[] = [
  {
    pattern: /^\/api\/twin$/,
    method: "GET",
    handle: (s, r) => json(200, twinResponse(s, sideOf(s, sideParam(r.query)))),
  },
  {
    pattern: /^\/api\/scenarios$/,
    method: "GET",
    handle: (s) =>
      json(200, {
        builtIn: s.builtIn,
        main: s.sides.main.scenario,
        compare: s.sides.compare?.scenario ?? null,
      }),
  },
  { pattern: /^\/api\/walk$/, method: "POST", handle: (s, r) => postWalk(s, r.body) },
  { pattern: /^\/api\/compare$/, method: "POST", handle: (s, r) => postCompare(s, r.body) },
  { pattern: /^\/api\/scenario$/, method: "POST", handle: (s, r) => postScenario(s, r.body) },
  {
    pattern: /^\/api\/walks\/([^/]+)\/pcap$/,
    method: "GET",
    handle: (s, r, [id]) => pcap(s, id as string, r.query),
  },
  {
    pattern: /^\/api\/walks\/([^/]+)\/conntrack$/,
    method: "GET",
    handle: (s, r, [id]) => conntrackOf(s, id as string, r.query),
  },
  {
    pattern: /^\/api\/nodes\/([^/]+)\/iptables-save$/,
    method: "GET",
    handle: (s, r, [node]) => iptablesOf(s, node as string, r.query),
  },
];

function decodeParam(p: string): string {
  try {
    return decodeURIComponent(p);
  } catch {
    throw new HttpError(400, `Cannot decode "${p}" in the path`);
  }
}

/** Answers one API request; a bug of ours is a 500 with its message, never a stack trace. */
export function handleApi(state: ApiState, req: ApiRequest): ApiResponse {
  try {
    const matching = ROUTES.map((r) => ({ r, m: r.pattern.exec(req.path) })).filter((x) => x.m !== null);
    if (matching.length === 0) throw new HttpError(404, `No API route ${req.path}`);
    const hit = matching.find((x) => x.r.method === req.method);
    if (!hit) {
      const allow = [...new Set(matching.map((x) => x.r.method))].join(", ");
      throw new HttpError(405, `${req.method} ${req.path}: use ${allow}`, undefined, { Allow: allow });
    }
    const params = (hit.m as RegExpExecArray).slice(1).map(decodeParam);
    return hit.r.handle(state, req, params);
  } catch (e) {
    if (e instanceof HttpError) return errorResponse(e);
    return json(500, { error: `Internal error: ${e instanceof Error ? e.message : String(e)}` });
  }
}
