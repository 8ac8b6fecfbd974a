import { hash } from "node:crypto";

/**
 * kube-proxy's iptables chain-name hashes (both eras): sha256 of the service port name and the
 * lower-case protocol (plus `IP:port` for endpoint chains), RFC 4648 base32 with the standard
 * alphabet, first 16 characters. Source: kube-proxy `portProtoHash` and
 * `servicePortEndpointChainName` (pkg/proxy/iptables/proxier.go, 1.11 as vendored in
 * openshift/origin@04746fd and v1.28); docs/kube-proxy.md §2 has worked values.
 */

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/** Go's base32.StdEncoding.EncodeToString: 5 bits per character, `=` padding to a multiple of 8. */
export function base32Std(bytes: Uint8Array): string {
  let out = "";
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = ((buffer << 8) | byte) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += ALPHABET[(buffer << (5 - bits)) & 31];
  while (out.length % 8 !== 0) out += "=";
  return out;
}

/**
 * `prefix` then the first 16 base32 characters of the digest (its first 10 bytes: 80 bits, no
 * padding involved), as one flat string: chain names are hashed into maps and sorted, and a
 * `${prefix}${hash}` concatenation would be two strings more per name.
 */
function hash16(text: string, prefix = ""): string {
  // crypto.hash (Node >= 20.12) skips the Hash object a createHash chain allocates per call, and a
  // "binary" (latin1) string is the cheapest digest to get: one character per byte, read with charCodeAt.
  const d = hash("sha256", text, "binary");
  const codes = prefix.length === 0 ? CODES16 : scratch(prefix);
  let at = prefix.length;
  // The first 10 bytes (80 bits) as two groups of 5 bytes, each 8 base32 digits.
  for (let g = 0; g < 10; g += 5) {
    const b0 = d.charCodeAt(g);
    const b1 = d.charCodeAt(g + 1);
    const b2 = d.charCodeAt(g + 2);
    const b3 = d.charCodeAt(g + 3);
    const b4 = d.charCodeAt(g + 4);
    codes[at++] = CODES[b0 >>> 3] as number;
    codes[at++] = CODES[((b0 & 7) << 2) | (b1 >>> 6)] as number;
    codes[at++] = CODES[(b1 >>> 1) & 31] as number;
    codes[at++] = CODES[((b1 & 1) << 4) | (b2 >>> 4)] as number;
    codes[at++] = CODES[((b2 & 15) << 1) | (b3 >>> 7)] as number;
    codes[at++] = CODES[(b3 >>> 2) & 31] as number;
    codes[at++] = CODES[((b3 & 3) << 3) | (b4 >>> 5)] as number;
    codes[at++] = CODES[b4 & 31] as number;
  }
  return String.fromCharCode.apply(null, codes);
}

/** Reused code arrays: 16 digits, or a prefix's codes then 16 digits (one per prefix seen). */
const CODES16: number[] = new Array<number>(16).fill(0);
const PREFIXED = new Map<string, number[]>();
function scratch(prefix: string): number[] {
  let codes = PREFIXED.get(prefix);
  if (codes === undefined) {
    codes = [...Array.from(prefix, (c) => c.charCodeAt(0)), ...CODES16];
    if (PREFIXED.size < 16) PREFIXED.set(prefix, codes);
  }
  return codes;
}

/** The alphabet's character codes. */
const CODES: readonly number[] = Array.from(ALPHABET, (c) => c.charCodeAt(0));

/** The `<h>` of KUBE-SVC/SVL/EXT/FW/XLB-<h>: `portName` is `ns/name:port` (1.11) or `ns/name[:port]`. */
export function portProtoHash(portName: string, protocol: string): string {
  return hash16(portName + protocol);
}

/** The `<h>` of KUBE-SEP-<h>; `endpoint` is `IP:port` (`[IP]:port` for IPv6). */
export function endpointHash(portName: string, protocol: string, endpoint: string): string {
  return hash16(portName + protocol + endpoint);
}

/** `KUBE-SEP-<h>` (`endpointHash`'s `<h>`), made as one string. */
export function endpointChainName(portName: string, protocol: string, endpoint: string): string {
  return hash16(portName + protocol + endpoint, "KUBE-SEP-");
}
