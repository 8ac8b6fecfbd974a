import { type IpNet, parseIpNet } from "../../core/ip.ts";
import type { CtDir, CtState } from "../../model/conntrack.ts";
import {
  type CtStatusName,
  emptyConntrackMatch,
  type Neg,
  type PortRange,
  type StatisticMatch,
} from "../../model/netfilter/matches.ts";
import { parsePortRange, parseU32, probabilityToStored } from "../../model/netfilter/numbers.ts";
import { parseProto } from "../../model/netfilter/protocols.ts";
import type { ModuleContext, ModuleFactory, ModuleParser } from "./module-parser.ts";
import { once } from "./module-parser.ts";

/** Matches on state kept by the kernel: statistic, mark, connmark, conntrack, state. */

const STATISTIC_OPTIONS: ReadonlyMap<string, number> = new Map([
  ["--mode", 1],
  ["--probability", 1],
  ["--every", 1],
  ["--packet", 1],
]);

/**
 * A class, not closures: kube-proxy writes one statistic match per endpoint but the last.
 * An option was given before exactly when its field is set (a bad value ends the rule).
 */
class StatisticParser implements ModuleParser {
  readonly options = STATISTIC_OPTIONS;
  private mode: string | null = null;
  private probability: number | null = null;
  private every: number | null = null;
  private packet: number | null = null;
  private invert = false;

  accept(opt: string, inv: boolean, args: readonly string[]): string | null {
    if (this.given(opt)) return `option "${opt}" given more than once`;
    const arg = args[0] ?? "";
    if (opt === "--mode") {
      if (arg !== "random" && arg !== "nth") return `unknown statistic mode "${arg}"`;
      this.mode = arg;
      return null;
    }
    if (inv) this.invert = true;
    if (opt === "--probability") {
      const p = Number(arg);
      if (!/^[0-9.eE+-]+$/.test(arg) || !(p >= 0 && p <= 1)) return `invalid probability "${arg}"`;
      this.probability = p;
      return null;
    }
    const n = /^\d+$/.test(arg) ? Number(arg) : Number.NaN;
    if (!(n >= 0 && n <= 0xffffffff)) return `invalid number "${arg}" for ${opt}`;
    if (opt === "--every") {
      if (n === 0) return "--every must be at least 1";
      this.every = n;
    } else this.packet = n;
    return null;
  }

  private given(opt: string): boolean {
    if (opt === "--mode") return this.mode !== null;
    if (opt === "--probability") return this.probability !== null;
    if (opt === "--every") return this.every !== null;
    return this.packet !== null;
  }

  finish(): StatisticMatch | string {
    const { mode, every, packet, invert } = this;
    if (mode === "random") {
      if (this.probability === null) return "statistic --mode random needs --probability";
      return { module: "statistic", mode: "random", stored: probabilityToStored(this.probability), invert };
    }
    if (mode === "nth") {
      if (every === null) return "statistic --mode nth needs --every";
      if (packet === null) return 'option "--every" also requires "--packet"';
      if (packet > every - 1) return "--packet must be lower than --every";
      return { module: "statistic", mode: "nth", every, packet, invert };
    }
    return "statistic needs --mode random or --mode nth";
  }
}

export const statisticParser: ModuleFactory = () => new StatisticParser();

const MARK_OPTIONS: ReadonlyMap<string, number> = new Map([["--mark", 1]]);

function markFactory(module: "mark" | "connmark"): ModuleFactory {
  return (): ModuleParser => {
    let spec: { value: number; mask: number; invert: boolean } | null = null;
    return {
      options: MARK_OPTIONS,
      accept(_opt, invert, args) {
        if (spec) return 'option "--mark" given more than once';
        const [v, m] = (args[0] ?? "").split("/");
        const value = parseU32(v ?? "");
        const mask = m === undefined ? 0xffffffff : parseU32(m);
        if (value === null || mask === null) return `invalid mark "${args[0] ?? ""}"`;
        spec = { value, mask, invert };
        return null;
      },
      finish: () => (spec ? { module, ...spec } : `${module} needs --mark`),
    };
  };
}

export const markParser = markFactory("mark");
export const connmarkParser = markFactory("connmark");

const CT_STATES: readonly CtState[] = [
  "INVALID",
  "NEW",
  "RELATED",
  "ESTABLISHED",
  "UNTRACKED",
  "SNAT",
  "DNAT",
];
const CT_STATUSES: readonly CtStatusName[] = ["EXPECTED", "SEEN_REPLY", "ASSURED", "CONFIRMED"];

