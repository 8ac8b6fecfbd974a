import { formatIpv4 } from "../../../core/ip.ts";
import { PROTO } from "../../../model/packet.ts";
import { checksumShouldBe, internetChecksum } from "../../pcap/checksum.ts";
import type { Bytes, PrintContext } from "./print-ip.ts";
import { portName } from "./services.ts";

/**
 * print-icmp.c's icmp_print (tcpdump 4.99): `ICMP TEXT, length N`, where an error's text names what
 * it quotes: the quoted datagram's destination, and for port unreachable its protocol and
 * destination port (`10.0.0.10 udp port domain unreachable`; ports as names unless -n). With -v an
 * error also prints the quoted datagram itself, through the IP printer, on the next lines.
 */

/** The IP printer, passed in (print-ip.ts imports this module). */
export type IpPrinter = (ctx: PrintContext, b: Bytes, length: number) => void;

/** icmp2str: the types printed by name alone. */
const TYPE_NAMES: Readonly<Record<number, string>> = {
  0: "echo reply",
  4: "source quench",
  8: "echo request",
  10: "router solicitation",
  13: "time stamp request",
  14: "time stamp reply",
  15: "information request",
  16: "information reply",
  17: "address mask request",
};

/**
 * The unreachable codes' texts, `%s` being the quoted destination (codes 2, 3 and 4 are built
 * apart). tcpdump 4.9 prints an unknown code as `#N ADDR unreachable`, 4.99 as `ADDR unreachable - #N`.
 */
const UNREACH_TEXTS: Readonly<Record<number, string>> = {
  0: "net %s unreachable",
  1: "host %s unreachable",
  5: "%s unreachable - source route failed",
  6: "net %s unreachable - unknown",
  7: "host %s unreachable - unknown",
  8: "%s unreachable - source host isolated",
  9: "net %s unreachable - admin prohibited",
  10: "host %s unreachable - admin prohibited",
  11: "net %s unreachable - tos prohibited",
  12: "host %s unreachable - tos prohibited",
  13: "host %s unreachable - admin prohibited filter",
  14: "host %s unreachable - host precedence violation",
  15: "host %s unreachable - precedence cutoff",
};

const REDIRECT_TEXTS = [
  "redirect %s to net %s",
  "redirect %s to host %s",
  "redirect-tos %s to net %s",
  "redirect-tos %s to host %s",
];

/** ICMP_ERRTYPE: the types whose payload is a quoted datagram. */
const ERROR_TYPES = new Set([3, 4, 5, 11, 12]);

/** The quoted datagram starts after the 8-byte ICMP header. */
const QUOTE = 8;

function unreachText(ctx: PrintContext, b: Bytes, code: number): string {
  const qdst = () => formatIpv4(b.u32(QUOTE + 16));
  if (code === 2) return `${qdst()} protocol ${b.u8(QUOTE + 9)} unreachable`;
  if (code === 3) {
    b.u8(QUOTE + 9);
    const hlen = (b.u8(QUOTE) & 15) * 4;
    // The destination port sits where UDP and TCP keep it: bytes 2-3 of whatever follows the header.
    const dport = b.u16(QUOTE + hlen + 2);
    const proto = b.u8(QUOTE + 9);
    const dst = qdst();
    if (proto === PROTO.tcp)
      return `${dst} tcp port ${ctx.numeric ? dport : portName("tcp", dport)} unreachable`;
    if (proto === PROTO.udp)
      return `${dst} udp port ${ctx.numeric ? dport : portName("udp", dport)} unreachable`;
    return `${dst} protocol ${proto} port ${dport} unreachable`;
  }
  if (code === 4) {
    const mtu = b.u16(6);
    return mtu ? `${qdst()} unreachable - need to frag (mtu ${mtu})` : `${qdst()} unreachable - need to frag`;
  }
  const text = UNREACH_TEXTS[code];
  return text ? text.replace("%s", qdst()) : `${qdst()} unreachable - #${code}`;
}

