import { parseIpv4 } from "../../../core/ip.ts";
import type { Frame } from "../../../model/frame.ts";
import { PROTO } from "../../../model/packet.ts";
import { type Cursor, type FrameFilter, lengthBound, Reject, tryRelation } from "./filter-arith.ts";
import { FilterSyntaxError, type Token, tokenize } from "./filter-lex.ts";
import { servicePort } from "./services.ts";

/**
 * The part of the pcap-filter language (pcap-filter(7)) people type at tcpdump: primitives
 * `[proto] [src|dst|src or dst|src and dst] [host|net|port|portrange] ID`, the bare protocols
 * `ip ip6 arp tcp udp icmp`, `less N`/`greater N`, relations over packet bytes such as
 * `icmp[icmptype] == icmp-unreach` or `tcp[tcpflags] & tcp-syn != 0` (filter-arith.ts), `not`/`!`,
 * `and`/`&&`, `or`/`||` and parentheses. As in libpcap, `and` and `or` have the same precedence and
 * group left to right (`a or b and c` is `(a or b) and c`), and a bare ID repeats the previous
 * primitive's qualifiers (`host A or B`). Frames carry no ARP, so `arp` matches nothing; host names
 * are not resolved (the twin has no DNS for them). `host` and `port` look at a packet's own headers:
 * an ICMP error about a TCP segment to port 80 matches `icmp` and its own addresses, not `port 80`
 * (the BPF code checks the IP protocol first), whatever its quote holds.
 */

export interface FilterError {
  readonly message: string;
  /** 1-based column of the offending token in the filter text. */
  readonly column: number;
}

export type { FrameFilter };
export type CompiledFilter =
  | { readonly ok: true; readonly match: FrameFilter }
  | { readonly ok: false; readonly error: FilterError };

type Proto = "ip" | "ip6" | "arp" | "tcp" | "udp" | "icmp";
type Dir = "src" | "dst" | "src or dst" | "src and dst";
type Kind = "host" | "net" | "port" | "portrange";
interface Qualifiers {
  proto: Proto | null;
  dir: Dir | null;
  kind: Kind | null;
}

const PROTOS = new Set<string>(["ip", "ip6", "arp", "tcp", "udp", "icmp"]);
const KINDS = new Set<string>(["host", "net", "port", "portrange"]);
const KEYWORDS = new Set<string>([
  ...PROTOS,
  ...KINDS,
  "src",
  "dst",
  "and",
  "or",
  "not",
  "less",
  "greater",
  "len",
  "length",
]);
/** A token that can be an ID (an address, a port, a name), not an operator. */
const isWord = (t: Token) => /^[A-Za-z0-9_.:]/.test(t.text);

const isTransport = (p: number) => p === PROTO.tcp || p === PROTO.udp || p === PROTO.sctp;

function protoMatch(proto: Proto): FrameFilter {
  switch (proto) {
    case "ip":
      return (f) => f.packet.family === 4;
    case "ip6":
      return (f) => f.packet.family === 6;
    case "arp":
      return () => false;
    case "tcp":
      return (f) => f.packet.proto === PROTO.tcp;
    case "udp":
      return (f) => f.packet.proto === PROTO.udp;
    case "icmp":
      return (f) => f.packet.family === 4 && f.packet.proto === PROTO.icmp;
  }
}

function both(a: FrameFilter, b: FrameFilter): FrameFilter {
  return (f) => a(f) && b(f);
}

/** Combines a source-side and a destination-side test according to the direction qualifier. */
function directed(dir: Dir | null, src: FrameFilter, dst: FrameFilter): FrameFilter {
  if (dir === "src") return src;
  if (dir === "dst") return dst;
  if (dir === "src and dst") return both(src, dst);
  return (f) => src(f) || dst(f);
}

