import type { Frame, TcpOption } from "../../../model/frame.ts";
import { makePacket, PROTO } from "../../../model/packet.ts";

/** Building frames: IPv4/TCP/UDP/ICMP lengths as on the wire (RFC 791/793/768/792). */

export interface SockAddr {
  /** IPv4 as uint32. */
  readonly ip: number;
  readonly port: number;
}

/** Bytes the options take in the TCP header, padded to a 32-bit boundary. */
export function optionBytes(options: readonly TcpOption[]): number {
  let n = 0;
  for (const o of options) {
    if (o.kind === "nop") n += 1;
    else if (o.kind === "mss") n += 4;
    else if (o.kind === "wscale") n += 3;
    else if (o.kind === "sackOK") n += 2;
    else n += 10;
  }
  return Math.ceil(n / 4) * 4;
}

export interface L2 {
  readonly time: number;
  readonly srcMac: string;
  readonly dstMac: string;
  readonly ipId: number;
  readonly ttl: number;
  readonly dontFragment: boolean;
}

export interface TcpSegment {
  readonly src: SockAddr;
  readonly dst: SockAddr;
  readonly flags: number;
  readonly seq: number;
  readonly ack: number;
  readonly window: number;
  readonly options: readonly TcpOption[];
  readonly payload: Uint8Array;
}

export function tcpFrame(l2: L2, s: TcpSegment): Frame {
  const length = 20 + 20 + optionBytes(s.options) + s.payload.length;
  return {
    ...l2,
    packet: makePacket({
      family: 4,
      proto: PROTO.tcp,
      src: s.src.ip,
      dst: s.dst.ip,
      sport: s.src.port,
      dport: s.dst.port,
      tcpFlags: s.flags,
      length,
    }),
    tcp: { seq: s.seq >>> 0, ack: s.ack >>> 0, window: s.window, options: s.options },
    payload: s.payload,
  };
}

export function udpFrame(l2: L2, src: SockAddr, dst: SockAddr, payload: Uint8Array): Frame {
  return {
    ...l2,
    packet: makePacket({
      family: 4,
      proto: PROTO.udp,
      src: src.ip,
      dst: dst.ip,
      sport: src.port,
      dport: dst.port,
      length: 20 + 8 + payload.length,
    }),
    tcp: null,
    payload,
  };
}

/** Source and destination of a frame as socket addresses. */
export function frameSrc(f: Frame): SockAddr {
  return { ip: f.packet.src as number, port: f.packet.sport };
}
export function frameDst(f: Frame): SockAddr {
  return { ip: f.packet.dst as number, port: f.packet.dport };
}

export function sameAddr(a: SockAddr, b: SockAddr): boolean {
  return a.ip === b.ip && a.port === b.port;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
export const utf8 = (s: string): Uint8Array => encoder.encode(s);
export const text = (b: Uint8Array): string => decoder.decode(b);

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
