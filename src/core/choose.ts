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
  const codes = new Array<number>(len);
  for (let i = 0; i < len; i++) codes[i] = alphabet.charCodeAt(intBelow(rng, alphabet.length));
  return String.fromCharCode(...codes);
}

/** `len` hex digits, eight per draw (container ids need 64 of them, tens of thousands of times). */
export function hexString(rng: Rng, len: number): string {
  let out = "";
  while (out.length < len) out += rng.nextU32().toString(16).padStart(8, "0");
  return out.slice(0, len);
}

/**
 * A random unicast, locally administered MAC, as the kernel's eth_random_addr makes them for veths
 * and bridges (first octet: multicast bit cleared, local bit set).
 */
export function randomMac(rng: Rng): string {
  const bytes: number[] = [];
  for (let i = 0; i < 6; i++) bytes.push(intBelow(rng, 256));
  bytes[0] = ((bytes[0] as number) & 0xfe) | 0x02;
  return bytes.map((b) => b.toString(16).padStart(2, "0")).join(":");
}

/** An RFC 4122 version 4 UUID (what the API server assigns as metadata.uid today). */
export function uuidV4(rng: Rng): string {
  const h = hexString(rng, 32).split("");
  h[12] = "4";
  h[16] = "89ab"[intBelow(rng, 4)] as string;
  const s = h.join("");
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`;
}
