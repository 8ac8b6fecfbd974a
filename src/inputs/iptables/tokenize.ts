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

/**
 * The words of one line as parallel arrays, refilled for every rule: a big dump has millions of
 * words, and one object per word was a large share of the parser's garbage-collection time.
 */
export class Words {
  readonly texts: string[] = [];
  /** 1-based column in the whole line. */
  readonly columns: number[] = [];
  readonly quoted: boolean[] = [];
  length = 0;

  private push(text: string, column: number, quoted: boolean): void {
    const n = this.length++;
    this.texts[n] = text;
    this.columns[n] = column;
    this.quoted[n] = quoted;
  }

  /**
   * Reads the words of `line` from index `from` on, replacing what was there before.
   * Returns null, or the error for an unterminated quote.
   */
  read(line: string, from: number): { column: number; message: string } | null {
    this.length = 0;
    const n = line.length;
    let i = from;
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
        this.push(line.slice(start, i), start + 1, false);
        continue;
      }
      i = this.readQuoted(line, start, i);
      if (i < 0) return { column: start + 1, message: `unterminated ${String.fromCharCode(-i - 1)} quote` };
    }
    return null;
  }

  /**
   * Reads a word with quotes from `start` (`i` is its first quote), resolving backslash escapes
   * inside them. Returns the index after the word, or -(quote char + 1) when a quote is not closed.
   */
  private readQuoted(line: string, start: number, i: number): number {
    const n = line.length;
    let text = line.slice(start, i);
    while (i < n) {
      const c = line.charCodeAt(i);
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
      if (i >= n) return -(close + 1);
      text += line.slice(from, i);
      i++;
    }
    this.push(text, start + 1, true);
    return i;
  }
}

/** The words of `line` as objects (for tests and callers that keep them). */
export function tokenize(line: string): TokenizeResult {
  const words = new Words();
  const err = words.read(line, 0);
  if (err) return { ok: false, ...err };
  const tokens: Token[] = [];
  for (let k = 0; k < words.length; k++) {
    tokens.push({
      text: words.texts[k] as string,
      column: words.columns[k] as number,
      quoted: words.quoted[k] as boolean,
    });
  }
  return { ok: true, tokens };
}
