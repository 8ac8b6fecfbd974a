import type { Frame } from "../../../model/frame.ts";
import { PROTO } from "../../../model/packet.ts";
import { encodeFrame } from "../../pcap/encode.ts";
import { FilterSyntaxError, type Token } from "./filter-lex.ts";

/**
 * pcap-filter(7)'s relations, `expr relop expr`, as libpcap compiles them (grammar.y.in `arth`,
 * gencode.c gen_load and gen_relation): 32-bit unsigned arithmetic over numbers, `len`, the named
 * constants (`icmptype`, `icmp-unreach`, `tcpflags`, `tcp-syn`...) and packet bytes
 * `proto[offset]` / `proto[offset:size]`. A load from `tcp`, `udp` or `icmp` is relative to that
 * header and holds only for that protocol in a first fragment; from `ip` relative to the IP header,
 * from `ether` to the frame. As in the BPF program, a relation whose protocols do not match is false,
 * and a load past the packet's end (or a division by zero) rejects the packet whatever the rest says.
 */

export type FrameFilter = (frame: Frame) => boolean;

/** A BPF program's `ret #0` mid-way: the packet is rejected, whatever the rest of the filter says. */
export class Reject extends Error {}

/** The tokens, and where the parser is. */
export interface Cursor {
  readonly tokens: readonly Token[];
  i: number;
  /** Column just past the text, for errors at its end. */
  readonly end: number;
}

interface Arith {
  readonly value: (f: Frame) => number;
  /** The protocol checks its loads imply (gen_load's `inst->b`), all of which must hold. */
  readonly guards: readonly FrameFilter[];
  /** Its value when it is a number alone (for libpcap's compile-time checks). */
  readonly constant: number | null;
}

/** scanner.l's named numbers. */
const CONSTANTS: Readonly<Record<string, number>> = {
  icmptype: 0,
  icmpcode: 1,
  "icmp-echoreply": 0,
  "icmp-unreach": 3,
  "icmp-sourcequench": 4,
  "icmp-redirect": 5,
  "icmp-echo": 8,
  "icmp-routeradvert": 9,
  "icmp-routersolicit": 10,
  "icmp-timxceed": 11,
  "icmp-paramprob": 12,
  "icmp-tstamp": 13,
  "icmp-tstampreply": 14,
  "icmp-ireq": 15,
  "icmp-ireqreply": 16,
  "icmp-maskreq": 17,
  "icmp-maskreply": 18,
  tcpflags: 13,
  "tcp-fin": 0x01,
  "tcp-syn": 0x02,
  "tcp-rst": 0x04,
  "tcp-push": 0x08,
  "tcp-ack": 0x10,
  "tcp-urg": 0x20,
  "tcp-ece": 0x40,
  "tcp-cwr": 0x80,
};

/** Binary operators by precedence (grammar.y.in's %left lines); `%` and `^` have none (see operand). */
const LEVELS: readonly (readonly string[])[] = [["|"], ["&"], ["<<", ">>"], ["+", "-"], ["*", "/"]];
const RELOPS = new Set([">", ">=", "=", "<=", "<", "!="]);
/** The protocols whose bytes a filter may load here. */
const LOADABLE = new Set(["ether", "link", "ip", "ip6", "arp", "tcp", "udp", "icmp"]);

/** stou(): decimal, 0x hex or 0 octal, at most 32 bits. */
function number(t: Token): number | null {
  const m = /^(?:0[xX]([0-9A-Fa-f]+)|(0[0-7]*)|([1-9][0-9]*))$/.exec(t.text);
  if (!m) return null;
  const n =
    m[1] !== undefined
      ? Number.parseInt(m[1], 16)
      : m[2] !== undefined
        ? Number.parseInt(m[2], 8)
        : Number(m[3]);
  if (n > 0xffffffff) throw new FilterSyntaxError(`number ${t.text} overflows 32 bits`, t.column, true);
  return n;
}

const wire = new WeakMap<Frame, Uint8Array>();
/** The frame's bytes on the wire (Ethernet first), made once per frame. */
function bytesOf(f: Frame): Uint8Array {
  let b = wire.get(f);
  if (!b) {
    b = encodeFrame(f);
    wire.set(f, b);
  }
  return b;
}

const isV4 = (f: Frame) => f.packet.family === 4;

/** gen_load's protocol check and where the loaded header starts in the frame's bytes. */
function loadBase(proto: string): { guard: FrameFilter; base: (f: Frame) => number } {
  const ipHeader = 14;
  switch (proto) {
    case "ether":
    case "link":
      return { guard: () => true, base: () => 0 };
    case "ip":
      return { guard: isV4, base: () => ipHeader };
    case "tcp":
    case "udp":
    case "icmp": {
      const p = PROTO[proto];
      return {
        guard: (f) => isV4(f) && f.packet.proto === p && !f.packet.fragment,
        base: (f) => ipHeader + (bytesOf(f)[ipHeader]! & 15) * 4,
      };
    }
    default:
      // ip6 and arp: frames here are IPv4 over Ethernet, so the ethertype check never holds.
      return { guard: () => false, base: () => 0 };
  }
}

function constant(n: number): Arith {
  return { value: () => n, guards: [], constant: n };
}

