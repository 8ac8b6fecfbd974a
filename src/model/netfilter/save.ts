import { type Family, formatIp, formatIpNet } from "../../core/ip.ts";
import { hex, saveString } from "./numbers.ts";
import { protoName } from "./protocols.ts";
import type { Chain, Dump, Rule, RulesetFile, Table } from "./ruleset.ts";
import { BUILTIN_CHAINS } from "./ruleset.ts";
import { saveMatch } from "./save-matches.ts";
import type { NatRange, Target } from "./targets.ts";

/**
 * Writes rulesets in the exact form `iptables-save` prints them: header fields in the kernel's
 * order (-s -d -i -o -p -f), then each match as its module saves it, then the target.
 */

export interface SaveOptions {
  /** Print `[packets:bytes]` before each rule, as `iptables-save -c` does. */
  readonly counters?: boolean;
  /**
   * `declared`: chains in the order they were read (round trip); `kernel`: built-ins first, then user
   * chains by name, as iptables-legacy-save lists them.
   */
  readonly order?: "declared" | "kernel";
}

const neg = (invert: boolean): string => (invert ? "! " : "");

function natRange(r: NatRange, family: Family): string {
  let addr = "";
  if (r.minAddr !== null && r.maxAddr !== null) {
    addr = formatIp(family, r.minAddr);
    if (r.maxAddr !== r.minAddr) addr += `-${formatIp(family, r.maxAddr)}`;
  }
  if (r.minPort === null || r.maxPort === null) return addr;
  const ports = r.minPort === r.maxPort ? `${r.minPort}` : `${r.minPort}-${r.maxPort}`;
  return family === 6 && addr !== "" ? `[${addr}]:${ports}` : `${addr}:${ports}`;
}

export function saveTarget(t: Target, family: Family): string {
  switch (t.kind) {
    case "ACCEPT":
    case "DROP":
    case "RETURN":
    case "TRACE":
      return ` -j ${t.kind}`;
    case "jump":
      return ` ${t.goto ? "-g" : "-j"} ${t.chain}`;
    case "REJECT":
      return ` -j REJECT --reject-with ${t.with}`;
    case "MARK":
      return ` -j MARK --set-xmark ${hex(t.value)}/${hex(t.mask)}`;
    case "CONNMARK":
      if (t.mode === "set") return ` -j CONNMARK --set-xmark ${hex(t.value)}/${hex(t.mask)}`;
      return ` -j CONNMARK --${t.mode}-mark --nfmask ${hex(t.nfmask)} --ctmask ${hex(t.ctmask)}`;
    case "DNAT":
    case "SNAT": {
      let s = ` -j ${t.kind} ${t.kind === "DNAT" ? "--to-destination" : "--to-source"} ${natRange(t.range, family)}`;
      if (t.random) s += " --random";
      if (t.randomFully) s += " --random-fully";
      if (t.persistent) s += " --persistent";
      return s;
    }
    case "MASQUERADE":
    case "REDIRECT": {
      let s = ` -j ${t.kind}`;
      if (t.minPort !== null && t.maxPort !== null) {
        s += ` --to-ports ${t.minPort}${t.maxPort === t.minPort ? "" : `-${t.maxPort}`}`;
      }
      if (t.random) s += " --random";
      if (t.randomFully) s += " --random-fully";
      return s;
    }
    case "LOG": {
      let s = " -j LOG";
      if (t.prefix !== null) s += ` --log-prefix ${saveString(t.prefix)}`;
      if (t.level !== 4) s += ` --log-level ${t.level}`;
      return s + t.flags.map((f) => ` ${f}`).join("");
    }
    case "NFLOG": {
      let s = " -j NFLOG";
      if (t.prefix !== null) s += ` --nflog-prefix ${saveString(t.prefix)}`;
      if (t.group !== 0) s += ` --nflog-group ${t.group}`;
      if (t.range !== null) s += ` --nflog-range ${t.range}`;
      if (t.size !== null) s += ` --nflog-size ${t.size}`;
      if (t.threshold !== 0) s += ` --nflog-threshold ${t.threshold}`;
      return s;
    }
    case "CT":
    case "NOTRACK":
      if (t.kind === "NOTRACK") return " -j NOTRACK";
      return ` -j CT${t.notrack ? " --notrack" : ""}${t.options.map((o) => ` ${o}`).join("")}`;
    case "unknown":
      return ` -j ${t.name}${t.tokens.map((w) => ` ${/^[^\s"'\\]+$/.test(w) ? w : saveString(w)}`).join("")}`;
  }
}

/** One rule line, without a trailing newline. */
export function formatRule(rule: Rule, family: Family, options: SaveOptions = {}): string {
  let s = options.counters && rule.counters ? `[${rule.counters.packets}:${rule.counters.bytes}] ` : "";
  s += `-A ${rule.chain}`;
  if (rule.error !== null) return rule.text ? `${s} ${rule.text}` : s;
  if (rule.src) s += ` ${neg(rule.src.invert)}-s ${formatIpNet(rule.src.net)}`;
  if (rule.dst) s += ` ${neg(rule.dst.invert)}-d ${formatIpNet(rule.dst.net)}`;
  if (rule.inIface) s += ` ${neg(rule.inIface.invert)}-i ${rule.inIface.name}`;
  if (rule.outIface) s += ` ${neg(rule.outIface.invert)}-o ${rule.outIface.name}`;
  if (rule.proto && rule.proto.proto !== 0)
    s += ` ${neg(rule.proto.invert)}-p ${protoName(rule.proto.proto)}`;
  if (rule.fragment) s += ` ${neg(rule.fragment.invert)}-f`;
  for (const m of rule.matches) s += saveMatch(m, family);
  if (rule.target) s += saveTarget(rule.target, family);
  return s;
}

function orderedChains(table: Table, order: SaveOptions["order"]): readonly Chain[] {
  if (order !== "kernel") return table.chains;
  const builtins = BUILTIN_CHAINS[table.name];
  const byBuiltin = builtins
    .map((n) => table.chains.find((c) => c.name === n))
    .filter((c): c is Chain => !!c);
  const users = table.chains.filter((c) => !builtins.includes(c.name));
  // libiptc keeps user chains sorted with strcmp: plain code-unit order, not locale order.
  users.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return [...byBuiltin, ...users];
}

export function formatTable(table: Table, family: Family, options: SaveOptions = {}): string {
  const chains = orderedChains(table, options.order);
  const out: string[] = [`*${table.name}`];
  for (const c of chains) {
    const counters = c.counters ? `[${c.counters.packets}:${c.counters.bytes}]` : "[0:0]";
    out.push(`:${c.name} ${c.policy ?? "-"} ${counters}`);
  }
  for (const c of chains) for (const r of c.rules) out.push(formatRule(r, family, options));
  out.push("COMMIT");
  return `${out.join("\n")}\n`;
}

export function formatDump(dump: Dump, options: SaveOptions = {}): string {
  let s = "";
  for (let i = 0; i <= dump.tables.length; i++) {
    for (const c of dump.comments) if (c.beforeTable === i) s += `${c.text}\n`;
    const t = dump.tables[i];
    if (t) s += formatTable(t, dump.family, options);
  }
  return s;
}

export function formatRulesetFile(file: RulesetFile, options: SaveOptions = {}): string {
  return file.dumps.map((d) => formatDump(d, options)).join("");
}
