import type { Frame, TcpOption } from "../../../model/frame.ts";
import { makePacket, type Packet, PROTO } from "../../../model/packet.ts";

/**
 * The datagram an ICMP error quotes (RFC 792), as bytes in the error's payload: the offending
 * packet's IPv4 header and as much of the rest as fits. Linux's __icmp_send (net/ipv4/icmp.c) keeps
 * the whole error within 576 bytes, so it quotes up to 576 - 20 - 8 = 548 bytes, not only the 8 the
 * RFC requires. NAT rewrites a quote's addresses and ports (nf_nat_icmp_reply_translation) and keeps
 * its checksums valid by adjusting them (RFC 1624), as the kernel's incremental updates do.
 */

export const ICMP_QUOTE_MAX = 576 - 20 - 8;

/** icmp_is_err(): the ICMP types whose payload quotes a datagram (unreachable, quench, redirect, time exceeded, parameter problem). */
const ICMP_ERRORS = new Set([3, 4, 5, 11, 12]);

export function isIcmpError(p: Packet): boolean {
  return p.family === 4 && p.proto === PROTO.icmp && ICMP_ERRORS.has(p.icmpType);
}

/** What a quote says of the offending packet. */
export interface Quoted {
  /** Its headers as the evaluator reads them (addresses, protocol, ports or ICMP fields, TCP flags). */
  readonly packet: Packet;
  /** TCP: the quoted sequence number, which tcp_v4_err checks against the socket's unacknowledged range. */
  readonly tcpSeq: number | null;
}

/** The frame's IPv4 datagram as on the wire (header without options, L4 header, payload), valid checksums. */
export function datagramBytes(f: Frame, ttl: number = f.ttl): Uint8Array {
  const p = f.packet;
  if (p.family !== 4 || typeof p.src !== "number" || typeof p.dst !== "number")
    throw new Error("datagramBytes: IPv4 frames only");
  const options = p.proto === PROTO.tcp ? tcpOptionBytes(f.tcp?.options ?? []) : [];
  const l4Len =
    p.proto === PROTO.tcp ? 20 + options.length : p.proto === PROTO.udp || p.proto === PROTO.icmp ? 8 : 0;
  const total = 20 + l4Len + f.payload.length;
  const b = new Uint8Array(total);
  const v = new DataView(b.buffer);
  b[0] = 0x45;
  b[1] = (f.tos ?? 0) & 255;
  v.setUint16(2, total);
  v.setUint16(4, f.ipId & 0xffff);
  v.setUint16(6, f.dontFragment ? 0x4000 : 0);
  b[8] = ttl & 255;
  b[9] = p.proto & 255;
  v.setUint32(12, p.src >>> 0);
  v.setUint32(16, p.dst >>> 0);
  v.setUint16(10, ~onesSum(b, 0, 20) & 0xffff);
  b.set(f.payload, 20 + l4Len);
  const l4 = 20;
  if (p.proto === PROTO.tcp) {
    v.setUint16(l4, p.sport);
    v.setUint16(l4 + 2, p.dport);
    v.setUint32(l4 + 4, (f.tcp?.seq ?? 0) >>> 0);
    v.setUint32(l4 + 8, (f.tcp?.ack ?? 0) >>> 0);
    v.setUint16(l4 + 12, ((l4Len / 4) << 12) | (p.tcpFlags & 0xff));
    v.setUint16(l4 + 14, f.tcp?.window ?? 0);
    b.set(options, l4 + 20);
    v.setUint16(l4 + 16, ~onesSum(b, l4, total, pseudo(p.src, p.dst, PROTO.tcp, total - l4)) & 0xffff);
  } else if (p.proto === PROTO.udp) {
    v.setUint16(l4, p.sport);
    v.setUint16(l4 + 2, p.dport);
    v.setUint16(l4 + 4, total - l4);
    // RFC 768: a computed zero goes out as all ones.
    v.setUint16(
      l4 + 6,
      ~onesSum(b, l4, total, pseudo(p.src, p.dst, PROTO.udp, total - l4)) & 0xffff || 0xffff,
    );
  } else if (p.proto === PROTO.icmp) {
    b[l4] = p.icmpType & 255;
    b[l4 + 1] = Math.max(p.icmpCode, 0) & 255;
    if (p.icmpType === 0 || p.icmpType === 8) {
      v.setUint16(l4 + 4, Math.max(p.icmpId, 0) & 0xffff);
      v.setUint16(l4 + 6, (f.icmpSeq ?? 0) & 0xffff);
    }
    v.setUint16(l4 + 2, ~onesSum(b, l4, total) & 0xffff);
  }
  return b;
}

/** What an ICMP error about `f` carries: its datagram, with the TTL it had where it was refused, cut to 548 bytes. */
export function quoteOf(f: Frame, ttl: number = f.ttl): Uint8Array {
  const all = datagramBytes(f, ttl);
  return all.length > ICMP_QUOTE_MAX ? all.slice(0, ICMP_QUOTE_MAX) : all;
}

