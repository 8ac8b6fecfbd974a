import type { Family } from "../../core/ip.ts";
import type { Match } from "../../model/netfilter/matches.ts";

/**
 * The contract every `-m` module's parser follows. iptables hands each `--option` to the loaded
 * module that declares it (libxtables merges their getopt tables), so a parser declares its options
 * with their argument counts, takes them one at a time, and builds the match at the end.
 */
export interface ModuleParser {
  /** Option name (and aliases) -> number of argument words it takes. */
  readonly options: ReadonlyMap<string, number>;
  /**
   * Takes one option; returns an error message (without position) or null. `args` is reused for
   * the next option: copy what you keep.
   */
  accept(option: string, invert: boolean, args: readonly string[]): string | null;
  /** Builds the match once the rule is read; a string is an error message. */
  finish(): Match | string;
}

export interface ModuleContext {
  readonly family: Family;
  /** The rule's `-p` protocol number (0 when absent). */
  readonly proto: number;
}

export type ModuleFactory = (ctx: ModuleContext) => ModuleParser;

/** Helper: a parser that rejects a second occurrence of the same option, as iptables does. */
export function once(seen: Set<string>, option: string): string | null {
  if (seen.has(option)) return `option "${option}" given more than once`;
  seen.add(option);
  return null;
}