/** Comma list of names from `allowed`, returned in the order iptables prints them. */
function parseNameList<T extends string>(text: string, allowed: readonly T[]): T[] | string {
  const out = new Set<T>();
  for (const raw of text.split(",")) {
    const name = raw.toUpperCase() as T;
    if (!allowed.includes(name)) return `unknown name "${raw}"`;
    out.add(name);
  }
  return allowed.filter((n) => out.has(n));
}

export function parseCtStates(text: string, allowSnatDnat: boolean): CtState[] | string {
  return parseNameList(text, allowSnatDnat ? CT_STATES : CT_STATES.slice(0, 5));
}

const addrOpts = ["ctorigsrc", "ctorigdst", "ctreplsrc", "ctrepldst"] as const;
const portOpts = ["ctorigsrcport", "ctorigdstport", "ctreplsrcport", "ctrepldstport"] as const;
const CONNTRACK_OPTIONS: ReadonlyMap<string, number> = new Map([
  ["--ctstate", 1],
  ["--ctproto", 1],
  ...addrOpts.map((o) => [`--${o}`, 1] as const),
  ...portOpts.map((o) => [`--${o}`, 1] as const),
  ["--ctstatus", 1],
  ["--ctexpire", 1],
  ["--ctdir", 1],
]);

export const conntrackParser: ModuleFactory = (ctx: ModuleContext): ModuleParser => {
  const seen = new Set<string>();
  const fields = emptyConntrackMatch();
  return {
    options: CONNTRACK_OPTIONS,
    accept(opt, invert, args) {
      const dup = once(seen, opt);
      if (dup) return dup;
      const arg = args[0] ?? "";
      const key = opt.slice(2);
      switch (key) {
        case "ctstate": {
          const states = parseCtStates(arg, true);
          if (typeof states === "string") return `${states} in --ctstate`;
          fields.ctstate = { value: states, invert };
          return null;
        }
        case "ctstatus": {
          const statuses = parseNameList(arg, CT_STATUSES);
          if (typeof statuses === "string") return `${statuses} in --ctstatus`;
          fields.ctstatus = { value: statuses, invert };
          return null;
        }
        case "ctproto": {
          const p = parseProto(arg);
          if (p === null) return `unknown protocol "${arg}"`;
          fields.ctproto = { value: p, invert };
          return null;
        }
        case "ctexpire": {
          const r = parseExpire(arg);
          if (!r) return `invalid --ctexpire "${arg}"`;
          fields.ctexpire = { value: r, invert };
          return null;
        }
        case "ctdir": {
          const dir = arg.toUpperCase();
          if (dir !== "ORIGINAL" && dir !== "REPLY") return `--ctdir takes ORIGINAL or REPLY, not "${arg}"`;
          // xt_conntrack stores only one bit; `! --ctdir REPLY` is --ctdir ORIGINAL.
          fields.ctdir = (invert ? (dir === "REPLY" ? "ORIGINAL" : "REPLY") : dir) as CtDir;
          return null;
        }
      }
      if ((addrOpts as readonly string[]).includes(key)) {
        const net = parseIpNet(arg, ctx.family);
        if (!net) return `invalid address "${arg}" for ${opt}`;
        fields[key as (typeof addrOpts)[number]] = { value: net, invert } as Neg<IpNet>;
        return null;
      }
      if ((portOpts as readonly string[]).includes(key)) {
        const r = parsePortRange(arg);
        if (!r) return `invalid port "${arg}" for ${opt}`;
        fields[key as (typeof portOpts)[number]] = { value: r, invert } as Neg<PortRange>;
        return null;
      }
      return `unknown option "${opt}"`;
    },
    finish: () => ({ ...fields }),
  };
};

function parseExpire(text: string): PortRange | null {
  const m = /^(\d+)(?::(\d+))?$/.exec(text);
  if (!m) return null;
  const from = Number(m[1]);
  const to = m[2] === undefined ? from : Number(m[2]);
  return from <= to && to <= 0xffffffff ? { from, to } : null;
}

const STATE_OPTIONS: ReadonlyMap<string, number> = new Map([["--state", 1]]);

export const stateParser: ModuleFactory = (): ModuleParser => {
  let spec: { states: CtState[]; invert: boolean } | null = null;
  return {
    options: STATE_OPTIONS,
    accept(_opt, invert, args) {
      if (spec) return 'option "--state" given more than once';
      const states = parseCtStates(args[0] ?? "", false);
      if (typeof states === "string") return `${states} in --state`;
      spec = { states, invert };
      return null;
    },
    finish: () => (spec ? { module: "state", ...spec } : "state needs --state"),
  };
};
