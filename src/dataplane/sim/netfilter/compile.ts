import type { Diagnostic } from "../../../core/diagnostic.ts";
import type { Family } from "../../../core/ip.ts";
import type { IpSetRegistry } from "../../../model/ipset.ts";
import type { Match } from "../../../model/netfilter/matches.ts";
import {
  BUILTIN_CHAINS,
  type Rule,
  type RulesetFile,
  type Table,
  type TableName,
} from "../../../model/netfilter/ruleset.ts";
import { formatRule } from "../../../model/netfilter/save.ts";
import type { Target } from "../../../model/netfilter/targets.ts";
import type { Packet } from "../../../model/packet.ts";
import { compileMatch, ifaceMatches, netPred, type Pred } from "./compile-match.ts";
import type { Env } from "./env.ts";

/**
 * Compiles a ruleset once into what the per-packet loop needs: each rule as an array of predicates
 * (cheap header tests first, then the matches in order, as the kernel evaluates them) and long runs
 * of rules keyed on one exact destination (KUBE-SERVICES) or destination port (KUBE-NODEPORTS) as
 * hash lookups, so a 10,000-service chain costs one Map lookup, not 20,000 rule tests.
 */

/**
 * The tests most rules consist of, as plain numbers on the compiled rule (IPv4 only): protocol,
 * -s/-d, the tcp/udp ports, and a random statistic that is the rule's last match. A kube-proxy rule
 * then needs one object per packet instead of ~10 (closures, their contexts, arrays), which is what
 * costs on a large ruleset: each packet reaches a service's cold chains.
 */
export interface FastTests {
  proto: number;
  protoInv: boolean;
  dstOn: boolean;
  dstAddr: number;
  dstMask: number;
  dstInv: boolean;
  srcOn: boolean;
  srcAddr: number;
  srcMask: number;
  srcInv: boolean;
  l4: number;
  dpFrom: number;
  dpTo: number;
  dpInv: boolean;
  spFrom: number;
  spTo: number;
  spInv: boolean;
  stat: number;
  statInv: boolean;
}

function noFast(): FastTests {
  return {
    proto: -1,
    protoInv: false,
    dstOn: false,
    dstAddr: 0,
    dstMask: 0,
    dstInv: false,
    srcOn: false,
    srcAddr: 0,
    srcMask: 0,
    srcInv: false,
    l4: 0,
    dpFrom: 0,
    dpTo: 65535,
    dpInv: false,
    spFrom: 0,
    spTo: 65535,
    spInv: false,
    stat: -1,
    statInv: false,
  };
}

export class CompiledRule {
  private printed: string | null = null;
  /** The chain a `-j`/`-g` to a user chain goes to, resolved once at compile time (null: missing). */
  jump: CompiledChain | null = null;
  /** The line did not parse. Kept here so the per-packet loop need not touch the (cold) Rule. */
  readonly broken: boolean;
  readonly line: number;
  /** A `-j`/`-g` to a user chain: its name and -g, copied so a jump need not touch the (cold) target. */
  readonly jumpName: string | null;
  readonly goto: boolean;
  readonly proto: number;
  readonly protoInv: boolean;
  readonly dstOn: boolean;
  readonly dstAddr: number;
  readonly dstMask: number;
  readonly dstInv: boolean;
  readonly srcOn: boolean;
  readonly srcAddr: number;
  readonly srcMask: number;
  readonly srcInv: boolean;
  readonly l4: number;
  readonly dpFrom: number;
  readonly dpTo: number;
  readonly dpInv: boolean;
  readonly spFrom: number;
  readonly spTo: number;
  readonly spInv: boolean;
  readonly stat: number;
  readonly statInv: boolean;

  constructor(
    readonly rule: Rule,
    readonly table: TableName,
    private readonly family: Family,
    readonly preds: readonly Pred[],
    readonly target: Target | null,
    /** Set when the rule cannot be evaluated faithfully (unknown module, parse error): it never matches. */
    readonly uncertain: string | null,
    f: FastTests = noFast(),
  ) {
    this.broken = rule.error !== null;
    this.line = rule.line;
    this.jumpName = target?.kind === "jump" ? target.chain : null;
    this.goto = target?.kind === "jump" && target.goto;
    this.proto = f.proto;
    this.protoInv = f.protoInv;
    this.dstOn = f.dstOn;
    this.dstAddr = f.dstAddr;
    this.dstMask = f.dstMask;
    this.dstInv = f.dstInv;
    this.srcOn = f.srcOn;
    this.srcAddr = f.srcAddr;
    this.srcMask = f.srcMask;
    this.srcInv = f.srcInv;
    this.l4 = f.l4;
    this.dpFrom = f.dpFrom;
    this.dpTo = f.dpTo;
    this.dpInv = f.dpInv;
    this.spFrom = f.spFrom;
    this.spTo = f.spTo;
    this.spInv = f.spInv;
    this.stat = f.stat;
    this.statInv = f.statInv;
  }

