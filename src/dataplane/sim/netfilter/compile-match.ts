import type { Family, IpNet } from "../../../core/ip.ts";
import type { IpSetRegistry } from "../../../model/ipset.ts";
import type {
  ConntrackMatch,
  CtStatusName,
  Match,
  Neg,
  PortRange,
} from "../../../model/netfilter/matches.ts";
import type { Rule } from "../../../model/netfilter/ruleset.ts";
import { limitPeriod } from "../../../model/netfilter/save-matches.ts";
import type { Packet } from "../../../model/packet.ts";
import type { Env } from "./env.ts";
import { compileSetLookup } from "./ipset-match.ts";

/**
 * Compiles one `-m` match into a predicate over (packet, env), once, at load time. Semantics follow
 * the kernel's xt_* modules (net/netfilter/xt_<name>.c); comments name the ones that are subtle.
 */
export type Pred = (p: Packet, env: Env) => boolean;

export interface CompileContext {
  readonly family: Family;
  readonly rule: Rule;
  readonly ipsets: IpSetRegistry | null;
  /** Reports a match we cannot evaluate; the rule then never matches and traces say why. */
  readonly unsupported: (reason: string) => void;
}

export function netPred(net: IpNet, invert: boolean, pick: (p: Packet) => number | bigint): Pred {
  if (net.family === 4) {
    const { addr, mask } = net;
    return invert
      ? (p) => (Number(pick(p)) & mask) >>> 0 !== addr
      : (p) => (Number(pick(p)) & mask) >>> 0 === addr;
  }
  const { addr, mask } = net;
  return (p) => ((BigInt(pick(p)) & mask) === addr) !== invert;
}

function inRange(spec: Neg<PortRange>, pick: (p: Packet) => number): Pred {
  const { from, to } = spec.value;
  const invert = spec.invert;
  return (p) => {
    const v = pick(p);
    return (v >= from && v <= to) !== invert;
  };
}

function all(preds: Pred[]): Pred {
  if (preds.length === 1) return preds[0] as Pred;
  return (p, env) => {
    for (const pred of preds) if (!pred(p, env)) return false;
    return true;
  };
}

const sport = (p: Packet) => p.sport;
const dport = (p: Packet) => p.dport;

/** The xt_conntrack state of a packet: one of the base states plus SNAT/DNAT when the entry has NAT. */
function ctStateSet(env: Env): Set<string> {
  if (env.untracked) return new Set(["UNTRACKED"]);
  const set = new Set<string>([env.ctState]);
  if (env.ct) {
    if (env.ct.status.srcNat) set.add("SNAT");
    if (env.ct.status.dstNat) set.add("DNAT");
  }
  return set;
}

function conntrackPred(m: ConntrackMatch, family: Family): Pred {
  const preds: Pred[] = [];
  if (m.ctstate) {
    const wanted = m.ctstate.value;
    const invert = m.ctstate.invert;
    preds.push((_p, env) => {
      const have = ctStateSet(env);
      return wanted.some((s) => have.has(s)) !== invert;
    });
  }
  // Every other option needs an entry: xt_conntrack returns false without one.
  const needCt: Pred[] = [];
  if (m.ctproto) {
    const { value, invert } = m.ctproto;
    needCt.push((_p, env) => (env.ct!.orig.proto === value) !== invert);
  }
  const tuplePick = {
    ctorigsrc: (env: Env) => env.ct!.orig.src,
    ctorigdst: (env: Env) => env.ct!.orig.dst,
    ctreplsrc: (env: Env) => env.ct!.reply.src,
    ctrepldst: (env: Env) => env.ct!.reply.dst,
  };
  for (const key of ["ctorigsrc", "ctorigdst", "ctreplsrc", "ctrepldst"] as const) {
    const spec = m[key];
    if (!spec) continue;
    const pick = tuplePick[key];
    let current: Env | null = null;
    const test = netPred(spec.value, spec.invert, () => pick(current as Env));
    needCt.push((p, env) => {
      current = env;
      return test(p, env);
    });
  }
  const portPick = {
    ctorigsrcport: (env: Env) => env.ct!.orig.sport,
    ctorigdstport: (env: Env) => env.ct!.orig.dport,
    ctreplsrcport: (env: Env) => env.ct!.reply.sport,
    ctrepldstport: (env: Env) => env.ct!.reply.dport,
  };
  for (const key of ["ctorigsrcport", "ctorigdstport", "ctreplsrcport", "ctrepldstport"] as const) {
    const spec = m[key];
    if (!spec) continue;
    const pick = portPick[key];
    const { from, to } = spec.value;
    needCt.push((_p, env) => {
      const v = pick(env);
      return (v >= from && v <= to) !== spec.invert;
    });
  }
  if (m.ctstatus) {
    const { value, invert } = m.ctstatus;
    const has: Record<CtStatusName, (env: Env) => boolean> = {
      EXPECTED: (env) => env.ct!.status.expected,
      SEEN_REPLY: (env) => env.ct!.status.seenReply,
      ASSURED: (env) => env.ct!.status.assured,
      CONFIRMED: (env) => env.ct!.status.confirmed,
    };
    needCt.push((_p, env) => value.some((s) => has[s](env)) !== invert);
  }
  if (m.ctexpire) {
    const { from, to } = m.ctexpire.value;
    const invert = m.ctexpire.invert;
    needCt.push((_p, env) => {
      const left = Math.max(0, Math.floor((env.ct!.expiresAt - env.now) / 1000));
      return (left >= from && left <= to) !== invert;
    });
  }
  if (m.ctdir) {
    const dir = m.ctdir;
    needCt.push((_p, env) => env.ctDir === dir);
  }
  void family;
  if (needCt.length > 0) {
    const rest = all(needCt);
    preds.push((p, env) => env.ct !== null && !env.untracked && rest(p, env));
  }
  return preds.length === 0 ? () => true : all(preds);
}