/** The offending packet's headers, read back from a quote; null when the quote is too short to say. */
export function parseQuote(q: Uint8Array): Quoted | null {
  if (q.length < 20 || q[0]! >>> 4 !== 4) return null;
  const v = new DataView(q.buffer, q.byteOffset, q.byteLength);
  const ihl = (q[0]! & 15) * 4;
  if (q.length < ihl + 8) return null;
  const proto = q[9]!;
  const l4 = ihl;
  const ports = proto === PROTO.tcp || proto === PROTO.udp;
  const icmp = proto === PROTO.icmp;
  const echo = icmp && (q[l4] === 0 || q[l4] === 8);
  const packet = makePacket({
    family: 4,
    proto,
    src: v.getUint32(12),
    dst: v.getUint32(16),
    sport: ports ? v.getUint16(l4) : 0,
    dport: ports ? v.getUint16(l4 + 2) : 0,
    // The flags byte is past the 8 bytes RFC 792 guarantees; Linux quotes it (548 bytes).
    tcpFlags: proto === PROTO.tcp && q.length >= l4 + 14 ? q[l4 + 13]! : 0,
    ...(icmp ? { icmpType: q[l4]!, icmpCode: q[l4 + 1]!, icmpId: echo ? v.getUint16(l4 + 4) : -1 } : {}),
    length: v.getUint16(2),
  });
  return { packet, tcpSeq: proto === PROTO.tcp ? v.getUint32(l4 + 4) : null };
}

/**
 * The quote with the offending packet's addresses and ports set to `to`'s (NAT's translation of an
 * ICMP error); the IP header checksum and the TCP/UDP checksum are adjusted for the change.
 */
export function rewriteQuote(q: Uint8Array, to: Packet): Uint8Array {
  const from = parseQuote(q);
  if (!from || typeof to.src !== "number" || typeof to.dst !== "number") return q;
  const out = q.slice();
  const v = new DataView(out.buffer);
  const ihl = (out[0]! & 15) * 4;
  const proto = out[9]!;
  const l4 = ihl;
  // The L4 checksum field when the quote holds it (UDP's zero means "no checksum" and stays zero).
  const l4Check =
    proto === PROTO.tcp && out.length >= l4 + 18
      ? l4 + 16
      : proto === PROTO.udp && v.getUint16(l4 + 6) !== 0
        ? l4 + 6
        : -1;
  const ports = proto === PROTO.tcp || proto === PROTO.udp;
  const change32 = (at: number, value: number, pseudoToo: boolean) => {
    const old = v.getUint32(at);
    if (old === value >>> 0) return;
    v.setUint32(at, value >>> 0);
    adjust(v, 10, old, value);
    if (pseudoToo && l4Check >= 0) adjust(v, l4Check, old, value);
  };
  change32(12, to.src, true);
  change32(16, to.dst, true);
  if (ports) {
    for (const [at, value] of [
      [l4, to.sport],
      [l4 + 2, to.dport],
    ] as const) {
      const old = v.getUint16(at);
      if (old === value) continue;
      v.setUint16(at, value);
      if (l4Check >= 0) adjust16(v, l4Check, old, value);
    }
  }
  return out;
}

/** RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), for a 32-bit field as two 16-bit words. */
function adjust(v: DataView, at: number, old: number, value: number): void {
  adjust16(v, at, old >>> 16, value >>> 16);
  adjust16(v, at, old & 0xffff, value & 0xffff);
}

function adjust16(v: DataView, at: number, old: number, value: number): void {
  let s = (~v.getUint16(at) & 0xffff) + (~old & 0xffff) + (value & 0xffff);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  v.setUint16(at, ~s & 0xffff);
}

/** Ones' complement sum of 16-bit big-endian words (RFC 1071), folded, from `sum`. */
function onesSum(b: Uint8Array, start: number, end: number, sum = 0): number {
  let s = sum;
  let i = start;
  for (; i + 1 < end; i += 2) s += (b[i]! << 8) | b[i + 1]!;
  if (i < end) s += b[i]! << 8;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

/** The TCP/UDP pseudo-header's sum (RFC 793 §3.1, RFC 768). */
function pseudo(src: number, dst: number, proto: number, length: number): number {
  let s = (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + proto + length;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

/** TCP options as on the wire (RFC 9293 §3.1, RFC 7323, RFC 2018), padded with end-of-list to 32 bits. */
function tcpOptionBytes(options: readonly TcpOption[]): number[] {
  const out: number[] = [];
  const u32 = (x: number) => [(x >>> 24) & 255, (x >>> 16) & 255, (x >>> 8) & 255, x & 255];
  for (const o of options) {
    if (o.kind === "nop") out.push(1);
    else if (o.kind === "mss") out.push(2, 4, (o.value >>> 8) & 255, o.value & 255);
    else if (o.kind === "wscale") out.push(3, 3, o.value & 255);
    else if (o.kind === "sackOK") out.push(4, 2);
    else out.push(8, 10, ...u32(o.value), ...u32(o.echo));
  }
  while (out.length % 4 !== 0) out.push(0);
  return out;
}
