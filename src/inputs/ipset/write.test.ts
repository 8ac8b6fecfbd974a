import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { IpNet } from "../../core/ip.ts";
import { parseIpNet, parseIpv4, parseIpv6 } from "../../core/ip.ts";
import type { IpSet, IpSetMember } from "../../model/ipset.ts";
import { formatIpSetCreate, formatIpSetMember, writeIpsetSave } from "./write.ts";

const member = (elements: IpSetMember["elements"], extra: Partial<IpSetMember> = {}): IpSetMember => ({
  elements,
  nomatch: false,
  wildcard: false,
  ...extra,
});
const net = (text: string): IpNet => parseIpNet(text) as IpNet;

describe("writeIpsetSave", () => {
  it("prints family first for hash types only, then the options in their order", () => {
    const base = { members: [], options: [] } as const;
    assert.equal(
      formatIpSetCreate({
        ...base,
        name: "A",
        type: "hash:ip",
        family: 6,
        options: [
          ["hashsize", "64"],
          ["counters", null],
        ],
      }),
      "create A hash:ip family inet6 hashsize 64 counters",
    );
    assert.equal(
      formatIpSetCreate({ ...base, name: "M", type: "hash:mac", family: null }),
      "create M hash:mac",
    );
    assert.equal(
      formatIpSetCreate({
        ...base,
        name: "B",
        type: "bitmap:ip",
        family: 4,
        options: [["range", "10.0.0.0-10.0.0.255"]],
      }),
      "create B bitmap:ip range 10.0.0.0-10.0.0.255",
    );
    assert.equal(
      formatIpSetCreate({ ...base, name: "L", type: "list:set", family: null, options: [["size", "8"]] }),
      "create L list:set size 8",
    );
  });

  it("prints entries as ipset's print.c does", () => {
    const v4: IpSet = { name: "S", type: "hash:net,port", family: 4, options: [], members: [] };
    const line = (set: IpSet, m: IpSetMember) => formatIpSetMember(set, m);
    assert.equal(
      line(
        v4,
        member([
          { kind: "net", net: net("10.1.2.3/32") },
          { kind: "proto-port", proto: 6, port: 80 },
        ]),
      ),
      "add S 10.1.2.3,tcp:80",
    );
    assert.equal(
      line(
        v4,
        member([
          { kind: "net", net: net("10.0.0.0/8") },
          { kind: "proto-port", proto: 1, port: 0 },
        ]),
      ),
      "add S 10.0.0.0/8,icmp:echo-reply",
    );
    assert.equal(
      line(
        v4,
        member([
          { kind: "net", net: net("10.0.0.0/8") },
          { kind: "proto-port", proto: 1, port: 0x0309 },
        ]),
      ),
      "add S 10.0.0.0/8,icmp:network-prohibited",
    );
    assert.equal(
      line(
        v4,
        member([
          { kind: "net", net: net("10.0.0.0/8") },
          { kind: "proto-port", proto: 1, port: 0x0308 },
        ]),
      ),
      "add S 10.0.0.0/8,icmp:3/8",
    );
    assert.equal(
      line(
        v4,
        member([
          { kind: "net", net: net("10.0.0.0/8") },
          { kind: "proto-port", proto: 132, port: 9 },
        ]),
      ),
      "add S 10.0.0.0/8,sctp:9",
    );
    const v6: IpSet = { ...v4, family: 6 };
    assert.equal(
      line(
        v6,
        member([
          { kind: "net", net: net("fd00::/64") },
          { kind: "proto-port", proto: 58, port: 135 << 8 },
        ]),
      ),
      "add S fd00::/64,ipv6-icmp:neighbour-solicitation",
    );
    const mac: IpSet = { name: "M", type: "hash:ip,mac", family: 4, options: [], members: [] };
    assert.equal(
      line(
        mac,
        member([
          { kind: "ip", addr: parseIpv4("10.0.0.1") ?? 0 },
          { kind: "mac", mac: 0x0011223344aa },
        ]),
      ),
      "add M 10.0.0.1,00:11:22:33:44:AA",
    );
    const mark: IpSet = { name: "K", type: "hash:ip,mark", family: 6, options: [], members: [] };
    assert.equal(
      line(
        mark,
        member([
          { kind: "ip", addr: parseIpv6("::ffff:10.0.0.1") ?? 0n },
          { kind: "mark", mark: 0x63 },
        ]),
      ),
      "add K ::ffff:10.0.0.1,0x00000063",
    );
  });

  it("prints entry extensions in ipset's order whatever order they were given in", () => {
    const set: IpSet = { name: "I", type: "hash:net,iface", family: 4, options: [], members: [] };
    const m = member(
      [
        { kind: "net", net: net("10.2.0.0/16") },
        { kind: "iface", name: "veth", physdev: false },
      ],
      {
        skbqueue: 2,
        comment: "c 1",
        wildcard: true,
        nomatch: true,
        bytes: 4n,
        packets: 3n,
        timeout: 0,
        skbmark: { mark: 1, mask: 0xffffffff },
        skbprio: { major: 0, minor: 1 },
      },
    );
    assert.equal(
      formatIpSetMember(set, m),
      'add I 10.2.0.0/16,veth timeout 0 nomatch wildcard packets 3 bytes 4 comment "c 1" skbmark 0x1 skbprio 0:1 skbqueue 2',
    );
  });

  it("writes sets in registry order with a newline after every line", () => {
    const registry = new Map<string, IpSet>([
      [
        "P",
        {
          name: "P",
          type: "bitmap:port",
          family: null,
          options: [["range", "0-65535"]],
          members: [member([{ kind: "port", port: 30080 }])],
        },
      ],
      ["E", { name: "E", type: "hash:ip", family: 4, options: [], members: [] }],
    ]);
    assert.equal(
      writeIpsetSave(registry),
      "create P bitmap:port range 0-65535\nadd P 30080\ncreate E hash:ip family inet\n",
    );
    assert.equal(writeIpsetSave(new Map()), "");
  });
});
