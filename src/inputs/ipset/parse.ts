import type { Diagnostic, Parsed, Severity } from "../../core/diagnostic.ts";
import { type Family, parseIpv4, prefixToMask4 } from "../../core/ip.ts";
import {
  type IpSet,
  type IpSetMember,
  type IpSetOption,
  type IpSetRegistry,
  ipSetDimensions,
  isKnownIpSetType,
} from "../../model/ipset.ts";
import {
  ENTRY_OPTIONS,
  type EntryRules,
  MAX_TIMEOUT,
  type MutableMember,
  parseEntry,
  parseSetAddress,
  setEntryOption,
  U32,
} from "./entry.ts";

/**
 * Reads `ipset save` output (ipset 7.x): `create NAME TYPE [options]` then `add NAME ENTRY
 * [options]` lines. Words are split as `ipset restore` splits them; names may hold any
 * non-blank character (weave's `weave-;rGqyMIl1HN^cfDki~Z$3]6!N`). Never throws: every problem is a
 * Diagnostic, and a bad line is skipped while the rest is read.
 */

interface Token {
  readonly text: string;
  /** 1-based, pointing at the opening quote of a quoted word. */
  readonly column: number;
}

/**
 * ipset's build_argv (lib/ipset.c): blanks separate words, a double quote toggles quoting and is
 * dropped, there are no escapes, and empty words vanish. null when a quote is left open.
 */
function tokenize(line: string): Token[] | null {
  const tokens: Token[] = [];
  let text = "";
  let start = -1;
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (!quoted && (ch === " " || ch === "\t")) {
      if (text !== "") tokens.push({ text, column: start + 1 });
      text = "";
      start = -1;
      continue;
    }
    if (start < 0) start = i;
    if (ch === '"') quoted = !quoted;
    else text += ch;
  }
  if (quoted) return null;
  if (text !== "") tokens.push({ text, column: start + 1 });
  return tokens;
}

/** IPSET_MAXNAMELEN is 32 with the terminating NUL. */
const MAX_NAME = 31;

/** The lines of `ipset list` (plain) output, recognised to say which command to run instead. */
const LIST_HEADER = /^(Name|Type|Revision|Header|Size in memory|References|Number of entries|Members):/;

type Applies = (type: string) => boolean;
const always: Applies = () => true;
const hash: Applies = (t) => t.startsWith("hash:");
const oneOf =
  (...types: string[]): Applies =>
  (t) =>
    types.includes(t);

/** Create options: whether they take a value, and which types take them (ipset's CREATE args). */
const CREATE_OPTIONS: ReadonlyMap<string, { readonly value: boolean; readonly applies: Applies }> = new Map([
  ["hashsize", { value: true, applies: hash }],
  ["maxelem", { value: true, applies: hash }],
  ["bucketsize", { value: true, applies: hash }],
  ["initval", { value: true, applies: hash }],
  ["forceadd", { value: false, applies: hash }],
  ["netmask", { value: true, applies: oneOf("hash:ip", "hash:ip,port", "hash:net,net", "bitmap:ip") }],
  ["bitmask", { value: true, applies: oneOf("hash:ip", "hash:ip,port", "hash:net,net") }],
  ["markmask", { value: true, applies: oneOf("hash:ip,mark") }],
  ["range", { value: true, applies: (t) => t.startsWith("bitmap:") }],
  ["size", { value: true, applies: oneOf("list:set") }],
  ["timeout", { value: true, applies: always }],
  ["counters", { value: false, applies: always }],
  ["comment", { value: false, applies: always }],
  ["skbinfo", { value: false, applies: always }],
]);

interface Draft {
  readonly set: Omit<IpSet, "members">;
  readonly known: boolean;
  readonly rules: EntryRules;
  readonly members: IpSetMember[];
}

interface Line {
  report(column: number, code: string, detail: string, severity?: Severity): void;
}

export function parseIpsetSave(text: string, sourceName: string): Parsed<IpSetRegistry> {
  const diagnostics: Diagnostic[] = [];
  const drafts = new Map<string, Draft>();
  const lines = text.split("\n");
  for (let index = 0; index < lines.length; index++) {
    const raw = (lines[index] ?? "").replace(/\r$/, "");
    const line: Line = {
      report(column, code, detail, severity = "error") {
        diagnostics.push({
          code,
          severity,
          message: `Cannot parse ipset line ${index + 1}: ${detail}`,
          source: { file: sourceName, line: index + 1, column },
        });
      },
    };
    const trimmed = raw.trimStart();
    // ipset restore skips blank and `#` lines and takes COMMIT (lib/ipset.c ipset_parse_stream).
    if (trimmed === "" || trimmed.startsWith("#") || trimmed.trimEnd() === "COMMIT") continue;
    if (LIST_HEADER.test(trimmed)) {
      line.report(
        1,
        "ipset.list-format",
        'this is "ipset list" output; only "ipset save" output is understood',
      );
      break;
    }
    const tokens = tokenize(raw);
    if (tokens === null) {
      line.report(raw.lastIndexOf('"') + 1, "ipset.unclosed-quote", "a double quote is not closed");
      continue;
    }
    const command = tokens[0];
    if (command === undefined) continue;
    if (command.text === "create") readCreate(tokens, line, drafts);
    else if (command.text === "add") readAdd(tokens, line, drafts);
    else {
      line.report(
        command.column,
        "ipset.unknown-command",
        `unknown command "${command.text}"; only the "create" and "add" lines of ipset save are understood`,
      );
    }
  }
  const registry = new Map<string, IpSet>();
  for (const [name, draft] of drafts) registry.set(name, { ...draft.set, members: draft.members });
  return { value: registry, diagnostics };
}

