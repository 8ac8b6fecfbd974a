import type { IpNet } from "../../core/ip.ts";
import type { CtDir, CtState } from "../conntrack.ts";

/**
 * `-m` match modules with their options parsed into numbers. Every option that can be negated
 * carries `invert`. A module we do not model is kept as `UnknownMatch` with its tokens, written back
 * intact, and makes any trace that reaches it uncertain.
 */

export interface PortRange {
  readonly from: number;
  readonly to: number;
}

export interface Neg<T> {
  readonly value: T;
  readonly invert: boolean;
}

export interface TcpMatch {
  readonly module: "tcp";
  readonly sport: Neg<PortRange> | null;
  readonly dport: Neg<PortRange> | null;
  readonly flags: Neg<{ readonly mask: number; readonly comp: number }> | null;
  readonly option: Neg<number> | null;
}

export interface UdpMatch {
  readonly module: "udp" | "udplite" | "sctp";
  readonly sport: Neg<PortRange> | null;
  readonly dport: Neg<PortRange> | null;
}

export interface IcmpMatch {
  readonly module: "icmp" | "icmp6";
  /** type 255 with code range 0-255 is `any`; code null means every code of the type. */
  readonly type: Neg<{
    readonly type: number;
    readonly codeMin: number;
    readonly codeMax: number;
    readonly any: boolean;
  }>;
}

export interface CommentMatch {
  readonly module: "comment";
  readonly comment: string;
}

export interface MultiportMatch {
  readonly module: "multiport";
  readonly which: "sports" | "dports" | "ports";
  readonly ports: readonly PortRange[];
  readonly invert: boolean;
}

export type StatisticMatch =
  | {
      readonly module: "statistic";
      readonly mode: "random";
      /** As the kernel stores it: a 31-bit fraction, matched when (random & 0x7fffffff) < stored. */
      readonly stored: number;
      readonly invert: boolean;
    }
  | {
      readonly module: "statistic";
      readonly mode: "nth";
      readonly every: number;
      readonly packet: number;
      readonly invert: boolean;
    };

export interface MarkMatch {
  readonly module: "mark" | "connmark";
  readonly value: number;
  /** 0xffffffff when no mask was given (then none is printed). */
  readonly mask: number;
  readonly invert: boolean;
}

export interface ConntrackMatch {
  readonly module: "conntrack";
  readonly ctstate: Neg<readonly CtState[]> | null;
  readonly ctproto: Neg<number> | null;
  readonly ctorigsrc: Neg<IpNet> | null;
  readonly ctorigdst: Neg<IpNet> | null;
  readonly ctreplsrc: Neg<IpNet> | null;
  readonly ctrepldst: Neg<IpNet> | null;
  readonly ctorigsrcport: Neg<PortRange> | null;
  readonly ctorigdstport: Neg<PortRange> | null;
  readonly ctreplsrcport: Neg<PortRange> | null;
  readonly ctrepldstport: Neg<PortRange> | null;
  readonly ctstatus: Neg<readonly CtStatusName[]> | null;
  readonly ctexpire: Neg<PortRange> | null;
  readonly ctdir: CtDir | null;
}

/** A conntrack match with no option given, for parsers and generators to fill in. */
export function emptyConntrackMatch(): { -readonly [K in keyof ConntrackMatch]: ConntrackMatch[K] } {
  return {
    module: "conntrack",
    ctstate: null,
    ctproto: null,
    ctorigsrc: null,
    ctorigdst: null,
    ctreplsrc: null,
    ctrepldst: null,
    ctorigsrcport: null,
    ctorigdstport: null,
    ctreplsrcport: null,
    ctrepldstport: null,
    ctstatus: null,
    ctexpire: null,
    ctdir: null,
  };
}

export type CtStatusName = "EXPECTED" | "SEEN_REPLY" | "ASSURED" | "CONFIRMED";

export interface StateMatch {
  readonly module: "state";
  readonly states: readonly CtState[];
  readonly invert: boolean;
}

export type AddrType =
  | "UNSPEC"
  | "UNICAST"
  | "LOCAL"
  | "BROADCAST"
  | "ANYCAST"
  | "MULTICAST"
  | "BLACKHOLE"
  | "UNREACHABLE"
  | "PROHIBIT"
  | "THROW"
  | "NAT"
  | "XRESOLVE";

export interface AddrtypeMatch {
  readonly module: "addrtype";
  readonly srcType: Neg<readonly AddrType[]> | null;
  readonly dstType: Neg<readonly AddrType[]> | null;
  readonly limitIfaceIn: boolean;
  readonly limitIfaceOut: boolean;
}

export interface IpRange {
  readonly from: number | bigint;
  readonly to: number | bigint;
}

export interface IprangeMatch {
  readonly module: "iprange";
  readonly src: Neg<IpRange> | null;
  readonly dst: Neg<IpRange> | null;
}

export interface PhysdevMatch {
  readonly module: "physdev";
  readonly physdevIn: Neg<string> | null;
  readonly physdevOut: Neg<string> | null;
  readonly isIn: Neg<true> | null;
  readonly isOut: Neg<true> | null;
  readonly isBridged: Neg<true> | null;
}

export interface SetMatch {
  readonly module: "set";
  readonly name: string;
  readonly flags: readonly ("src" | "dst")[];
  readonly invert: boolean;
  /** Options after the flags (`--return-nomatch`, `! --update-counters`, ...), kept verbatim. */
  readonly extra: readonly string[];
}

export interface RecentMatch {
  readonly module: "recent";
  readonly command: Neg<"set" | "rcheck" | "update" | "remove">;
  readonly seconds: number | null;
  readonly reap: boolean;
  readonly hitcount: number | null;
  readonly rttl: boolean;
  readonly name: string;
  readonly mask: string;
  readonly side: "rsource" | "rdest";
}

export interface LimitMatch {
  readonly module: "limit";
  /** Packets allowed per `per` seconds, as given (`5/min` = 5 per 60 s). */
  readonly rate: number;
  readonly unit: "sec" | "min" | "hour" | "day";
  readonly burst: number;
}

export interface UnknownMatch {
  readonly module: string;
  readonly unknown: true;
  /** The option tokens after `-m name`, as they appeared (quotes resolved). */
  readonly tokens: readonly string[];
}

export type Match =
  | TcpMatch
  | UdpMatch
  | IcmpMatch
  | CommentMatch
  | MultiportMatch
  | StatisticMatch
  | MarkMatch
  | ConntrackMatch
  | StateMatch
  | AddrtypeMatch
  | IprangeMatch
  | PhysdevMatch
  | SetMatch
  | RecentMatch
  | LimitMatch
  | UnknownMatch;

export function isUnknownMatch(m: Match): m is UnknownMatch {
  return "unknown" in m;
}
