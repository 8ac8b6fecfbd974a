/**
 * Seeded pseudo-random source (xoshiro128**): the core never touches Math.random, so every
 * simulated run is reproducible from its seed.
 */
export interface Rng {
  /** A uniformly distributed uint32. */
  nextU32(): number;
}

export function seededRng(seed: number): Rng {
  // splitmix32 expands one seed into the four words of state.
  let s = seed >>> 0;
  const split = (): number => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  return fromState(split(), split(), split(), split());
}

/** xoshiro128** from its four state words (never all zero: that state is a fixed point). */
function fromState(w0: number, w1: number, w2: number, w3: number): Rng {
  let a = w0 >>> 0;
  let b = w1 >>> 0;
  let c = w2 >>> 0;
  let d = w3 >>> 0;
  if ((a | b | c | d) === 0) a = 1;
  return {
    nextU32(): number {
      const result = Math.imul(rotl(Math.imul(b, 5) >>> 0, 7), 9) >>> 0;
      const t = (b << 9) >>> 0;
      c ^= a;
      d ^= b;
      b ^= c;
      a ^= d;
      c ^= t;
      d = rotl(d, 11);
      a >>>= 0;
      b >>>= 0;
      c >>>= 0;
      return result;
    },
  };
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/**
 * An independent stream for one object or purpose (`Service/default/web`): the same seed and label
 * always give the same stream, whatever else was drawn before. The control plane draws each
 * object's random values from its own stream, so adding an object to a kept twin (`kubectl apply`)
 * leaves every other object's IPs, ports, names and MACs as they were, as the real cluster does.
 * The label is hashed into all four state words (FNV-1a with four offsets), so two labels share a
 * stream only if all 128 bits collide.
 */
export function streamRng(seed: number, label: string): Rng {
  const base = seededRng(seed);
  let h1 = 0x811c9dc5;
  let h2 = 0x050c5d1f;
  let h3 = 0x2b992ddf;
  let h4 = 0x6a09e667;
  for (let i = 0; i < label.length; i++) {
    const c = label.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193);
    h2 = Math.imul(h2 ^ c, 0x01000193) ^ (h2 >>> 15);
    h3 = Math.imul(h3 ^ c, 0x5bd1e995);
    h4 = Math.imul(h4 ^ c, 0x85ebca6b) ^ (h4 >>> 13);
  }
  return fromState(base.nextU32() ^ h1, base.nextU32() ^ h2, base.nextU32() ^ h3, base.nextU32() ^ h4);
}

/** The streams of one seed, by label (see `streamRng`). */
export type Streams = (label: string) => Rng;

export function streamsOf(seed: number): Streams {
  return (label) => streamRng(seed, label);
}
