/**
 * Splits one iptables-restore line into words the way iptables-restore does
 * (iptables/xshared.c add_param_to_argv): whitespace separates words, double or single quotes
 * group them, and a backslash inside quotes escapes the next character (iptables-save writes
 * `\"`, `\'` and `\\` there).
 */

export interface Token {
  readonly text: string;
  /** 1-based column where the word starts. */
  readonly column: number;
  /** The word was quoted (so `"!"` is a literal, not a negation). */
  readonly quoted: boolean;
}

export type TokenizeResult = { ok: true; tokens: Token[] } | { ok: false; column: number; message: string };

export function tokenize(line: string): TokenizeResult {
  const tokens: Token[] = [];
  let i = 0;
  const n = line.length;
  while (i < n) {
    while (i < n && (line[i] === " " || line[i] === "\t")) i++;
    if (i >= n) break;
    const start = i;
    let text = "";
    let quoted = false;
    while (i < n && line[i] !== " " && line[i] !== "\t") {
      const ch = line[i] as string;
      if (ch === '"' || ch === "'") {
        quoted = true;
        const close = ch;
        i++;
        while (i < n && line[i] !== close) {
          if (line[i] === "\\" && i + 1 < n) i++;
          text += line[i];
          i++;
        }
        if (i >= n) return { ok: false, column: start + 1, message: `unterminated ${close} quote` };
        i++;
      } else {
        text += ch;
        i++;
      }
    }
    tokens.push({ text, column: start + 1, quoted });
  }
  return { ok: true, tokens };
}
