import { formatIpv4 } from "../../../core/ip.ts";
import { PROTO } from "../../../model/packet.ts";
import { dnsSummary } from "./dns.ts";
import { icmpPrint } from "./print-icmp.ts";
import { tcpPrint } from "./print-tcp.ts";
import { portName } from "./services.ts";

/**
 * tcpdump's IPv4 printer over a datagram's bytes (print-ip.c ip_print, then print-udp.c, print-tcp.c,
 * print-icmp.c), so that an ICMP error's quoted datagram prints the way the outer one does. Output
 * goes into one buffer per packet (tcpdump's ND_PRINT); reading past the captured bytes stops the
 * packet there with ` [|proto]`, as tcpdump's GET_ macros longjmp out (nd_trunc_longjmp).
 */

/** print-tcp.c's tcp_seq_hash entry: both ends' initial sequence numbers of one conversation. */
export interface SeqState {
  /** Initial sequence number per endpoint `addr.port`. */
  readonly isn: Map<string, number>;
}

export interface PrintContext {
  /** `-n`: ports as numbers (addresses are always numeric: the twin has no reverse DNS). */
  readonly numeric: boolean;
  /** `-v`: the IP header's fields, TCP checksums, HTTP's text lines, an ICMP error's quoted datagram. */
  readonly verbose: boolean;
  /** Shared by every packet of a capture, quoted ones included (tcpdump keeps one table). */
  readonly flows: Map<string, SeqState>;
  readonly out: string[];
  /** ndo_protocol: the layer being printed, named in the truncation marker. */
  protocol: string;
}

/** Raised on a read past the captured bytes; the packet's line ends with ` [|proto]`. */
export class Truncated extends Error {}

/** Captured bytes; reads past their end raise Truncated. */
export class Bytes {
  constructor(readonly b: Uint8Array) {}
  get length(): number {
    return this.b.length;
  }
  has(at: number, n = 1): boolean {
    return at >= 0 && at + n <= this.b.length;
  }
  u8(at: number): number {
    if (!this.has(at)) throw new Truncated();
    return this.b[at]!;
  }
  u16(at: number): number {
    if (!this.has(at, 2)) throw new Truncated();
    return (this.b[at]! << 8) | this.b[at + 1]!;
  }
  u32(at: number): number {
    if (!this.has(at, 4)) throw new Truncated();
    return ((this.b[at]! << 24) | (this.b[at + 1]! << 16) | (this.b[at + 2]! << 8) | this.b[at + 3]!) >>> 0;
  }
  from(at: number): Bytes {
    return new Bytes(this.b.subarray(Math.min(at, this.b.length)));
  }
  /** Cut to `n` bytes (nd_push_snaplen: nothing past the end of the IP payload). */
  upTo(n: number): Bytes {
    return n >= this.b.length ? this : new Bytes(this.b.subarray(0, n));
  }
}

/** The IPv4 header fields the transport printers need (the pseudo-header, the addresses). */
export interface IpHeader {
  readonly src: number;
  readonly dst: number;
  readonly proto: number;
}

/** ipproto_values (ipproto.c), the names `-v` prints as `proto NAME (N)`. */
const PROTO_NAMES: Readonly<Record<number, string>> = {
  1: "ICMP",
  2: "IGMP",
  4: "IPIP",
  6: "TCP",
  17: "UDP",
  41: "IPv6",
  47: "GRE",
  50: "ESP",
  51: "AH",
  58: "ICMPv6",
  89: "OSPF",
  132: "SCTP",
};

/** ip_print's ECN suffix after the TOS (RFC 3168 codepoints). */
const ECN = ["", ",ECT(1)", ",ECT(0)", ",CE"];

/** ip_frag_values, in bittok2str's table order, joined by ", ". */
function fragFlags(off: number): string {
  const names = [
    [0x2000, "+"],
    [0x4000, "DF"],
    [0x8000, "rsvd"],
  ] as const;
  const set = names.filter(([bit]) => off & bit).map(([, n]) => n);
  return set.length ? set.join(", ") : "none";
}

/** ip_print: `IP `, with -v the header's fields, then the payload's printer. */
export function ipPrint(ctx: PrintContext, raw: Bytes, length: number): void {
  ctx.protocol = "ip";
  ctx.out.push("IP ");
  const ihl = (raw.u8(0) & 15) * 4;
  const total = raw.u16(2);
  const b = raw.upTo(total);
  const off = b.u16(6);
  const proto = b.u8(9);
  const ip: IpHeader = { src: b.u32(12), dst: b.u32(16), proto };
  if (length < total) ctx.out.push(`truncated-ip - ${total - length} bytes missing! `);
  if (ctx.verbose) {
    const tos = b.u8(1);
    const ttl = b.u8(8);
    ctx.out.push(`(tos 0x${tos.toString(16)}${ECN[tos & 3]}`);
    if (ttl >= 1) ctx.out.push(`, ttl ${ttl}`);
    ctx.out.push(
      `, id ${b.u16(4)}, offset ${(off & 0x1fff) * 8}, flags [${fragFlags(off)}], proto ${PROTO_NAMES[proto] ?? "unknown"} (${proto}), length ${total})\n    `,
    );
  }
  const src = formatIpv4(ip.src);
  const dst = formatIpv4(ip.dst);
  if ((off & 0x1fff) !== 0) {
    ctx.out.push(`${src} > ${dst}: ip-proto-${proto}`);
    return;
  }
  if (proto !== PROTO.tcp && proto !== PROTO.udp) ctx.out.push(`${src} > ${dst}: `);
  const l4 = b.from(ihl);
  const l4Length = total - ihl;
  if (proto === PROTO.tcp) tcpPrint(ctx, l4, l4Length, ip);
  else if (proto === PROTO.udp) udpPrint(ctx, l4, ip);
  else if (proto === PROTO.icmp) icmpPrint(ctx, l4, l4Length, ipPrint);
  else ctx.out.push(`ip-proto-${proto} ${Math.max(0, l4Length)}`);
}

/** udp_print: addresses with ports, then DNS on port 53 (print-domain.c) or `UDP, length N`. */
function udpPrint(ctx: PrintContext, b: Bytes, ip: IpHeader): void {
  ctx.protocol = "udp";
  const sport = b.u16(0);
  const dport = b.u16(2);
  const length = b.u16(4) - 8;
  const port = (n: number) => (ctx.numeric ? String(n) : portName("udp", n));
  ctx.out.push(`${formatIpv4(ip.src)}.${port(sport)} > ${formatIpv4(ip.dst)}.${port(dport)}: `);
  if (sport === 53 || dport === 53) {
    const dns = dnsSummary(b.b.subarray(8, 8 + Math.max(0, length)), ctx.verbose);
    if (dns !== null) {
      ctx.out.push(dns);
      return;
    }
  }
  ctx.out.push(`UDP, length ${length}`);
}
