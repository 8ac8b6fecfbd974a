import type { Rule, TableName } from "../../../model/netfilter/ruleset.ts";
import type { MasqueradeTarget, NatTarget } from "../../../model/netfilter/targets.ts";
import type { Packet } from "../../../model/packet.ts";
import type { CompiledChain, CompiledRule, CompiledRuleset } from "./compile.ts";
import type { Pred } from "./compile-match.ts";
import { type Env, type Hook, policyKey } from "./env.ts";

/**
 * Walks one table's chain for one hook, as ipt_do_table does: rules in order, jumps push a return
 * point, -g replaces it, RETURN or the end of a user chain pops it, a built-in chain ends in its
 * policy. Non-terminating targets (MARK, CONNMARK, LOG, NFLOG, TRACE, CT) act and go on.
 */

export interface RuleHit {
  readonly table: TableName;
  readonly chain: string;
  /** Line in the source dump (0 for a chain policy or a generated rule). */
  readonly line: number;
  /** The rule as iptables-save prints it, or `:CHAIN POLICY` for a policy. */
  readonly rule: string;
  /** What it did: "jump", "MARK 0x0 -> 0x4000", "DNAT", "ACCEPT", ... */
  readonly effect: string;
}

export type TableResult =
  | { readonly verdict: "ACCEPT" }
  | { readonly verdict: "DROP" | "REJECT"; readonly reject?: string }
  | { readonly verdict: "NAT"; readonly target: NatTarget | MasqueradeTarget; readonly rule: CompiledRule };

type ChainResult = TableResult | { readonly verdict: "CONTINUE" };

const MAX_DEPTH = 256;
const CONTINUE: ChainResult = { verdict: "CONTINUE" };
const ACCEPT: TableResult = { verdict: "ACCEPT" };

/**
 * A rule's hit. The rule's text is printed only when read: printing is most of what a hit costs
 * on a rule no trace reached before, and most traces are never rendered.
 */
class RuleHitOf implements RuleHit {
  readonly table: TableName;
  readonly line: number;
  constructor(
    private readonly cr: CompiledRule,
    readonly chain: string,
    /** null for a jump, whose words are built when read too. */
    private readonly said: string | null,
  ) {
    this.table = cr.table;
    this.line = cr.line;
  }

  get rule(): string {
    return this.cr.text;
  }

  get effect(): string {
    return this.said ?? `${this.cr.goto ? "goto" : "jump to"} ${this.cr.jumpName}`;
  }

  toJSON(): RuleHit {
    return { table: this.table, chain: this.chain, line: this.line, rule: this.rule, effect: this.effect };
  }
}

/** A policy hit's words, built once. */
const POLICY_EFFECT = { ACCEPT: "policy ACCEPT", DROP: "policy DROP" } as const;
const HOOKS = ["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"] as const;
const POLICY_RULE: Readonly<Record<Hook, Readonly<Record<"ACCEPT" | "DROP", string>>>> = {
  PREROUTING: { ACCEPT: ":PREROUTING ACCEPT", DROP: ":PREROUTING DROP" },
  INPUT: { ACCEPT: ":INPUT ACCEPT", DROP: ":INPUT DROP" },
  FORWARD: { ACCEPT: ":FORWARD ACCEPT", DROP: ":FORWARD DROP" },
  OUTPUT: { ACCEPT: ":OUTPUT ACCEPT", DROP: ":OUTPUT DROP" },
  POSTROUTING: { ACCEPT: ":POSTROUTING ACCEPT", DROP: ":POSTROUTING DROP" },
};

/** policyKey() of every table and hook, built once: a new string per packet is hashed at each lookup. */
const BUILTIN_KEYS = new Map(
  (["raw", "mangle", "nat", "filter", "security"] as const).map((table) => [
    table,
    new Map(HOOKS.map((hook) => [hook, policyKey(table, hook)])),
  ]),
);

function builtinKey(table: TableName, hook: Hook): string {
  return BUILTIN_KEYS.get(table)?.get(hook) ?? policyKey(table, hook);
}

/** Counted by compiled rule, which the loop holds already; the Rule behind it is not touched. */
function count(env: Env, cr: CompiledRule, p: Packet): void {
  const c = env.state.ruleCounters.get(cr);
  if (c) {
    c.packets += 1n;
    c.bytes += BigInt(p.length);
  } else env.state.ruleCounters.set(cr, { packets: 1n, bytes: BigInt(p.length) });
}

