import { formatIp, type IpNet } from "../../../core/ip.ts";
import { hex } from "../../../model/netfilter/numbers.ts";
import { protoName } from "../../../model/netfilter/protocols.ts";
import { BUILTIN_CHAINS, type Chain, type Rule, type Table } from "../../../model/netfilter/ruleset.ts";
import { formatRule } from "../../../model/netfilter/save.ts";
import type { NatRange, Target } from "../../../model/netfilter/targets.ts";
import type { NodeState } from "../../../model/node.ts";
import type { CommandResult } from "../types.ts";
import { listMatch } from "./iptables-list-match.ts";
import { compareVersions, iptablesVersion, kernelChains, tableOf } from "./iptables-save.ts";

/**
 * `iptables [-t T] -L [CHAIN] [-n] [-v] [-x] [--line-numbers]` and `-S [CHAIN]`, laid out as
 * iptables.c print_header/print_firewall do (1.6.0 and 1.8.9 alike, except where noted).
 */

interface Format {
  readonly numeric: boolean;
  readonly verbose: boolean;
  readonly exact: boolean;
  readonly lineNumbers: boolean;
  /** 1.8.9 prints protocol numbers under -n (`0`, `6`); 1.6 and 1.8.7 print `all`, `tcp`. */
  readonly numericProto: boolean;
}

/** xtables_print_num: `%8llu` exact, else `%5llu` or K/M/G/T with `%4llu`. 1.8 rounds, 1.6 truncates. */
function num(n: bigint, f: Format, round: boolean): string {
  if (f.exact) return `${String(n).padStart(8)} `;
  if (n <= 99999n) return `${String(n).padStart(5)} `;
  for (const unit of ["K", "M", "G", "T"]) {
    n = round ? (n + 500n) / 1000n : n / 1000n;
    if (n <= 9999n || unit === "T") return `${String(n).padStart(4)}${unit} `;
  }
  return "";
}

/** The policy's counters, as print_header prints them with FMT_NOTABLE (no padding). */
function plainNum(n: bigint, f: Format, round: boolean): string {
  return num(n, f, round).trim() + " ";
}

/** /etc/networks (Debian netbase) names getnetbyaddr() finds for network addresses. */
const NETWORKS: ReadonlyMap<string, string> = new Map([
  ["127.0.0.0", "loopback"],
  ["169.254.0.0", "link-local"],
]);

/** xtables_ipaddr_to_anyname + xtables_ipmask_to_numeric; 0.0.0.0/0 is `anywhere` without -n. */
function address(net: IpNet | undefined, f: Format): string {
  if (!net || net.prefix === 0) return f.numeric ? "0.0.0.0/0" : "anywhere";
  const ip = formatIp(net.family, net.addr);
  const full = net.family === 4 ? 32 : 128;
  const mask =
    net.prefix === null ? `/${formatIp(net.family, net.mask)}` : net.prefix === full ? "" : `/${net.prefix}`;
  if (f.numeric) return ip + mask;
  if (ip === "127.0.0.1") return `localhost${mask}`;
  return (NETWORKS.get(ip) ?? ip) + mask;
}

function natRange(r: NatRange): string {
  let s = "";
  if (r.minAddr !== null && r.maxAddr !== null) {
    s = formatIp(4, r.minAddr);
    if (r.maxAddr !== r.minAddr) s += `-${formatIp(4, r.maxAddr)}`;
  }
  if (r.minPort !== null && r.maxPort !== null) {
    s += `:${r.minPort}${r.maxPort === r.minPort ? "" : `-${r.maxPort}`}`;
  }
  return s;
}

const LOG_LEVELS = ["emerg", "alert", "crit", "error", "warning", "notice", "info", "debug"];

