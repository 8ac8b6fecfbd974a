import type { ConntrackEntry, CtDir, CtState } from "../../../model/conntrack.ts";
import type { Rule, TableName } from "../../../model/netfilter/ruleset.ts";

/** The netfilter hooks, in the kernel's names. */
export type Hook = "PREROUTING" | "INPUT" | "FORWARD" | "OUTPUT" | "POSTROUTING";

/**
 * What a rule may look at besides the packet's headers: where the packet is, its conntrack entry,
 * and the host's addresses. One Env per hook traversal; fields are mutable so the pipeline can
 * reuse it across tables (no allocation per rule).
 */
export interface Env {
  hook: Hook;
  inIface: string | null;
  outIface: string | null;
  /** Bridge ports (`-m physdev`) when the packet was bridged, else null. */
  physIn: string | null;
  physOut: string | null;
  ct: ConntrackEntry | null;
  ctDir: CtDir;
  ctState: CtState;
  /** `CT --notrack` in raw made the packet untracked. */
  untracked: boolean;
  /** Virtual time in milliseconds. */
  now: number;
  host: HostAddresses;
  /** Decides a `statistic --mode random` match: true = the random draw fell under `stored`. */
  choose(stored: number, rule: Rule): boolean;
  /** Notes an uncertainty the trace must report (an unknown module, an unparsed rule...). */
  uncertain(rule: Rule, reason: string): void;
  state: EngineState;
}

/** The host's own addresses, for routing (local delivery) and `-m addrtype`. */
export interface HostAddresses {
  /** Is this address one of the host's own (type LOCAL)? 127.0.0.0/8 always is. */
  isLocal(family: 4 | 6, addr: number | bigint, iface?: string | null): boolean;
  /** The address an interface would use as source (MASQUERADE). */
  addressOf(family: 4 | 6, iface: string | null): number | bigint | null;
}

/** State that persists across packets: counters, `-m recent` lists, `-m limit` buckets, nth counters. */
export interface EngineState {
  readonly ruleCounters: Map<Rule, { packets: bigint; bytes: bigint }>;
  readonly policyCounters: Map<string, { packets: bigint; bytes: bigint }>;
  readonly recent: Map<string, Map<string, number[]>>;
  readonly limits: Map<Rule, { tokens: number; last: number }>;
  readonly nth: Map<Rule, number>;
}

export function newEngineState(): EngineState {
  return {
    ruleCounters: new Map(),
    policyCounters: new Map(),
    recent: new Map(),
    limits: new Map(),
    nth: new Map(),
  };
}

export function policyKey(table: TableName, chain: string): string {
  return `${table}/${chain}`;
}
