import type { Frame, TcpOption } from "../../model/frame.ts";
import { makePacket, PROTO } from "../../model/packet.ts";
import { internetChecksum, onesSum, pseudoHeaderSum } from "./checksum.ts";
import { icmpIsEcho } from "./encode.ts";

/**
 * A small reader for what `writePcap` writes (either byte order, microsecond magic, Ethernet II +
 * IPv4 without options + TCP/UDP/ICMP). It re-derives every checksum and length and reports each
 * mismatch, so tests can prove the bytes are right without trusting the writer.
 */

export interface ReadPcap {
  readonly frames: readonly Frame[];
  readonly problems: readonly string[];
}

function mac(bytes: Uint8Array, at: number): string {
  return Array.from(bytes.subarray(at, at + 6), (b) => b.toString(16).padStart(2, "0")).join(":");
}

function readOptions(bytes: Uint8Array, start: number, end: number, problems: string[], where: string) {
  const options: TcpOption[] = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let i = start;
  while (i < end) {
    const kind = bytes[i]!;
    if (kind === 0) break; // end of option list: the rest is padding
    if (kind === 1) {
      options.push({ kind: "nop" });
      i++;
      continue;
    }
    const len = bytes[i + 1] ?? 0;
    if (len < 2 || i + len > end) {
      problems.push(`${where}: TCP option ${kind} has bad length ${len}`);
      break;
    }
    if (kind === 2 && len === 4) options.push({ kind: "mss", value: view.getUint16(i + 2) });
    else if (kind === 3 && len === 3) options.push({ kind: "wscale", value: bytes[i + 2]! });
    else if (kind === 4 && len === 2) options.push({ kind: "sackOK" });
    else if (kind === 8 && len === 10)
      options.push({ kind: "timestamp", value: view.getUint32(i + 2), echo: view.getUint32(i + 6) });
    else problems.push(`${where}: unexpected TCP option ${kind} (length ${len})`);
    i += len;
  }
  return options;
}

export function readPcap(file: Uint8Array): ReadPcap {
  const problems: string[] = [];
  const frames: Frame[] = [];
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  if (file.length < 24) return { frames, problems: ["file shorter than the pcap header"] };
  const magic = view.getUint32(0);
  const little = magic === 0xd4c3b2a1;
  if (!little && magic !== 0xa1b2c3d4) return { frames, problems: [`bad magic ${magic.toString(16)}`] };
  const u16 = (at: number) => view.getUint16(at, little);
  const u32 = (at: number) => view.getUint32(at, little);
  if (u16(4) !== 2 || u16(6) !== 4) problems.push(`version ${u16(4)}.${u16(6)}, expected 2.4`);
  if (u32(20) !== 1) problems.push(`link type ${u32(20)}, expected 1 (Ethernet)`);
  let at = 24;
  while (at < file.length) {
    const where = `record ${frames.length + 1}`;
    if (at + 16 > file.length) {
      problems.push(`${where}: truncated record header`);
      break;
    }
    const time = u32(at) * 1e6 + u32(at + 4);
    const incl = u32(at + 8);
    if (incl !== u32(at + 12)) problems.push(`${where}: captured ${incl} of ${u32(at + 12)} bytes`);
    const start = at + 16;
    at = start + incl;
    if (at > file.length) {
      problems.push(`${where}: truncated data`);
      break;
    }
    const frame = decodeFrame(file.subarray(start, at), time, problems, where);
    if (frame) frames.push(frame);
  }
  return { frames, problems };
}

function decodeFrame(b: Uint8Array, time: number, problems: string[], where: string): Frame | null {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (b.length < 34 || v.getUint16(12) !== 0x0800) {
    problems.push(`${where}: not Ethernet II + IPv4`);
    return null;
  }
  const ip = 14;
  if (b[ip] !== 0x45) problems.push(`${where}: IPv4 version/IHL byte ${b[ip]!.toString(16)}`);
  const total = v.getUint16(ip + 2);
  if (ip + total !== b.length)
    problems.push(`${where}: IP total length ${total}, frame has ${b.length - ip}`);
  if (onesSum(b, ip, ip + 20) !== 0xffff) problems.push(`${where}: bad IPv4 header checksum`);
  const flags = v.getUint16(ip + 6);
  const proto = b[ip + 9]!;
  const src = v.getUint32(ip + 12);
  const dst = v.getUint32(ip + 16);
  const l4 = ip + 20;
  const end = ip + total;
  const base = {
    time,
    srcMac: mac(b, 6),
    dstMac: mac(b, 0),
    ipId: v.getUint16(ip + 4),
    ttl: b[ip + 8]!,
    dontFragment: (flags & 0x4000) !== 0,
    // Frames leave `tos` out when it is 0 (the default).
    ...(b[ip + 1] ? { tos: b[ip + 1]! } : {}),
  };
  const pseudo = pseudoHeaderSum(src, dst, proto, end - l4);
  if (proto === PROTO.tcp) {
    const hlen = (b[l4 + 12]! >>> 4) * 4;
    if (onesSum(b, l4, end, pseudo) !== 0xffff) problems.push(`${where}: bad TCP checksum`);
    const tcpFlags = b[l4 + 13]!;
    return {
      ...base,
      packet: makePacket({
        family: 4,
        proto,
        src,
        dst,
        sport: v.getUint16(l4),
        dport: v.getUint16(l4 + 2),
        tcpFlags,
        length: total,
      }),
      tcp: {
        seq: v.getUint32(l4 + 4),
        ack: v.getUint32(l4 + 8),
        window: v.getUint16(l4 + 14),
        options: readOptions(b, l4 + 20, l4 + hlen, problems, where),
      },
      payload: b.slice(l4 + hlen, end),
    };
  }
  if (proto === PROTO.udp) {
    if (v.getUint16(l4 + 4) !== end - l4) problems.push(`${where}: UDP length ${v.getUint16(l4 + 4)}`);
    if (onesSum(b, l4, end, pseudo) !== 0xffff) problems.push(`${where}: bad UDP checksum`);
    const packet = makePacket({
      family: 4,
      proto,
      src,
      dst,
      sport: v.getUint16(l4),
      dport: v.getUint16(l4 + 2),
    });
    return { ...base, packet: { ...packet, length: total }, tcp: null, payload: b.slice(l4 + 8, end) };
  }
  if (proto === PROTO.icmp) {
    if (internetChecksum(b, l4, end) !== 0) problems.push(`${where}: bad ICMP checksum`);
    const type = b[l4]!;
    const echo = icmpIsEcho(type);
    const packet = makePacket({
      family: 4,
      proto,
      src,
      dst,
      icmpType: type,
      icmpCode: b[l4 + 1]!,
      icmpId: echo ? v.getUint16(l4 + 4) : -1,
      length: total,
    });
    return {
      ...base,
      packet,
      tcp: null,
      ...(echo ? { icmpSeq: v.getUint16(l4 + 6) } : {}),
      payload: b.slice(l4 + 8, end),
    };
  }
  problems.push(`${where}: IP protocol ${proto} not decoded`);
  return null;
}