/** Runs one table's chain of a hook; the rules it hits are appended to `hits`. */
export function runTable(
  rs: CompiledRuleset,
  table: TableName,
  hook: Hook,
  p: Packet,
  env: Env,
  hits: RuleHit[],
): TableResult {
  const chains = rs.tables.get(table);
  const chain = chains?.get(hook);
  if (!chains || !chain) return ACCEPT;
  const result = runChain(chain, p, env, hits, 0);
  if (result.verdict !== "CONTINUE") return result;
  const policy = chain.policy ?? "ACCEPT";
  const key = builtinKey(table, hook);
  const c = env.state.policyCounters.get(key) ?? { packets: 0n, bytes: 0n };
  c.packets += 1n;
  c.bytes += BigInt(p.length);
  env.state.policyCounters.set(key, c);
  hits.push({ table, chain: hook, line: 0, rule: POLICY_RULE[hook][policy], effect: POLICY_EFFECT[policy] });
  return policy === "DROP" ? { verdict: "DROP" } : ACCEPT;
}

function runChain(chain: CompiledChain, p: Packet, env: Env, hits: RuleHit[], depth: number): ChainResult {
  if (depth > MAX_DEPTH) {
    env.uncertain(
      chain.rules[0]?.rule ?? placeholderRule(chain),
      `jumps nest deeper than ${MAX_DEPTH} chains; dropped`,
    );
    return { verdict: "DROP" };
  }
  for (const seg of chain.segments) {
    // An indexed run offers only the rules keyed on this packet's destination (or port), in order.
    const list = seg.kind === "linear" ? seg.rules : seg.buckets.get(seg.key(p));
    if (list === undefined) continue;
    const result = runRules(list, chain, p, env, hits, depth);
    if (result !== null) return result;
  }
  return CONTINUE;
}

/** Runs a list of candidate rules; null means "fell off the end, go on with the chain". */
function runRules(
  list: readonly CompiledRule[],
  chain: CompiledChain,
  p: Packet,
  env: Env,
  hits: RuleHit[],
  depth: number,
): ChainResult | null {
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
      // A match we cannot evaluate: everything we can evaluate matched, so the outcome is unknown.
      env.uncertain(cr.rule, `${cr.uncertain}; assumed not to match`);
      continue;
    }
    count(env, cr, p);
    const hit = (effect: string | null) => hits.push(new RuleHitOf(cr, chain.name, effect));
    if (cr.jumpName !== null) {
      // Before reading the target: a jump needs only what the compiled rule holds.
      const target = cr.jump;
      hit(null);
      if (!target) {
        env.uncertain(cr.rule, `chain ${cr.jumpName} does not exist`);
        continue;
      }
      const r = runChain(target, p, env, hits, depth + 1);
      if (cr.goto || r.verdict !== "CONTINUE") return r;
      continue;
    }
    const t = cr.target;
    if (!t) {
      hit("count only");
      continue;
    }
    switch (t.kind) {
      case "ACCEPT":
        hit("ACCEPT");
        return ACCEPT;
      case "DROP":
        hit("DROP");
        return { verdict: "DROP" };
      case "REJECT":
        hit(`REJECT with ${t.with}`);
        return { verdict: "REJECT", reject: t.with };
      case "RETURN":
        hit("RETURN");
        return CONTINUE;
      case "jump":
        continue; // handled above
      case "MARK": {
        const before = p.mark;
        p.mark = ((p.mark & ~t.mask) ^ t.value) >>> 0;
        hit(`MARK 0x${before.toString(16)} -> 0x${p.mark.toString(16)}`);
        continue;
      }
      case "CONNMARK": {
        // xt_connmark (revision 1): set, save (skb -> ct) and restore (ct -> skb) with masks.
        if (!env.ct || env.untracked) {
          hit("CONNMARK (no conntrack entry: nothing to do)");
          continue;
        }
        const ct = env.ct;
        if (t.mode === "set") ct.mark = ((ct.mark & ~t.mask) ^ t.value) >>> 0;
        else if (t.mode === "save") ct.mark = ((ct.mark & ~t.ctmask) ^ (p.mark & t.nfmask)) >>> 0;
        else p.mark = ((p.mark & ~t.nfmask) ^ (ct.mark & t.ctmask)) >>> 0;
        hit(`CONNMARK ${t.mode}: ctmark 0x${ct.mark.toString(16)}, mark 0x${p.mark.toString(16)}`);
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
        hit(t.kind);
        return { verdict: "NAT", target: t, rule: cr };
      case "LOG":
      case "NFLOG":
      case "TRACE":
        hit(t.kind);
        continue;
      case "CT":
      case "NOTRACK":
        if (t.notrack) {
          env.untracked = true;
          hit("NOTRACK: the packet is not tracked");
        } else hit(`CT ${t.options.join(" ")}`);
        continue;
      case "unknown":
        hit(`-j ${t.name} (not modelled)`);
        env.uncertain(cr.rule, `-j ${t.name} is not modelled; assumed to continue`);
        continue;
    }
  }
  return null;
}

function placeholderRule(chain: CompiledChain): Rule {
  return {
    chain: chain.name,
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
}
