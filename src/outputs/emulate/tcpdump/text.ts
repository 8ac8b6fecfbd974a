import { formatIpv4 } from "../../../core/ip.ts";
import type { Frame, TcpOption } from "../../../model/frame.ts";
import { PROTO, TCP } from "../../../model/packet.ts";
import { dnsSummary } from "./dns.ts";
import { portName } from "./services.ts";

/**
 * tcpdump's default one-line output (no -v, no -e) for IPv4 over Ethernet, as tcpdump 4.9 on the
 * seed's nodes prints it (seed lines 283-289, 296-298): time, `IP`, addresses with ports, then the
 * protocol's summary. TCP sequence numbers become relative the way print-tcp.c does it: the first
 * packet of a conversation carrying ACK (or any SYN+ACK) records both initial numbers and prints
 * them absolute; later packets print `seq`/`ack` minus them. That state is per capture, hence
 * `tcpdumpText` over frames rather than a per-frame function.
 */

export type TcpdumpVersion = "4.9" | "4.99";

export interface TcpdumpOptions {
  /** `-n`: ports as numbers (addresses are always numeric: the twin has no reverse DNS). */
  readonly numeric: boolean;
}

/**
 * The two lines tcpdump writes to stderr when it starts (print.c / tcpdump.c). 4.9 says
 * `capture size`; 4.99 says `snapshot length`. The first line goes away with -v.
 */
export function tcpdumpHeader(iface: string, version: TcpdumpVersion = "4.9", verbose = false): string[] {
  const size = version === "4.9" ? "capture size" : "snapshot length";
  return [
    ...(verbose ? [] : ["tcpdump: verbose output suppressed, use -v or -vv for full protocol decode"]),
    `listening on ${iface}, link-type EN10MB (Ethernet), ${size} 262144 bytes`,
  ];
}

/** What tcpdump prints on stderr when interrupted (tcpdump.c, info()). */
export function tcpdumpSummary(captured: number, received = captured, dropped = 0): string[] {
  const plural = (n: number, what: string) => `${n} ${n === 1 ? "packet" : "packets"} ${what}`;
  return [
    plural(captured, "captured"),
    plural(received, "received by filter"),
    plural(dropped, "dropped by kernel"),
  ];
}

/** HH:MM:SS.ffffff; the twin's local zone is UTC, as on AKS nodes. */
export function formatTime(us: number): string {
  const t = Math.trunc(us);
  const day = Math.floor(t / 1e6) % 86400;
  const two = (n: number) => String(n).padStart(2, "0");
  const micro = String(t % 1e6).padStart(6, "0");
  return `${two(Math.floor(day / 3600))}:${two(Math.floor(day / 60) % 60)}:${two(day % 60)}.${micro}`;
}

/** Flag letters in print-tcp.c's order: F S R P . U E W; `none` when no bit is set. */
function tcpFlags(bits: number): string {
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
  const s = letters.map(([b, l]) => (bits & b ? l : "")).join("");
  return s || "none";
}

const OPTION_SIZE: Readonly<Record<TcpOption["kind"], number>> = {
  nop: 1,
  mss: 4,
  wscale: 3,
  sackOK: 2,
  timestamp: 10,
};

/** The options as print-tcp.c names them; the writer's end-of-list padding shows as a final `eol`. */
function tcpOptions(options: readonly TcpOption[]): string {
  const parts = options.map((o) => {
    switch (o.kind) {
      case "mss":
        return `mss ${o.value}`;
      case "wscale":
        return `wscale ${o.value}`;
      case "timestamp":
        return `TS val ${o.value >>> 0} ecr ${o.echo >>> 0}`;
      default:
        return o.kind;
    }
  });
  if (options.reduce((n, o) => n + OPTION_SIZE[o.kind], 0) % 4 !== 0) parts.push("eol");
  return parts.join(",");
}

/** The methods print-http.c recognises (HTTP and WebDAV). */
const HTTP_METHODS = new Set(
  "GET PUT COPY HEAD LOCK MOVE POLL POST BCOPY BMOVE MKCOL TRACE LABEL MERGE DELETE SEARCH UNLOCK REPORT UPDATE NOTIFY BDELETE CONNECT OPTIONS CHECKIN PROPFIND CHECKOUT CHECKOUT BPROPFIND BPROPPATCH UNCHECKOUT MKACTIVITY MKWORKSPACE VERSION-CONTROL BASELINE-CONTROL".split(
    " ",
  ),
);

/**
 * txtproto_print() for HTTP: `HTTP`, then `: FIRST LINE` when the payload starts with a known method
 * or its second token is a three-digit status code, and the line is printable ASCII ending in LF.
 */
