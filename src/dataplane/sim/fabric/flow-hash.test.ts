import assert from "node:assert/strict";
import { test } from "node:test";
import { distributionHash, hashWords } from "./flow-hash.ts";

const t = { proto: 6, src: 0x6d7d783a, sport: 51535, dst: 0x3390b0fb, dport: 80 };

test("each distribution mode hashes only its tuple", () => {
  const other = { ...t, sport: 51536 };
  assert.notEqual(distributionHash(1, "Default", t), distributionHash(1, "Default", other));
  assert.equal(distributionHash(1, "SourceIP", t), distributionHash(1, "SourceIP", { ...other, proto: 17 }));
  assert.equal(distributionHash(1, "SourceIPProtocol", t), distributionHash(1, "SourceIPProtocol", other));
  assert.notEqual(
    distributionHash(1, "SourceIPProtocol", t),
    distributionHash(1, "SourceIPProtocol", { ...t, proto: 17 }),
  );
});

test("the hash depends on the seed and on every word, and stays a uint32", () => {
  assert.notEqual(hashWords(1, [1, 2]), hashWords(2, [1, 2]));
  assert.notEqual(hashWords(1, [1, 2]), hashWords(1, [2, 1]));
  assert.notEqual(hashWords(1, [0]), hashWords(1, [0, 0]));
  for (const w of [0, 1, 0xffffffff, 0x80000000]) {
    const h = hashWords(9, [w]);
    assert.ok(Number.isInteger(h) && h >= 0 && h <= 0xffffffff);
  }
  assert.equal(hashWords(5, [1, 2, 3]), hashWords(5, [1, 2, 3]));
});

test("distributionHash is hashWords over each mode's documented words", () => {
  for (const seed of [0, 1, 0xdeadbeef]) {
    const words = [t.src, t.dst, t.proto, (t.sport << 16) | t.dport];
    assert.equal(distributionHash(seed, "Default", t), hashWords(seed, words));
    assert.equal(distributionHash(seed, "SourceIP", t), hashWords(seed, words.slice(0, 2)));
    assert.equal(distributionHash(seed, "SourceIPProtocol", t), hashWords(seed, words.slice(0, 3)));
  }
});