function readCreate(tokens: readonly Token[], line: Line, drafts: Map<string, Draft>): void {
  const [command, name, type] = tokens;
  if (command === undefined || name === undefined || type === undefined) {
    line.report(0, "ipset.missing-argument", '"create" needs a set name and a type');
    return;
  }
  if (name.text.length > MAX_NAME) {
    line.report(
      name.column,
      "ipset.bad-name",
      `set name "${name.text}" is longer than ${MAX_NAME} characters`,
    );
    return;
  }
  if (drafts.has(name.text)) {
    line.report(name.column, "ipset.duplicate-set", `set "${name.text}" is created twice`);
    return;
  }
  const known = isKnownIpSetType(type.text);
  if (!known) {
    line.report(
      type.column,
      "ipset.unknown-type",
      `unknown set type "${type.text}"; its members are kept as text`,
      "warning",
    );
  }
  const options: IpSetOption[] = [];
  const valueColumns = new Map<string, number>();
  let familyText: string | null = null;
  for (let i = 3; i < tokens.length; i++) {
    const key = tokens[i] as Token;
    const takesFamily = type.text.startsWith("hash:") && type.text !== "hash:mac";
    const spec =
      key.text === "family" ? { value: true, applies: () => takesFamily } : CREATE_OPTIONS.get(key.text);
    if (spec === undefined && known) {
      line.report(key.column, "ipset.unknown-option", `unknown create option "${key.text}"`);
      continue;
    }
    if (spec !== undefined && known && !spec.applies(type.text)) {
      line.report(
        key.column,
        "ipset.unknown-option",
        `create option "${key.text}" does not apply to ${type.text}`,
      );
      if (spec.value) i++;
      continue;
    }
    // An unknown type's unknown option cannot tell whether it takes a value: keep it as a flag.
    if (spec === undefined || !spec.value) {
      options.push([key.text, null]);
      continue;
    }
    const value = tokens[++i];
    if (value === undefined) {
      line.report(key.column, "ipset.bad-option", `create option "${key.text}" needs a value`);
      continue;
    }
    if (key.text === "family") familyText = value.text;
    else options.push([key.text, value.text]);
    valueColumns.set(key.text, value.column);
  }
  const family = readFamily(type.text, familyText, line, valueColumns.get("family") ?? 0);
  if (family === undefined) return;
  for (const [key, value] of options) {
    const problem = value === null ? null : checkCreateValue(key, value, type.text, family);
    if (problem !== null) {
      line.report(valueColumns.get(key) ?? 0, "ipset.bad-option", `create option "${key}" ${problem}`);
      return;
    }
  }
  const set = { name: name.text, type: type.text, family, options };
  drafts.set(name.text, { set, known, rules: entryRules(set), members: [] });
}

/** The family a type is registered with, or the one `family` names; undefined after a report. */
function readFamily(
  type: string,
  text: string | null,
  line: Line,
  column: number,
): Family | null | undefined {
  if (text === null) {
    if (type.startsWith("hash:") && type !== "hash:mac") return 4; // ipset's default family is inet
    return type.startsWith("bitmap:ip") ? 4 : null;
  }
  if (text === "inet") return 4;
  if (text === "inet6") return 6;
  line.report(
    column,
    "ipset.bad-option",
    `create option "family" has the value "${text}", not inet or inet6`,
  );
  return undefined;
}

/** Why a create option's value is wrong, or null when it is fine. */
function checkCreateValue(key: string, value: string, type: string, family: Family | null): string | null {
  const bad = `has the bad value "${value}"`;
  switch (key) {
    case "hashsize":
    case "maxelem":
    case "size":
      return U32.test(value) && Number(value) <= 0xffffffff ? null : bad;
    case "bucketsize":
      return /^\d{1,2}$/.test(value) ? null : bad;
    case "timeout":
      return /^\d{1,7}$/.test(value) && Number(value) <= MAX_TIMEOUT ? null : bad;
    case "initval":
    case "markmask":
      return /^(0x[0-9a-fA-F]{1,8}|\d{1,10})$/.test(value) && Number(value) <= 0xffffffff ? null : bad;
    case "netmask":
      return /^\d{1,3}$/.test(value) && Number(value) >= 1 && Number(value) <= (family === 6 ? 128 : 32)
        ? null
        : bad;
    case "bitmask":
      return parseSetAddress(value, family ?? 4) === null ? bad : null;
    case "range":
      return parseRange(value, type) === null ? bad : null;
    default:
      return null;
  }
}

