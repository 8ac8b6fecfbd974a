import { formatIpv4 } from "../../../core/ip.ts";
import { PROTO, TCP } from "../../../model/packet.ts";
import { checksumShouldBe, internetChecksum, pseudoHeaderSum } from "../../pcap/checksum.ts";
import type { Bytes, IpHeader, PrintContext } from "./print-ip.ts";
import { portName } from "./services.ts";

/**
 * print-tcp.c's tcp_print for IPv4 (tcpdump 4.99): ports, flags, sequence numbers made relative
 * per conversation, with -v the checksum, then window, options, length and, on port 80, HTTP
 * (print-http.c through util-print.c's txtproto_print).
 */

/** tcp_flag_values' letters in print order: F S R P . U E W; `none` when no bit is set. */
function flagLetters(bits: number): string {
  const letters: [number, string][] = [
    [TCP.FIN, "F"],
    [TCP.SYN, "S"],
    [TCP.RST, "R"],
    [TCP.PSH, "P"],
    [TCP.ACK, "."],
    [TCP.URG, "U"],
    [TCP.ECE, "E"],
    [TCP.CWR, "W"],
  ];
  return letters.map(([b, l]) => (bits & b ? l : "")).join("") || "none";
}

/** tcp_option_values' names for the options a Linux or Windows stack sends. */
const OPTION_NAMES: Readonly<Record<number, string>> = {
  0: "eol",
  1: "nop",
  2: "mss",
  3: "wscale",
  4: "sackOK",
  5: "sack",
  8: "TS",
  19: "md5",
  28: "uto",
  30: "mptcp",
  34: "tfo",
};

/**
 * The options list's text (`a,b,...]`); EOL ends it, as print-tcp.c's loop stops there. A bad
 * length ends the whole segment's line (the `bad:` label: `[bad opt]`, and `]` after a first option).
 */
function options(b: Bytes, start: number, end: number): { text: string; bad: boolean } {
  const parts: string[] = [];
  let i = start;
  while (i < end) {
    const kind = b.u8(i);
    const len = kind <= 1 ? 1 : b.u8(i + 1);
    if (kind > 1 && (len < 2 || i + len > end)) {
      const before = parts.length ? `${parts.join(",")},` : "";
      return { text: `${before}[bad opt]${parts.length ? "]" : ""}`, bad: true };
    }
    const at = i + 2;
    let s = OPTION_NAMES[kind] ?? `unknown-${kind}`;
    if (kind === 2 && len === 4) s += ` ${b.u16(at)}`;
    else if (kind === 3 && len === 3) s += ` ${b.u8(at)}`;
    else if (kind === 8 && len === 10) s += ` val ${b.u32(at)} ecr ${b.u32(at + 4)}`;
    else if (kind > 1 && kind !== 4 && len > 2) {
      s += " 0x";
      for (let k = at; k < i + len; k++) s += b.u8(k).toString(16).padStart(2, "0");
    }
    parts.push(s);
    if (kind === 0) break;
    i += len;
  }
  return { text: `${parts.join(",")}]`, bad: false };
}

function endpoint(addr: number, port: number): string {
  return `${addr}.${port}`;
}

