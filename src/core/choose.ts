import type { Rng } from "./rng.ts";

/**
 * Choices made from a seeded Rng: the control plane's allocators (service IPs, node ports, pod
 * name suffixes, MACs, UIDs) draw from these so one seed always builds one twin.
 */

/** Uniform integer in [0, n), without modulo bias (rejection sampling). */
export function intBelow(rng: Rng, n: number): number {
  if (n <= 0 || n > 0x100000000) throw new Error(`intBelow: bound ${n} out of range`);
  const limit = 0x100000000 - (0x100000000 % n);
  for (;;) {
    const x = rng.nextU32();
    if (x < limit) return x % n;
  }
}

/** `len` characters drawn from `alphabet`. */
export function fromAlphabet(rng: Rng, alphabet: string, len: number): string {
  let out = "";
  for (let i = 0; i < len; i++) out += alphabet[intBelow(rng, alphabet.length)] as string;
  return out;
}

/** Two lower-case hex digits per byte value. */
const HEX_BYTE: readonly string[] = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, "0"));

const HEX_CODES: readonly number[] = Array.from("0123456789abcdef", (c) => c.charCodeAt(0));

/** A reused array of `len` numbers (hexString and uuidV4 fill one per call). */
let SCRATCH: number[] = [];
function scratch(len: number): number[] {
  if (SCRATCH.length !== len) SCRATCH = new Array<number>(len).fill(0);
  return SCRATCH;
}

/** `len` hex digits, eight per draw (container ids need 64 of them, tens of thousands of times). */
export function hexString(rng: Rng, len: number): string {
  // The digits' codes first, then one string (appending would allocate a string per step).
  const codes = scratch(len);
  for (let i = 0; i < len; i += 8) {
    const x = rng.nextU32();
    for (let j = 0; j < 8 && i + j < len; j++) codes[i + j] = HEX_CODES[(x >>> (28 - 4 * j)) & 15] as number;
  }
  return String.fromCharCode.apply(null, codes);
}

/**
 * A random unicast, locally administered MAC, as the kernel's eth_random_addr makes them for veths
 * and bridges (first octet: multicast bit cleared, local bit set).
 */
export function randomMac(rng: Rng): string {
  let out = HEX_BYTE[(intBelow(rng, 256) & 0xfe) | 0x02] as string;
  for (let i = 1; i < 6; i++) out += `:${HEX_BYTE[intBelow(rng, 256)] as string}`;
  return out;
}

/** An RFC 4122 version 4 UUID (what the API server assigns as metadata.uid today). */
export function uuidV4(rng: Rng): string {
  // Four draws for the 32 digits (as hexString would make them), then one for the variant digit;
  // digit 12 is the version (4), digit 16 the variant. Written as 36 codes, then one string.
  const codes = scratch(36);
  let at = 0;
  for (let w = 0; w < 4; w++) {
    const x = rng.nextU32();
    for (let j = 0; j < 8; j++) {
      const digit = w * 8 + j;
      if (digit === 8 || digit === 12 || digit === 16 || digit === 20) codes[at++] = 45; // "-"
      codes[at++] = HEX_CODES[(x >>> (28 - 4 * j)) & 15] as number;
    }
  }
  codes[14] = 52; // "4" (digit 12, after two dashes)
  codes[19] = "89ab".charCodeAt(intBelow(rng, 4)); // digit 16, after three dashes
  return String.fromCharCode.apply(null, codes);
}