function binary(op: string, a: Arith, b: Arith, at: Token): Arith {
  if ((op === "/" || op === "%") && b.constant === 0)
    throw new FilterSyntaxError(op === "/" ? "division by zero" : "modulus by zero", at.column, true);
  const f = (x: number, y: number): number => {
    switch (op) {
      case "+":
        return (x + y) >>> 0;
      case "-":
        return (x - y) >>> 0;
      case "*":
        return Math.imul(x, y) >>> 0;
      case "/":
      case "%":
        if (y === 0) throw new Reject();
        return (op === "/" ? Math.floor(x / y) : x % y) >>> 0;
      case "&":
        return (x & y) >>> 0;
      case "|":
        return (x | y) >>> 0;
      case "^":
        return (x ^ y) >>> 0;
      case "<<":
        return y > 31 ? 0 : (x << y) >>> 0;
      default:
        return y > 31 ? 0 : x >>> y;
    }
  };
  return {
    value: (fr) => f(a.value(fr), b.value(fr)),
    guards: [...a.guards, ...b.guards],
    constant: a.constant !== null && b.constant !== null ? f(a.constant, b.constant) : null,
  };
}

function peek(c: Cursor, o = 0): Token | undefined {
  return c.tokens[c.i + o];
}

function fail(c: Cursor, message: string): never {
  throw new FilterSyntaxError(message, peek(c)?.column ?? c.end);
}

function expect(c: Cursor, text: string): void {
  if (peek(c)?.text !== text) fail(c, `syntax error: expected "${text}"`);
  c.i++;
}

/** `proto[index]` or `proto[index:size]`, at `c.i` pointing past the `[`. */
function load(c: Cursor, proto: Token): Arith {
  const index = arith(c, 0);
  let size = 1;
  if (peek(c)?.text === ":") {
    c.i++;
    const t = peek(c);
    const n = t ? number(t) : null;
    if (n === null) fail(c, "syntax error: expected a size");
    if (n !== 1 && n !== 2 && n !== 4)
      throw new FilterSyntaxError("data size must be 1, 2, or 4", t!.column, true);
    size = n;
    c.i++;
  }
  expect(c, "]");
  const { guard, base } = loadBase(proto.text);
  return {
    value: (f) => {
      const b = bytesOf(f);
      const at = base(f) + index.value(f);
      if (at + size > b.length) throw new Reject();
      let v = 0;
      for (let k = 0; k < size; k++) v = v * 256 + b[at + k]!;
      return v >>> 0;
    },
    guards: [guard, ...index.guards],
    constant: null,
  };
}

/** A number, `len`, a load, `-x`, `(x)`; then `%` or `^`, which bison's default shift makes take everything to their right. */
function operand(c: Cursor): Arith {
  const t = peek(c);
  if (!t) fail(c, "syntax error: the expression ends too early");
  let a: Arith;
  if (t.text === "-") {
    c.i++;
    const inner = operand(c);
    return binary("-", constant(0), inner, t);
  }
  if (t.text === "(") {
    c.i++;
    a = arith(c, 0);
    expect(c, ")");
  } else if (t.text === "len" || t.text === "length") {
    c.i++;
    a = { value: (f) => bytesOf(f).length, guards: [], constant: null };
  } else if (LOADABLE.has(t.text) && peek(c, 1)?.text === "[") {
    c.i += 2;
    a = load(c, t);
  } else {
    const n = CONSTANTS[t.text] ?? number(t);
    if (n === null || n === undefined) fail(c, `syntax error: unexpected "${t.text}"`);
    c.i++;
    a = constant(n);
  }
  const op = peek(c);
  if (op && (op.text === "%" || op.text === "^")) {
    c.i++;
    return binary(op.text, a, arith(c, 0), op);
  }
  return a;
}

/** Precedence climbing over LEVELS from `level` up. */
function arith(c: Cursor, level: number): Arith {
  if (level >= LEVELS.length) return operand(c);
  let left = arith(c, level + 1);
  for (let t = peek(c); t && LEVELS[level]!.includes(t.text); t = peek(c)) {
    c.i++;
    left = binary(t.text, left, arith(c, level + 1), t);
  }
  return left;
}

function compare(op: string, x: number, y: number): boolean {
  switch (op) {
    case ">":
      return x > y;
    case ">=":
      return x >= y;
    case "=":
      return x === y;
    case "<=":
      return x <= y;
    case "<":
      return x < y;
    default:
      return x !== y;
  }
}

function relation(left: Arith, op: string, right: Arith): FrameFilter {
  const guards = [...left.guards, ...right.guards];
  return (f) => guards.every((g) => g(f)) && compare(op, left.value(f), right.value(f));
}

/** Whether the token can begin an arithmetic expression. */
function startsArith(c: Cursor): boolean {
  const t = peek(c);
  if (!t) return false;
  if (t.text === "-" || t.text === "(" || t.text === "len" || t.text === "length") return true;
  if (LOADABLE.has(t.text)) return peek(c, 1)?.text === "[";
  return t.text in CONSTANTS || /^[0-9]/.test(t.text);
}

/**
 * A relation at the cursor, or null (the cursor left where it was) when the tokens there do not
 * start one: what follows is a primitive or a parenthesised filter instead.
 */
export function tryRelation(c: Cursor): FrameFilter | null {
  if (!startsArith(c)) return null;
  const start = c.i;
  let left: Arith;
  try {
    left = arith(c, 0);
  } catch (e) {
    if (!(e instanceof FilterSyntaxError) || e.fatal) throw e;
    c.i = start;
    return null;
  }
  const op = peek(c);
  if (!op || !RELOPS.has(op.text)) {
    c.i = start;
    return null;
  }
  c.i++;
  return relation(left, op.text, arith(c, 0));
}

/** `less N` and `greater N`: `len <= N` and `len >= N`. */
export function lengthBound(c: Cursor, kind: "less" | "greater"): FrameFilter {
  const t = peek(c);
  const n = t ? number(t) : null;
  if (n === null) fail(c, `syntax error: ${kind} needs a number`);
  c.i++;
  const len = { value: (f: Frame) => bytesOf(f).length, guards: [], constant: null };
  return relation(len, kind === "less" ? "<=" : ">=", constant(n));
}