/** One conversation's key, the same from either side. */
function conversation(a: string, b: string): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`;
}

export function tcpPrint(ctx: PrintContext, b: Bytes, length: number, ip: IpHeader): void {
  ctx.protocol = "tcp";
  const sport = b.u16(0);
  const dport = b.u16(2);
  const port = (n: number) => (ctx.numeric ? String(n) : portName("tcp", n));
  ctx.out.push(`${formatIpv4(ip.src)}.${port(sport)} > ${formatIpv4(ip.dst)}.${port(dport)}: `);
  b.u8(19); // ND_TCHECK_SIZE: the fixed header must be there
  const hlen = (b.u8(12) >>> 4) * 4;
  let seq = b.u32(4);
  let ack = b.u32(8);
  const win = b.u16(14);
  const flags = b.u8(13);
  ctx.out.push(`Flags [${flagLetters(flags)}]`);
  if (flags & TCP.ACK) {
    const me = endpoint(ip.src, sport);
    const peer = endpoint(ip.dst, dport);
    const key = conversation(me, peer);
    const known = ctx.flows.get(key);
    if (!known || flags & TCP.SYN) {
      ctx.flows.set(key, {
        isn: new Map([
          [me, seq],
          [peer, (ack - 1) >>> 0],
        ]),
      });
    } else {
      seq = (seq - known.isn.get(me)!) >>> 0;
      ack = (ack - known.isn.get(peer)!) >>> 0;
    }
  }
  if (hlen > length) {
    ctx.out.push(` [bad hdr length ${hlen} - too long, > ${length}]`);
    return;
  }
  if (ctx.verbose && b.has(0, length)) {
    const field = b.u16(16);
    const computed = internetChecksum(b.b, 0, length, pseudoHeaderSum(ip.src, ip.dst, PROTO.tcp, length));
    ctx.out.push(`, cksum 0x${field.toString(16).padStart(4, "0")}`);
    ctx.out.push(
      computed === 0
        ? " (correct)"
        : ` (incorrect -> 0x${checksumShouldBe(field, computed).toString(16).padStart(4, "0")})`,
    );
  }
  const data = length - hlen;
  if (data > 0 || flags & (TCP.SYN | TCP.FIN | TCP.RST)) {
    ctx.out.push(`, seq ${seq}`);
    if (data > 0) ctx.out.push(`:${(seq + data) >>> 0}`);
  }
  if (flags & TCP.ACK) ctx.out.push(`, ack ${ack}`);
  ctx.out.push(`, win ${win}`);
  if (flags & TCP.URG) ctx.out.push(`, urg ${b.u16(18)}`);
  if (hlen > 20) {
    const o = options(b, 20, hlen);
    ctx.out.push(`, options [${o.text}`);
    if (o.bad) return;
  }
  ctx.out.push(`, length ${data}`);
  if (data <= 0) return;
  b.u8(hlen - 1); // the header must have been captured before the payload is decoded
  // HTTP_PORT and HTTP_PORT_ALT (tcp.h).
  if (sport === 80 || dport === 80 || sport === 8080 || dport === 8080) {
    ctx.out.push(": ");
    httpPrint(ctx, b.from(hlen), data);
  }
}

/** The methods print-http.c recognises (HTTP and WebDAV). */
const HTTP_METHODS = new Set(
  "GET PUT COPY HEAD LOCK MOVE POLL POST BCOPY BMOVE MKCOL TRACE LABEL MERGE DELETE SEARCH UNLOCK REPORT UPDATE NOTIFY BDELETE CONNECT OPTIONS CHECKIN PROPFIND CHECKOUT BPROPFIND BPROPPATCH UNCHECKOUT MKACTIVITY MKWORKSPACE VERSION-CONTROL BASELINE-CONTROL".split(
    " ",
  ),
);

const printable = (c: number) => c >= 0x20 && c <= 0x7e;
const blank = (c: number) => c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a;
/** util-print.c MAX_TOKEN: a longer token is no command. */
const MAX_TOKEN = 128;

/**
 * fetch_token: the printable token at `idx` and where the next one starts (0 when there is none);
 * it stops at the end of the captured bytes without raising.
 */
function fetchToken(b: Bytes, idx: number, len: number): { token: string; next: number } {
  let token = "";
  let i = idx;
  for (; i < len; i++) {
    if (!b.has(i)) return { token: "", next: 0 };
    const c = b.b[i]!;
    if (c >= 0x80) return { token: "", next: 0 };
    if (blank(c)) break;
    if (!printable(c)) return { token: "", next: 0 };
    if (token.length + 2 > MAX_TOKEN + 1) return { token: "", next: 0 };
    token += String.fromCharCode(c);
  }
  if (token === "") return { token: "", next: 0 };
  for (; i < len && b.has(i); i++) {
    const c = b.b[i]!;
    if (c === 0x0d || c === 0x0a || !printable(c) || !blank(c)) break;
  }
  return { token, next: i };
}

/**
 * print_txt_line: one line from `idx` after `prefix`; returns where the next starts, or 0 when the
 * rest is not a text line (nothing printed) or has no line end (printed, then ` [|http]`).
 */
function txtLine(ctx: PrintContext, prefix: string, b: Bytes, idx: number, len: number): number {
  let i = idx;
  while (i < len) {
    const c = b.u8(i);
    if (c === 0x0a) {
      ctx.out.push(prefix + text(b, idx, i));
      return i + 1;
    }
    if (c === 0x0d) {
      if (i + 1 >= len) return 0;
      if (b.u8(i + 1) === 0x0a) {
        ctx.out.push(prefix + text(b, idx, i));
        return i + 2;
      }
      return 0;
    }
    if (!printable(c) && c !== 0x09) return 0;
    i++;
  }
  ctx.out.push(`${prefix}${text(b, idx, i)} [|${ctx.protocol}]`);
  return 0;
}

function text(b: Bytes, from: number, to: number): string {
  let s = "";
  for (let i = from; i < to; i++) s += String.fromCharCode(b.b[i]!);
  return s;
}

/**
 * txtproto_print for HTTP: `HTTP`, then, when the payload starts with a known method or its second
 * token is a three-digit status, the first line (`: LINE`) or with -v `, length: N` and every text line.
 */
function httpPrint(ctx: PrintContext, b: Bytes, len: number): void {
  ctx.protocol = "http";
  let show = false;
  const first = fetchToken(b, 0, len);
  if (first.next !== 0) {
    if (HTTP_METHODS.has(first.token.toUpperCase())) show = true;
    const second = fetchToken(b, first.next, len);
    if (second.next !== 0 && /^\d{3}$/.test(second.token)) show = true;
  }
  ctx.out.push("HTTP");
  if (!show) return;
  if (!ctx.verbose) {
    txtLine(ctx, ": ", b, 0, len);
    return;
  }
  ctx.out.push(`, length: ${len}`);
  for (let idx = 0; idx < len; ) {
    const eol = txtLine(ctx, "\n\t", b, idx, len);
    if (eol === 0) break;
    idx = eol;
  }
}