/** The target's own print function (libxt_*.c); built-in verdicts and jumps print nothing. */
function listTarget(t: Target, f: Format): string {
  switch (t.kind) {
    case "ACCEPT":
    case "DROP":
    case "RETURN":
    case "jump":
    case "TRACE":
      return "";
    case "REJECT":
      return ` reject-with ${t.with}`;
    case "MARK":
    case "CONNMARK": {
      if (t.kind === "CONNMARK" && t.mode !== "set") {
        const word = ` CONNMARK ${t.mode}`;
        if (t.nfmask === 0xffffffff && t.ctmask === 0xffffffff) return word;
        if (t.nfmask === t.ctmask) return `${word} mask ${hex(t.nfmask)}`;
        return `${word} nfmask ${hex(t.nfmask)} ctmask ~${hex(t.ctmask)}`;
      }
      // libxt_MARK mark_tg_print / libxt_CONNMARK: the kernel's (value, mask) read back as an operation.
      const name = t.kind;
      if (t.value === 0) return ` ${name} and ${hex(~t.mask >>> 0)}`;
      if (t.value === t.mask) return ` ${name} or ${hex(t.value)}`;
      if (t.mask === 0) return ` ${name} xor ${hex(t.value)}`;
      if (t.mask === 0xffffffff) return ` ${name} set ${hex(t.value)}`;
      return ` ${name} xset ${hex(t.value)}/${hex(t.mask)}`;
    }
    case "DNAT":
    case "SNAT": {
      let s = ` to:${natRange(t.range)}`;
      if (t.random) s += " random";
      if (t.randomFully) s += " random-fully";
      if (t.persistent) s += " persistent";
      return s;
    }
    case "MASQUERADE":
    case "REDIRECT": {
      let s = "";
      if (t.minPort !== null && t.maxPort !== null) {
        s += `${t.kind === "MASQUERADE" ? " masq ports:" : " redir ports"} ${t.minPort}`;
        if (t.maxPort !== t.minPort) s += `-${t.maxPort}`;
      }
      if (t.random) s += " random";
      if (t.randomFully) s += " random-fully";
      return s;
    }
    case "LOG": {
      let s = f.numeric ? ` LOG flags 0 level ${t.level}` : ` LOG level ${LOG_LEVELS[t.level] ?? t.level}`;
      if (!f.numeric) s += t.flags.map((fl) => ` ${fl.replace(/^--log-/, "")}`).join("");
      if (t.prefix !== null) s += ` prefix "${t.prefix}"`;
      return s;
    }
    case "NFLOG": {
      let s = "";
      if (t.prefix !== null) s += ` nflog-prefix ${t.prefix}`;
      if (t.group !== 0) s += ` nflog-group ${t.group}`;
      if (t.range !== null) s += ` nflog-range ${t.range}`;
      if (t.size !== null) s += ` nflog-size ${t.size}`;
      if (t.threshold !== 0) s += ` nflog-threshold ${t.threshold}`;
      return s;
    }
    case "CT":
    case "NOTRACK":
      return t.notrack || t.kind === "NOTRACK" ? " CT notrack" : ` CT ${t.options.join(" ")}`;
    case "unknown":
      return t.tokens.length > 0 ? ` ${t.tokens.join(" ")}` : "";
  }
}

function targetName(t: Target | null): string {
  if (t === null) return "";
  if (t.kind === "jump") return t.chain;
  if (t.kind === "unknown") return t.name;
  if (t.kind === "NOTRACK") return "CT";
  return t.kind;
}

function ruleLine(rule: Rule, n: number, f: Format, round: boolean): string {
  let s = f.lineNumbers ? `${String(n).padEnd(4)} ` : "";
  if (f.verbose) {
    const c = rule.counters ?? { packets: 0n, bytes: 0n };
    s += num(c.packets, f, round) + num(c.bytes, f, round);
  }
  s += `${targetName(rule.target).padEnd(9)} `;
  const proto = rule.proto?.proto ?? 0;
  s += rule.proto?.invert ? "!" : " ";
  const pname = f.numeric && f.numericProto ? String(proto) : proto === 0 ? "all" : protoName(proto);
  s += pname.padEnd(5);
  s += `${rule.fragment?.invert ? "!" : "-"}${rule.fragment ? "f" : "-"} `;
  if (f.verbose) {
    const any = f.numeric ? "*" : "any";
    const iface = (i: Rule["inIface"]): string => (i ? `${i.invert ? "!" : ""}${i.name}` : any);
    s += ` ${iface(rule.inIface).padEnd(6)} ${iface(rule.outIface).padEnd(6)} `;
  }
  s += `${rule.src?.invert ? "!" : " "}${address(rule.src?.net, f).padEnd(19)} `;
  s += `${rule.dst?.invert ? "!" : " "}${address(rule.dst?.net, f).padEnd(19)} `;
  if (rule.target?.kind === "jump" && rule.target.goto) s += "[goto] ";
  if (rule.error !== null) return `${s} ${rule.text ?? ""}`;
  for (const m of rule.matches) s += listMatch(m, f.numeric);
  if (rule.target) s += listTarget(rule.target, f);
  return s;
}

/** Rules of the table that jump (or go) to the chain: libiptc's reference count. */
function references(table: Table, chain: string): number {
  let n = 0;
  for (const c of table.chains)
    for (const r of c.rules) if (r.target?.kind === "jump" && r.target.chain === chain) n++;
  return n;
}