/** `net` IDs: `a.b.c.d/len`, or 1-3 leading octets meaning a /8, /16, /24 (pcap-filter(7)). */
function parseNet(text: string, column: number): { addr: number; mask: number } {
  const [addrText, lenText] = text.split("/", 2) as [string, string | undefined];
  const octets = addrText.split(".");
  let addr: number | null;
  let len: number;
  if (lenText === undefined && octets.length < 4) {
    addr = parseIpv4([...octets, "0", "0", "0"].slice(0, 4).join("."));
    len = octets.length * 8;
  } else {
    addr = parseIpv4(addrText);
    len = lenText === undefined ? 32 : /^\d+$/.test(lenText) ? Number(lenText) : -1;
  }
  if (addr === null || len < 0 || len > 32) throw new FilterSyntaxError(`invalid network "${text}"`, column);
  const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
  if ((addr & ~mask) >>> 0 !== 0) throw new FilterSyntaxError(`non-network bits set in "${text}"`, column);
  return { addr, mask };
}

/** A port number or service name, and the one protocol a name may be limited to. */
function parsePort(text: string, column: number): { port: number; only: "tcp" | "udp" | null } {
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    if (n > 65535) throw new FilterSyntaxError(`illegal port number ${n} > 65535`, column);
    return { port: n, only: null };
  }
  const named = servicePort(text);
  if (named === null) throw new FilterSyntaxError(`unknown port "${text}"`, column);
  return { port: named.port, only: named.tcp && named.udp ? null : named.tcp ? "tcp" : "udp" };
}

class Parser implements Cursor {
  i = 0;
  /** The qualifiers a bare ID inherits: those of the last primitive parsed. */
  private last: Qualifiers = { proto: null, dir: null, kind: "host" };

  constructor(
    readonly tokens: Token[],
    readonly end: number,
  ) {}

  private peek(offset = 0): Token | undefined {
    return this.tokens[this.i + offset];
  }

  private fail(message: string, token = this.peek()): never {
    throw new FilterSyntaxError(message, token?.column ?? this.end);
  }

  parse(): FrameFilter {
    const f = this.expr();
    if (this.peek()) this.fail(`syntax error: unexpected "${this.peek()!.text}"`);
    return f;
  }

  private expr(): FrameFilter {
    let left = this.unary();
    for (let t = this.peek(); t && (t.text === "and" || t.text === "or"); t = this.peek()) {
      this.i++;
      const right = this.unary();
      const l = left;
      left = t.text === "and" ? (f) => l(f) && right(f) : (f) => l(f) || right(f);
    }
    return left;
  }

  private unary(): FrameFilter {
    const t = this.peek();
    if (!t) this.fail("syntax error: the expression ends too early");
    if (t.text === "not") {
      this.i++;
      const inner = this.unary();
      return (f) => !inner(f);
    }
    const relation = tryRelation(this);
    if (relation) return relation;
    if (t.text === "less" || t.text === "greater") {
      this.i++;
      return lengthBound(this, t.text);
    }
    if (t.text === "(") {
      this.i++;
      const inner = this.expr();
      if (this.peek()?.text !== ")") this.fail('syntax error: expected ")"');
      this.i++;
      return inner;
    }
    if (t.text === ")") this.fail('syntax error: unexpected ")"');
    return this.primitive();
  }

