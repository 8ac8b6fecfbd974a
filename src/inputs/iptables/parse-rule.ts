import { type Family, parseIpNet } from "../../core/ip.ts";
import type {
  Match,
  StatisticMatch,
  TcpMatch,
  UdpMatch,
  UnknownMatch,
} from "../../model/netfilter/matches.ts";
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
import { EMPTY, type Interner, ListPool, Pool } from "./intern.ts";
import type { ModuleParser } from "./module-parser.ts";
import { implicitModuleName, MODULES } from "./modules.ts";
import { type TargetParser, targetParser as targetParserFor } from "./targets.ts";
import type { Words } from "./tokenize.ts";

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
  readonly chains: { get(name: string): ChainRef | undefined };
  /** Shares identical read-only pieces across the rules of one parse. */
  readonly intern: Interner;
  readonly pools: RulePools;
  /** Handed to every module parser; parseRule sets it for each rule (modules read it only then). */
  readonly moduleCtx: { family: Family; proto: number };
}

/**
 * A declared chain as rules see it. The jump and goto to it are made on first use and kept here:
 * one lookup per `-j CHAIN` instead of a second one in a pool by name (a big dump jumps to tens of
 * thousands of chains).
 */
export interface ChainRef {
  readonly chain: { readonly name: string };
  jump: Target | null;
  goto: Target | null;
}

/** The pieces rules share most, each by a key that costs little to look up. */
export class RulePools {
  /** By protocol number * 2 + invert. */
  readonly protos = new Pool<number, ProtoSpec>();
  readonly comments = new Pool<string, Match>();
  /** tcp/udp/udplite/sctp with at most a plain --dport: by port * 4 + module. */
  readonly ports = new Pool<number, Match>();
  /** statistic --mode random: by the stored probability (negative when inverted). */
  readonly randoms = new Pool<number, Match>();
  readonly lists = new ListPool<Match>();
  /** buildMatches' working list. */
  readonly scratch: Match[] = [];
}

