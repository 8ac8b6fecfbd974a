import { type Dyadic, dyadic, mul, ONE } from "../../../core/dyadic.ts";
import type { Rule } from "../../../model/netfilter/ruleset.ts";

/**
 * Exact mode: every `statistic --mode random` match is a coin with the kernel's odds,
 * stored/2^31 (xt_statistic: `(get_random_u32() & 0x7FFFFFFF) < probability`). We run the
 * packet once per combination of coin outcomes, depth first, replaying a forced prefix of choices,
 * and multiply the odds along the way; zero-probability branches are never run.
 */

export interface Choice {
  readonly rule: Rule;
  readonly matched: boolean;
  readonly probability: Dyadic;
}

export interface Branch<T> {
  readonly probability: Dyadic;
  readonly choices: readonly Choice[];
  readonly result: T;
}

const TWO_31 = 2 ** 31;

export type Chooser = (stored: number, rule: Rule) => boolean;

/**
 * dyadic(BigInt(x), 31) for 0 <= x <= 2^31, reduced with number arithmetic: the coin odds are
 * built twice per coin per branch, and the bigint loop halves one bit at a time.
 */
function coinOdds(x: number): Dyadic {
  if (!Number.isInteger(x) || x < 0 || x > TWO_31) return dyadic(BigInt(x), 31);
  if (x === 0) return { num: 0n, exp: 0 };
  const zeros = Math.min(31, 31 - Math.clz32(x & -x));
  return { num: BigInt(x / 2 ** zeros), exp: 31 - zeros };
}

export function enumerateBranches<T>(
  run: (choose: Chooser) => T,
  maxBranches = 4096,
): { branches: Branch<T>[]; truncated: boolean } {
  const branches: Branch<T>[] = [];
  const pending: boolean[][] = [[]];
  let truncated = false;
  while (pending.length > 0) {
    if (branches.length >= maxBranches) {
      truncated = true;
      break;
    }
    const forced = pending.pop() as boolean[];
    const choices: Choice[] = [];
    let probability = ONE;
    const choose: Chooser = (stored, rule) => {
      const k = choices.length;
      let matched: boolean;
      if (k < forced.length) matched = forced[k] as boolean;
      else {
        // First visit of this coin: take "match" now (if possible) and queue "no match".
        matched = stored > 0;
        if (matched && stored < TWO_31)
          pending.push([...forced.slice(0, k), ...choices.slice(forced.length).map((c) => c.matched), false]);
      }
      const p = coinOdds(matched ? stored : TWO_31 - stored);
      probability = mul(probability, p);
      choices.push({ rule, matched, probability: p });
      return matched;
    };
    const result = run(choose);
    branches.push({ probability, choices, result });
  }
  return { branches, truncated };
}
