/**
 * Putting the kernel's state and the simulator's side by side: rule and policy counters keyed by
 * table, chain and position (so `iptables-save -c` of a live node and our trace's EngineState use one
 * vocabulary), and `conntrack -L` lines split into their tuples.
 */
import { formatIp } from "../../src/core/ip.ts";
import type { EngineState } from "../../src/dataplane/sim/netfilter/env.ts";
import type { ConntrackEntry, CtTuple } from "../../src/model/conntrack.ts";
import {
  BUILTIN_CHAINS,
  type Rule,
  type RulesetFile,
  type TableName,
} from "../../src/model/netfilter/ruleset.ts";
import { formatRule } from "../../src/model/netfilter/save.ts";

export interface Count {
  readonly packets: bigint;
  readonly bytes: bigint;
}

/** `nat KUBE-SVC-X #1` for a rule (1-based, as `iptables -L --line-numbers`), `filter FORWARD policy` for a policy. */
export type CounterKey = string;

export function ruleKey(table: TableName, chain: string, index: number): CounterKey {
  return `${table} ${chain} #${index + 1}`;
}

export function policyKey(table: TableName, chain: string): CounterKey {
  return `${table} ${chain} policy`;
}

/** Where each rule of a parsed file sits, and its text for messages. */
export class RuleIndex {
  readonly keyOf = new Map<Rule, CounterKey>();
  readonly text = new Map<CounterKey, string>();
  /** Chains per table with their rule counts, to check the kernel loaded the same shape. */
  readonly shape = new Map<string, number>();

  constructor(file: RulesetFile) {
    for (const dump of file.dumps) {
      for (const table of dump.tables) {
        for (const chain of table.chains) {
          this.shape.set(`${table.name} ${chain.name}`, chain.rules.length);
          chain.rules.forEach((rule, i) => {
            const key = ruleKey(table.name, chain.name, i);
            this.keyOf.set(rule, key);
            this.text.set(key, formatRule(rule, dump.family));
          });
        }
      }
    }
  }

  label(key: CounterKey): string {
    return `${key}: ${this.text.get(key) ?? "(policy)"}`;
  }
}

/** Every rule and built-in chain counter of a dump (`iptables-save -c`). */
export function kernelCounters(file: RulesetFile): Map<CounterKey, Count> {
  const out = new Map<CounterKey, Count>();
  for (const dump of file.dumps) {
    for (const table of dump.tables) {
      for (const chain of table.chains) {
        if (BUILTIN_CHAINS[table.name].includes(chain.name) && chain.counters)
          out.set(policyKey(table.name, chain.name), chain.counters);
        chain.rules.forEach((rule, i) => {
          if (rule.counters) out.set(ruleKey(table.name, chain.name, i), rule.counters);
        });
      }
    }
  }
  return out;
}

/** after - before, keeping only what moved. */
export function delta(before: Map<CounterKey, Count>, after: Map<CounterKey, Count>): Map<CounterKey, Count> {
  const out = new Map<CounterKey, Count>();
  for (const [key, a] of after) {
    const b = before.get(key) ?? { packets: 0n, bytes: 0n };
    if (a.packets !== b.packets || a.bytes !== b.bytes)
      out.set(key, { packets: a.packets - b.packets, bytes: a.bytes - b.bytes });
  }
  return out;
}

/** The simulator's counters after a trace, in the kernel's keys. */
export function simCounters(state: EngineState, index: RuleIndex): Map<CounterKey, Count> {
  const out = new Map<CounterKey, Count>();
  for (const [{ rule }, c] of state.ruleCounters) {
    const key = index.keyOf.get(rule);
    if (!key) throw new Error(`simulator counted a rule not in the file: ${rule.chain} line ${rule.line}`);
    if (c.packets !== 0n) out.set(key, { packets: c.packets, bytes: c.bytes });
  }
  for (const [k, c] of state.policyCounters) {
    const [table, chain] = k.split("/") as [TableName, string];
    if (c.packets !== 0n) out.set(policyKey(table, chain), { packets: c.packets, bytes: c.bytes });
  }
  return out;
}

export function addCounts(into: Map<CounterKey, Count>, more: Map<CounterKey, Count>): void {
  for (const [k, c] of more) {
    const prev = into.get(k) ?? { packets: 0n, bytes: 0n };
    into.set(k, { packets: prev.packets + c.packets, bytes: prev.bytes + c.bytes });
  }
}

/** Only the counters of one table. */
export function onlyTable(m: Map<CounterKey, Count>, table: TableName): Map<CounterKey, Count> {
  return new Map([...m].filter(([k]) => k.startsWith(`${table} `)));
}

/** A stable, readable form for assert.deepEqual: `key: rule -> packets/bytes`, sorted. */
export function describeCounts(m: Map<CounterKey, Count>, index: RuleIndex): string[] {
  return [...m].map(([k, c]) => `${index.label(k)} -> ${c.packets}/${c.bytes}`).sort();
}

export interface TupleText {
  readonly src: string;
  readonly dst: string;
  readonly sport: number;
  readonly dport: number;
}

export interface CtLine {
  readonly proto: string;
  readonly state: string | null;
  readonly orig: TupleText;
  readonly reply: TupleText;
  readonly unreplied: boolean;
  readonly assured: boolean;
  readonly mark: number;
  readonly line: string;
}

/** One `conntrack -L` line of a TCP/UDP entry. */
export function parseCtLine(line: string): CtLine {
  const tuples = [...line.matchAll(/src=(\S+) dst=(\S+) sport=(\d+) dport=(\d+)/g)].map(
    (m): TupleText => ({
      src: m[1] as string,
      dst: m[2] as string,
      sport: Number(m[3]),
      dport: Number(m[4]),
    }),
  );
  if (tuples.length !== 2) throw new Error(`not a conntrack line with two tuples: ${line}`);
  const words = line.split(/ +/);
  const state = /^[A-Z_0-9]+$/.test(words[3] ?? "") ? (words[3] as string) : null;
  return {
    proto: words[0] as string,
    state,
    orig: tuples[0] as TupleText,
    reply: tuples[1] as TupleText,
    unreplied: line.includes("[UNREPLIED]"),
    assured: line.includes("[ASSURED]"),
    mark: Number(/ mark=(\d+)/.exec(line)?.[1] ?? "0"),
    line,
  };
}

export function tupleText(t: CtTuple): TupleText {
  return { src: formatIp(t.family, t.src), dst: formatIp(t.family, t.dst), sport: t.sport, dport: t.dport };
}

export function entryTuples(e: ConntrackEntry): { orig: TupleText; reply: TupleText } {
  return { orig: tupleText(e.orig), reply: tupleText(e.reply) };
}

/** The seconds-left field is the only one that depends on when `conntrack -L` ran. */
export function normaliseCt(line: string): string {
  return line.replace(/^(\S+ +\d+ )\d+ /, "$1<secs> ");
}

export async function waitFor(what: string, cond: () => boolean, timeoutMs = 3000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (cond()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
