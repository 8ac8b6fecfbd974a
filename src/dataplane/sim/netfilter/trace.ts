import type { Dyadic } from "../../../core/dyadic.ts";
import { type Rng, seededRng } from "../../../core/rng.ts";
import type { Rule } from "../../../model/netfilter/ruleset.ts";
import { ConntrackTable } from "../conntrack/table.ts";
import type { CtTimeouts } from "../conntrack/timeouts.ts";
import { type Choice, enumerateBranches } from "./branches.ts";
import type { CompiledRuleset } from "./compile.ts";
import { type EngineState, type HostAddresses, newEngineState } from "./env.ts";
import { type HostInput, type HostTraversal, traverseHost } from "./host.ts";

/**
 * Tracing one packet through one host's ruleset, on a fresh conntrack table: either every branch
 * of the random matches with its exact probability, or one run drawn from a seeded RNG.
 */

export interface TraceOptions {
  readonly host: HostAddresses;
  /** Virtual time (ms) of the packet. */
  readonly now?: number;
  readonly seed?: number;
  readonly timeouts?: Partial<CtTimeouts>;
  readonly forwarding?: boolean;
  readonly maxBranches?: number;
}

export interface TraceOutcome {
  readonly probability: Dyadic;
  readonly choices: readonly Choice[];
  readonly traversal: HostTraversal;
  /** The conntrack table and engine state after this branch (for `conntrack -L`, counters). */
  readonly conntrack: ConntrackTable;
  readonly state: EngineState;
}

function runOnce(
  rules: CompiledRuleset,
  input: HostInput,
  opts: TraceOptions,
  choose: (s: number, r: Rule) => boolean,
  rng: Rng,
) {
  const now = opts.now ?? 0;
  const conntrack = new ConntrackTable({
    now: () => now,
    ...(opts.timeouts ? { timeouts: opts.timeouts } : {}),
  });
  const state = newEngineState();
  const traversal = traverseHost(
    {
      rules,
      host: opts.host,
      conntrack,
      state,
      now,
      rng,
      choose,
      ...(opts.forwarding === undefined ? {} : { forwarding: opts.forwarding }),
    },
    input,
  );
  return { traversal, conntrack, state };
}

/** Every distinct path with its exact probability; they sum to 1. */
export function traceExact(
  rules: CompiledRuleset,
  input: HostInput,
  opts: TraceOptions,
): { outcomes: TraceOutcome[]; truncated: boolean } {
  const seed = opts.seed ?? 1;
  const { branches, truncated } = enumerateBranches(
    (choose) => runOnce(rules, input, opts, choose, seededRng(seed)),
    opts.maxBranches,
  );
  return {
    outcomes: branches.map((b) => ({ probability: b.probability, choices: b.choices, ...b.result })),
    truncated,
  };
}

/** One run, with random matches drawn from a seeded RNG the way the kernel draws them. */
export function traceSampled(rules: CompiledRuleset, input: HostInput, opts: TraceOptions): TraceOutcome {
  const rng = seededRng(opts.seed ?? 1);
  const choices: Choice[] = [];
  const choose = (stored: number, rule: Rule) => {
    const matched = (rng.nextU32() & 0x7fffffff) < stored;
    choices.push({
      rule,
      matched,
      probability: { num: BigInt(matched ? stored : 2 ** 31 - stored), exp: 31 },
    });
    return matched;
  };
  const r = runOnce(rules, input, opts, choose, rng);
  return { probability: { num: 1n, exp: 0 }, choices, ...r };
}
