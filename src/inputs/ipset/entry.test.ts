import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseIpv4, parseIpv6 } from "../../core/ip.ts";
import { type EntryRules, parseEntry } from "./entry.ts";

const rules = (type: string, extra: Partial<EntryRules> = {}): EntryRules => ({
  type,
  family: type.startsWith("hash:") ? 4 : null,
  netmask: null,
  bitmask: null,
  markmask: 0xffffffff,
  range: null,
  ...extra,
});
const noSets = () => null;
const detail = (result: ReturnType<typeof parseEntry>) => (Array.isArray(result) ? "parsed" : result.detail);

describe("parseEntry", () => {
  it("reads [proto:]port as ipset_parse_proto_port does: bare is TCP, ICMP as type<<8|code", () => {
    const port = (text: string, family: 4 | 6 = 4) =>
      parseEntry(`10.0.0.1,${text}`, rules("hash:ip,port", { family }), noSets);
    assert.deepEqual(port("80"), [
      { kind: "ip", addr: parseIpv4("10.0.0.1") },
      { kind: "proto-port", proto: 6, port: 80 },
    ]);
    assert.deepEqual((port("udp:53") as unknown[])[1], { kind: "proto-port", proto: 17, port: 53 });
    assert.deepEqual((port("icmp:ping") as unknown[])[1], { kind: "proto-port", proto: 1, port: 0x0800 });
    assert.deepEqual((port("icmp:3/4") as unknown[])[1], { kind: "proto-port", proto: 1, port: 0x0304 });
    assert.deepEqual((port("gre:0") as unknown[])[1], { kind: "proto-port", proto: 47, port: 0 });
    assert.deepEqual((port("esp:0") as unknown[])[1], { kind: "proto-port", proto: 50, port: 0 });
    assert.equal(detail(port("gre:5")), 'member "10.0.0.1,gre:5": protocol "gre" takes only the port 0');
    assert.equal(
      detail(port("icmpv6:ping")),
      'member "10.0.0.1,icmpv6:ping": protocol "icmpv6" needs a set of family inet6',
    );
    assert.equal(detail(port("80-82")), 'member "10.0.0.1,80-82": "80-82" is not a port number');
    assert.equal(detail(port("bogus:1")), 'member "10.0.0.1,bogus:1": "bogus" is not a protocol');
    const v6 = parseEntry(
      "fd00::1,icmpv6:neighbour-solicitation",
      rules("hash:ip,port", { family: 6 }),
      noSets,
    );
    assert.deepEqual(v6, [
      { kind: "ip", addr: parseIpv6("fd00::1") },
      { kind: "proto-port", proto: 58, port: 135 << 8 },
    ]);
  });

  it("stores the first address masked, as the kernel does with netmask and bitmask", () => {
    assert.deepEqual(parseEntry("10.9.8.7", rules("hash:ip", { netmask: 24 }), noSets), [
      { kind: "ip", addr: parseIpv4("10.9.8.0") },
    ]);
    assert.deepEqual(
      parseEntry("fd00::1:2:3:4", rules("hash:ip", { family: 6, bitmask: parseIpv6("ffff::ffff") }), noSets),
      [{ kind: "ip", addr: parseIpv6("fd00::4") }],
    );
    assert.equal(
      detail(parseEntry("10.0.0.1", rules("hash:ip", { netmask: 4 }), noSets)),
      'member "10.0.0.1" stores as zero, which a hash set cannot hold',
    );
  });

  it("reads networks, masking the address and refusing /0 where ipset does", () => {
    assert.deepEqual(parseEntry("10.1.2.3/16", rules("hash:net"), noSets), [
      { kind: "net", net: { family: 4, addr: parseIpv4("10.1.0.0"), mask: 0xffff0000, prefix: 16 } },
    ]);
    assert.equal(
      detail(parseEntry("0.0.0.0/0", rules("hash:net"), noSets)),
      'member "0.0.0.0/0" has a zero prefix, which hash:net cannot hold',
    );
    assert.equal(
      Array.isArray(parseEntry("0.0.0.0/0,tcp:80,10.0.0.0/8", rules("hash:net,port,net"), noSets)),
      true,
    );
    assert.equal(
      detail(parseEntry("10.0.0.0/255.0.0.0", rules("hash:net"), noSets)),
      'member "10.0.0.0/255.0.0.0" is not an IPv4 network',
    );
    assert.equal(
      detail(parseEntry("fd00::/64", rules("hash:net"), noSets)),
      'member "fd00::/64" is not an IPv4 network',
    );
  });

  it("checks bitmap ranges and reads bitmap:port without a stored protocol", () => {
    const bitmap = rules("bitmap:port", { range: [1000, 2000] });
    assert.deepEqual(parseEntry("tcp:1500", bitmap, noSets), [{ kind: "port", port: 1500 }]);
    assert.equal(detail(parseEntry("999", bitmap, noSets)), 'member "999" is outside the set\'s range');
    const ips = rules("bitmap:ip", {
      family: 4,
      range: [parseIpv4("192.168.0.0") ?? 0, parseIpv4("192.168.255.255") ?? 0],
    });
    assert.equal(
      detail(parseEntry("10.0.0.1", ips, noSets)),
      'member "10.0.0.1" is outside the set\'s range',
    );
  });

  it("reads MACs, interfaces, marks and set names", () => {
    assert.deepEqual(parseEntry("10.0.0.1,0a:0B:c:d:e:ff", rules("hash:ip,mac"), noSets), [
      { kind: "ip", addr: parseIpv4("10.0.0.1") },
      { kind: "mac", mac: 0x0a0b0c0d0eff },
    ]);
    assert.deepEqual(
      (parseEntry("10.0.0.0/8,physdev:eth0", rules("hash:net,iface"), noSets) as unknown[])[1],
      {
        kind: "iface",
        name: "eth0",
        physdev: true,
      },
    );
    assert.deepEqual(
      (parseEntry("10.0.0.1,0x4321", rules("hash:ip,mark", { markmask: 0xff00 }), noSets) as unknown[])[1],
      {
        kind: "mark",
        mark: 0x4300,
      },
    );
    const typeOf = (name: string) => (name === "A" ? "hash:ip" : null);
    assert.deepEqual(parseEntry("A", rules("list:set"), typeOf), [{ kind: "set", name: "A" }]);
  });

  it("counts the parts of an entry against the type's dimensions", () => {
    assert.equal(
      detail(parseEntry("10.0.0.1,tcp:80", rules("hash:ip,port,ip"), noSets)),
      'member "10.0.0.1,tcp:80" of a hash:ip,port,ip set needs 3 comma-separated parts',
    );
    const bitmapMac = rules("bitmap:ip,mac", { family: 4, range: [0, 0xffffffff] });
    assert.deepEqual(parseEntry("192.168.0.2", bitmapMac, noSets), [
      { kind: "ip", addr: parseIpv4("192.168.0.2") },
    ]);
  });
});
