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

/** First 16 base32 characters = the first 10 bytes of the digest (80 bits, no padding involved). */
function hash16(text: string): string {
  // crypto.hash (Node >= 20.12) skips the Hash object a createHash chain allocates per call.
  return base32Std(hash("sha256", text, "buffer").subarray(0, 10));
}

/** The `<h>` of KUBE-SVC/SVL/EXT/FW/XLB-<h>: `portName` is `ns/name:port` (1.11) or `ns/name[:port]`. */
export function portProtoHash(portName: string, protocol: string): string {
  return hash16(portName + protocol);
}

/** The `<h>` of KUBE-SEP-<h>; `endpoint` is `IP:port` (`[IP]:port` for IPv6). */
export function endpointHash(portName: string, protocol: string, endpoint: string): string {
  return hash16(portName + protocol + endpoint);
}
