/**
 * The pcap-filter lexer (libpcap scanner.l, in the part tcpdump users type): words (names,
 * addresses, numbers, `icmp-unreach`), parentheses, `!`/`&&`/`||`, and the arithmetic operators and
 * relations of `proto[offset:size] RELOP value` expressions.
 */

export interface Token {
  readonly text: string;
  /** 1-based column in the filter text. */
  readonly column: number;
}

export class FilterSyntaxError extends Error {
  constructor(
    message: string,
    readonly column: number,
    /** An error in what is certainly a relation (a division by zero, a bad load size): no other reading is tried. */
    readonly fatal = false,
  ) {
    super(message);
  }
}

/** Two-character operators first, so `<=` is not `<` then `=`; `==` is `=` (scanner.l). */
const OPERATORS = [
  "&&",
  "||",
  ">=",
  "<=",
  "!=",
  "==",
  "<<",
  ">>",
  "+",
  "-",
  "*",
  "/",
  "%",
  "&",
  "|",
  "^",
  "<",
  ">",
  "=",
  "[",
  "]",
  ":",
  "(",
  ")",
  "!",
];
const CANONICAL: Readonly<Record<string, string>> = { "&&": "and", "||": "or", "!": "not", "==": "=" };

const WORD_START = /[A-Za-z0-9_.:]/;
const WORD = /[A-Za-z0-9_.:]/;

export function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let brackets = 0;
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (WORD_START.test(c) && !(c === ":" && brackets > 0)) {
      const start = i;
      while (i < text.length) {
        const d = text[i]!;
        const next = text[i + 1] ?? "";
        const word = text.slice(start, i);
        // `:` separates offset and size inside brackets; elsewhere it belongs to an IPv6 address.
        if (d === ":" && brackets > 0) break;
        // `-` joins names and port ranges (`icmp-unreach`, `1-1023`) when a letter or digit follows.
        if (d === "-" && /[A-Za-z0-9]/.test(next)) i++;
        // `/` joins a network and its length (`10.0.0.0/8`).
        else if (d === "/" && /^[0-9.]+$/.test(word) && /[0-9]/.test(next)) i++;
        else if (WORD.test(d)) i++;
        else break;
      }
      tokens.push({ text: text.slice(start, i), column: start + 1 });
      continue;
    }
    const op = OPERATORS.find((o) => text.startsWith(o, i));
    if (!op) throw new FilterSyntaxError(`syntax error: unexpected character "${c}"`, i + 1);
    if (op === "[") brackets++;
    if (op === "]") brackets = Math.max(0, brackets - 1);
    tokens.push({ text: CANONICAL[op] ?? op, column: i + 1 });
    i += op.length;
  }
  return tokens;
}
