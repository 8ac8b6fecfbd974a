/**
 * The load balancer's flow hash. Azure does not publish the hash its muxes use (the distribution
 * doc only names the tuple: AZDOC `distribution-mode-concepts.md`), so the twin uses its own: the
 * MurmurHash3 x86_32 mixing steps over 32-bit words, seeded from the twin's seed. What matters for
 * the walk is what Azure documents: the same tuple always lands on the same backend while the set
 * of healthy backends is unchanged, and flows spread evenly.
 */

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

/** A uint32 hash of `words` (each taken as a uint32) under `seed`. */
export function hashWords(seed: number, words: readonly number[]): number {
  let h = seed >>> 0;
  for (const w of words) h = mixWord(h, w);
  return finish(h, words.length);
}

/** One word into the hash state (MurmurHash3 x86_32's body). */
export function mixWord(h: number, w: number): number {
  let k = Math.imul(w >>> 0, C1);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, C2);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** The hash of `count` words mixed into `h` (the length, then fmix32: every input bit affects every output bit). */
export function finish(h: number, count: number): number {
  h ^= count * 4;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A uint32 hash of a string (ARM ids, names), for seeding per-resource choices. */
export function hashString(seed: number, text: string): number {
  const words: number[] = [];
  for (let i = 0; i < text.length; i += 2) {
    words.push(text.charCodeAt(i) | ((i + 1 < text.length ? text.charCodeAt(i + 1) : 0) << 16));
  }
  return hashWords(seed, words);
}

export type LoadDistribution = "Default" | "SourceIP" | "SourceIPProtocol";

export interface FlowTuple {
  readonly proto: number;
  readonly src: number;
  readonly sport: number;
  readonly dst: number;
  readonly dport: number;
}

/**
 * The tuple each distribution mode hashes (AZDOC `distribution-mode-concepts.md`): Default the
 * 5-tuple [src, dst, proto, sport << 16 | dport], SourceIP the 2-tuple [src, dst],
 * SourceIPProtocol the 3-tuple [src, dst, proto], each as hashWords hashes them.
 */
export function distributionHash(seed: number, mode: LoadDistribution, t: FlowTuple): number {
  // hashWords over the words below, without an array per packet.
  const h = mixWord(mixWord(seed >>> 0, t.src), t.dst);
  switch (mode) {
    case "Default":
      return finish(mixWord(mixWord(h, t.proto), (t.sport << 16) | t.dport), 4);
    case "SourceIP":
      return finish(h, 2);
    case "SourceIPProtocol":
      return finish(mixWord(h, t.proto), 3);
  }
}