export interface RuleProblem {
  readonly message: string;
  readonly column: number;
  readonly code: string;
  readonly severity: "error" | "warning";
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

function isHeaderAt(words: Words, i: number): boolean {
  if (i >= words.length || words.quoted[i]) return false;
  const text = words.texts[i] as string;
  if (HEADER_OPTIONS.has(text)) return true;
  return (
    text === "!" &&
    i + 1 < words.length &&
    !words.quoted[i + 1] &&
    HEADER_OPTIONS.has(words.texts[i + 1] as string)
  );
}

/** Throws unless `count` argument words follow the option at `i`. */
function needArgs(words: Words, i: number, count: number, option: string, column: number): void {
  if (i + count >= words.length)
    throw new RuleSyntaxError(`option "${option}" needs ${count} argument${count > 1 ? "s" : ""}`, column);
}

/**
 * Reads the words of one rule (after `-A CHAIN`). Warnings and the error, if any, are appended to
 * `problems`; on an error the result is null and the error is the last problem.
 */
export function parseRule(words: Words, ctx: RuleContext, problems: RuleProblem[]): Rule | null {
  try {
    return parseRuleOrThrow(words, ctx, problems);
  } catch (e) {
    if (!(e instanceof RuleSyntaxError)) throw e;
    problems.push({ message: e.message, column: e.column, code: "iptables.bad-rule", severity: "error" });
    return null;
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

function parseRuleOrThrow(words: Words, ctx: RuleContext, problems: RuleProblem[]): Rule {
  const { texts, columns, quoted } = words;
  const n = words.length;
  let src: AddrSpec | null = null;
  let dst: AddrSpec | null = null;
  let inIface: IfaceSpec | null = null;
  let outIface: IfaceSpec | null = null;
  let proto: ProtoSpec | null = null;
  let fragment: { invert: boolean } | null = null;
  let counters = ctx.counters;
  const modules: LoadedModule[] = [];
  // Modules read the protocol when they finish, so `-m tcp -p tcp` (kube-proxy's order) works.
  const moduleCtx = ctx.moduleCtx;
  moduleCtx.family = ctx.family;
  moduleCtx.proto = 0;
  // The target, as plain variables rather than an object per rule.
  let targetName: string | null = null;
  let targetGoto = false;
  let targetColumn = 0;
  let targetParser: TargetParser | null = null;
  let targetTokens: string[] = EMPTY_TOKENS;
  let jumpChain: ChainRef | null = null;

  for (let i = 0; i < n; i++) {
    let invert = false;
    if (texts[i] === "!" && !quoted[i]) {
      invert = true;
      i++;
      if (i >= n)
        throw new RuleSyntaxError('"!" at the end of the rule negates nothing', columns[i - 1] as number);
    }
    const opt = texts[i] as string;
    const col = columns[i] as number;
    if (quoted[i] || !opt.startsWith("-")) throw new RuleSyntaxError(`unexpected word "${opt}"`, col);
    switch (opt) {
      case "-s":
      case "--source":
      case "--src":
      case "-d":
      case "--destination":
      case "--dst": {
        needArgs(words, i, 1, opt, col);
        const arg = texts[++i] as string;
        const spec = addrSpec(arg, invert, ctx);
        if (!spec)
          throw new RuleSyntaxError(
            `"${arg}" is not an IPv${ctx.family} address or network`,
            col + opt.length + 1,
          );
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
        needArgs(words, i, 1, opt, col);
        const name = texts[++i] as string;
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
        needArgs(words, i, 1, opt, col);
        const arg = texts[++i] as string;
        const p = parseProto(arg);
        if (p === null) throw new RuleSyntaxError(`unknown protocol "${arg}"`, col);
        if (proto) throw new RuleSyntaxError("multiple -p flags are not allowed", col);
        const protoKey = p * 2 + (invert ? 1 : 0);
        proto = ctx.pools.protos.get(protoKey) ?? ctx.pools.protos.add(protoKey, { proto: p, invert });
        moduleCtx.proto = p;
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
        needArgs(words, i, 2, opt, col);
        const p = texts[++i] as string;
        const b = texts[++i] as string;
        if (!/^\d+$/.test(p) || !/^\d+$/.test(b)) {
          throw new RuleSyntaxError(`invalid counters "${p} ${b}"`, col);
        }
        counters = { packets: BigInt(p), bytes: BigInt(b) };
        continue;
      }
      case "-m":
      case "--match": {
        if (invert) throw new RuleSyntaxError(`${opt} cannot be negated`, col);
        needArgs(words, i, 1, opt, col);
        const name = texts[++i] as string;
        const factory = MODULES.get(name);
        const loaded: LoadedModule = {
          name,
          column: col,
          parser: factory ? factory(moduleCtx) : null,
          tokens: factory ? EMPTY_TOKENS : [],
        };
        modules.push(loaded);
        if (!factory) {
          // We do not know this module's options: keep every word up to the next rule-level option.
          while (i + 1 < n && !isHeaderAt(words, i + 1)) loaded.tokens.push(texts[++i] as string);
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
        needArgs(words, i, 1, opt, col);
        const name = texts[++i] as string;
        if (targetName !== null) throw new RuleSyntaxError("a rule can have only one target", col);
        const isGoto = opt === "-g" || opt === "--goto";
        // A jump keeps the chain's declared name, so the rules that jump there share one string.
        jumpChain = ctx.chains.get(name) ?? null;
        const isChain = jumpChain !== null;
        targetName = name;
        targetGoto = isGoto;
        targetColumn = col;
        // A target reads the protocol now (modules read it when they finish, so they see all of the rule).
        targetParser = isChain ? null : targetParserFor(name, moduleCtx);
        if (isGoto && !isChain)
          throw new RuleSyntaxError(`-g needs a user chain, and "${name}" is not one`, col);
        if (!isChain && !targetParser) {
          // An extension we do not model: its options run to the end of the rule (targets come last).
          targetTokens = texts.slice(i + 1, n);
          i = n - 1;
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
    if (targetParser?.options.has(opt)) {
      const count = targetParser.options.get(opt) as number;
      needArgs(words, i, count, opt, col);
      const err = targetParser.accept(opt, invert, argsAt(texts, i + 1, count));
      i += count;
      if (err) throw new RuleSyntaxError(`${targetName}: ${err}`, col);
      continue;
    }
    const owner = moduleFor(opt, modules, ctx, col);
    if (!owner?.parser) throw new RuleSyntaxError(`unknown option "${opt}"`, col);
    const count = owner.parser.options.get(opt) as number;
    needArgs(words, i, count, opt, col);
    const err = owner.parser.accept(opt, invert, argsAt(texts, i + 1, count));
    i += count;
    if (err) throw new RuleSyntaxError(`${owner.name}: ${err}`, col);
  }

  const matches = modules.length === 0 ? EMPTY : buildMatches(modules, ctx.pools);
  let builtTarget: Target | null = null;
  if (targetName !== null) {
    if (targetParser) {
      const t = targetParser.finish();
      if (typeof t === "string") throw new RuleSyntaxError(`${targetName}: ${t}`, targetColumn);
      builtTarget = t;
    } else if (jumpChain !== null) {
      builtTarget = jumpTo(jumpChain, targetGoto);
    } else {
      builtTarget = { kind: "unknown", name: targetName, tokens: targetTokens };
    }
    const misplaced = targetPlacement(builtTarget, ctx);
    if (misplaced) throw new RuleSyntaxError(misplaced, targetColumn);
  }
  return {
    chain: ctx.chain,
    line: ctx.line,
    counters,
    src,
    dst,
    inIface,
    outIface,
    proto,
    fragment,
    matches,
    target: builtTarget,
    error: null,
    text: null,
  };
}

/** The shared jump (or goto) to a chain; it keeps the chain's declared name, one string for all. */
function jumpTo(ref: ChainRef, goto: boolean): Target {
  const made = goto ? ref.goto : ref.jump;
  if (made) return made;
  const target: Target = Object.freeze({ kind: "jump", chain: ref.chain.name, goto });
  if (goto) ref.goto = target;
  else ref.jump = target;
  return target;
}

/** Reused argument lists, one per count: parsers read `args` only while accepting (none keeps it). */
const ARG_LISTS: string[][] = [];

/** The `count` words from `from` on, in the reused list of that size (no array per option). */
function argsAt(texts: readonly string[], from: number, count: number): readonly string[] {
  let args = ARG_LISTS[count];
  if (args === undefined) {
    args = new Array<string>(count).fill("");
    ARG_LISTS[count] = args;
  }
  for (let k = 0; k < count; k++) args[k] = texts[from + k] as string;
  return args;
}

/** Shared empty list for the tokens of known modules and targets (only unknown ones keep theirs). */
const EMPTY_TOKENS: string[] = [];

/**
 * `-s`/`-d`. A network (not a single host) is shared between the rules that name it: kube-proxy
 * writes `! -s <pod CIDR>` on every service's masquerade rule.
 */
function addrSpec(arg: string, invert: boolean, ctx: RuleContext): AddrSpec | null {
  const net = parseIpNet(arg, ctx.family);
  if (!net) return null;
  if (net.prefix === (net.family === 4 ? 32 : 128)) return { net, invert };
  return ctx.intern.get(`a${ctx.family}${invert}${arg}`, () => ({ net, invert }));
}

/** The loaded module that takes `opt`: the most recent that declares it, else the protocol's own. */
function moduleFor(
  opt: string,
  modules: LoadedModule[],
  ctx: RuleContext,
  col: number,
): LoadedModule | undefined {
  for (let k = modules.length - 1; k >= 0; k--) {
    const m = modules[k] as LoadedModule;
    if (m.parser?.options.has(opt)) return m;
  }
  const implicit = implicitModuleName(ctx.moduleCtx.proto, ctx.family);
  if (!implicit) return undefined;
  for (const m of modules) if (m.name === implicit) return undefined;
  const parser = MODULES.get(implicit)?.(ctx.moduleCtx);
  if (!parser?.options.has(opt)) return undefined;
  const owner = { name: implicit, column: col, parser, tokens: EMPTY_TOKENS };
  modules.push(owner);
  return owner;
}

/**
 * Builds the rule's matches. Matches that repeat across rules (a service's comment, `-m tcp` with
 * the same port, a probability) are shared, and so is the list when all of its matches are.
 */
function buildMatches(modules: readonly LoadedModule[], pools: RulePools): readonly Match[] {
  // Filled in a reused array, then copied at its size: a list grown by push had room for 17.
  const matches = pools.scratch;
  const n = modules.length;
  let allShared = true;
  for (let k = 0; k < n; k++) {
    const m = modules[k] as LoadedModule;
    if (!m.parser) {
      const unknown: UnknownMatch = { module: m.name, unknown: true, tokens: m.tokens };
      matches[k] = unknown;
      allShared = false;
      continue;
    }
    const built = m.parser.finish();
    if (typeof built === "string") throw new RuleSyntaxError(`${m.name}: ${built}`, m.column);
    const shared = share(built, pools);
    matches[k] = shared ?? built;
    if (!shared) allShared = false;
  }
  return allShared ? pools.lists.get(matches, n) : matches.slice(0, n);
}

const PORT_MODULES = ["tcp", "udp", "udplite", "sctp"];

/** The shared match equal to `m`, or null when matches like it are not shared. */
function share(m: Match, pools: RulePools): Match | null {
  if ("unknown" in m) return null;
  switch (m.module) {
    case "comment":
      return pools.comments.get(m.comment) ?? pools.comments.add(m.comment, m);
    case "tcp":
      if (m.flags !== null || m.option !== null) return null;
      return sharePorts(m, pools);
    case "udp":
    case "udplite":
    case "sctp":
      return sharePorts(m, pools);
    case "statistic":
      if (m.mode !== "random") return null;
      return shareRandom(m, pools);
    default:
      return null;
  }
}

/** statistic --mode random, by its stored probability (negative when inverted). */
function shareRandom(m: Extract<StatisticMatch, { mode: "random" }>, pools: RulePools): Match {
  const key = m.invert ? -m.stored - 1 : m.stored;
  return pools.randoms.get(key) ?? pools.randoms.add(key, m);
}

/** Shared when there is no --sport and --dport, if given, is one port (kube-proxy's forms). */
function sharePorts(m: TcpMatch | UdpMatch, pools: RulePools): Match | null {
  const dport = m.dport;
  if (m.sport !== null) return null;
  let port = 0;
  if (dport !== null) {
    if (dport.invert || dport.value.from !== dport.value.to) return null;
    port = dport.value.from + 1;
  }
  const key = port * 4 + PORT_MODULES.indexOf(m.module);
  return pools.ports.get(key) ?? pools.ports.add(key, m);
}

/** Hooks each built-in chain runs at, for the targets that only work at some (xt_target.hooks). */
const NAT_TABLE_ONLY = new Set(["DNAT", "SNAT", "MASQUERADE", "REDIRECT"]);
const DST_NAT_CHAINS = new Set(["PREROUTING", "OUTPUT"]);
const SRC_NAT_CHAINS = new Set(["POSTROUTING", "INPUT"]);
const REJECT_CHAINS = new Set(["INPUT", "FORWARD", "OUTPUT"]);
const BUILTIN_HOOKS = new Set(["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"]);

/**
 * The kernel refuses a target outside its table or hooks (x_tables checkentry: "DNAT target: only
 * valid in nat table"). User chains are checked by table only: their hooks depend on who jumps there.
 */
function targetPlacement(t: Target, ctx: RuleContext): string | null {
  const builtin = BUILTIN_HOOKS.has(ctx.chain);
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
