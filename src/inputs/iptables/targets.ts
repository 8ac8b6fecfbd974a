import { type Family, parseIpv4, parseIpv6 } from "../../core/ip.ts";
import { parsePort, parseU32 } from "../../model/netfilter/numbers.ts";
import type { NatRange, Target } from "../../model/netfilter/targets.ts";

/**
 * `-j` target extensions. Each declares its options (name -> argument count) the way libxtables
 * does, takes them one by one and builds the Target; values are normalised to what the kernel
 * stores, so the writer prints what iptables-save prints (e.g. every MARK form as --set-xmark).
 */

export interface TargetParser {
  readonly options: ReadonlyMap<string, number>;
  /** As ModuleParser.accept: `args` is reused for the next option. */
  accept(option: string, invert: boolean, args: readonly string[]): string | null;
  finish(): Target | string;
}

/**
 * Read when the parser is made (the caller may change it afterwards): a target sees the protocol
 * given before it, as iptables does.
 */
interface TargetContext {
  readonly family: Family;
  readonly proto: number;
}

const REJECT_V4: ReadonlyMap<string, string> = new Map([
  ["icmp-net-unreachable", "icmp-net-unreachable"],
  ["net-unreach", "icmp-net-unreachable"],
  ["icmp-host-unreachable", "icmp-host-unreachable"],
  ["host-unreach", "icmp-host-unreachable"],
  ["icmp-proto-unreachable", "icmp-proto-unreachable"],
  ["proto-unreach", "icmp-proto-unreachable"],
  ["icmp-port-unreachable", "icmp-port-unreachable"],
  ["port-unreach", "icmp-port-unreachable"],
  ["icmp-net-prohibited", "icmp-net-prohibited"],
  ["net-prohib", "icmp-net-prohibited"],
  ["icmp-host-prohibited", "icmp-host-prohibited"],
  ["host-prohib", "icmp-host-prohibited"],
  ["tcp-reset", "tcp-reset"],
  ["tcp-rst", "tcp-reset"],
  ["icmp-admin-prohibited", "icmp-admin-prohibited"],
  ["admin-prohib", "icmp-admin-prohibited"],
]);

const REJECT_V6: ReadonlyMap<string, string> = new Map([
  ["icmp6-no-route", "icmp6-no-route"],
  ["no-route", "icmp6-no-route"],
  ["icmp6-adm-prohibited", "icmp6-adm-prohibited"],
  ["adm-prohibited", "icmp6-adm-prohibited"],
  ["icmp6-addr-unreachable", "icmp6-addr-unreachable"],
  ["addr-unreach", "icmp6-addr-unreachable"],
  ["icmp6-port-unreachable", "icmp6-port-unreachable"],
  ["port-unreach", "icmp6-port-unreachable"],
  ["icmp6-policy-fail", "icmp6-policy-fail"],
  ["icmp6-reject-route", "icmp6-reject-route"],
  ["tcp-reset", "tcp-reset"],
]);

const LOG_LEVELS: ReadonlyMap<string, number> = new Map([
  ["emerg", 0],
  ["panic", 0],
  ["alert", 1],
  ["crit", 2],
  ["err", 3],
  ["error", 3],
  ["warn", 4],
  ["warning", 4],
  ["notice", 5],
  ["info", 6],
  ["debug", 7],
]);

type Parsed = { -readonly [K in keyof TargetParser]: TargetParser[K] };

const NO_OPTIONS: ReadonlyMap<string, number> = new Map();

/** A target without options: one parser and one Target for every rule that uses it. */
function simple(target: Target): TargetParser {
  Object.freeze(target);
  return { options: NO_OPTIONS, accept: (o) => `unknown option "${o}"`, finish: () => target };
}

const SIMPLE: ReadonlyMap<string, TargetParser> = new Map([
  ["ACCEPT", simple({ kind: "ACCEPT" })],
  ["DROP", simple({ kind: "DROP" })],
  ["RETURN", simple({ kind: "RETURN" })],
  ["TRACE", simple({ kind: "TRACE" })],
]);

function parseMarkPair(text: string): { value: number; mask: number | null } | null {
  const [v, m] = text.split("/");
  const value = parseU32(v ?? "");
  const mask = m === undefined ? null : parseU32(m);
  if (value === null || (m !== undefined && mask === null)) return null;
  return { value, mask };
}

const MARK_OPTIONS: ReadonlyMap<string, number> = new Map(
  ["--set-xmark", "--set-mark", "--or-mark", "--xor-mark", "--and-mark"].map((o) => [o, 1]),
);

