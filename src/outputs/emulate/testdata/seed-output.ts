import { SEED_TEXT } from "../../../../test/support/seed.ts";
import { readFileSync } from "node:fs";

/**
 * The seed's printed outputs, for the emulators' tests: the lines after the command on 1-based
 * line `line` of seeds/000_4a8e1a6d95c3de0a.txt, up to the next blank line. The blog glued the
 * next command onto the last line of `k get pod -o wide`'s output (`<none>lb=$(...)`): cut there.
 * The blog's HTML turned runs of spaces into no-break spaces (U+00A0) mixed with spaces: they are
 * read back as the spaces the tools printed.
 */
const SEED = SEED_TEXT.split("\n");

export function seedCommand(line: number): string {
  return SEED[line - 1]!;
}

export function seedOutput(line: number): string {
  const out: string[] = [];
  for (let i = line; i < SEED.length && SEED[i]!.trim() !== ""; i++) out.push(SEED[i]!.replace(/lb=\$\(.*$/, "").replace(/\u00a0/g, " "));
  return out.map((l) => `${l}\n`).join("");
}
