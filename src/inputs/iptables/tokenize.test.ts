import assert from "node:assert/strict";
import { test } from "node:test";
import { tokenize } from "./tokenize.ts";

test("splits words on spaces and tabs and keeps their columns", () => {
  const r = tokenize("-A  INPUT\t-j ACCEPT");
  assert.ok(r.ok);
  assert.deepEqual(
    r.tokens.map((t) => [t.text, t.column]),
    [
      ["-A", 1],
      ["INPUT", 5],
      ["-j", 11],
      ["ACCEPT", 14],
    ],
  );
});

test("double-quoted words keep spaces and lose their escapes, as iptables-save writes them", () => {
  const r = tokenize(`--comment "a \\"quoted\\" comment with \\'single\\' and \\\\ back" -j X`);
  assert.ok(r.ok);
  assert.equal(r.tokens[1]?.text, `a "quoted" comment with 'single' and \\ back`);
  assert.equal(r.tokens[1]?.quoted, true);
  assert.equal(r.tokens[2]?.text, "-j");
});

test("an empty quoted word is a word", () => {
  const r = tokenize(`--comment "" -j ACCEPT`);
  assert.ok(r.ok);
  assert.equal(r.tokens.length, 4);
  assert.equal(r.tokens[1]?.text, "");
});

test("a quoted ! is a literal, not a negation", () => {
  const r = tokenize(`! --comment "!"`);
  assert.ok(r.ok);
  assert.equal(r.tokens[0]?.quoted, false);
  assert.equal(r.tokens[2]?.quoted, true);
});

test("an unterminated quote is an error at the quote's column", () => {
  const r = tokenize(`-m comment --comment "oops`);
  assert.equal(r.ok, false);
  if (!r.ok) {
    assert.equal(r.column, 22);
    assert.match(r.message, /unterminated/);
  }
});
