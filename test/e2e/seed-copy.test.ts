import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { it } from "node:test";
import { SEED_ORIGINAL, SEED_TEXT } from "../support/seed.ts";

it("the in-repo copy of the seed is the shared seed, byte for byte", (t) => {
  if (!existsSync(SEED_ORIGINAL)) {
    t.skip("../shared/seeds is not next to this checkout");
    return;
  }
  assert.equal(SEED_TEXT, readFileSync(SEED_ORIGINAL, "utf8"));
});
