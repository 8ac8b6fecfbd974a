import { readFileSync } from "node:fs";

/**
 * The seed ("A Day in the Life of a Packet in AKS, part 1"), whose printed outputs are the golden
 * outputs of the tests. test/golden/ holds a byte-identical copy of ../shared/seeds/000_4a8e1a6d95c3de0a.txt
 * so a clean checkout tests on its own; the test below checks the copy against the original when
 * the original is there.
 */
export const SEED_FILE = new URL("../golden/seed-000_4a8e1a6d95c3de0a.txt", import.meta.url);
export const SEED_ORIGINAL = new URL("../../../shared/seeds/000_4a8e1a6d95c3de0a.txt", import.meta.url);
export const SEED_TEXT: string = readFileSync(SEED_FILE, "utf8");
