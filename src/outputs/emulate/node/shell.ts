import type { CommandResult } from "../types.ts";

/**
 * The little shell a node command line needs: words with POSIX quoting, `|` pipelines, a leading
 * `sudo`, and the text filters the seed pipes into (`grep`, `head`, `tail`, `wc -l`). Everything
 * else is the caller's: it gets argv and returns what the command printed.
 */

export type ShellResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: string };

/**
 * Splits a line into pipeline stages of words, as sh does: '…' is literal, "…" keeps `\"`, `\\`,
 * `\$`, `` \` `` escapes, a bare backslash quotes the next character, an unquoted `|` ends a stage.
 */
export function splitPipeline(line: string): ShellResult<string[][]> {
  const stages: string[][] = [[]];
  let word: string | null = null;
  const push = (): void => {
    if (word !== null) stages[stages.length - 1]!.push(word);
    word = null;
  };
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) return { ok: false, error: "unterminated quoted string" };
      word = (word ?? "") + line.slice(i + 1, end);
      i = end;
    } else if (c === '"') {
      let s = "";
      let j = i + 1;
      for (; j < line.length && line[j] !== '"'; j++) {
        if (line[j] === "\\" && j + 1 < line.length && '"\\$`'.includes(line[j + 1]!)) j++;
        s += line[j];
      }
      if (j >= line.length) return { ok: false, error: "unterminated quoted string" };
      word = (word ?? "") + s;
      i = j;
    } else if (c === "\\" && i + 1 < line.length) {
      word = (word ?? "") + line[i + 1];
      i++;
    } else if (c === "|") {
      push();
      if (stages[stages.length - 1]!.length === 0) return { ok: false, error: "syntax error near `|'" };
      stages.push([]);
    } else if (c === " " || c === "\t") {
      push();
    } else {
      word = (word ?? "") + c;
    }
  }
  push();
  if (stages[stages.length - 1]!.length === 0 && stages.length > 1) {
    return { ok: false, error: "syntax error: a pipeline ends with `|'" };
  }
  return { ok: true, value: stages };
}

/** `sudo [-E] [-H] cmd …` runs cmd; our node has no users, so the options are dropped. */
export function stripSudo(argv: readonly string[]): string[] {
  let i = 0;
  while (argv[i] === "sudo") {
    i++;
    while (argv[i]?.startsWith("-")) i++;
  }
  return argv.slice(i);
}

/** Lines of a text, without the empty string after the last newline. */
function lines(text: string): string[] {
  if (text === "") return [];
  const all = text.split("\n");
  if (all[all.length - 1] === "") all.pop();
  return all;
}

const joinLines = (ls: readonly string[]): string => ls.map((l) => `${l}\n`).join("");

/** POSIX bracket classes, inside `[...]`, as JavaScript class contents. */
const CLASSES: Readonly<Record<string, string>> = {
  space: "\\s",
  blank: " \\t",
  digit: "0-9",
  alpha: "A-Za-z",
  alnum: "A-Za-z0-9",
  upper: "A-Z",
  lower: "a-z",
  xdigit: "0-9A-Fa-f",
  punct: "!-\\/:-@\\[-`{-~",
  word: "A-Za-z0-9_",
};

/**
 * A grep pattern as a JavaScript RegExp source. ERE maps almost directly (GNU grep also knows
 * `\s \S \w \W \b \B \< \>`); BRE swaps the meaning of `\( \) \{ \} \| \+ \?` and their bare forms.
 */
export function grepToRegExp(pattern: string, extended: boolean): string {
  let out = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "[") {
      // Copy the bracket expression, translating [:class:] and escaping a literal backslash.
      let j = i + 1;
      let body = "";
      if (pattern[j] === "^") {
        body += "^";
        j++;
      }
      if (pattern[j] === "]") {
        body += "\\]";
        j++;
      }
      for (; j < pattern.length && pattern[j] !== "]"; j++) {
        const cls = /^\[:([a-z]+):\]/.exec(pattern.slice(j));
        if (cls && CLASSES[cls[1]!] !== undefined) {
          body += CLASSES[cls[1]!];
          j += cls[0].length - 1;
        } else body += pattern[j] === "\\" ? "\\\\" : pattern[j];
      }
      if (j >= pattern.length) return out + "\\[" + grepToRegExp(pattern.slice(i + 1), extended);
      out += `[${body}]`;
      i = j;
    } else if (c === "\\" && i + 1 < pattern.length) {
      const n = pattern[i + 1]!;
      i++;
      if (n === "<" || n === ">") out += "\\b";
      else if (!extended && "(){}|+?".includes(n)) out += n;
      else out += `\\${n}`;
    } else if (!extended && "(){}|+?".includes(c)) {
      out += `\\${c}`;
    } else if (c === "/") {
      out += "\\/";
    } else out += c;
  }
  return out;
}

