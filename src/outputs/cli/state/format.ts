/**
 * state.json: a kept twin as event sourcing. It holds only what the user did (the scenario as read,
 * then each action in order, with the virtual time it happened at); the twin is rebuilt by replaying
 * them, so nothing the control plane computes is ever serialised and a new packetwalk reads old state.
 */

export const STATE_VERSION = 1;

/** Kinds `kubectl delete` and apply know, with the namespace and name that identify an object. */
export type ObjectKind = "Service" | "Deployment" | "Pod" | "DaemonSet";

export type Action =
  /** `kubectl apply -f FILE`: the file's text as it was then (later edits do not change the twin). */
  | {
      readonly type: "apply";
      readonly at: number;
      readonly file: string;
      readonly text: string;
      readonly namespace: string;
    }
  | {
      readonly type: "delete";
      readonly at: number;
      readonly kind: ObjectKind;
      readonly namespace: string;
      readonly name: string;
    }
  | {
      readonly type: "scale";
      readonly at: number;
      readonly namespace: string;
      readonly name: string;
      readonly replicas: number;
    }
  /** `clock advance D`: the virtual clock moves `seconds` forward. */
  | { readonly type: "clock"; readonly at: number; readonly seconds: number }
  /**
   * `packetwalk curl|ping|browse`: traffic sent through the World, replayed in order with the same
   * start (`time`, µs on the virtual clock) and `seed`, so conntrack and the captures come back the
   * same; what it leaves under way (a browser's open connections) goes on up to the virtual now.
   */
  | {
      readonly type: "traffic";
      readonly at: number;
      readonly time: number;
      readonly seed: number;
      readonly tool: TrafficTool;
      /** A host, node or pod name or address. */
      readonly from: string;
      /** curl's and browse's URL, or ping's address. */
      readonly target: string;
      /** ping's -c (1 for curl and browse). */
      readonly count: number;
    };

export type TrafficTool = "curl" | "ping" | "browse";

const TRAFFIC_TOOLS: readonly TrafficTool[] = ["curl", "ping", "browse"];

export interface KeptTwin {
  readonly version: typeof STATE_VERSION;
  readonly scenario: {
    /** A built-in's name, or the absolute path the scenario was read from. */
    readonly ref: string;
    /** The path its `file:` manifests are resolved against (the built-in's file for a built-in). */
    readonly path: string;
    readonly text: string;
    /** Every file the scenario read (`file:` manifests), frozen like the scenario. */
    readonly files: Readonly<Record<string, string>>;
  };
  /** Seconds the virtual clock has moved since `up` (the sum of the clock actions). */
  readonly clock: number;
  readonly actions: readonly Action[];
}

export function serialise(state: KeptTwin): string {
  return `${JSON.stringify(state, null, 2)}\n`;
}

/** A problem with state.json, said in words (the caller names the file). */
export class DamagedState extends Error {}

const KINDS: readonly ObjectKind[] = ["Service", "Deployment", "Pod", "DaemonSet"];

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function field<T>(
  o: Record<string, unknown>,
  key: string,
  where: string,
  ok: (v: unknown) => v is T,
  what: string,
): T {
  const v = o[key];
  if (!ok(v))
    throw new DamagedState(
      `${where}.${key} must be ${what}, found ${v === undefined ? "nothing" : JSON.stringify(v)}`,
    );
  return v;
}

const isString = (v: unknown): v is string => typeof v === "string";
const isName = (v: unknown): v is string => typeof v === "string" && v !== "";
const isCount = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;

function action(raw: unknown, i: number): Action {
  const where = `actions[${i}]`;
  if (!isObject(raw)) throw new DamagedState(`${where} must be an object`);
  const type = raw.type;
  const at = field(raw, "at", where, isCount, "a number of seconds");
  switch (type) {
    case "apply":
      return {
        type,
        at,
        file: field(raw, "file", where, isName, "a file name"),
        text: field(raw, "text", where, isString, "the file's text"),
        namespace: field(raw, "namespace", where, isName, "a namespace"),
      };
    case "delete":
      return {
        type,
        at,
        kind: field(
          raw,
          "kind",
          where,
          (v): v is ObjectKind => KINDS.includes(v as ObjectKind),
          KINDS.join(", "),
        ),
        namespace: field(raw, "namespace", where, isName, "a namespace"),
        name: field(raw, "name", where, isName, "a name"),
      };
    case "scale":
      return {
        type,
        at,
        namespace: field(raw, "namespace", where, isName, "a namespace"),
        name: field(raw, "name", where, isName, "a name"),
        replicas: field(raw, "replicas", where, isCount, "a replica count"),
      };
    case "clock":
      return { type, at, seconds: field(raw, "seconds", where, isCount, "a number of seconds") };
    case "traffic":
      return {
        type,
        at,
        time: field(raw, "time", where, isCount, "a time in microseconds"),
        seed: field(raw, "seed", where, isCount, "a seed"),
        tool: field(
          raw,
          "tool",
          where,
          (v): v is TrafficTool => TRAFFIC_TOOLS.includes(v as TrafficTool),
          TRAFFIC_TOOLS.join(", "),
        ),
        from: field(raw, "from", where, isName, "a host, node or pod"),
        target: field(raw, "target", where, isName, "a URL or an address"),
        count: field(raw, "count", where, isCount, "a count"),
      };
    default:
      throw new DamagedState(
        `${where} is an unknown action ${JSON.stringify(type)} (known: apply, delete, scale, clock, traffic)`,
      );
  }
}

/** Checks everything replay relies on; a DamagedState saying what is wrong otherwise. */
export function parseState(text: string): KeptTwin {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new DamagedState(`not valid JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  if (!isObject(raw)) throw new DamagedState("not a JSON object");
  if (raw.version !== STATE_VERSION)
    throw new DamagedState(
      `version ${JSON.stringify(raw.version)} is not one this packetwalk reads (${STATE_VERSION})`,
    );
  const s = field(raw, "scenario", "state", isObject, "an object");
  const files = field(s, "files", "scenario", isObject, "an object of file texts");
  for (const [k, v] of Object.entries(files))
    if (typeof v !== "string") throw new DamagedState(`scenario.files[${JSON.stringify(k)}] must be text`);
  const rawActions = field(raw, "actions", "state", Array.isArray, "a list");
  const actions = rawActions.map(action);
  const clock = field(raw, "clock", "state", isCount, "a number of seconds");
  let t = 0;
  actions.forEach((a, i) => {
    if (a.at !== t) throw new DamagedState(`actions[${i}].at is ${a.at} but the clock was then at ${t}`);
    if (a.type === "clock") t += a.seconds;
  });
  if (clock !== t) throw new DamagedState(`clock is ${clock} but the clock actions add up to ${t}`);
  return {
    version: STATE_VERSION,
    scenario: {
      ref: field(s, "ref", "scenario", isName, "a scenario name or path"),
      path: field(s, "path", "scenario", isName, "a path"),
      text: field(s, "text", "scenario", isString, "the scenario's text"),
      files: files as Record<string, string>,
    },
    clock,
    actions,
  };
}

/** Go-style durations as kubectl and the seed write them: `30s`, `5m`, `1h`, `1h30m`. */
export function parseDuration(text: string): number | null {
  if (!/^(\d+[hms])+$/.test(text)) return null;
  let seconds = 0;
  for (const [, n, unit] of text.matchAll(/(\d+)([hms])/g))
    seconds += Number(n) * (unit === "h" ? 3600 : unit === "m" ? 60 : 1);
  return Number.isSafeInteger(seconds) ? seconds : null;
}