  /**
   * The rule as iptables-save prints it, for traces. Printed on first use: printing every rule of a
   * 100,000-rule node up front cost a second and ~150 MB that no trace needs.
   */
  get text(): string {
    this.printed ??= formatRule(this.rule, this.family);
    return this.printed;
  }
}

export type Segment =
  | { readonly kind: "linear"; readonly rules: readonly CompiledRule[] }
  | {
      readonly kind: "index";
      readonly key: (p: Packet) => number;
      readonly buckets: ReadonlyMap<number, readonly CompiledRule[]>;
    };

export interface CompiledChain {
  readonly table: TableName;
  readonly name: string;
  readonly policy: "ACCEPT" | "DROP" | null;
  readonly rules: readonly CompiledRule[];
  readonly segments: readonly Segment[];
}

export interface CompiledRuleset {
  readonly family: Family;
  readonly tables: ReadonlyMap<TableName, ReadonlyMap<string, CompiledChain>>;
  readonly diagnostics: readonly Diagnostic[];
}

const NO_PREDS: readonly Pred[] = [];

/** Runs shorter than this stay linear: a Map lookup only pays off over many rules. */
const INDEX_MIN_RUN = 8;

export interface CompileOptions {
  readonly family?: Family;
  readonly ipsets?: IpSetRegistry | null;
  readonly sourceName?: string;
}

/** Picks the tables of one family from a file; a table given twice keeps the later one (with a warning). */
export function selectTables(
  file: RulesetFile,
  family: Family,
  sourceName = "rules",
): { tables: Table[]; diagnostics: Diagnostic[] } {
  const byName = new Map<TableName, Table>();
  const diagnostics: Diagnostic[] = [];
  for (const dump of file.dumps) {
    if (dump.family !== family) continue;
    for (const t of dump.tables) {
      const prev = byName.get(t.name);
      if (prev) {
        diagnostics.push({
          code: "iptables.duplicate-table",
          severity: "warning",
          message: `Table ${t.name} appears twice (lines ${prev.line} and ${t.line}); using the later one`,
          source: { file: sourceName, line: t.line, column: 1 },
        });
      }
      byName.set(t.name, t);
    }
  }
  return { tables: [...byName.values()], diagnostics };
}

export function compileRuleset(file: RulesetFile, options: CompileOptions = {}): CompiledRuleset {
  const family = options.family ?? file.dumps[0]?.family ?? 4;
  const sourceName = options.sourceName ?? "rules";
  const { tables, diagnostics } = selectTables(file, family, sourceName);
  const compiled = new Map<TableName, Map<string, CompiledChain>>();
  for (const table of tables) {
    const chains = new Map<string, CompiledChain>();
    for (const chain of table.chains) {
      const rules = chain.rules.map((r) => compileRule(r, table.name, family, options.ipsets ?? null));
      chains.set(chain.name, {
        table: table.name,
        name: chain.name,
        policy: chain.policy,
        rules,
        segments: segment(rules),
      });
    }
    // Built-in chains exist in the kernel even when a restore file does not declare them.
    for (const name of BUILTIN_CHAINS[table.name]) {
      if (!chains.has(name))
        chains.set(name, { table: table.name, name, policy: "ACCEPT", rules: [], segments: [] });
    }
    for (const chain of chains.values()) {
      for (const r of chain.rules) if (r.target?.kind === "jump") r.jump = chains.get(r.target.chain) ?? null;
    }
    for (const loop of findLoops(chains)) {
      diagnostics.push({
        code: "iptables.chain-loop",
        severity: "error",
        message: `Chains in table ${table.name} jump in a loop (${loop.join(" -> ")}); the kernel refuses such a ruleset`,
        source: { file: sourceName, line: table.line, column: 1 },
      });
    }
    compiled.set(table.name, chains);
  }
  return { family, tables: compiled, diagnostics };
}