function markTarget(): TargetParser {
  let result: { value: number; mask: number } | null = null;
  const p: Parsed = {
    options: MARK_OPTIONS,
    accept(opt, invert, args) {
      if (invert) return `${opt} cannot be negated`;
      if (result) return "MARK takes only one of --set-xmark, --set-mark, --or-mark, --and-mark, --xor-mark";
      const pair = parseMarkPair(args[0] ?? "");
      if (!pair) return `invalid mark "${args[0] ?? ""}"`;
      // libxt_MARK mark_tg_parse: every form becomes mark = (mark & ~mask) ^ value.
      if (opt === "--set-xmark") result = { value: pair.value, mask: pair.mask ?? 0xffffffff };
      else if (opt === "--set-mark")
        result = { value: pair.value, mask: ((pair.mask ?? 0xffffffff) | pair.value) >>> 0 };
      else if (pair.mask !== null) return `${opt} takes a value without a mask`;
      else if (opt === "--or-mark") result = { value: pair.value, mask: pair.value };
      else if (opt === "--xor-mark") result = { value: pair.value, mask: 0 };
      else result = { value: 0, mask: ~pair.value >>> 0 };
      return null;
    },
    finish: () =>
      result
        ? { kind: "MARK", ...result }
        : "MARK needs --set-xmark, --set-mark, --or-mark, --and-mark or --xor-mark",
  };
  return p;
}

const CONNMARK_OPTIONS: ReadonlyMap<string, number> = new Map([
  ...[
    "--set-xmark",
    "--set-mark",
    "--or-mark",
    "--xor-mark",
    "--and-mark",
    "--nfmask",
    "--ctmask",
    "--mask",
  ].map((o) => [o, 1] as const),
  ["--save-mark", 0],
  ["--restore-mark", 0],
]);

function connmarkTarget(): TargetParser {
  let set: { value: number; mask: number } | null = null;
  let mode: "save" | "restore" | null = null;
  let nfmask = 0xffffffff;
  let ctmask = 0xffffffff;
  return {
    options: CONNMARK_OPTIONS,
    accept(opt, invert, args) {
      if (invert) return `${opt} cannot be negated`;
      if (opt === "--save-mark" || opt === "--restore-mark") {
        if (mode || set) return "CONNMARK takes one action";
        mode = opt === "--save-mark" ? "save" : "restore";
        return null;
      }
      if (opt === "--nfmask" || opt === "--ctmask" || opt === "--mask") {
        const v = parseU32(args[0] ?? "");
        if (v === null) return `invalid mask "${args[0] ?? ""}"`;
        if (opt !== "--ctmask") nfmask = v;
        if (opt !== "--nfmask") ctmask = v;
        return null;
      }
      if (mode || set) return "CONNMARK takes one action";
      const pair = parseMarkPair(args[0] ?? "");
      if (!pair) return `invalid mark "${args[0] ?? ""}"`;
      // libxt_CONNMARK connmark_tg_parse, the same normalisation as MARK.
      if (opt === "--set-xmark") set = { value: pair.value, mask: pair.mask ?? 0xffffffff };
      else if (opt === "--set-mark")
        set = { value: pair.value, mask: ((pair.mask ?? 0xffffffff) | pair.value) >>> 0 };
      else if (opt === "--or-mark") set = { value: pair.value, mask: pair.value };
      else if (opt === "--xor-mark") set = { value: pair.value, mask: 0 };
      else set = { value: 0, mask: ~pair.value >>> 0 };
      return null;
    },
    finish(): Target | string {
      if (set) return { kind: "CONNMARK", mode: "set", value: set.value, mask: set.mask };
      if (mode) return { kind: "CONNMARK", mode, nfmask, ctmask };
      return "CONNMARK needs an action (--set-xmark, --save-mark, --restore-mark, ...)";
    },
  };
}

/** `[ipaddr[-ipaddr]][:port[-port]]`, IPv6 addresses in brackets when a port follows. */
export function parseNatRange(text: string, family: Family): NatRange | null {
  let addrPart = text;
  let portPart: string | null = null;
  if (family === 6 && text.startsWith("[")) {
    const close = text.indexOf("]");
    if (close < 0) return null;
    addrPart = text.slice(1, close);
    const rest = text.slice(close + 1);
    if (rest !== "") {
      if (!rest.startsWith(":")) return null;
      portPart = rest.slice(1);
    }
  } else if (family === 4) {
    const colon = text.indexOf(":");
    if (colon >= 0) {
      addrPart = text.slice(0, colon);
      portPart = text.slice(colon + 1);
    }
  }
  let minAddr: number | bigint | null = null;
  let maxAddr: number | bigint | null = null;
  if (addrPart !== "") {
    const dash = addrPart.indexOf("-");
    minAddr = parseAddr(dash < 0 ? addrPart : addrPart.slice(0, dash), family);
    maxAddr = dash < 0 ? minAddr : parseAddr(addrPart.slice(dash + 1), family);
    if (minAddr === null || maxAddr === null) return null;
  }
  let minPort: number | null = null;
  let maxPort: number | null = null;
  if (portPart !== null) {
    const dash = portPart.indexOf("-");
    minPort = parsePort(dash < 0 ? portPart : portPart.slice(0, dash));
    maxPort = parsePort(dash < 0 ? portPart : portPart.slice(dash + 1));
    if (minPort === null || maxPort === null || minPort > maxPort) return null;
  }
  if (minAddr === null && minPort === null) return null;
  return { minAddr, maxAddr, minPort, maxPort };
}

