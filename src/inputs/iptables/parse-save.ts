import type { Diagnostic, Parsed } from "../../core/diagnostic.ts";
import type { Family } from "../../core/ip.ts";
import {
  BUILTIN_CHAINS,
  type Counters,
  type Dump,
  type Rule,
  type RulesetFile,
  type Table,
  type TableName,
} from "../../model/netfilter/ruleset.ts";
import { Interner } from "./intern.ts";
import {
  brokenRule,
  type ChainRef,
  parseRule,
  type RuleContext,
  RulePools,
  type RuleProblem,
} from "./parse-rule.ts";
import { Words } from "./tokenize.ts";

/**
 * Reads `iptables-save` / `ip6tables-save` output (legacy or nft, with or without `-c`) and
 * iptables-restore input (what kube-proxy writes: `-I`, `-N`, `-X`, `-F`, `-P`, `-c` too).
 * Never throws on bad input: every problem is a Diagnostic, and a rule that cannot be parsed is
 * kept in place, marked with its error, so the rest of the dump still loads.
 */

interface OpenChain {
  name: string;
  policy: "ACCEPT" | "DROP" | null;
  counters: Counters | null;
  line: number;
  rules: Rule[];
}

/** A table's entry for a chain: the chain, and the jumps to it that its rules share. */
interface ChainSlot extends ChainRef {
  readonly chain: OpenChain;
}

interface OpenTable {
  name: TableName;
  line: number;
  chains: Map<string, ChainSlot>;
}

interface OpenDump {
  family: Family | null;
  tables: Table[];
  comments: { beforeTable: number; text: string }[];
}

const TABLE_NAMES = new Set<string>(["raw", "mangle", "nat", "filter", "security"]);
const COUNTERS_RE = /^\[(\d+):(\d+)\]$/;
/** The commands a rule line may start with, in the order iptables-restore tries them. */
const COMMANDS = [
  "-A",
  "--append",
  "-I",
  "--insert",
  "-N",
  "--new-chain",
  "-X",
  "--delete-chain",
  "-F",
  "--flush",
  "-P",
  "--policy",
];

export interface ParseOptions {
  /** Family when the text does not say (no `ip6tables-save` header, no address to tell by). */
  readonly family?: Family;
}

