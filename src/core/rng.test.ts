import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type Rng, seededRng, streamRng } from "./rng.ts";

const draw = (r: Rng, n = 8) => Array.from({ length: n }, () => r.nextU32());

describe("seeded randomness", () => {
  it("one seed gives one sequence; another seed another", () => {
    assert.deepEqual(draw(seededRng(7)), draw(seededRng(7)));
    assert.notDeepEqual(draw(seededRng(7)), draw(seededRng(8)));
  });

  it("streams depend only on the seed and their label, not on what else was drawn", () => {
    const a = draw(streamRng(7, "Service/default/web"));
    draw(streamRng(7, "Service/default/other"), 1000);
    assert.deepEqual(draw(streamRng(7, "Service/default/web")), a);
    assert.notDeepEqual(draw(streamRng(8, "Service/default/web")), a);
  });

  it("gives 10,000 similar labels 10,000 different streams", () => {
    const firsts = new Set<string>();
    for (let i = 0; i < 10_000; i++) firsts.add(draw(streamRng(1, `Pod/ns-${i % 50}/app-${i}`), 2).join(","));
    assert.equal(firsts.size, 10_000);
  });

  it("draws uniformly: each of 16 buckets gets its share of 64,000 draws", () => {
    const r = streamRng(3, "uniform");
    const buckets = new Array<number>(16).fill(0);
    for (let i = 0; i < 64_000; i++) {
      const b = r.nextU32() >>> 28;
      buckets[b] = (buckets[b] ?? 0) + 1;
    }
    // Binomial(64000, 1/16): mean 4000, sd ~61; 6 sd either side.
    for (const b of buckets) assert.ok(Math.abs(b - 4000) < 370, `bucket count ${b}`);
  });
});