  private primitive(): FrameFilter {
    const q: Qualifiers = { proto: null, dir: null, kind: null };
    const start = this.peek()!;
    let t = this.peek();
    if (t && PROTOS.has(t.text)) {
      q.proto = t.text as Proto;
      t = this.tokens[++this.i];
    }
    if (t && (t.text === "src" || t.text === "dst")) {
      q.dir = t.text;
      t = this.tokens[++this.i];
      const other = q.dir === "src" ? "dst" : "src";
      if (t && (t.text === "or" || t.text === "and") && this.peek(1)?.text === other) {
        q.dir = `src ${t.text} dst` as Dir;
        this.i += 2;
        t = this.peek();
      }
    }
    if (t && KINDS.has(t.text)) {
      q.kind = t.text as Kind;
      t = this.tokens[++this.i];
    }
    const idFollows = t !== undefined && !KEYWORDS.has(t.text) && isWord(t);
    if (!q.proto && !q.dir && !q.kind) {
      // A bare ID: libpcap reuses the previous primitive's qualifiers.
      if (!idFollows) this.fail(`syntax error: unexpected "${start.text}"`, start);
      this.i++;
      return this.build(this.last, t!);
    }
    if (!idFollows) {
      if (q.proto && !q.dir && !q.kind) return protoMatch(q.proto);
      this.fail(`syntax error: ${q.kind ?? q.dir} needs an address or port`, t);
    }
    this.i++;
    const full: Qualifiers = { proto: q.proto, dir: q.dir, kind: q.kind ?? "host" };
    this.last = full;
    return this.build(full, t!);
  }

  private build(q: Qualifiers, id: Token): FrameFilter {
    const kind = q.kind ?? "host";
    if (kind === "host" || kind === "net") {
      if (q.proto && q.proto !== "ip" && q.proto !== "arp") {
        this.fail(`'${q.proto}' modifier applied to ${kind}`, id);
      }
      let net: { addr: number; mask: number };
      if (kind === "net") net = parseNet(id.text, id.column);
      else {
        const addr = parseIpv4(id.text);
        if (addr === null) this.fail(`unknown host '${id.text}'`, id);
        net = { addr, mask: 0xffffffff };
      }
      const { addr, mask } = net;
      const within = (a: number | bigint) => typeof a === "number" && (a & mask) >>> 0 === addr;
      const v4 = q.proto === "arp" ? () => false : (f: Frame) => f.packet.family === 4;
      const m = directed(
        q.dir,
        (f) => within(f.packet.src),
        (f) => within(f.packet.dst),
      );
      return both(v4, m);
    }
    if (q.proto === "icmp" || q.proto === "arp") this.fail(`'${q.proto}' modifier applied to ${kind}`, id);
    let lo: number;
    let hi: number;
    let proto = q.proto;
    const restrict = (only: "tcp" | "udp" | null) => {
      if (only && !proto) proto = only;
    };
    if (kind === "portrange") {
      const m = /^([^-]+)-([^-]+)$/.exec(id.text);
      if (!m) this.fail(`invalid port range "${id.text}"`, id);
      const a = parsePort(m[1]!, id.column);
      const b = parsePort(m[2]!, id.column + m[1]!.length + 1);
      restrict(a.only);
      [lo, hi] = a.port <= b.port ? [a.port, b.port] : [b.port, a.port];
    } else {
      const p = parsePort(id.text, id.column);
      restrict(p.only);
      lo = hi = p.port;
    }
    const inRange = (p: number) => p >= lo && p <= hi;
    // libpcap checks the fragment offset: only a first fragment carries the ports.
    const carries = (f: Frame) =>
      !f.packet.fragment &&
      (proto === "tcp" || proto === "udp"
        ? f.packet.proto === PROTO[proto]
        : isTransport(f.packet.proto) && (proto === null || protoMatch(proto)(f)));
    const m = directed(
      q.dir,
      (f) => inRange(f.packet.sport),
      (f) => inRange(f.packet.dport),
    );
    return both(carries, m);
  }
}

/** Compiles a filter; an empty text matches every frame (tcpdump without a filter). */
export function compileFilter(text: string): CompiledFilter {
  try {
    const tokens = tokenize(text);
    if (tokens.length === 0) return { ok: true, match: () => true };
    const filter = new Parser(tokens, text.length + 1).parse();
    const match: FrameFilter = (f) => {
      try {
        return filter(f);
      } catch (e) {
        if (e instanceof Reject) return false;
        throw e;
      }
    };
    return { ok: true, match };
  } catch (e) {
    if (e instanceof FilterSyntaxError) return { ok: false, error: { message: e.message, column: e.column } };
    throw e;
  }
}
