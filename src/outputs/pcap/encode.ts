import type { Frame, TcpOption } from "../../model/frame.ts";
import { PROTO } from "../../model/packet.ts";
import { internetChecksum, pseudoHeaderSum } from "./checksum.ts";

/**
 * One frame as the bytes on the wire: Ethernet II, IPv4 (no options), then TCP, UDP or ICMP with
 * valid checksums, then the payload. Lengths come from the payload and the TCP options, not from
 * `packet.length`, so the bytes are always self-consistent.
 */

const ETHERTYPE_IPV4 = 0x0800;
const ETH_LEN = 14;
const IPV4_LEN = 20;

/** TCP option kinds (RFC 9293 §3.1, RFC 7323, RFC 2018) and their encoded sizes. */
function optionBytes(options: readonly TcpOption[]): number[] {
  const out: number[] = [];
  for (const o of options) {
    switch (o.kind) {
      case "nop":
        out.push(1);
        break;
      case "mss":
        out.push(2, 4, (o.value >>> 8) & 255, o.value & 255);
        break;
      case "wscale":
        out.push(3, 3, o.value & 255);
        break;
      case "sackOK":
        out.push(4, 2);
        break;
      case "timestamp":
        out.push(8, 10, ...u32(o.value), ...u32(o.echo));
        break;
    }
  }
  // The header length counts 32-bit words: pad with end-of-option-list (kind 0), as RFC 9293 allows.
  while (out.length % 4 !== 0) out.push(0);
  return out;
}

function u32(v: number): number[] {
  return [(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];
}

function parseMac(mac: string): number[] {
  const parts = mac.split(":");
  if (parts.length !== 6) throw new Error(`not a MAC address: "${mac}"`);
  return parts.map((p) => {
    const n = Number.parseInt(p, 16);
    if (!/^[0-9a-fA-F]{1,2}$/.test(p) || Number.isNaN(n)) throw new Error(`not a MAC address: "${mac}"`);
    return n;
  });
}

/** Whether an ICMP type carries identifier and sequence (echo reply 0, echo request 8; RFC 792). */
export function icmpIsEcho(type: number): boolean {
  return type === 0 || type === 8;
}

/** The L4 header size the frame will have on the wire. */
function l4HeaderLength(frame: Frame): number {
  const p = frame.packet;
  if (p.proto === PROTO.tcp) return 20 + optionBytes(frame.tcp?.options ?? []).length;
  if (p.proto === PROTO.udp || p.proto === PROTO.icmp) return 8;
  return 0;
}

/** Encodes a frame; throws on what a capture cannot hold (IPv6 is not modelled here yet, bad MACs). */
export function encodeFrame(frame: Frame): Uint8Array {
  const p = frame.packet;
  if (p.family !== 4 || typeof p.src !== "number" || typeof p.dst !== "number") {
    throw new Error("encodeFrame: only IPv4 frames can be written");
  }
  const l4Len = l4HeaderLength(frame);
  const ipTotal = IPV4_LEN + l4Len + frame.payload.length;
  const bytes = new Uint8Array(ETH_LEN + ipTotal);
  const view = new DataView(bytes.buffer);

  bytes.set(parseMac(frame.dstMac), 0);
  bytes.set(parseMac(frame.srcMac), 6);
  view.setUint16(12, ETHERTYPE_IPV4);

  const ip = ETH_LEN;
  bytes[ip] = 0x45; // version 4, IHL 5 words
  view.setUint16(ip + 2, ipTotal);
  view.setUint16(ip + 4, frame.ipId & 0xffff);
  // Flags and fragment offset: DF is bit 14. A non-first fragment is not modelled byte-wise.
  view.setUint16(ip + 6, frame.dontFragment ? 0x4000 : 0);
  bytes[ip + 8] = frame.ttl & 255;
  bytes[ip + 9] = p.proto & 255;
  view.setUint32(ip + 12, p.src >>> 0);
  view.setUint32(ip + 16, p.dst >>> 0);
  view.setUint16(ip + 10, internetChecksum(bytes, ip, ip + IPV4_LEN));

  const l4 = ip + IPV4_LEN;
  bytes.set(frame.payload, l4 + l4Len);
  const l4End = l4 + l4Len + frame.payload.length;
  if (p.proto === PROTO.tcp) {
    const t = frame.tcp;
    view.setUint16(l4, p.sport);
    view.setUint16(l4 + 2, p.dport);
    view.setUint32(l4 + 4, (t?.seq ?? 0) >>> 0);
    view.setUint32(l4 + 8, (t?.ack ?? 0) >>> 0);
    view.setUint16(l4 + 12, ((l4Len / 4) << 12) | (p.tcpFlags & 0xff));
    view.setUint16(l4 + 14, t?.window ?? 0);
    bytes.set(optionBytes(t?.options ?? []), l4 + 20);
    const pseudo = pseudoHeaderSum(p.src, p.dst, PROTO.tcp, l4End - l4);
    view.setUint16(l4 + 16, internetChecksum(bytes, l4, l4End, pseudo));
  } else if (p.proto === PROTO.udp) {
    view.setUint16(l4, p.sport);
    view.setUint16(l4 + 2, p.dport);
    view.setUint16(l4 + 4, l4End - l4);
    const pseudo = pseudoHeaderSum(p.src, p.dst, PROTO.udp, l4End - l4);
    // RFC 768: a computed zero is sent as all ones (zero means "no checksum").
    view.setUint16(l4 + 6, internetChecksum(bytes, l4, l4End, pseudo) || 0xffff);
  } else if (p.proto === PROTO.icmp) {
    bytes[l4] = p.icmpType & 255;
    bytes[l4 + 1] = Math.max(p.icmpCode, 0) & 255;
    if (icmpIsEcho(p.icmpType)) {
      view.setUint16(l4 + 4, Math.max(p.icmpId, 0) & 0xffff);
      view.setUint16(l4 + 6, (frame.icmpSeq ?? 0) & 0xffff);
    }
    view.setUint16(l4 + 2, internetChecksum(bytes, l4, l4End));
  }
  return bytes;
}
