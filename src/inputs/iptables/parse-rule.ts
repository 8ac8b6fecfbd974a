import { type Family, parseIpNet } from "../../core/ip.ts";
import type { Match, UnknownMatch } from "../../model/netfilter/matches.ts";
import { parseProto } from "../../model/netfilter/protocols.ts";
import type {
  AddrSpec,
  Counters,
  IfaceSpec,
  ProtoSpec,
  Rule,
  TableName,
} from "../../model/netfilter/ruleset.ts";
import type { Target } from "../../model/netfilter/targets.ts";
import { EMPTY, type Interner } from "./intern.ts";
import type { ModuleParser } from "./module-parser.ts";
import { implicitModuleName, MODULES } from "./modules.ts";
import { type TargetParser, targetParser } from "./targets.ts";
import type { Token } from "./tokenize.ts";

/**
 * Turns the words of one rule (after `-A CHAIN`) into a Rule, the way iptables' command parser
 * does: header options, then `-m` modules that each claim their own `--options`, then the target.
 */

export interface RuleContext {
  readonly family: Family;
  readonly table: TableName;
  readonly chain: string;
  readonly line: number;
  readonly counters: Counters | null;
  /** Chains declared in the table so far: a `-j NAME` to one of them is a jump. */
  readonly chains: { has(name: string): boolean };
  /** Shares identical read-only pieces across the rules of one parse. */
  readonly intern: Interner;
}

export interface RuleProblem {
  readonly message: string;
  readonly column: number;
  readonly code: string;
  readonly severity: "error" | "warning";
}

export interface ParsedRule {
  readonly rule: Rule;
  readonly problems: readonly RuleProblem[];
}

const HEADER_OPTIONS = new Set([
  "-s",
  "--source",
  "--src",
  "-d",
  "--destination",
  "--dst",
  "-i",
  "--in-interface",
  "-o",
  "--out-interface",
  "-p",
  "--protocol",
  "-f",
  "--fragment",
  "-m",
  "--match",
  "-j",
  "--jump",
  "-g",
  "--goto",
  "-c",
  "--set-counters",
]);

interface LoadedModule {
  readonly name: string;
  readonly column: number;
  readonly parser: ModuleParser | null;
  readonly tokens: string[];
}

class RuleSyntaxError extends Error {
  constructor(
    message: string,
    readonly column: number,
  ) {
    super(message);
  }
}

function isHeaderAt(tokens: readonly Token[], i: number): boolean {
  const t = tokens[i];
  if (!t || t.quoted) return false;
  if (HEADER_OPTIONS.has(t.text)) return true;
  const next = tokens[i + 1];
  return t.text === "!" && next !== undefined && !next.quoted && HEADER_OPTIONS.has(next.text);
}

export function parseRule(tokens: readonly Token[], ctx: RuleContext, restText: string): ParsedRule {
  try {
    return parseRuleOrThrow(tokens, ctx);
  } catch (e) {
    if (!(e instanceof RuleSyntaxError)) throw e;
    const rule = brokenRule(ctx, e.message, restText);
    return {
      rule,
      problems: [{ message: e.message, column: e.column, code: "iptables.bad-rule", severity: "error" }],
    };
  }
}

/** A rule we could not read: kept in its place with its text, so traces can say they met it. */
export function brokenRule(ctx: RuleContext, message: string, text: string): Rule {
  return {
    chain: ctx.chain,
    line: ctx.line,
    counters: ctx.counters,
    src: null,
    dst: null,
    inIface: null,
    outIface: null,
    proto: null,
    fragment: null,
    matches: [],
    target: null,
    error: message,
    text,
  };
}