function grep(args: readonly string[], input: string): CommandResult {
  let ignoreCase = false;
  let invert = false;
  let extended = false;
  let fixed = false;
  let count = false;
  let word = false;
  const patterns: string[] = [];
  let i = 0;
  for (; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--") {
      i++;
      break;
    }
    if (a === "-e") {
      if (args[i + 1] === undefined) return usage("grep", "option requires an argument -- 'e'");
      patterns.push(args[++i]!);
      continue;
    }
    if (!a.startsWith("-") || a === "-") break;
    for (const f of a.slice(1)) {
      if (f === "i") ignoreCase = true;
      else if (f === "v") invert = true;
      else if (f === "E") extended = true;
      else if (f === "F") fixed = true;
      else if (f === "c") count = true;
      else if (f === "w") word = true;
      else return usage("grep", `invalid option -- '${f}'`);
    }
  }
  if (patterns.length === 0) {
    if (args[i] === undefined) return usage("grep", "no pattern given");
    patterns.push(args[i++]!);
  }
  if (i < args.length) {
    return { stdout: "", stderr: `grep: ${args[i]}: No such file or directory\n`, exitCode: 2 };
  }
  let re: RegExp;
  try {
    const sources = patterns.flatMap((p) => p.split("\n"));
    const alt = sources
      .map((p) => (fixed ? p.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&") : grepToRegExp(p, extended)))
      .map((s) => (word ? `(?<![A-Za-z0-9_])(?:${s})(?![A-Za-z0-9_])` : `(?:${s})`))
      .join("|");
    re = new RegExp(alt, ignoreCase ? "i" : "");
  } catch (e) {
    return { stdout: "", stderr: `grep: invalid regular expression: ${(e as Error).message}\n`, exitCode: 2 };
  }
  const selected = lines(input).filter((l) => re.test(l) !== invert);
  const stdout = count ? `${selected.length}\n` : joinLines(selected);
  return { stdout, stderr: "", exitCode: selected.length > 0 ? 0 : 1 };
}

function usage(cmd: string, msg: string): CommandResult {
  return { stdout: "", stderr: `${cmd}: ${msg}\n`, exitCode: 2 };
}

/** `head`/`tail` with `-n N`, `-nN`, `-N` or `-n +N` (tail: from line N). */
function headTail(cmd: "head" | "tail", args: readonly string[], input: string): CommandResult {
  let n = 10;
  let fromStart = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const value =
      a === "-n" ? args[++i] : a.startsWith("-n") ? a.slice(2) : /^-\d+$/.test(a) ? a.slice(1) : null;
    if (value === null || value === undefined || !/^\+?\d+$/.test(value)) {
      return { stdout: "", stderr: `${cmd}: invalid option or number of lines: '${a}'\n`, exitCode: 1 };
    }
    fromStart = value.startsWith("+");
    n = Number(value.replace("+", ""));
  }
  const ls = lines(input);
  let out: string[];
  if (cmd === "head") out = ls.slice(0, n);
  else if (fromStart) out = ls.slice(Math.max(0, n - 1));
  else out = n === 0 ? [] : ls.slice(-n);
  return { stdout: joinLines(out), stderr: "", exitCode: 0 };
}

function wc(args: readonly string[], input: string): CommandResult {
  if (args.length !== 1 || args[0] !== "-l") return usage("wc", "only `wc -l` is emulated");
  return { stdout: `${lines(input).length}\n`, stderr: "", exitCode: 0 };
}

export const FILTERS: readonly string[] = ["grep", "egrep", "head", "tail", "wc"];

/** Runs one of FILTERS on its input; null when argv is not a filter. */
export function runFilter(argv: readonly string[], input: string): CommandResult | null {
  const [cmd, ...args] = argv;
  if (cmd === "grep") return grep(args, input);
  if (cmd === "egrep") return grep(["-E", ...args], input);
  if (cmd === "head" || cmd === "tail") return headTail(cmd, args, input);
  if (cmd === "wc") return wc(args, input);
  return null;
}
