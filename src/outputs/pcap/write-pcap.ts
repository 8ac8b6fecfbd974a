import type { Frame } from "../../model/frame.ts";
import { encodeFrame } from "./encode.ts";

/**
 * The classic libpcap file format (https://wiki.wireshark.org/Development/LibpcapFileFormat,
 * draft-ietf-opsawg-pcap): a 24-byte global header, then per packet a 16-byte record header and the
 * frame's bytes. Written big-endian with magic a1b2c3d4 (microsecond timestamps); readers detect the
 * byte order from the magic.
 */

export const PCAP_MAGIC_US = 0xa1b2c3d4;
/** tcpdump's default snapshot length since 4.7 (`capture size 262144 bytes`). */
export const PCAP_SNAPLEN = 262144;
/** LINKTYPE_ETHERNET (https://www.tcpdump.org/linktypes.html). */
export const LINKTYPE_ETHERNET = 1;

export function writePcap(frames: readonly Frame[]): Uint8Array {
  const encoded = frames.map(encodeFrame);
  const size = 24 + encoded.reduce((n, b) => n + 16 + b.length, 0);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setUint32(0, PCAP_MAGIC_US);
  view.setUint16(4, 2); // version 2.4
  view.setUint16(6, 4);
  view.setInt32(8, 0); // thiszone: timestamps are UTC
  view.setUint32(12, 0); // sigfigs
  view.setUint32(16, PCAP_SNAPLEN);
  view.setUint32(20, LINKTYPE_ETHERNET);
  let at = 24;
  frames.forEach((frame, i) => {
    const bytes = encoded[i]!;
    const us = Math.trunc(frame.time);
    view.setUint32(at, Math.floor(us / 1e6));
    view.setUint32(at + 4, us % 1e6);
    view.setUint32(at + 8, bytes.length); // captured: never truncated, frames are below the snaplen
    view.setUint32(at + 12, bytes.length);
    out.set(bytes, at + 16);
    at += 16 + bytes.length;
  });
  return out;
}
