import type { Rule, TableName } from "../../../model/netfilter/ruleset.ts";
import type { MasqueradeTarget, NatTarget } from "../../../model/netfilter/targets.ts";
import type { Packet } from "../../../model/packet.ts";
import type { CompiledChain, CompiledRule, CompiledRuleset } from "../netfilter/compile.ts";
import type { Pred } from "../netfilter/compile-match.ts";
import type { Env, Hook } from "../netfilter/env.ts";

/**
 * netfilter/run-table.ts's walk of one table for one hook (ipt_do_table), for bulk traffic: the same
 * rules in the same order with the same tests, jumps, marks, statistic draws and verdicts, but no
 * list of hits (a RuleHit and a closure per matched rule) and counters as plain numbers instead of
 * BigInts. The counters are kept per compiled rule and per built-in chain whose policy applied, as
 * run-table.ts keeps them in EngineState.
 */

/** A table's verdict (run-table.ts TableResult without its objects). */
export const WALK = { accept: 0, drop: 1, reject: 2, nat: 3 } as const;
export type WalkResult = (typeof WALK)[keyof typeof WALK];

/** Fell off the end of a chain (run-table.ts CONTINUE), or a list of rules (runRules' null). */
const CONTINUE = -1;
const NEXT = -2;

const MAX_DEPTH = 256;

export interface Count {
  packets: number;
  bytes: number;
}

/** A rule that stands for a chain in an uncertainty note (run-table.ts placeholderRule). */
const NO_RULE: Rule = {
  chain: "",
  line: 0,
  counters: null,
  src: null,
  dst: null,
  inIface: null,
  outIface: null,
  proto: null,
  fragment: null,
  matches: [],
  target: null,
  error: null,
  text: null,
};

export class TableWalker {
  /** Packets and bytes per rule that matched, and per built-in chain whose policy applied. */
  readonly ruleCounts = new Map<CompiledRule, Count>();
  readonly policyCounts = new Map<CompiledChain, Count>();
  /** The NAT rule and target of the last `WALK.nat`. */
  natRule: CompiledRule | null = null;
  natTarget: NatTarget | MasqueradeTarget | null = null;

  constructor(private readonly rules: CompiledRuleset) {}

  /** A table's built-in chain for a hook, or undefined when the dump has none (then it accepts). */
  builtin(table: TableName, hook: Hook): CompiledChain | undefined {
    return this.rules.tables.get(table)?.get(hook);
  }

  /** One table's chain of a hook (run-table.ts runTable), given builtin(table, hook). */
  walk(chain: CompiledChain | undefined, p: Packet, env: Env): WalkResult {
    if (chain === undefined) return WALK.accept;
    const r = this.chain(chain, p, env, 0);
    if (r !== CONTINUE) return r as WalkResult;
    this.count(this.policyCounts, chain, p);
    return chain.policy === "DROP" ? WALK.drop : WALK.accept;
  }

  private chain(chain: CompiledChain, p: Packet, env: Env, depth: number): WalkResult | typeof CONTINUE {
    if (depth > MAX_DEPTH) {
      env.uncertain(chain.rules[0]?.rule ?? NO_RULE, `jumps nest deeper than ${MAX_DEPTH} chains; dropped`);
      return WALK.drop;
    }
    for (const seg of chain.segments) {
      // An indexed run offers only the rules keyed on this packet's destination (or port), in order.
      const list = seg.kind === "linear" ? seg.rules : seg.buckets.get(seg.key(p));
      if (list === undefined) continue;
      const r = this.list(list, p, env, depth);
      if (r !== NEXT) return r;
    }
    return CONTINUE;
  }

  /** run-table.ts runRules without the hits. */
  private list(
    list: readonly CompiledRule[],
    p: Packet,
    env: Env,
    depth: number,
  ): WalkResult | typeof CONTINUE | typeof NEXT {
    rules: for (let i = 0; i < list.length; i++) {
      const cr = list[i] as CompiledRule;
      if (cr.broken) {
        env.uncertain(cr.rule, cr.uncertain ?? "cannot parse");
        continue;
      }
      if (cr.proto >= 0 && (p.proto === cr.proto) === cr.protoInv) continue;
      if (cr.dstOn && ((Number(p.dst) & cr.dstMask) >>> 0 === cr.dstAddr) === cr.dstInv) continue;
      if (cr.srcOn && ((Number(p.src) & cr.srcMask) >>> 0 === cr.srcAddr) === cr.srcInv) continue;
      if (cr.l4 !== 0) {
        if (p.proto !== cr.l4 || p.fragment) continue;
        if ((p.dport >= cr.dpFrom && p.dport <= cr.dpTo) === cr.dpInv) continue;
        if ((p.sport >= cr.spFrom && p.sport <= cr.spTo) === cr.spInv) continue;
      }
      const preds = cr.preds;
      for (let k = 0; k < preds.length; k++) if (!(preds[k] as Pred)(p, env)) continue rules;
      if (cr.stat >= 0 && env.choose(cr.stat, cr.rule) === cr.statInv) continue;
      if (cr.uncertain !== null && cr.target?.kind !== "unknown") {
        env.uncertain(cr.rule, `${cr.uncertain}; assumed not to match`);
        continue;
      }
      this.count(this.ruleCounts, cr, p);
      if (cr.jumpName !== null) {
        const target = cr.jump;
        if (!target) {
          env.uncertain(cr.rule, `chain ${cr.jumpName} does not exist`);
          continue;
        }
        const r = this.chain(target, p, env, depth + 1);
        if (cr.goto || r !== CONTINUE) return r;
        continue;
      }
      const t = cr.target;
      if (!t) continue;
      switch (t.kind) {
        case "ACCEPT":
          return WALK.accept;
        case "DROP":
          return WALK.drop;
        case "REJECT":
          return WALK.reject;
        case "RETURN":
          return CONTINUE;
        case "jump":
          continue;
        case "MARK":
          p.mark = ((p.mark & ~t.mask) ^ t.value) >>> 0;
          continue;
        case "CONNMARK": {
          if (!env.ct || env.untracked) continue;
          const ct = env.ct;
          if (t.mode === "set") ct.mark = ((ct.mark & ~t.mask) ^ t.value) >>> 0;
          else if (t.mode === "save") ct.mark = ((ct.mark & ~t.ctmask) ^ (p.mark & t.nfmask)) >>> 0;
          else p.mark = ((p.mark & ~t.nfmask) ^ (ct.mark & t.ctmask)) >>> 0;
          continue;
        }
        case "DNAT":
        case "SNAT":
        case "MASQUERADE":
        case "REDIRECT":
          if (cr.table !== "nat") {
            env.uncertain(cr.rule, `-j ${t.kind} is only valid in the nat table`);
            continue;
          }
          this.natRule = cr;
          this.natTarget = t;
          return WALK.nat;
        case "LOG":
        case "NFLOG":
        case "TRACE":
          continue;
        case "CT":
        case "NOTRACK":
          if (t.notrack) env.untracked = true;
          continue;
        case "unknown":
          env.uncertain(cr.rule, `-j ${t.name} is not modelled; assumed to continue`);
          continue;
      }
    }
    return NEXT;
  }

  private count<K>(counts: Map<K, Count>, key: K, p: Packet): void {
    const c = counts.get(key);
    if (c !== undefined) {
      c.packets++;
      c.bytes += p.length;
    } else counts.set(key, { packets: 1, bytes: p.length });
  }
}
