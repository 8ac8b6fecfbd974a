import type { ConntrackEntry, CtDir, CtState } from "../../../model/conntrack.ts";
import type { Rule, TableName } from "../../../model/netfilter/ruleset.ts";
import type { CompiledRule } from "./compile.ts";

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
  /** Keyed by compiled rule (the trace loop holds it already); its `.rule` is the parsed Rule. */
  readonly ruleCounters: Map<CompiledRule, { packets: bigint; bytes: bigint }>;
  readonly policyCounters: Map<string, { packets: bigint; bytes: bigint }>;
  readonly recent: Map<string, Map<string, number[]>>;
  readonly limits: Map<Rule, { tokens: number; last: number }>;
  readonly nth: Map<Rule, number>;
}

export function newEngineState(): EngineState {
  return new LazyEngineState();
}

/** The stateful matches' maps are made on first use: a trace makes a state per run, and few use them. */
class LazyEngineState implements EngineState {
  readonly ruleCounters = new Map<CompiledRule, { packets: bigint; bytes: bigint }>();
  readonly policyCounters = new Map<string, { packets: bigint; bytes: bigint }>();
  private recentLists: Map<string, Map<string, number[]>> | null = null;
  private limitBuckets: Map<Rule, { tokens: number; last: number }> | null = null;
  private nthCounters: Map<Rule, number> | null = null;

  get recent(): Map<string, Map<string, number[]>> {
    this.recentLists ??= new Map();
    return this.recentLists;
  }

  get limits(): Map<Rule, { tokens: number; last: number }> {
    this.limitBuckets ??= new Map();
    return this.limitBuckets;
  }

  get nth(): Map<Rule, number> {
    this.nthCounters ??= new Map();
    return this.nthCounters;
  }
}

export function policyKey(table: TableName, chain: string): string {
  return `${table}/${chain}`;
}
