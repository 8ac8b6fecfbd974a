/**
 * Exact probabilities. The kernel's `statistic --mode random` matches with probability
 * stored/2^31, so every path probability is a dyadic rational num/2^exp: kept exactly as bigints,
 * so the outcomes of a trace sum to exactly 1.
 */
export interface Dyadic {
  readonly num: bigint;
  readonly exp: number;
}

export const ONE: Dyadic = { num: 1n, exp: 0 };

export function dyadic(num: bigint, exp: number): Dyadic {
  let n = num;
  let e = exp;
  while (e > 0 && n !== 0n && (n & 1n) === 0n) {
    n >>= 1n;
    e--;
  }
  return { num: n === 0n ? 0n : n, exp: n === 0n ? 0 : e };
}

export function mul(a: Dyadic, b: Dyadic): Dyadic {
  return dyadic(a.num * b.num, a.exp + b.exp);
}

export function add(a: Dyadic, b: Dyadic): Dyadic {
  const exp = Math.max(a.exp, b.exp);
  return dyadic((a.num << BigInt(exp - a.exp)) + (b.num << BigInt(exp - b.exp)), exp);
}

export function isOne(a: Dyadic): boolean {
  return a.num === 1n && a.exp === 0;
}

/** Nearest double; exact whenever the numerator fits in 53 bits. */
export function toNumber(a: Dyadic): number {
  if (a.exp <= 1000) return Number(a.num) / 2 ** a.exp;
  return Number((a.num << 60n) >> BigInt(a.exp)) / 2 ** 60;
}