export function parseIptablesSave(
  text: string,
  sourceName: string,
  options: ParseOptions = {},
): Parsed<RulesetFile> {
  const reader = new SaveReader(text, sourceName, options);
  // Lines one at a time (no array of every line: on a big dump it outlived most of the parse).
  let lineNo = 0;
  for (let next = 0; next < text.length; ) {
    const nl = text.indexOf("\n", next);
    let end = nl < 0 ? text.length : nl;
    if (nl > next && text.charCodeAt(nl - 1) === 13) end--; // \r\n
    lineNo++;
    reader.line(text.slice(next, end), lineNo);
    next = nl < 0 ? text.length : nl + 1;
  }
  return reader.finish(lineNo);
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** The state of one parse, line by line. */
class SaveReader {
  readonly diagnostics: Diagnostic[] = [];
  private readonly dumps: Dump[] = [];
  private readonly intern = new Interner();
  private dump: OpenDump = { family: null, tables: [], comments: [] };
  private table: OpenTable | null = null;
  private skipping = false;
  /** The chain of the last rule: iptables-save groups a chain's rules, so it is usually the next's. */
  private lastChain: OpenChain | null = null;
  private guessedFamily: Family | null = null;
  /**
   * Rules appended to `pendingChain` and not yet in its array. iptables-save groups a chain's rules,
   * so a chain's array is made once at its final size: pushing one by one gave most chains (two
   * rules each) room for 17, a sixth of a big dump's IR, and memory is slow to get on a VM.
   */
  private readonly pending: Rule[] = [];
  private pendingCount = 0;
  private pendingChain: OpenChain | null = null;
  // Reused for every rule: a big dump has one rule per line.
  private readonly words = new Words();
  private readonly problems: RuleProblem[] = [];
  private readonly ctx: Mutable<RuleContext> = {
    intern: this.intern,
    pools: new RulePools(),
    family: 4,
    table: "filter",
    chain: "",
    line: 0,
    counters: null,
    chains: new Map(),
    moduleCtx: { family: 4, proto: 0 },
  };

  constructor(
    private readonly text: string,
    private readonly sourceName: string,
    private readonly options: ParseOptions,
  ) {}

  private report(
    line: number,
    column: number,
    code: string,
    message: string,
    severity: Diagnostic["severity"] = "error",
  ): void {
    this.diagnostics.push({ code, severity, message, source: { file: this.sourceName, line, column } });
  }

  private familyOf(d: OpenDump): Family {
    if (d.family !== null) return d.family;
    if (this.options.family !== undefined) return this.options.family;
    this.guessedFamily ??= guessFamily(this.text);
    return this.guessedFamily;
  }

  /** Appends `rule` to `chain`, through the pending buffer. */
  private append(chain: OpenChain, rule: Rule): void {
    if (chain !== this.pendingChain) {
      this.flush();
      this.pendingChain = chain;
    }
    this.pending[this.pendingCount++] = rule;
  }

  /** Moves the pending rules into their chain's array; before anything else reads or changes a chain. */
  private flush(): void {
    const chain = this.pendingChain;
    if (!chain) return;
    const n = this.pendingCount;
    if (chain.rules.length === 0) chain.rules = this.pending.slice(0, n);
    else for (let k = 0; k < n; k++) chain.rules.push(this.pending[k] as Rule);
    this.pendingCount = 0;
    this.pendingChain = null;
  }

  private closeTable(): void {
    this.flush();
    const table = this.table;
    if (!table) return;
    this.lastChain = null;
    this.dump.tables.push({
      name: table.name,
      line: table.line,
      // The open chains become the IR's: nothing changes them once their table is closed.
      chains: Array.from(table.chains.values(), (slot) => slot.chain),
    });
    this.table = null;
  }

  private closeDump(): void {
    const dump = this.dump;
    if (dump.tables.length > 0 || dump.comments.length > 0) {
      this.dumps.push({ family: this.familyOf(dump), tables: dump.tables, comments: dump.comments });
    }
    this.dump = { family: null, tables: [], comments: [] };
  }

  finish(lineCount: number): Parsed<RulesetFile> {
    if (this.table) {
      this.report(
        lineCount,
        1,
        "iptables.missing-commit",
        `Cannot parse line ${lineCount}: table "${this.table.name}" is not closed with COMMIT at the end of the input`,
      );
      this.closeTable();
    }
    this.closeDump();
    return { value: { dumps: this.dumps }, diagnostics: this.diagnostics };
  }

  line(raw: string, lineNo: number): void {
    // Rules are nearly every line of a big dump: skip the trimming for the usual "-A " / "[p:b] -A ".
    const c0 = raw.charCodeAt(0);
    const plain = (c0 === 45 || c0 === 91) && raw.charCodeAt(raw.length - 1) > 32;
    const line = plain ? raw : raw.trimEnd();
    const trimmed = plain ? raw : line.trim();

    if (trimmed === "" || trimmed.startsWith("#")) {
      if (this.table) return; // comments inside a table are not printed by iptables-save; drop them
      if (trimmed.startsWith("# Generated by")) {
        if (this.dump.tables.length > 0) this.closeDump();
        if (/ip6tables(?:-nft|-legacy)?-save/.test(trimmed)) this.dump.family = 6;
        else if (/iptables(?:-nft|-legacy)?-save/.test(trimmed)) this.dump.family = 4;
      }
      this.dump.comments.push({ beforeTable: this.dump.tables.length, text: raw });
      return;
    }
    if (trimmed.startsWith("*")) {
      this.tableLine(trimmed, lineNo);
      return;
    }
    if (trimmed === "COMMIT") {
      if (!this.table && !this.skipping)
        this.report(
          lineNo,
          1,
          "iptables.stray-commit",
          `Cannot parse line ${lineNo}: COMMIT without a table`,
        );
      this.closeTable();
      this.skipping = false;
      return;
    }
    if (this.skipping) return;
    if (!this.table) {
      this.report(
        lineNo,
        1,
        "iptables.outside-table",
        `Cannot parse line ${lineNo}: expected "*table", a comment or COMMIT, found "${truncate(trimmed)}"`,
      );
      return;
    }
    if (trimmed.startsWith(":")) this.chainLine(this.table, trimmed, lineNo);
    else this.commandLine(this.table, line, lineNo);
  }

  private tableLine(trimmed: string, lineNo: number): void {
    if (this.table) {
      this.report(
        lineNo,
        1,
        "iptables.missing-commit",
        `Cannot parse line ${lineNo}: table "${this.table.name}" was not closed with COMMIT before this one`,
      );
      this.closeTable();
    }
    const name = trimmed.slice(1);
    if (!TABLE_NAMES.has(name)) {
      this.report(
        lineNo,
        2,
        "iptables.unknown-table",
        `Cannot parse line ${lineNo}: unknown table "${name}", expected raw, mangle, nat, filter or security`,
      );
      this.skipping = true;
      return;
    }
    if (this.dump.tables.some((t) => t.name === name)) {
      // iptables-nft prints one dump per table; a repeated table starts a new dump.
      this.closeDump();
    }
    this.skipping = false;
    this.table = { name: name as TableName, line: lineNo, chains: new Map() };
  }

  private chainLine(t: OpenTable, trimmed: string, lineNo: number): void {
    // A big dump is mostly `:KUBE-SEP-XXXX - [0:0]`: split that form without the regex.
    const m = isPlainUserChain(trimmed)
      ? [trimmed, trimmed.slice(1, -8), "-", "0", "0"]
      : /^:(\S+)\s+(\S+)(?:\s+\[(\d+):(\d+)\])?\s*$/.exec(trimmed);
    if (!m) {
      this.report(
        lineNo,
        1,
        "iptables.bad-chain",
        `Cannot parse chain at line ${lineNo}: expected ":NAME POLICY [packets:bytes]"`,
      );
      return;
    }
    const [, name, policyText, p, b] = m as unknown as [string, string, string, string?, string?];
    const builtin = BUILTIN_CHAINS[t.name].includes(name);
    let policy: "ACCEPT" | "DROP" | null = null;
    if (policyText === "ACCEPT" || policyText === "DROP") policy = policyText;
    else if (policyText !== "-") {
      this.report(
        lineNo,
        name.length + 3,
        "iptables.bad-policy",
        `Cannot parse chain at line ${lineNo}: policy "${policyText}" is not ACCEPT, DROP or -`,
      );
    }
    if (builtin && policy === null) policy = "ACCEPT";
    if (!builtin && policy !== null) {
      this.report(
        lineNo,
        name.length + 3,
        "iptables.bad-policy",
        `Cannot parse chain at line ${lineNo}: user chain "${name}" cannot have a policy`,
      );
      policy = null;
    }
    if (name.length > 28) {
      this.report(
        lineNo,
        2,
        "iptables.bad-chain",
        `Cannot parse chain at line ${lineNo}: chain name "${name}" is longer than 28 characters`,
      );
    }
    const counters =
      p === undefined || b === undefined
        ? null
        : this.intern.get(p === "0" && b === "0" ? "k0:0" : `k${p}:${b}`, () => ({
            packets: BigInt(p),
            bytes: BigInt(b),
          }));
    const existing = t.chains.get(name)?.chain;
    if (existing) {
      this.flush();
      // iptables-restore --noflush: re-declaring a chain flushes it.
      existing.rules = [];
      existing.policy = policy;
      existing.counters = counters;
    } else t.chains.set(name, newSlot({ name, policy, counters, line: lineNo, rules: [] }));
  }

  /** A rule or command line, optionally with a `[packets:bytes]` prefix (iptables-save -c). */
  private commandLine(t: OpenTable, line: string, lineNo: number): void {
    let pos = skipSpace(line, 0);
    let counters: Counters | null = null;
    if (line.charCodeAt(pos) === 91) {
      const end = skipWord(line, pos);
      const cm = COUNTERS_RE.exec(line.slice(pos, end));
      if (cm) {
        counters = { packets: BigInt(cm[1] as string), bytes: BigInt(cm[2] as string) };
        pos = skipSpace(line, end);
      }
    }
    const cmd = commandAt(line, pos);
    if (cmd === undefined) {
      this.report(
        lineNo,
        pos + 1,
        "iptables.bad-command",
        `Cannot parse line ${lineNo}: expected "-A CHAIN ...", found "${truncate(line.slice(pos))}"`,
      );
      return;
    }
    const nameStart = skipSpace(line, pos + cmd.length);
    const nameEnd = nameStart > pos + cmd.length ? skipWord(line, nameStart) : nameStart;
    if (nameEnd === nameStart) {
      this.report(
        lineNo,
        pos + 1,
        "iptables.bad-command",
        `Cannot parse line ${lineNo}: ${cmd} needs a chain name`,
      );
      return;
    }
    const chainName = line.slice(nameStart, nameEnd);
    const chainColumn = pos + cmd.length + 2;
    if (cmd !== "-A" && cmd !== "--append") this.flush();

    if (cmd === "-N" || cmd === "--new-chain") {
      if (!t.chains.has(chainName))
        t.chains.set(
          chainName,
          newSlot({ name: chainName, policy: null, counters: null, line: lineNo, rules: [] }),
        );
      return;
    }
    const chain = this.lastChain?.name === chainName ? this.lastChain : t.chains.get(chainName)?.chain;
    if (!chain) {
      this.report(
        lineNo,
        chainColumn,
        "iptables.unknown-chain",
        `Cannot parse rule at line ${lineNo}: chain "${chainName}" does not exist in table ${t.name}`,
      );
      return;
    }
    this.lastChain = chain;
    if (cmd === "-X" || cmd === "--delete-chain") {
      t.chains.delete(chainName);
      this.lastChain = null;
      return;
    }
    if (cmd === "-F" || cmd === "--flush") {
      chain.rules = [];
      return;
    }
    if (cmd === "-P" || cmd === "--policy") {
      const policy = line.slice(nameEnd).trim().split(/\s+/)[0];
      if (policy !== "ACCEPT" && policy !== "DROP") {
        this.report(
          lineNo,
          chainColumn,
          "iptables.bad-policy",
          `Cannot parse line ${lineNo}: policy must be ACCEPT or DROP`,
        );
      } else chain.policy = policy;
      return;
    }
    let ruleStart = nameEnd;
    let insertAt: number | null = null;
    if (cmd === "-I" || cmd === "--insert") {
      const num = /^\s+(\d+)(?=\s|$)/.exec(line.slice(ruleStart));
      insertAt = 0;
      if (num) {
        insertAt = Number(num[1]) - 1;
        ruleStart += num[0].length;
      }
    }
    const rule = this.rule(t, chain, line, ruleStart, lineNo, counters);
    if (insertAt === null) this.append(chain, rule);
    else chain.rules.splice(Math.min(insertAt, chain.rules.length), 0, rule);
  }

  /** The rule whose words start at `from` in `line`; problems are reported at their column in the line. */
  private rule(
    t: OpenTable,
    chain: OpenChain,
    line: string,
    from: number,
    lineNo: number,
    counters: Counters | null,
  ): Rule {
    const ctx = this.ctx;
    ctx.family = this.familyOf(this.dump);
    ctx.table = t.name;
    ctx.chain = chain.name; // the declared name, so every rule of the chain shares one string
    ctx.line = lineNo;
    ctx.counters = counters;
    ctx.chains = t.chains;
    const problems = this.problems;
    problems.length = 0;
    const tokenError = this.words.read(line, from);
    let rule: Rule | null = null;
    if (tokenError) {
      problems.push({ ...tokenError, code: "iptables.bad-rule", severity: "error" });
    } else rule = parseRule(this.words, ctx, problems);
    for (const p of problems) {
      const head =
        p.severity === "error"
          ? `Cannot parse rule at line ${lineNo}`
          : `Cannot model rule at line ${lineNo}`;
      this.report(lineNo, p.column, p.code, `${head}: ${p.message}`, p.severity);
    }
    if (rule) return rule;
    const error = problems[problems.length - 1] as RuleProblem;
    return brokenRule(ctx, error.message, line.slice(from).trim());
  }
}

function newSlot(chain: OpenChain): ChainSlot {
  return { chain, jump: null, goto: null };
}

function commandAt(line: string, pos: number): string | undefined {
  for (const c of COMMANDS) if (line.startsWith(c, pos)) return c;
  return undefined;
}

/** Index of the first character from `i` on that is not whitespace (as the regex \s means it). */
function skipSpace(s: string, i: number): number {
  while (i < s.length && isSpace(s.charCodeAt(i))) i++;
  return i;
}

/** Index of the first whitespace character from `i` on. */
function skipWord(s: string, i: number): number {
  while (i < s.length && !isSpace(s.charCodeAt(i))) i++;
  return i;
}

function isSpace(c: number): boolean {
  if (c === 32 || (c >= 9 && c <= 13)) return true;
  return c >= 0xa0 && /\s/.test(String.fromCharCode(c));
}

function truncate(s: string): string {
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** With no header to go by, the first address-looking word decides. */
function guessFamily(text: string): Family {
  const m = /\s(?:-s|-d|--to-destination|--to-source)\s+\[?([0-9a-fA-F:.]+)/.exec(text);
  return m && (m[1] as string).includes(":") && !/^\d+\.\d+\.\d+\.\d+:/.test(m[1] as string) ? 6 : 4;
}

/** `:NAME - [0:0]` with a name free of whitespace. */
function isPlainUserChain(line: string): boolean {
  if (!line.endsWith(" - [0:0]") || line.length < 10) return false;
  for (let i = 1; i < line.length - 8; i++) {
    const c = line.charCodeAt(i);
    if (c <= 32 || c >= 127) return false;
  }
  return true;
}
