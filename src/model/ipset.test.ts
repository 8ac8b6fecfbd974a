import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type IpSet, ipSetDimensions, ipSetOption, isKnownIpSetType } from "./ipset.ts";

describe("ipset model helpers", () => {
  it("derives the dimensions that --match-set flags index from the type name", () => {
    assert.deepEqual(ipSetDimensions("hash:ip,port,net"), ["ip", "port", "net"]);
    assert.deepEqual(ipSetDimensions("bitmap:port"), ["port"]);
    assert.deepEqual(ipSetDimensions("list:set"), ["set"]);
    assert.deepEqual(ipSetDimensions("nonsense"), []);
  });

  it("tells known types from the rest", () => {
    assert.equal(isKnownIpSetType("hash:net,iface"), true);
    assert.equal(isKnownIpSetType("hash:ip,port,ip,port"), false);
  });

  it("reads create options, telling a flag (null) from an absent option (undefined)", () => {
    const set: IpSet = {
      name: "S",
      type: "hash:ip",
      family: 4,
      options: [
        ["hashsize", "1024"],
        ["counters", null],
      ],
      members: [],
    };
    assert.equal(ipSetOption(set, "hashsize"), "1024");
    assert.equal(ipSetOption(set, "counters"), null);
    assert.equal(ipSetOption(set, "timeout"), undefined);
  });
});
