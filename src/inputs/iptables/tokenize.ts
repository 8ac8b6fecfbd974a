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
  const n = line.length;
  let i = 0;
  while (i < n) {
    let c = line.charCodeAt(i);
    if (c === 32 || c === 9) {
      i++;
      continue;
    }
    const start = i;
    // Fast path: a bare word is one slice (most words of a dump are).
    while (i < n) {
      c = line.charCodeAt(i);
      if (c === 32 || c === 9 || c === 34 || c === 39) break;
      i++;
    }
    if (i >= n || c === 32 || c === 9) {
      tokens.push({ text: line.slice(start, i), column: start + 1, quoted: false });
      continue;
    }
    // The word has quotes: rebuild it piece by piece, resolving backslash escapes inside them.
    let text = line.slice(start, i);
    while (i < n) {
      c = line.charCodeAt(i);
      if (c === 32 || c === 9) break;
      if (c !== 34 && c !== 39) {
        const from = i;
        while (i < n) {
          const d = line.charCodeAt(i);
          if (d === 32 || d === 9 || d === 34 || d === 39) break;
          i++;
        }
        text += line.slice(from, i);
        continue;
      }
      const close = c;
      i++;
      let from = i;
      while (i < n && line.charCodeAt(i) !== close) {
        if (line.charCodeAt(i) === 92 && i + 1 < n) {
          text += line.slice(from, i);
          i++;
          from = i;
        }
        i++;
      }
      if (i >= n)
        return { ok: false, column: start + 1, message: `unterminated ${String.fromCharCode(close)} quote` };
      text += line.slice(from, i);
      i++;
    }
    tokens.push({ text, column: start + 1, quoted: true });
  }
  return { ok: true, tokens };
}
