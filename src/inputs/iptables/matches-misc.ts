import { parseIp } from "../../core/ip.ts";
import type {
  AddrType,
  AddrtypeMatch,
  CommentMatch,
  IpRange,
  LimitMatch,
  Neg,
  PhysdevMatch,
  RecentMatch,
} from "../../model/netfilter/matches.ts";
import type { ModuleContext, ModuleFactory, ModuleParser } from "./module-parser.ts";
import { once } from "./module-parser.ts";

/** comment, addrtype, iprange, physdev, set, recent, limit. */

const COMMENT_OPTIONS: ReadonlyMap<string, number> = new Map([["--comment", 1]]);

/** A class, not closures: kube-proxy comments most of its rules. */
class CommentParser implements ModuleParser {
  readonly options = COMMENT_OPTIONS;
  private comment: string | null = null;

  accept(_opt: string, invert: boolean, args: readonly string[]): string | null {
    if (invert) return "--comment cannot be negated";
    if (this.comment !== null) return 'option "--comment" given more than once';
    const text = args[0] ?? "";
    // xt_comment keeps 256 bytes including the terminating NUL (UTF-8 takes at most 3 per UTF-16 unit).
    if (text.length > 85 && Buffer.byteLength(text) > 255) return "comment is longer than 255 bytes";
    this.comment = text;
    return null;
  }

  finish(): CommentMatch | string {
    return this.comment === null ? "comment needs --comment" : { module: "comment", comment: this.comment };
  }
}

export const commentParser: ModuleFactory = () => new CommentParser();

const ADDR_TYPES: readonly AddrType[] = [
  "UNSPEC",
  "UNICAST",
  "LOCAL",
  "BROADCAST",
  "ANYCAST",
  "MULTICAST",
  "BLACKHOLE",
  "UNREACHABLE",
  "PROHIBIT",
  "THROW",
  "NAT",
  "XRESOLVE",
];

const ADDRTYPE_OPTIONS: ReadonlyMap<string, number> = new Map([
  ["--src-type", 1],
  ["--dst-type", 1],
  ["--limit-iface-in", 0],
  ["--limit-iface-out", 0],
]);

export const addrtypeParser: ModuleFactory = (): ModuleParser => {
  const seen = new Set<string>();
  let srcType: Neg<AddrType[]> | null = null;
  let dstType: Neg<AddrType[]> | null = null;
  let limitIfaceIn = false;
  let limitIfaceOut = false;
  return {
    options: ADDRTYPE_OPTIONS,
    accept(opt, invert, args) {
      const dup = once(seen, opt);
      if (dup) return dup;
      if (opt === "--limit-iface-in" || opt === "--limit-iface-out") {
        if (invert) return `${opt} cannot be negated`;
        if (opt === "--limit-iface-in") limitIfaceIn = true;
        else limitIfaceOut = true;
        return limitIfaceIn && limitIfaceOut ? "--limit-iface-in and --limit-iface-out are exclusive" : null;
      }
      const set = new Set<AddrType>();
      for (const raw of (args[0] ?? "").split(",")) {
        const name = raw.toUpperCase() as AddrType;
        if (!ADDR_TYPES.includes(name)) return `unknown address type "${raw}"`;
        set.add(name);
      }
      const value = { value: ADDR_TYPES.filter((t) => set.has(t)), invert };
      if (opt === "--src-type") srcType = value;
      else dstType = value;
      return null;
    },
    finish(): AddrtypeMatch | string {
      if (!srcType && !dstType) return "addrtype needs --src-type or --dst-type";
      return { module: "addrtype", srcType, dstType, limitIfaceIn, limitIfaceOut };
    },
  };
};

const IPRANGE_OPTIONS: ReadonlyMap<string, number> = new Map([
  ["--src-range", 1],
  ["--dst-range", 1],
]);

export const iprangeParser: ModuleFactory = (ctx: ModuleContext): ModuleParser => {
  const seen = new Set<string>();
  let src: Neg<IpRange> | null = null;
  let dst: Neg<IpRange> | null = null;
  return {
    options: IPRANGE_OPTIONS,
    accept(opt, invert, args) {
      const dup = once(seen, opt);
      if (dup) return dup;
      const text = args[0] ?? "";
      // libxt_iprange: "a-b" or a single address, which means a-a.
      const dash = text.indexOf("-");
      const from = parseIp(dash < 0 ? text : text.slice(0, dash));
      const to = parseIp(dash < 0 ? text : text.slice(dash + 1));
      if (!from || !to || from.family !== ctx.family || to.family !== ctx.family) {
        return `invalid IPv${ctx.family} range "${text}"`;
      }
      const value = { value: { from: from.addr, to: to.addr }, invert };
      if (opt === "--src-range") src = value;
      else dst = value;
      return null;
    },
    finish: () => (src || dst ? { module: "iprange", src, dst } : "iprange needs --src-range or --dst-range"),
  };
};

const PHYSDEV_OPTIONS: ReadonlyMap<string, number> = new Map([
  ["--physdev-in", 1],
  ["--physdev-out", 1],
  ["--physdev-is-in", 0],
  ["--physdev-is-out", 0],
  ["--physdev-is-bridged", 0],
]);

export const physdevParser: ModuleFactory = (): ModuleParser => {
  const seen = new Set<string>();
  const m: { -readonly [K in keyof PhysdevMatch]: PhysdevMatch[K] } = {
    module: "physdev",
    physdevIn: null,
    physdevOut: null,
    isIn: null,
    isOut: null,
    isBridged: null,
  };
  return {
    options: PHYSDEV_OPTIONS,
    accept(opt, invert, args) {
      const dup = once(seen, opt);
      if (dup) return dup;
      if (opt === "--physdev-in") m.physdevIn = { value: args[0] ?? "", invert };
      else if (opt === "--physdev-out") m.physdevOut = { value: args[0] ?? "", invert };
      else if (opt === "--physdev-is-in") m.isIn = { value: true, invert };
      else if (opt === "--physdev-is-out") m.isOut = { value: true, invert };
      else m.isBridged = { value: true, invert };
      return null;
    },
    finish: () => ({ ...m }),
  };
};