/** bitmap:port `from-to`, or bitmap:ip(,mac) `from-to` / `net/prefix` as inclusive IPv4 bounds. */
function parseRange(value: string, type: string): readonly [number, number] | null {
  if (type === "bitmap:port") {
    const m = /^(\d{1,5})-(\d{1,5})$/.exec(value);
    if (!m) return null;
    const [from, to] = [Number(m[1]), Number(m[2])];
    return from <= to && to <= 65535 ? [from, to] : null;
  }
  const dash = value.split("-");
  if (dash.length === 2) {
    const [from, to] = [parseIpv4(dash[0] ?? ""), parseIpv4(dash[1] ?? "")];
    return from !== null && to !== null && from <= to ? [from, to] : null;
  }
  const m = /^([^/]+)\/(\d{1,2})$/.exec(value);
  const base = m ? parseIpv4(m[1] ?? "") : null;
  if (!m || base === null || Number(m[2]) > 32) return null;
  const mask = prefixToMask4(Number(m[2]));
  return [(base & mask) >>> 0, (base | ~mask) >>> 0];
}

/** What the kernel does to an entry before storing it, derived once from the create options. */
function entryRules(set: Omit<IpSet, "members">): EntryRules {
  const option = (key: string) => set.options.find(([k]) => k === key)?.[1] ?? null;
  const netmask = option("netmask");
  const bitmask = option("bitmask");
  const range = option("range");
  return {
    type: set.type,
    family: set.family,
    netmask: netmask === null ? null : Number(netmask),
    bitmask: bitmask === null ? null : parseSetAddress(bitmask, set.family ?? 4),
    markmask: option("markmask") === null ? 0xffffffff : Number(option("markmask")),
    range: range === null ? null : parseRange(range, set.type),
  };
}

function readAdd(tokens: readonly Token[], line: Line, drafts: ReadonlyMap<string, Draft>): void {
  const [, name, entry] = tokens;
  if (name === undefined || entry === undefined) {
    line.report(0, "ipset.missing-argument", '"add" needs a set name and an entry');
    return;
  }
  const draft = drafts.get(name.text);
  if (draft === undefined) {
    line.report(name.column, "ipset.unknown-set", `set "${name.text}" has no create line before this one`);
    return;
  }
  const elements = draft.known
    ? parseEntry(entry.text, draft.rules, (setName) => drafts.get(setName)?.set.type ?? null)
    : [{ kind: "raw" as const, text: entry.text }];
  if (!Array.isArray(elements)) {
    line.report(entry.column, elements.code, elements.detail);
    return;
  }
  const member: MutableMember = { elements, nomatch: false, wildcard: false };
  for (let i = 3; i < tokens.length; i++) {
    const key = tokens[i] as Token;
    const spec = ENTRY_OPTIONS.get(key.text);
    if (spec === undefined) {
      line.report(key.column, "ipset.unknown-option", `unknown entry option "${key.text}"`);
      return;
    }
    const problem = optionProblem(key.text, spec.needs, draft);
    if (problem !== null) {
      line.report(key.column, "ipset.bad-option", problem);
      return;
    }
    const value = spec.value ? tokens[++i] : undefined;
    if (spec.value && value === undefined) {
      line.report(key.column, "ipset.bad-option", `entry option "${key.text}" needs a value`);
      return;
    }
    if (!setEntryOption(member, key.text, value?.text ?? "")) {
      line.report(
        value?.column ?? key.column,
        "ipset.bad-option",
        `entry option "${key.text}" has the bad value "${value?.text}"`,
      );
      return;
    }
  }
  draft.members.push(member);
}

/** Why an entry option cannot be used in this set, or null. */
function optionProblem(key: string, needs: string | null, draft: Draft): string | null {
  if (needs !== null && !draft.set.options.some(([k]) => k === needs)) {
    return `entry option "${key}" needs a set created with "${needs}"`;
  }
  if (!draft.known) return null;
  if (key === "nomatch" && !ipSetDimensions(draft.set.type).includes("net")) {
    return `entry option "nomatch" applies only to hash types with a net, not ${draft.set.type}`;
  }
  if (key === "wildcard" && draft.set.type !== "hash:net,iface") {
    return `entry option "wildcard" applies only to hash:net,iface, not ${draft.set.type}`;
  }
  return null;
}
