/**
 * The lab's own safety net: verifyIsolation() must notice a veth whose peer is in a namespace that
 * is not the lab's, and an interface without our prefix; destroy() must leave nothing behind. Only
 * our own namespaces are touched (several labs, so "a namespace not ours" is still one we created).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { Lab, labSkipReason } from "./netns.ts";

const SKIP = labSkipReason(["ip"]);

function namespaces(): string[] {
  const out = spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout ?? "";
  return out.split("\n").map((l) => l.split(" ")[0] ?? "");
}

test("verifyIsolation catches a foreign veth peer and an unprefixed interface; destroy cleans up", (t) => {
  if (SKIP !== null) {
    t.skip(SKIP);
    return;
  }
  const a = new Lab("iso");
  const b = new Lab("iso");
  const c = new Lab("iso");
  try {
    const nsA = a.addNamespace("a");
    const nsA2 = a.addNamespace("b");
    const nsB = b.addNamespace("b");
    a.addVeth(nsA, "pwk-in0", nsA2, "pwk-in1");
    a.verifyIsolation();
    assert.throws(() => a.addVeth(nsA, "pwk-out0", nsB, "pwk-out1"), /not ours/);
    assert.throws(() => a.ns("b2"), /not part of this lab/);

    // A peer in a namespace of another lab counts as outside this lab.
    a.ip(nsA, ["link", "add", "pwk-x0", "type", "veth", "peer", "name", "pwk-x1", "netns", nsB]);
    assert.throws(() => a.verifyIsolation(), /pwk-x0's peer is in nsid \d+, not one of ours/);

    const nsC = c.addNamespace("c");
    c.verifyIsolation();
    c.ip(nsC, ["link", "add", "br7", "type", "bridge"]);
    assert.throws(() => c.verifyIsolation(), /br7 without the pwk- prefix/);
  } finally {
    a.destroy();
    a.destroy();
    b.destroy();
    c.destroy();
  }
  const left = namespaces().filter((n) => [a, b, c].some((lab) => n.startsWith(lab.prefix)));
  assert.deepEqual(left, []);
});