function httpSummary(payload: Uint8Array): string {
  const text = String.fromCharCode(...payload.subarray(0, 4096));
  const tokens = text.split(/[ \t\r\n]/, 2);
  const isReqResp = HTTP_METHODS.has((tokens[0] ?? "").toUpperCase()) || /^\d{3}$/.test(tokens[1] ?? "");
  if (!isReqResp) return "HTTP";
  let i = 0;
  while (i < text.length && text[i] !== "\n" && text[i] !== "\r") {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) return "HTTP";
    i++;
  }
  if (i === text.length) return `HTTP: ${text} [|http]`; // no line end in this segment
  if (text[i] === "\r" && text[i + 1] !== "\n") return "HTTP";
  return `HTTP: ${text.slice(0, i)}`;
}

interface SeqState {
  /** Initial sequence number per endpoint `addr.port`. */
  readonly isn: Map<string, number>;
}

function endpoint(addr: number, port: number): string {
  return `${addr}.${port}`;
}

/** One conversation's key, the same from either side. */
function conversation(a: string, b: string): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`;
}

function tcpLine(frame: Frame, src: string, dst: string, flows: Map<string, SeqState>): string {
  const p = frame.packet;
  const t = frame.tcp ?? { seq: 0, ack: 0, window: 0, options: [] };
  const flags = p.tcpFlags;
  let seq = t.seq >>> 0;
  let ack = t.ack >>> 0;
  if (flags & TCP.ACK) {
    const me = endpoint(p.src as number, p.sport);
    const peer = endpoint(p.dst as number, p.dport);
    const key = conversation(me, peer);
    const known = flows.get(key);
    if (!known || flags & TCP.SYN) {
      flows.set(key, {
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
  const length = frame.payload.length;
  let s = `${src} > ${dst}: Flags [${tcpFlags(flags)}]`;
  if (length > 0 || flags & (TCP.SYN | TCP.FIN | TCP.RST)) {
    s += `, seq ${seq}`;
    if (length > 0) s += `:${(seq + length) >>> 0}`;
  }
  if (flags & TCP.ACK) s += `, ack ${ack}`;
  s += `, win ${t.window}`;
  if (flags & TCP.URG) s += ", urg 0"; // the urgent pointer is not modelled and written as zero
  if (t.options.length > 0) s += `, options [${tcpOptions(t.options)}]`;
  s += `, length ${length}`;
  if (length > 0 && (p.sport === 80 || p.dport === 80)) s += `: ${httpSummary(frame.payload)}`;
  return s;
}

function udpLine(frame: Frame, src: string, dst: string): string {
  const p = frame.packet;
  if (p.sport === 53 || p.dport === 53) {
    const dns = dnsSummary(frame.payload);
    if (dns !== null) return `${src} > ${dst}: ${dns}`;
  }
  return `${src} > ${dst}: UDP, length ${frame.payload.length}`;
}

/** print-icmp.c's names for the types without an inner packet to describe. */
function icmpLine(frame: Frame, src: string, dst: string): string {
  const p = frame.packet;
  const length = 8 + frame.payload.length;
  const echo = p.icmpType === 8 ? "request" : p.icmpType === 0 ? "reply" : null;
  if (echo)
    return `${src} > ${dst}: ICMP echo ${echo}, id ${p.icmpId}, seq ${frame.icmpSeq ?? 0}, length ${length}`;
  const name = p.icmpType === 11 ? "time exceeded in-transit" : `type-#${p.icmpType}`;
  return `${src} > ${dst}: ICMP ${name}, length ${length}`;
}

/** The lines tcpdump prints for a capture's frames, in order (no trailing newline). */
export function tcpdumpText(frames: readonly Frame[], opts: TcpdumpOptions): string[] {
  const flows = new Map<string, SeqState>();
  return frames.map((frame) => {
    const p = frame.packet;
    const time = formatTime(frame.time);
    if (p.family !== 4) return `${time} IP6, length ${p.length}`; // not modelled in frames yet
    const src = formatIpv4(p.src as number);
    const dst = formatIpv4(p.dst as number);
    if (p.proto === PROTO.icmp) return `${time} IP ${icmpLine(frame, src, dst)}`;
    const proto = p.proto === PROTO.tcp ? "tcp" : "udp";
    const port = (n: number) => (opts.numeric ? String(n) : portName(proto, n));
    const from = `${src}.${port(p.sport)}`;
    const to = `${dst}.${port(p.dport)}`;
    if (p.proto === PROTO.tcp) return `${time} IP ${tcpLine(frame, from, to, flows)}`;
    if (p.proto === PROTO.udp) return `${time} IP ${udpLine(frame, from, to)}`;
    return `${time} IP ${src} > ${dst}: ip-proto-${p.proto} ${frame.payload.length}`;
  });
}

/** One frame alone (no earlier packets: sequence numbers print as tcpdump prints a flow's first). */
export function tcpdumpLine(frame: Frame, opts: TcpdumpOptions): string {
  return tcpdumpText([frame], opts)[0]!;
}