function parseRuleOrThrow(tokens: readonly Token[], ctx: RuleContext): ParsedRule {
  const problems: RuleProblem[] = [];
  let src: AddrSpec | null = null;
  let dst: AddrSpec | null = null;
  let inIface: IfaceSpec | null = null;
  let outIface: IfaceSpec | null = null;
  let proto: ProtoSpec | null = null;
  let fragment: { invert: boolean } | null = null;
  let counters = ctx.counters;
  const modules: LoadedModule[] = [];
  // Modules read the protocol when they finish, so `-m tcp -p tcp` (kube-proxy's order) works.
  const moduleCtx = {
    family: ctx.family,
    get proto() {
      return proto?.proto ?? 0;
    },
  };
  let target: {
    name: string;
    goto: boolean;
    column: number;
    parser: TargetParser | null;
    tokens: string[];
  } | null = null;

  let i = 0;
  const take = (count: number, option: string, column: number): string[] => {
    const args: string[] = [];
    for (let k = 0; k < count; k++) {
      const t = tokens[i + 1 + k];
      if (!t)
        throw new RuleSyntaxError(
          `option "${option}" needs ${count} argument${count > 1 ? "s" : ""}`,
          column,
        );
      args.push(t.text);
    }
    i += count;
    return args;
  };

  for (; i < tokens.length; i++) {
    let tok = tokens[i] as Token;
    let invert = false;
    if (tok.text === "!" && !tok.quoted) {
      invert = true;
      i++;
      const next = tokens[i];
      if (!next) throw new RuleSyntaxError('"!" at the end of the rule negates nothing', tok.column);
      tok = next;
    }
    const opt = tok.text;
    const col = tok.column;
    if (tok.quoted || !opt.startsWith("-")) throw new RuleSyntaxError(`unexpected word "${opt}"`, col);
    switch (opt) {
      case "-s":
      case "--source":
      case "--src":
      case "-d":
      case "--destination":
      case "--dst": {
        const [arg] = take(1, opt, col);
        const net = parseIpNet(arg as string, ctx.family);
        if (!net)
          throw new RuleSyntaxError(
            `"${arg}" is not an IPv${ctx.family} address or network`,
            col + opt.length + 1,
          );
        const spec = { net, invert };
        if (opt === "-s" || opt === "--source" || opt === "--src") {
          if (src) throw new RuleSyntaxError("multiple -s flags are not allowed", col);
          src = spec;
        } else {
          if (dst) throw new RuleSyntaxError("multiple -d flags are not allowed", col);
          dst = spec;
        }
        continue;
      }
      case "-i":
      case "--in-interface":
      case "-o":
      case "--out-interface": {
        const [name] = take(1, opt, col);
        if (!name || name.length > 15)
          throw new RuleSyntaxError(`interface name "${name}" must be 1 to 15 characters`, col);
        const spec = { name, invert };
        const isIn = opt === "-i" || opt === "--in-interface";
        if (isIn) {
          if (ctx.chain === "OUTPUT" || ctx.chain === "POSTROUTING") {
            throw new RuleSyntaxError(`Can't use -i with ${ctx.chain}`, col);
          }
          inIface = spec;
        } else {
          if (ctx.chain === "INPUT" || ctx.chain === "PREROUTING") {
            throw new RuleSyntaxError(`Can't use -o with ${ctx.chain}`, col);
          }
          outIface = spec;
        }
        continue;
      }
      case "-p":
      case "--protocol": {
        const [arg] = take(1, opt, col);
        const p = parseProto(arg as string);
        if (p === null) throw new RuleSyntaxError(`unknown protocol "${arg}"`, col);
        if (proto) throw new RuleSyntaxError("multiple -p flags are not allowed", col);
        proto = ctx.intern.get(`p${p}${invert}`, () => ({ proto: p, invert }));
        continue;
      }
      case "-f":
      case "--fragment":
        if (ctx.family === 6) throw new RuleSyntaxError("-f is IPv4 only (use -m frag)", col);
        fragment = { invert };
        continue;
      case "-c":
      case "--set-counters": {
        if (invert) throw new RuleSyntaxError(`${opt} cannot be negated`, col);
        const [p, b] = take(2, opt, col);
        if (!/^\d+$/.test(p as string) || !/^\d+$/.test(b as string)) {
          throw new RuleSyntaxError(`invalid counters "${p} ${b}"`, col);
        }
        counters = { packets: BigInt(p as string), bytes: BigInt(b as string) };
        continue;
      }
      case "-m":
      case "--match": {
        if (invert) throw new RuleSyntaxError(`${opt} cannot be negated`, col);
        const [name] = take(1, opt, col);
        const factory = MODULES.get(name as string);
        const loaded: LoadedModule = {
          name: name as string,
          column: col,
          parser: factory ? factory(moduleCtx) : null,
          tokens: [],
        };
        modules.push(loaded);
        if (!factory) {
          // We do not know this module's options: keep every word up to the next rule-level option.
          while (i + 1 < tokens.length && !isHeaderAt(tokens, i + 1)) {
            i++;
            loaded.tokens.push((tokens[i] as Token).text);
          }
          problems.push({
            message: `unknown match module "${name}": kept as written, traces that reach it are uncertain`,
            column: col,
            code: "iptables.unknown-match",
            severity: "warning",
          });
        }
        continue;
      }
      case "-j":
      case "--jump":
      case "-g":
      case "--goto": {
        if (invert) throw new RuleSyntaxError(`${opt} cannot be negated`, col);
        const [name] = take(1, opt, col);
        if (target) throw new RuleSyntaxError("a rule can have only one target", col);
        const isGoto = opt === "-g" || opt === "--goto";
        const isChain = ctx.chains.has(name as string);
        const parser = isChain
          ? null
          : targetParser(name as string, { family: ctx.family, proto: proto?.proto ?? 0 });
        target = { name: name as string, goto: isGoto, column: col, parser, tokens: [] };
        if (isGoto && !isChain)
          throw new RuleSyntaxError(`-g needs a user chain, and "${name}" is not one`, col);
        if (!isChain && !parser) {
          // An extension we do not model: its options run to the end of the rule (targets come last).
          while (i + 1 < tokens.length) {
            i++;
            target.tokens.push((tokens[i] as Token).text);
          }
          problems.push({
            message: `unknown target or chain "${name}": kept as written, traces that reach it are uncertain`,
            column: col,
            code: "iptables.unknown-target",
            severity: "warning",
          });
        }
        continue;
      }
    }

    // An extension option: the target's first, then the most recently loaded module that knows it.
    if (target?.parser?.options.has(opt)) {
      const args = take(target.parser.options.get(opt) as number, opt, col);
      const err = target.parser.accept(opt, invert, args);
      if (err) throw new RuleSyntaxError(`${target.name}: ${err}`, col);
      continue;
    }
    let owner: LoadedModule | undefined;
    for (let k = modules.length - 1; k >= 0 && !owner; k--)
      if (modules[k]?.parser?.options.has(opt)) owner = modules[k];
    if (!owner) {
      const implicit = implicitModuleName(proto?.proto ?? 0, ctx.family);
      const factory = implicit ? MODULES.get(implicit) : undefined;
      const parser = factory?.(moduleCtx);
      if (implicit && parser?.options.has(opt) && !modules.some((m) => m.name === implicit)) {
        owner = { name: implicit, column: col, parser, tokens: [] };
        modules.push(owner);
      }
    }
    if (!owner?.parser) throw new RuleSyntaxError(`unknown option "${opt}"`, col);
    const args = take(owner.parser.options.get(opt) as number, opt, col);
    const err = owner.parser.accept(opt, invert, args);
    if (err) throw new RuleSyntaxError(`${owner.name}: ${err}`, col);
  }

  const matches: Match[] = [];
  for (const m of modules) {
    if (m.name === "comment" && m.parser) {
      // A service's comment repeats on each of its rules: share one match object.
      const built = m.parser.finish();
      if (typeof built === "string") throw new RuleSyntaxError(`comment: ${built}`, m.column);
      matches.push(ctx.intern.get(`c${(built as { comment: string }).comment}`, () => built));
      continue;
    }
    if (!m.parser) {
      const unknown: UnknownMatch = { module: m.name, unknown: true, tokens: m.tokens };
      matches.push(unknown);
      continue;
    }
    const built = m.parser.finish();
    if (typeof built === "string") throw new RuleSyntaxError(`${m.name}: ${built}`, m.column);
    matches.push(built);
  }
  let builtTarget: Target | null = null;
  if (target) {
    if (target.parser) {
      const t = target.parser.finish();
      if (typeof t === "string") throw new RuleSyntaxError(`${target.name}: ${t}`, target.column);
      builtTarget = t;
    } else if (ctx.chains.has(target.name)) {
      const { name, goto } = target;
      builtTarget = ctx.intern.get(`j${goto ? "g" : "j"}${name}`, () => ({
        kind: "jump",
        chain: name,
        goto,
      }));
    } else {
      builtTarget = { kind: "unknown", name: target.name, tokens: target.tokens };
    }
    const misplaced = targetPlacement(builtTarget, ctx);
    if (misplaced) throw new RuleSyntaxError(misplaced, target.column);
  }
  const rule: Rule = {
    chain: ctx.chain,
    line: ctx.line,
    counters,
    src,
    dst,
    inIface,
    outIface,
    proto,
    fragment,
    matches: matches.length === 0 ? EMPTY : matches,
    target: builtTarget,
    error: null,
    text: null,
  };
  return { rule, problems };
}