/** An address of `family`; text that reads as the other family is not one. */
function parseAddr(text: string, family: Family): number | bigint | null {
  const v4 = parseIpv4(text);
  if (family === 4) return v4;
  return v4 === null ? parseIpv6(text) : null;
}

const PORT_PROTOS = [6, 17, 132, 33, 136];

const NAT_FLAGS: readonly [string, number][] = [
  ["--random", 0],
  ["--random-fully", 0],
  ["--persistent", 0],
];
const DNAT_OPTIONS: ReadonlyMap<string, number> = new Map([
  ["--to-destination", 1],
  ["--to", 1],
  ...NAT_FLAGS,
]);
const SNAT_OPTIONS: ReadonlyMap<string, number> = new Map([["--to-source", 1], ["--to", 1], ...NAT_FLAGS]);

/** A class, not closures: kube-proxy writes a DNAT rule per endpoint. */
class NatTargetParser implements TargetParser {
  readonly options: ReadonlyMap<string, number>;
  private readonly rangeOpt: string;
  private readonly family: Family;
  private readonly proto: number;
  private range: NatRange | null = null;
  private random = false;
  private randomFully = false;
  private persistent = false;

  constructor(
    private readonly kind: "DNAT" | "SNAT",
    ctx: TargetContext,
  ) {
    this.options = kind === "DNAT" ? DNAT_OPTIONS : SNAT_OPTIONS;
    this.rangeOpt = kind === "DNAT" ? "--to-destination" : "--to-source";
    this.family = ctx.family;
    this.proto = ctx.proto;
  }

  accept(opt: string, invert: boolean, args: readonly string[]): string | null {
    if (invert) return `${opt} cannot be negated`;
    const rangeOpt = this.rangeOpt;
    if (opt === rangeOpt || opt === "--to") {
      if (this.range) return `only one ${rangeOpt} is supported`;
      this.range = parseNatRange(args[0] ?? "", this.family);
      if (!this.range)
        return `invalid ${rangeOpt} "${args[0] ?? ""}": expected [ipaddr[-ipaddr]][:port[-port]]`;
      if (this.range.minPort !== null && !PORT_PROTOS.includes(this.proto)) {
        return "a port or port range needs -p tcp, udp, sctp or dccp";
      }
      return null;
    }
    if (opt === "--random") this.random = true;
    else if (opt === "--random-fully") this.randomFully = true;
    else this.persistent = true;
    return null;
  }

  finish(): Target | string {
    const { kind, range } = this;
    if (!range) return `${kind} needs ${this.rangeOpt}`;
    return { kind, range, random: this.random, randomFully: this.randomFully, persistent: this.persistent };
  }
}

const PORTS_OPTIONS: ReadonlyMap<string, number> = new Map([
  ["--to-ports", 1],
  ["--random", 0],
  ["--random-fully", 0],
]);

function portsTarget(kind: "MASQUERADE" | "REDIRECT", ctx: TargetContext): TargetParser {
  const proto = ctx.proto;
  let minPort: number | null = null;
  let maxPort: number | null = null;
  let random = false;
  let randomFully = false;
  return {
    options: PORTS_OPTIONS,
    accept(opt, invert, args) {
      if (invert) return `${opt} cannot be negated`;
      if (opt === "--random") random = true;
      else if (opt === "--random-fully") randomFully = true;
      else {
        if (!PORT_PROTOS.includes(proto)) return "--to-ports needs -p tcp, udp, sctp or dccp";
        const text = args[0] ?? "";
        const dash = text.indexOf("-");
        minPort = parsePort(dash < 0 ? text : text.slice(0, dash));
        maxPort = parsePort(dash < 0 ? text : text.slice(dash + 1));
        if (minPort === null || maxPort === null || minPort > maxPort) return `invalid port range "${text}"`;
      }
      return null;
    },
    finish: () => ({ kind, minPort, maxPort, random, randomFully }),
  };
}

const flagOrder = [
  "--log-tcp-sequence",
  "--log-tcp-options",
  "--log-ip-options",
  "--log-uid",
  "--log-macdecode",
];
const LOG_OPTIONS: ReadonlyMap<string, number> = new Map([
  ["--log-prefix", 1],
  ["--log-level", 1],
  ...flagOrder.map((f) => [f, 0] as const),
]);