const flagOptions = [
  "--return-nomatch",
  "--update-counters",
  "--update-subcounters",
  "--packets-eq",
  "--packets-lt",
  "--packets-gt",
  "--bytes-eq",
  "--bytes-lt",
  "--bytes-gt",
];
const SET_OPTIONS: ReadonlyMap<string, number> = new Map([
  ["--match-set", 2],
  ["--set", 2],
  ...flagOptions.map(
    (o) => [o, o.includes("-eq") || o.includes("-lt") || o.includes("-gt") ? 1 : 0] as const,
  ),
]);

export const setParser: ModuleFactory = (): ModuleParser => {
  let name: string | null = null;
  let flags: ("src" | "dst")[] = [];
  let invert = false;
  const extra: string[] = [];
  return {
    options: SET_OPTIONS,
    accept(opt, inv, args) {
      if (opt === "--match-set" || opt === "--set") {
        if (name !== null) return "only one --match-set per -m set";
        name = args[0] ?? "";
        const parts = (args[1] ?? "").split(",");
        if (parts.length > 6 || parts.some((p) => p !== "src" && p !== "dst")) {
          return `invalid set flags "${args[1] ?? ""}": expected src/dst separated by commas`;
        }
        flags = parts as ("src" | "dst")[];
        invert = inv;
        return null;
      }
      extra.push(...(inv ? ["!"] : []), opt, ...args);
      return null;
    },
    finish: () => (name === null ? "set needs --match-set" : { module: "set", name, flags, invert, extra }),
  };
};

const commands = ["--set", "--rcheck", "--update", "--remove"];
const RECENT_OPTIONS: ReadonlyMap<string, number> = new Map([
  ...commands.map((c) => [c, 0] as const),
  ["--seconds", 1],
  ["--hitcount", 1],
  ["--reap", 0],
  ["--rttl", 0],
  ["--name", 1],
  ["--mask", 1],
  ["--rsource", 0],
  ["--rdest", 0],
]);

export const recentParser: ModuleFactory = (): ModuleParser => {
  const seen = new Set<string>();
  let command: RecentMatch["command"] | null = null;
  let seconds: number | null = null;
  let hitcount: number | null = null;
  let reap = false;
  let rttl = false;
  let name = "DEFAULT";
  let mask = "255.255.255.255";
  let side: RecentMatch["side"] = "rsource";
  return {
    options: RECENT_OPTIONS,
    accept(opt, invert, args) {
      if (commands.includes(opt)) {
        if (command) return "use only one of --set, --rcheck, --update or --remove";
        command = { value: opt.slice(2) as RecentMatch["command"]["value"], invert };
        return null;
      }
      const dup = once(seen, opt);
      if (dup) return dup;
      const arg = args[0] ?? "";
      switch (opt) {
        case "--seconds":
        case "--hitcount": {
          if (!/^\d+$/.test(arg)) return `invalid number "${arg}" for ${opt}`;
          if (opt === "--seconds") seconds = Number(arg);
          else hitcount = Number(arg);
          return null;
        }
        case "--reap":
          reap = true;
          return null;
        case "--rttl":
          rttl = true;
          return null;
        case "--name":
          name = arg;
          return null;
        case "--mask":
          mask = arg;
          return null;
        default:
          side = opt === "--rdest" ? "rdest" : "rsource";
          return null;
      }
    },
    finish(): RecentMatch | string {
      if (!command) return "recent needs one of --set, --rcheck, --update or --remove";
      if (reap && seconds === null) return "--reap needs --seconds";
      return { module: "recent", command, seconds, reap, hitcount, rttl, name, mask, side };
    },
  };
};

const LIMIT_UNITS: Readonly<Record<string, LimitMatch["unit"]>> = {
  s: "sec",
  sec: "sec",
  second: "sec",
  m: "min",
  min: "min",
  minute: "min",
  h: "hour",
  hour: "hour",
  d: "day",
  day: "day",
};

const LIMIT_OPTIONS: ReadonlyMap<string, number> = new Map([
  ["--limit", 1],
  ["--limit-burst", 1],
]);

export const limitParser: ModuleFactory = (): ModuleParser => {
  const seen = new Set<string>();
  // libxt_limit defaults: 3/hour, burst 5.
  let rate = 3;
  let unit: LimitMatch["unit"] = "hour";
  let burst = 5;
  return {
    options: LIMIT_OPTIONS,
    accept(opt, invert, args) {
      if (invert) return `${opt} cannot be negated`;
      const dup = once(seen, opt);
      if (dup) return dup;
      const arg = args[0] ?? "";
      if (opt === "--limit-burst") {
        if (!/^\d+$/.test(arg) || Number(arg) > 10000) return `invalid --limit-burst "${arg}"`;
        burst = Number(arg);
        return null;
      }
      const m = /^(\d+)(?:\/([a-z]+))?$/.exec(arg);
      const u = m?.[2] === undefined ? "sec" : LIMIT_UNITS[m[2]];
      if (!m || !u || Number(m[1]) === 0)
        return `invalid rate "${arg}": expected N/sec, N/min, N/hour or N/day`;
      rate = Number(m[1]);
      unit = u;
      return null;
    },
    finish: () => ({ module: "limit", rate, unit, burst }),
  };
};
