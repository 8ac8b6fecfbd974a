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
  const s = (seed >>> 0) + 0x9e3779b9;
  return new Xoshiro128(mix(s), mix(s + 0x9e3779b9), mix(s + 2 * 0x9e3779b9), mix(s + 3 * 0x9e3779b9));
}

/** splitmix32's output function for the state value `x` (taken mod 2^32). */
function mix(x: number): number {
  let z = x >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

/**
 * xoshiro128** over four object fields: V8 keeps number fields unboxed and updates them in
 * place, where closure variables above 2^30 would be a new heap number per draw (the control
 * plane makes tens of thousands of streams and draws hundreds of thousands of values).
 */
class Xoshiro128 implements Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(w0: number, w1: number, w2: number, w3: number) {
    this.a = w0 >>> 0;
    this.b = w1 >>> 0;
    this.c = w2 >>> 0;
    this.d = w3 >>> 0;
    // The all-zero state is a fixed point.
    if ((this.a | this.b | this.c | this.d) === 0) this.a = 1;
  }

  nextU32(): number {
    const b = this.b;
    const result = Math.imul(rotl(Math.imul(b, 5) >>> 0, 7), 9) >>> 0;
    const t = (b << 9) >>> 0;
    const c = (this.c ^ this.a) >>> 0;
    const d = (this.d ^ b) >>> 0;
    this.b = (b ^ c) >>> 0;
    this.a = (this.a ^ d) >>> 0;
    this.c = (c ^ t) >>> 0;
    this.d = rotl(d, 11);
    return result;
  }
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
  const s = (seed >>> 0) + 0x9e3779b9;
  return new Xoshiro128(
    mix(s) ^ h1,
    mix(s + 0x9e3779b9) ^ h2,
    mix(s + 2 * 0x9e3779b9) ^ h3,
    mix(s + 3 * 0x9e3779b9) ^ h4,
  );
}

/** The streams of one seed, by label (see `streamRng`). */
export type Streams = (label: string) => Rng;

export function streamsOf(seed: number): Streams {
  return (label) => streamRng(seed, label);
}