function header(table: Table, chain: Chain, f: Format, round: boolean): string {
  let s = `Chain ${chain.name}`;
  if (BUILTIN_CHAINS[table.name].includes(chain.name)) {
    const c = chain.counters ?? { packets: 0n, bytes: 0n };
    s += ` (policy ${chain.policy ?? "ACCEPT"}`;
    if (f.verbose) s += ` ${plainNum(c.packets, f, round)}packets, ${plainNum(c.bytes, f, round)}bytes`;
    s += ")\n";
  } else s += ` (${references(table, chain.name)} references)\n`;
  if (f.lineNumbers) s += "num  ";
  if (f.verbose) s += f.exact ? "    pkts      bytes " : " pkts bytes ";
  s += "target     prot opt";
  if (f.verbose) s += " in     out    ";
  return `${s} source               destination         \n`;
}

interface Parsed {
  table: string;
  command: "L" | "S";
  chain: string | null;
  f: { numeric: boolean; verbose: boolean; exact: boolean; lineNumbers: boolean };
}

function parseArgs(args: readonly string[]): Parsed | string {
  const p: Parsed = {
    table: "filter",
    command: "L",
    chain: null,
    f: { numeric: false, verbose: false, exact: false, lineNumbers: false },
  };
  let command: "L" | "S" | null = null;
  const long: Readonly<Record<string, string>> = {
    "--list": "L",
    "--list-rules": "S",
    "--numeric": "n",
    "--verbose": "v",
    "--exact": "x",
    "--table": "t",
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--line-numbers") {
      p.f.lineNumbers = true;
      continue;
    }
    const letters = long[a] ?? (/^-[A-Za-z]+$/.test(a) ? a.slice(1) : null);
    if (letters === null) {
      if (command !== null && p.chain === null && !a.startsWith("-")) {
        p.chain = a;
        continue;
      }
      return `unknown argument \`${a}'`;
    }
    for (const l of letters) {
      if (l === "n") p.f.numeric = true;
      else if (l === "v") p.f.verbose = true;
      else if (l === "x") p.f.exact = true;
      else if (l === "t") {
        const t = args[++i];
        if (t === undefined) return 'option "-t" requires an argument';
        p.table = t;
      } else if (l === "L" || l === "S") {
        command = l;
        const next = args[i + 1];
        if (next !== undefined && !next.startsWith("-")) {
          p.chain = next;
          i++;
        }
      } else return `unknown option "-${l}"`;
    }
  }
  if (command === null) return "only -L and -S are emulated";
  p.command = command;
  return p;
}

function listRules(table: Table, chains: readonly Chain[], verbose: boolean): string {
  let s = "";
  const counters = (c: Rule["counters"]): string =>
    verbose ? ` -c ${c?.packets ?? 0n} ${c?.bytes ?? 0n}` : "";
  for (const c of chains) {
    if (BUILTIN_CHAINS[table.name].includes(c.name))
      s += `-P ${c.name} ${c.policy ?? "ACCEPT"}${counters(c.counters)}\n`;
    else s += `-N ${c.name}\n`;
  }
  for (const c of chains) {
    for (const r of c.rules) {
      const text = formatRule(r, 4);
      s += verbose ? text.replace(/^(-A \S+)/, `$1${counters(r.counters)}`) + "\n" : `${text}\n`;
    }
  }
  return s;
}

export function iptablesList(node: NodeState, args: readonly string[]): CommandResult {
  const version = iptablesVersion(node);
  const p = parseArgs(args);
  if (typeof p === "string") {
    return {
      stdout: "",
      stderr: `iptables v${version}: ${p}\nTry \`iptables -h' or 'iptables --help' for more information.\n`,
      exitCode: 2,
    };
  }
  const table = tableOf(node, p.table);
  if (table === null) {
    return {
      stdout: "",
      stderr: `iptables v${version}: can't initialize iptables table \`${p.table}': Table does not exist (do you need to insmod?)\nPerhaps iptables or your kernel needs to be upgraded.\n`,
      exitCode: 3,
    };
  }
  let chains = kernelChains(table);
  if (p.chain !== null) {
    chains = chains.filter((c) => c.name === p.chain);
    if (chains.length === 0) {
      return { stdout: "", stderr: "iptables: No chain/target/match by that name.\n", exitCode: 1 };
    }
  }
  if (p.command === "S") return { stdout: listRules(table, chains, p.f.verbose), stderr: "", exitCode: 0 };
  const f: Format = { ...p.f, numericProto: version === "1.8.9" };
  // xtables_print_num rounds to the nearest unit since 1.8 (1.6.0 divided, truncating).
  const round = compareVersions(version, "1.8.0") >= 0;
  const blocks = chains.map(
    (c) => header(table, c, f, round) + c.rules.map((r, i) => `${ruleLine(r, i + 1, f, round)}\n`).join(""),
  );
  return { stdout: blocks.join("\n"), stderr: "", exitCode: 0 };
}
