import type { Frame } from "../../../model/frame.ts";
import { makePacket, PROTO } from "../../../model/packet.ts";
import { quoteOf } from "./quote.ts";

/** ICMP echo (RFC 792): what `ping` sends and what every Linux host answers (icmp_echo()). */

export const ICMP = { ECHO_REPLY: 0, DEST_UNREACH: 3, ECHO_REQUEST: 8 } as const;

export interface EchoSender {
  readonly mac: string;
  readonly nextHopMac: string;
  readonly ttl: number;
}

/**
 * iputils ping's request: 56 data bytes (an 8-byte timeval then 0x10, 0x11, …), so 84 bytes at L3 as
 * the seed's `56(84) bytes` says; DF set (the socket's default IP_PMTUDISC_WANT).
 */
export function echoRequest(
  from: EchoSender,
  src: number,
  dst: number,
  id: number,
  seq: number,
  time: number,
  ipId: number,
): Frame {
  const payload = new Uint8Array(56);
  const secs = Math.floor(time / 1_000_000);
  const usec = time - secs * 1_000_000;
  const view = new DataView(payload.buffer);
  // struct timeval in host (little-endian) order, as ping writes it.
  view.setUint32(0, secs >>> 0, true);
  view.setUint32(4, Math.floor(secs / 2 ** 32), true);
  view.setUint32(8, usec, true);
  for (let i = 16; i < 56; i++) payload[i] = i;
  return {
    time,
    srcMac: from.mac,
    dstMac: from.nextHopMac,
    ipId,
    ttl: from.ttl,
    dontFragment: true,
    packet: makePacket({
      family: 4,
      proto: PROTO.icmp,
      src,
      dst,
      icmpType: ICMP.ECHO_REQUEST,
      icmpCode: 0,
      icmpId: id,
      length: 20 + 8 + payload.length,
    }),
    tcp: null,
    icmpSeq: seq,
    payload,
  };
}

/**
 * The reply: addresses swapped, same id, sequence and data; the replier's TTL (64 on Linux, as the
 * seed's `ttl=64` from the pod shows) and its own IP id. DF clear: the kernel's ICMP socket uses
 * IP_PMTUDISC_DONT (icmp_sk_init).
 */
export function echoReply(
  request: Frame,
  host: { mac: string; ttl: number; ipId: number; delayUs: number },
): Frame | null {
  const p = request.packet;
  if (p.proto !== PROTO.icmp || p.icmpType !== ICMP.ECHO_REQUEST) return null;
  return {
    time: request.time + host.delayUs,
    srcMac: host.mac,
    dstMac: request.srcMac,
    ipId: host.ipId,
    ttl: host.ttl,
    dontFragment: false,
    packet: makePacket({
      family: 4,
      proto: PROTO.icmp,
      src: p.dst,
      dst: p.src,
      icmpType: ICMP.ECHO_REPLY,
      icmpCode: 0,
      icmpId: p.icmpId,
      length: p.length,
    }),
    tcp: null,
    ...(request.icmpSeq === undefined ? {} : { icmpSeq: request.icmpSeq }),
    payload: request.payload,
  };
}

/** Destination unreachable codes (RFC 792, RFC 1812 §5.2.7.1) that REJECT and closed ports send. */
export const UNREACH = {
  NET: 0,
  HOST: 1,
  PROTOCOL: 2,
  PORT: 3,
  NET_PROHIBITED: 9,
  HOST_PROHIBITED: 10,
  ADMIN_PROHIBITED: 13,
} as const;

/**
 * A destination unreachable error about `offending` (__icmp_send): from `src`, to the offending
 * packet's source, quoting it (quote.ts) as it was where it was refused (`quotedTtl`). The kernel's
 * ICMP socket sends with the default TTL and without DF (icmp_sk_init: IP_PMTUDISC_DONT); bytes 4-7
 * are unused (zero) for these codes. Its TOS is the offending packet's TOS bits (IPTOS_TOS_MASK,
 * 0x1e) with the precedence IPTOS_PREC_INTERNETCONTROL (0xc0): 0xc0 for the usual TOS 0.
 */
export function destUnreachable(
  offending: Frame,
  code: number,
  from: { readonly src: number; readonly ttl: number; readonly ipId: number; readonly time: number },
  quotedTtl: number = offending.ttl,
): Frame {
  const quote = quoteOf(offending, quotedTtl);
  return {
    time: from.time,
    srcMac: offending.dstMac,
    dstMac: offending.srcMac,
    ipId: from.ipId,
    ttl: from.ttl,
    tos: ((offending.tos ?? 0) & 0x1e) | 0xc0,
    dontFragment: false,
    packet: makePacket({
      family: 4,
      proto: PROTO.icmp,
      src: from.src,
      dst: offending.packet.src,
      icmpType: ICMP.DEST_UNREACH,
      icmpCode: code,
      length: 20 + 8 + quote.length,
    }),
    tcp: null,
    payload: quote,
  };
}
