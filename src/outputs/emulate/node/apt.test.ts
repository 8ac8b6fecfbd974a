import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { apt, ubuntuRelease } from "./apt.ts";

describe("apt install on a node", () => {
  it("a package the twin's node already has: apt 1.2's screen on Ubuntu 16.04 (the seed's line 231)", () => {
    const r = apt("apt", ["install", "-y", "bridge-utils"], ubuntuRelease("1.11.5"));
    assert.equal(r.exitCode, 0);
    assert.equal(r.stderr, "");
    assert.equal(
      r.stdout,
      "Reading package lists... Done\nBuilding dependency tree       \nReading state information... Done\n" +
        "bridge-utils is already the newest version (1.5-9ubuntu1).\n" +
        "0 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.\n",
    );
  });

  it("apt 2.x on today's Ubuntu 22.04 nodes", () => {
    const r = apt("apt-get", ["install", "bridge-utils"], ubuntuRelease("1.33.1"));
    assert.equal(r.exitCode, 0);
    assert.match(r.stdout, /^Building dependency tree\.\.\. Done$/m);
    assert.match(r.stdout, /^bridge-utils is already the newest version \(1\.7-1ubuntu3\)\.$/m);
  });

  it("an unknown package stops apt before it installs anything (exit 100)", () => {
    const r = apt("apt", ["install", "-y", "bridge-utils", "no-such-thing"], "xenial");
    assert.equal(r.exitCode, 100);
    assert.equal(r.stderr, "E: Unable to locate package no-such-thing\n");
    assert.doesNotMatch(r.stdout, /already the newest/);
  });

  it("what is not emulated says so", () => {
    assert.equal(apt("apt", ["remove", "bridge-utils"], "xenial").exitCode, 100);
    assert.match(apt("apt", ["install", "--reinstall", "x"], "xenial").stderr, /--reinstall is not emulated/);
  });
});