const V4_MULTICAST = { addr: 0xe0000000, mask: 0xf0000000 };

/** The route type of an address as inet_addr_type() sees it, for `-m addrtype`. */
function addrTypes(family: Family, addr: number | bigint, env: Env, iface: string | null): Set<string> {
  if (family === 4) {
    const a = Number(addr);
    if (a === 0 || a === 0xffffffff) return new Set(["BROADCAST"]);
    if ((a & V4_MULTICAST.mask) >>> 0 === V4_MULTICAST.addr) return new Set(["MULTICAST"]);
  } else if (BigInt(addr) >> 120n === 0xffn) return new Set(["MULTICAST"]);
  if (env.host.isLocal(family, addr, iface)) return new Set(["LOCAL"]);
  return new Set(["UNICAST"]);
}

export function compileMatch(m: Match, ctx: CompileContext): Pred | null {
  const { family } = ctx;
  if ("unknown" in m) {
    ctx.unsupported(`-m ${m.module}`);
    return null;
  }
  switch (m.module) {
    case "tcp":
    case "udp":
    case "udplite":
    case "sctp": {
      const proto = { tcp: 6, udp: 17, udplite: 136, sctp: 132 }[m.module];
      // The header is only there on the first fragment (xt_tcpudp drops non-first fragments).
      const preds: Pred[] = [(p) => p.proto === proto && !p.fragment];
      if (m.sport) preds.push(inRange(m.sport, sport));
      if (m.dport) preds.push(inRange(m.dport, dport));
      if (m.module === "tcp" && m.flags) {
        const { mask, comp } = m.flags.value;
        const invert = m.flags.invert;
        preds.push((p) => ((p.tcpFlags & mask) === comp) !== invert);
      }
      if (m.module === "tcp" && m.option) {
        ctx.unsupported("--tcp-option (TCP options are not modelled)");
        return null;
      }
      return all(preds);
    }
    case "icmp":
    case "icmp6": {
      const proto = m.module === "icmp" ? 1 : 58;
      const t = m.type.value;
      const invert = m.type.invert;
      if (t.any) return (p) => p.proto === proto && !invert;
      return (p) =>
        p.proto === proto &&
        (p.icmpType === t.type && p.icmpCode >= t.codeMin && p.icmpCode <= t.codeMax) !== invert;
    }
    case "comment":
      return null;
    case "multiport": {
      const ranges = m.ports;
      const hit = (v: number) => ranges.some((r) => v >= r.from && v <= r.to);
      const which = m.which;
      const invert = m.invert;
      return (p) => {
        const v =
          which === "sports"
            ? hit(p.sport)
            : which === "dports"
              ? hit(p.dport)
              : hit(p.sport) || hit(p.dport);
        return v !== invert;
      };
    }
    case "statistic": {
      const rule = ctx.rule;
      const invert = m.invert;
      if (m.mode === "random") {
        const stored = m.stored;
        return (_p, env) => env.choose(stored, rule) !== invert;
      }
      // xt_statistic nth: libxt_statistic starts the counter at (every - 1) - packet and the kernel
      // matches when it wraps to 0, so the k-th packet (from 0) matches when k % every == packet.
      // Checked live: --every 3 --packet 0 matches packets 1 and 4, --packet 2 packets 3 and 6.
      const last = m.every - 1;
      const start = last - m.packet;
      return (_p, env) => {
        const old = env.state.nth.get(rule) ?? start;
        const next = old === last ? 0 : old + 1;
        env.state.nth.set(rule, next);
        return (next === 0) !== invert;
      };
    }
    case "mark": {
      const { value, mask, invert } = m;
      return (p) => ((p.mark & mask) >>> 0 === value) !== invert;
    }
    case "connmark": {
      const { value, mask, invert } = m;
      return (_p, env) =>
        env.ct !== null && !env.untracked && ((env.ct.mark & mask) >>> 0 === value) !== invert;
    }
    case "conntrack":
      return conntrackPred(m, family);
    case "state": {
      const { states, invert } = m;
      return (_p, env) => {
        const have = env.untracked ? "UNTRACKED" : env.ctState;
        return states.includes(have) !== invert;
      };
    }
    case "addrtype": {
      const { srcType, dstType, limitIfaceIn, limitIfaceOut } = m;
      return (p, env) => {
        const iface = limitIfaceIn ? env.inIface : limitIfaceOut ? env.outIface : null;
        if (srcType) {
          const types = addrTypes(p.family, p.src, env, iface);
          if (srcType.value.some((t) => types.has(t)) === srcType.invert) return false;
        }
        if (dstType) {
          const types = addrTypes(p.family, p.dst, env, iface);
          if (dstType.value.some((t) => types.has(t)) === dstType.invert) return false;
        }
        return true;
      };
    }
    case "iprange": {
      const preds: Pred[] = [];
      for (const [spec, pick] of [
        [m.src, (p: Packet) => p.src],
        [m.dst, (p: Packet) => p.dst],
      ] as const) {
        if (!spec) continue;
        const { from, to } = spec.value;
        const invert = spec.invert;
        preds.push((p) => {
          const v = pick(p);
          return (v >= from && v <= to) !== invert;
        });
      }
      return all(preds);
    }
    case "physdev": {
      const preds: Pred[] = [];
      // xt_physdev: without a bridge port the packet was not bridged, and only the is-* negations match.
      if (m.isBridged) {
        const invert = m.isBridged.invert;
        preds.push((_p, env) => (env.physOut !== null) !== invert);
      }
      if (m.isIn) {
        const invert = m.isIn.invert;
        preds.push((_p, env) => (env.physIn !== null) !== invert);
      }
      if (m.isOut) {
        const invert = m.isOut.invert;
        preds.push((_p, env) => (env.physOut !== null) !== invert);
      }
      if (m.physdevIn) {
        const spec = m.physdevIn;
        preds.push((_p, env) => env.physIn !== null && ifaceMatches(spec.value, env.physIn) !== spec.invert);
      }
      if (m.physdevOut) {
        const spec = m.physdevOut;
        preds.push(
          (_p, env) => env.physOut !== null && ifaceMatches(spec.value, env.physOut) !== spec.invert,
        );
      }
      return preds.length ? all(preds) : null;
    }
    case "set": {
      const set = ctx.ipsets?.get(m.name);
      if (!set) {
        ctx.unsupported(
          `-m set --match-set ${m.name} (no such set${ctx.ipsets ? "" : "; give --ipset FILE"})`,
        );
        return null;
      }
      const lookup = compileSetLookup(set, m.flags, ctx.ipsets);
      if (!lookup) {
        ctx.unsupported(`-m set --match-set ${m.name} (set type ${set.type} is not modelled)`);
        return null;
      }
      const invert = m.invert;
      return (p) => lookup(p) !== invert;
    }
    case "recent":
      return recentPred(m, ctx.rule);
    case "limit": {
      // xt_limit: a token bucket of `burst` packets, refilled one token per average period.
      const periodMs = limitPeriod(m) / 10;
      const burst = m.burst;
      const rule = ctx.rule;
      return (_p, env) => {
        const bucket = env.state.limits.get(rule) ?? { tokens: burst, last: env.now };
        const refill = Math.floor((env.now - bucket.last) / periodMs);
        if (refill > 0) {
          bucket.tokens = Math.min(burst, bucket.tokens + refill);
          bucket.last += refill * periodMs;
        }
        env.state.limits.set(rule, bucket);
        if (bucket.tokens <= 0) return false;
        bucket.tokens--;
        return true;
      };
    }
  }
}