function logTarget(): TargetParser {
  let prefix: string | null = null;
  let level = 4;
  const flags: string[] = [];
  return {
    options: LOG_OPTIONS,
    accept(opt, invert, args) {
      if (invert) return `${opt} cannot be negated`;
      const arg = args[0] ?? "";
      if (opt === "--log-prefix") {
        if (arg.length > 29) return "--log-prefix is longer than 29 characters";
        prefix = arg;
      } else if (opt === "--log-level") {
        const n = /^\d$/.test(arg) ? Number(arg) : LOG_LEVELS.get(arg.toLowerCase());
        if (n === undefined || n > 7) return `invalid --log-level "${arg}"`;
        level = n;
      } else if (!flags.includes(opt)) flags.push(opt);
      return null;
    },
    finish: () => ({ kind: "LOG", prefix, level, flags: flagOrder.filter((f) => flags.includes(f)) }),
  };
}

// libxt_NFLOG keeps threshold 0 (XT_NFLOG_DEFAULT_THRESHOLD) unless given, and prints any other value,
// so an explicit `--nflog-threshold 1` is printed back (seen with iptables 1.8.9).
const NFLOG_OPTIONS: ReadonlyMap<string, number> = new Map(
  ["--nflog-group", "--nflog-prefix", "--nflog-range", "--nflog-size", "--nflog-threshold"].map((o) => [
    o,
    1,
  ]),
);

function nflogTarget(): TargetParser {
  const t = {
    prefix: null as string | null,
    group: 0,
    range: null as number | null,
    size: null as number | null,
    threshold: 0,
  };
  return {
    options: NFLOG_OPTIONS,
    accept(opt, invert, args) {
      if (invert) return `${opt} cannot be negated`;
      const arg = args[0] ?? "";
      if (opt === "--nflog-prefix") {
        t.prefix = arg;
        return null;
      }
      if (!/^\d+$/.test(arg)) return `invalid number "${arg}" for ${opt}`;
      const n = Number(arg);
      if (opt === "--nflog-group") t.group = n;
      else if (opt === "--nflog-range") t.range = n;
      else if (opt === "--nflog-size") t.size = n;
      else t.threshold = n;
      return null;
    },
    finish: () => ({ kind: "NFLOG", ...t }),
  };
}

const oneArg = [
  "--zone",
  "--zone-orig",
  "--zone-reply",
  "--helper",
  "--ctevents",
  "--expevents",
  "--timeout",
];
const CT_OPTIONS: ReadonlyMap<string, number> = new Map([
  ["--notrack", 0],
  ...oneArg.map((o) => [o, 1] as const),
]);

function ctTarget(kind: "CT" | "NOTRACK"): TargetParser {
  let notrack = kind === "NOTRACK";
  const options: string[] = [];
  return {
    options: CT_OPTIONS,
    accept(opt, invert, args) {
      if (invert) return `${opt} cannot be negated`;
      if (kind === "NOTRACK") return `unknown option "${opt}"`;
      if (opt === "--notrack") notrack = true;
      else options.push(opt, ...args);
      return null;
    },
    finish: () => ({ kind, notrack, options }),
  };
}

const REJECT_OPTIONS: ReadonlyMap<string, number> = new Map([["--reject-with", 1]]);

function rejectTarget(ctx: TargetContext): TargetParser {
  const proto = ctx.proto;
  const table = ctx.family === 4 ? REJECT_V4 : REJECT_V6;
  let withType = ctx.family === 4 ? "icmp-port-unreachable" : "icmp6-port-unreachable";
  return {
    options: REJECT_OPTIONS,
    accept(_opt, invert, args) {
      if (invert) return "--reject-with cannot be negated";
      const canonical = table.get(args[0] ?? "");
      if (!canonical) return `unknown --reject-with type "${args[0] ?? ""}"`;
      if (canonical === "tcp-reset" && proto !== 6) return "--reject-with tcp-reset needs -p tcp";
      withType = canonical;
      return null;
    },
    finish: () => ({ kind: "REJECT", with: withType }),
  };
}

/** The parser for a target extension, or null when `name` is not one we model. */
export function targetParser(name: string, ctx: TargetContext): TargetParser | null {
  switch (name) {
    case "ACCEPT":
    case "DROP":
    case "RETURN":
    case "TRACE":
      return SIMPLE.get(name) as TargetParser;
    case "REJECT":
      return rejectTarget(ctx);
    case "MARK":
      return markTarget();
    case "CONNMARK":
      return connmarkTarget();
    case "DNAT":
    case "SNAT":
      return new NatTargetParser(name, ctx);
    case "MASQUERADE":
    case "REDIRECT":
      return portsTarget(name, ctx);
    case "LOG":
      return logTarget();
    case "NFLOG":
      return nflogTarget();
    case "CT":
    case "NOTRACK":
      return ctTarget(name);
    default:
      return null;
  }
}