function compileRule(
  rule: Rule,
  table: TableName,
  family: Family,
  ipsets: IpSetRegistry | null,
): CompiledRule {
  if (rule.error !== null) {
    return new CompiledRule(rule, table, family, NO_PREDS, null, `cannot parse: ${rule.error}`);
  }
  const fast = noFast();
  const preds: Pred[] = [];
  const problems: string[] = [];
  if (rule.proto && rule.proto.proto !== 0) {
    fast.proto = rule.proto.proto;
    fast.protoInv = rule.proto.invert;
  }
  if (rule.dst) {
    const n = rule.dst.net;
    if (n.family === 4) {
      fast.dstOn = true;
      fast.dstAddr = n.addr;
      fast.dstMask = n.mask;
      fast.dstInv = rule.dst.invert;
    } else preds.push(netPred(n, rule.dst.invert, (p) => p.dst));
  }
  if (rule.src) {
    const n = rule.src.net;
    if (n.family === 4) {
      fast.srcOn = true;
      fast.srcAddr = n.addr;
      fast.srcMask = n.mask;
      fast.srcInv = rule.src.invert;
    } else preds.push(netPred(n, rule.src.invert, (p) => p.src));
  }
  if (rule.inIface) {
    const { name, invert } = rule.inIface;
    // With no input device (locally generated) the kernel compares against an empty name.
    preds.push((_p, env) => ifaceMatches(name, env.inIface ?? "") !== invert);
  }
  if (rule.outIface) {
    const { name, invert } = rule.outIface;
    preds.push((_p, env) => ifaceMatches(name, env.outIface ?? "") !== invert);
  }
  if (rule.fragment) {
    const invert = rule.fragment.invert;
    preds.push((p) => p.fragment !== invert);
  }
  // Matches run in order, and some act (a random statistic draws a coin, recent and limit keep
  // state), so a match is inlined only where that order cannot show: the ports when nothing but
  // comments comes before them, the statistic when nothing but comments comes after it.
  const isComment = (m: Match) => "module" in m && m.module === "comment";
  let firstReal = -1;
  let lastReal = -1;
  rule.matches.forEach((m, i) => {
    if (isComment(m)) return;
    if (firstReal < 0) firstReal = i;
    lastReal = i;
  });
  rule.matches.forEach((m, i) => {
    if (!("unknown" in m)) {
      if (
        (m.module === "tcp" || m.module === "udp") &&
        i === firstReal &&
        !("flags" in m && m.flags) &&
        !("option" in m && m.option)
      ) {
        fast.l4 = m.module === "tcp" ? 6 : 17;
        if (m.dport) {
          fast.dpFrom = m.dport.value.from;
          fast.dpTo = m.dport.value.to;
          fast.dpInv = m.dport.invert;
        }
        if (m.sport) {
          fast.spFrom = m.sport.value.from;
          fast.spTo = m.sport.value.to;
          fast.spInv = m.sport.invert;
        }
        return;
      }
      if (m.module === "statistic" && m.mode === "random" && i === lastReal) {
        fast.stat = m.stored;
        fast.statInv = m.invert;
        return;
      }
    }
    const pred = compileMatch(m, { family, rule, ipsets, unsupported: (r) => problems.push(r) });
    if (pred) preds.push(pred);
  });
  let uncertain = problems.length ? problems.join(", ") : null;
  if (rule.target?.kind === "unknown")
    uncertain = [uncertain, `-j ${rule.target.name}`].filter(Boolean).join(", ");
  // Most rules have no predicate left: one shared empty list stays in cache, 100,000 would not.
  return new CompiledRule(rule, table, family, preds.length ? preds : NO_PREDS, rule.target, uncertain, fast);
}

/** The exact-match key a rule is indexable by, or null. */
function dstKey(r: CompiledRule): number | null {
  const d = r.rule.dst;
  if (r.uncertain !== null || !d || d.invert || d.net.family !== 4 || d.net.prefix !== 32) return null;
  return d.net.addr;
}

function dportKey(r: CompiledRule): number | null {
  const rule = r.rule;
  if (r.uncertain !== null || rule.dst || !rule.proto || rule.proto.invert) return null;
  const l4 = rule.matches.find((m) => "module" in m && (m.module === "tcp" || m.module === "udp"));
  if (!l4 || !("dport" in l4) || !l4.dport || l4.dport.invert || l4.dport.value.from !== l4.dport.value.to)
    return null;
  return rule.proto.proto * 65536 + l4.dport.value.from;
}

const KEYS: readonly { fn: (r: CompiledRule) => number | null; key: (p: Packet) => number }[] = [
  { fn: dstKey, key: (p) => Number(p.dst) },
  { fn: dportKey, key: (p) => p.proto * 65536 + p.dport },
];

function segment(rules: readonly CompiledRule[]): Segment[] {
  const segments: Segment[] = [];
  let linear: CompiledRule[] = [];
  let i = 0;
  while (i < rules.length) {
    let used = false;
    for (const k of KEYS) {
      let j = i;
      while (j < rules.length && k.fn(rules[j] as CompiledRule) !== null) j++;
      if (j - i >= INDEX_MIN_RUN) {
        if (linear.length) segments.push({ kind: "linear", rules: linear });
        linear = [];
        const buckets = new Map<number, CompiledRule[]>();
        for (let x = i; x < j; x++) {
          const r = rules[x] as CompiledRule;
          const key = k.fn(r) as number;
          const b = buckets.get(key);
          if (b) b.push(r);
          else buckets.set(key, [r]);
        }
        segments.push({ kind: "index", key: k.key, buckets });
        i = j;
        used = true;
        break;
      }
    }
    if (!used) linear.push(rules[i++] as CompiledRule);
  }
  if (linear.length) segments.push({ kind: "linear", rules: linear });
  return segments;
}

function findLoops(chains: ReadonlyMap<string, CompiledChain>): string[][] {
  const loops: string[][] = [];
  const state = new Map<string, 1 | 2>();
  const stack: string[] = [];
  const visit = (name: string) => {
    state.set(name, 1);
    stack.push(name);
    for (const r of chains.get(name)?.rules ?? []) {
      if (r.target?.kind !== "jump") continue;
      const next = r.target.chain;
      if (state.get(next) === 1) loops.push([...stack.slice(stack.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(name, 2);
  };
  for (const name of chains.keys()) if (!state.has(name)) visit(name);
  return loops;
}

export type { Env };
