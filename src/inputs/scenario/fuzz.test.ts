import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import fc from "fast-check";
import { stringify } from "yaml";
import { parseScenario } from "./parse.ts";

/**
 * Never a crash: random text, random YAML values and random edits of a built-in all come back as
 * diagnostics. A result is either a scenario or at least one error, never neither.
 */

const SEED_CLUSTER = readFileSync(new URL("../../../scenarios/seed-cluster.yaml", import.meta.url), "utf8");
const files = (p: string) => (p.endsWith("m.yaml") ? "kind: Pod\n---\n: :\n" : null);

function consistent(text: string): void {
  const r = parseScenario(text, "fuzz.yaml", files);
  assert.ok(!r.diagnostics.some((d) => d.code === "scenario-internal"), JSON.stringify(r.diagnostics));
  const errors = r.diagnostics.filter((d) => d.severity === "error").length;
  assert.equal(r.value === null, errors > 0);
  for (const d of r.diagnostics) if (d.source) assert.ok(d.source.line >= 1, d.message);
}

describe("parseScenario never throws", () => {
  it("on random text", () => {
    fc.assert(fc.property(fc.string({ unit: "binary", maxLength: 200 }), consistent), { numRuns: 300 });
  });

  it("on random YAML values, and reports non-maps and unknown keys", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), (v) => {
        consistent(stringify(v));
        if (v === null || typeof v !== "object" || Array.isArray(v) || Object.keys(v).length > 0) {
          const r = parseScenario(stringify(Array.isArray(v) ? v : { "x-unknown": v }), "fuzz.yaml", files);
          assert.ok(r.diagnostics.length >= 1);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("on random values in a scenario's fields", () => {
    const fields = ["cluster", "vnet", "manifests", "later", "hosts", "pins", "seed", "name"];
    fc.assert(
      fc.property(fc.constantFrom(...fields), fc.jsonValue({ maxDepth: 3 }), (field, v) => {
        consistent(stringify({ [field]: v, manifests: [{ file: "m.yaml" }] }));
      }),
      { numRuns: 300 },
    );
  });

  it("on random edits of the seed-cluster built-in", () => {
    fc.assert(
      fc.property(fc.nat(SEED_CLUSTER.length), fc.nat(20), fc.string({ maxLength: 8 }), (at, del, ins) => {
        consistent(SEED_CLUSTER.slice(0, at) + ins + SEED_CLUSTER.slice(at + del));
      }),
      { numRuns: 400 },
    );
  });
});
