import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import {
  formatStoredProbability,
  parsePortRange,
  parseU32,
  probabilityToStored,
  saveString,
} from "./numbers.ts";

test("statistic probabilities print as iptables 1.8.9 prints them", () => {
  // Checked with iptables-legacy-restore/-save 1.8.9 on this machine (testdata/kernel-save-*).
  const cases: [number, string][] = [
    [0.33333, "0.33332999982"],
    [0.3333333333, "0.33333333349"],
    [0.5, "0.50000000000"],
    [0.2, "0.20000000019"],
    [0.1666666667, "0.16666666651"],
    [1, "1.00000000000"],
    [0, "0.00000000000"],
  ];
  for (const [p, printed] of cases)
    assert.equal(formatStoredProbability(probabilityToStored(p)), printed, String(p));
});

test("printing then re-reading a stored probability is stable", () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0x80000000 }), (stored) => {
      const printed = formatStoredProbability(stored);
      return probabilityToStored(Number(printed)) === stored;
    }),
  );
});

test("marks read like strtoul with base 0", () => {
  assert.equal(parseU32("0x4000"), 0x4000);
  assert.equal(parseU32("17"), 17);
  assert.equal(parseU32("010"), 8);
  assert.equal(parseU32("0xffffffff"), 0xffffffff);
  assert.equal(parseU32("0x100000000"), null);
  assert.equal(parseU32("4k"), null);
});

test("port ranges accept open ends like libxt_tcp", () => {
  assert.deepEqual(parsePortRange("1000:"), { from: 1000, to: 65535 });
  assert.deepEqual(parsePortRange(":1000"), { from: 0, to: 1000 });
  assert.deepEqual(parsePortRange("http"), { from: 80, to: 80 });
  assert.equal(parsePortRange("2000:1000"), null);
  assert.equal(parsePortRange("70000"), null);
});

test("strings are quoted only when needed, as xtables_save_string does", () => {
  assert.equal(saveString("simple_name-1"), "simple_name-1");
  assert.equal(saveString(""), '""');
  assert.equal(saveString("default/whereami:"), '"default/whereami:"');
  assert.equal(saveString(`a "b" 'c' \\`), `"a \\"b\\" \\'c\\' \\\\"`);
});