export function ifaceMatches(pattern: string, name: string): boolean {
  if (pattern.endsWith("+")) return name.startsWith(pattern.slice(0, -1));
  return name === pattern;
}

function recentPred(m: Extract<Match, { module: "recent" }>, rule: Rule): Pred {
  const { command, seconds, hitcount, reap, name } = m;
  const useSource = m.side === "rsource";
  return (p, env) => {
    let table = env.state.recent.get(name);
    if (!table) {
      table = new Map();
      env.state.recent.set(name, table);
    }
    const key = String(useSource ? p.src : p.dst);
    const now = env.now;
    let hits = table.get(key);
    let matched: boolean;
    switch (command.value) {
      case "set":
        hits = [...(hits ?? []), now];
        table.set(key, hits);
        matched = true;
        break;
      case "remove":
        matched = hits !== undefined;
        table.delete(key);
        break;
      default: {
        // rcheck/update: seen, and (with --seconds/--hitcount) recently and often enough.
        if (!hits) {
          matched = false;
          break;
        }
        const fresh = seconds === null ? hits : hits.filter((t) => now - t <= seconds * 1000);
        if (reap && seconds !== null) table.set(key, fresh);
        matched = seconds === null && hitcount === null ? true : fresh.length >= (hitcount ?? 1);
        if (command.value === "update" && matched) table.set(key, [...hits, now]);
      }
    }
    void rule;
    return matched !== command.invert;
  };
}