/** Hooks each built-in chain runs at, for the targets that only work at some (xt_target.hooks). */
const NAT_TABLE_ONLY = new Set(["DNAT", "SNAT", "MASQUERADE", "REDIRECT"]);
const DST_NAT_CHAINS = new Set(["PREROUTING", "OUTPUT"]);
const SRC_NAT_CHAINS = new Set(["POSTROUTING", "INPUT"]);
const REJECT_CHAINS = new Set(["INPUT", "FORWARD", "OUTPUT"]);

/**
 * The kernel refuses a target outside its table or hooks (x_tables checkentry: "DNAT target: only
 * valid in nat table"). User chains are checked by table only: their hooks depend on who jumps there.
 */
function targetPlacement(t: Target, ctx: RuleContext): string | null {
  const builtin = ["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"].includes(ctx.chain);
  if (NAT_TABLE_ONLY.has(t.kind)) {
    if (ctx.table !== "nat") return `the ${t.kind} target is only valid in the nat table, not ${ctx.table}`;
    const chains = t.kind === "DNAT" || t.kind === "REDIRECT" ? DST_NAT_CHAINS : SRC_NAT_CHAINS;
    if (builtin && !chains.has(ctx.chain))
      return `the ${t.kind} target is not valid in ${ctx.chain}: only in ${[...chains].join(" and ")}`;
  }
  if ((t.kind === "CT" || t.kind === "NOTRACK") && ctx.table !== "raw")
    return `the ${t.kind} target is only valid in the raw table`;
  if (t.kind === "REJECT" && builtin && !REJECT_CHAINS.has(ctx.chain))
    return `the REJECT target is only valid in INPUT, FORWARD and OUTPUT, not ${ctx.chain}`;
  return null;
}
