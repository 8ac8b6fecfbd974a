import { datagramBytes } from "../../dataplane/sim/endpoints/quote.ts";
import type { Frame } from "../../model/frame.ts";
import { internetChecksum } from "./checksum.ts";

/**
 * One frame as the bytes on the wire: Ethernet II, then the IPv4 datagram exactly as the data plane
 * builds it (endpoints/quote.ts `datagramBytes`, the bytes an ICMP error quotes): IPv4 without
 * options, TCP, UDP or ICMP with valid checksums, the payload. Lengths come from the payload and
 * the TCP options, not from `packet.length`, so the bytes are always self-consistent.
 */

const ETHERTYPE_IPV4 = 0x0800;
const ETH_LEN = 14;
const IPV4_LEN = 20;

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

/** The frame's IPv4 datagram with its TOS byte set (the header checksum recomputed when it changes). */
export function ipv4Bytes(frame: Frame): Uint8Array {
  const b = datagramBytes(frame);
  const tos = (frame.tos ?? 0) & 255;
  if (b[1] !== tos) {
    b[1] = tos;
    b[10] = 0;
    b[11] = 0;
    const sum = internetChecksum(b, 0, IPV4_LEN);
    b[10] = sum >>> 8;
    b[11] = sum & 255;
  }
  return b;
}

/** Encodes a frame; throws on what a capture cannot hold (IPv6 is not modelled here yet, bad MACs). */
export function encodeFrame(frame: Frame): Uint8Array {
  const p = frame.packet;
  if (p.family !== 4 || typeof p.src !== "number" || typeof p.dst !== "number") {
    throw new Error("encodeFrame: only IPv4 frames can be written");
  }
  const ip = ipv4Bytes(frame);
  const bytes = new Uint8Array(ETH_LEN + ip.length);
  bytes.set(parseMac(frame.dstMac), 0);
  bytes.set(parseMac(frame.srcMac), 6);
  bytes[12] = ETHERTYPE_IPV4 >>> 8;
  bytes[13] = ETHERTYPE_IPV4 & 255;
  bytes.set(ip, ETH_LEN);
  return bytes;
}