function typeText(ctx: PrintContext, b: Bytes, type: number, code: number): string {
  switch (type) {
    case 0:
    case 8:
      return `echo ${type === 8 ? "request" : "reply"}, id ${b.u16(4)}, seq ${b.u16(6)}`;
    case 3:
      return unreachText(ctx, b, code);
    case 5: {
      const text = REDIRECT_TEXTS[code];
      const dst = formatIpv4(b.u32(QUOTE + 16));
      const gw = formatIpv4(b.u32(4));
      return text ? text.replace("%s", dst).replace("%s", gw) : `redirect-#${code} ${dst} to ${gw}`;
    }
    case 11:
      b.u32(QUOTE + 16);
      return code === 0
        ? "time exceeded in-transit"
        : code === 1
          ? "ip reassembly time exceeded"
          : `time exceeded-#${code}`;
    case 12:
      return code ? `parameter problem - code ${code}` : `parameter problem - octet ${b.u8(4)}`;
    case 13:
      return `time stamp query id ${b.u16(4)} seq ${b.u16(6)}`;
    case 18:
      return `address mask is 0x${b.u32(8).toString(16).padStart(8, "0")}`;
    default:
      return TYPE_NAMES[type] ?? `type-#${type}`;
  }
}

/** icmp_print: the message over `length` bytes of ICMP (the IP payload), `b` what was captured of it. */
export function icmpPrint(ctx: PrintContext, b: Bytes, length: number, ipPrint: IpPrinter): void {
  ctx.protocol = "icmp";
  const type = b.u8(0);
  const code = b.u8(1);
  ctx.out.push(`ICMP ${typeText(ctx, b, type, code)}, length ${length}`);
  if (ctx.verbose && b.has(0, length)) {
    const sum = internetChecksum(b.b, 0, length);
    if (sum !== 0) {
      const field = b.u16(2);
      ctx.out.push(
        ` (wrong icmp cksum ${field.toString(16)} (->${checksumShouldBe(field, sum).toString(16)})!)`,
      );
    }
  }
  if (ctx.verbose && ERROR_TYPES.has(type)) {
    ctx.out.push("\n\t");
    const inner = b.from(QUOTE);
    const innerLength = inner.u16(2);
    // The quote is printed as a packet of its own length, cut where the capture (or the quote) ends.
    ipPrint(ctx, inner.upTo(innerLength), innerLength);
    ctx.protocol = "icmp";
  }
  if (ctx.verbose && length > EXT_OFFSET && MULTIPART_TYPES.has(type)) multipartCheck(ctx, b, length);
}

/** RFC 4884: an extension structure may follow the first 128 bytes of the quote (ICMP_EXTD_MINLEN). */
const EXT_OFFSET = 136;
/** sizeof(struct icmp_ext_t): what must be captured before tcpdump looks for one. */
const EXT_HEADER_END = 141;
/** ICMP_MULTIPART_EXT_TYPE. */
const MULTIPART_TYPES = new Set([3, 11, 12]);

/**
 * With -v, tcpdump looks for an extension after a long quote: with the length byte zero, only when
 * the bytes from offset 136 sum to a valid checksum. The twin's errors carry none, so this prints
 * nothing unless a quote's bytes happen to sum that way (1 in 65536); then tcpdump prints the
 * extension's header, whose objects are not decoded here.
 */
function multipartCheck(ctx: PrintContext, b: Bytes, length: number): void {
  b.u8(EXT_HEADER_END - 1);
  const rest = length - EXT_OFFSET;
  if (b.u8(5) === 0 && b.has(EXT_OFFSET, rest) && internetChecksum(b.b, EXT_OFFSET, length) !== 0) return;
  const version = b.u8(EXT_OFFSET) >>> 4;
  ctx.out.push(`\n\tICMP Multi-Part extension v${version}`);
  if (version !== 2) ctx.out.push(" packet not supported");
}
