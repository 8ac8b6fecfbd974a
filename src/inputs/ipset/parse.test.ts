import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { parseIpv4, parseIpv6 } from "../../core/ip.ts";
import type { IpSet } from "../../model/ipset.ts";
import { parseIpsetSave } from "./parse.ts";
import { writeIpsetSave } from "./write.ts";

/** The fixtures are `ipset save` output of ipset 7.17 on Linux 6.18, taken in a scratch netns. */
const fixture = (name: string) => readFileSync(new URL(`testdata/${name}`, import.meta.url), "utf8");

function parseClean(text: string): ReadonlyMap<string, IpSet> {
  const { value, diagnostics } = parseIpsetSave(text, "test.txt");
  assert.deepEqual(diagnostics, []);
  return value;
}

function set(registry: ReadonlyMap<string, IpSet>, name: string): IpSet {
  const found = registry.get(name);
  assert.ok(found, `set ${name}`);
  return found;
}

describe("parseIpsetSave on kernel dumps", () => {
  for (const name of ["kube-proxy-ipvs.txt", "weave-npc.txt", "kernel-mixed.txt"]) {
    it(`${name} parses cleanly and writes back byte for byte`, () => {
      const text = fixture(name);
      assert.equal(writeIpsetSave(parseClean(text)), text);
    });
  }

  it("reads kube-proxy's IPVS sets into numbers", () => {
    const sets = parseClean(fixture("kube-proxy-ipvs.txt"));
    assert.deepEqual([...sets.keys()].slice(0, 3), ["KUBE-LOOP-BACK", "KUBE-CLUSTER-IP", "KUBE-EXTERNAL-IP"]);
    const clusterIp = set(sets, "KUBE-CLUSTER-IP");
    assert.equal(clusterIp.type, "hash:ip,port");
    assert.equal(clusterIp.family, 4);
    assert.deepEqual(clusterIp.options, [
      ["hashsize", "1024"],
      ["maxelem", "65536"],
      ["bucketsize", "12"],
      ["initval", "0x51196028"],
    ]);
    assert.ok(
      clusterIp.members.some(
        (m) =>
          m.elements[0]?.kind === "ip" &&
          m.elements[0].addr === parseIpv4("10.0.0.10") &&
          m.elements[1]?.kind === "proto-port" &&
          m.elements[1].proto === 17 &&
          m.elements[1].port === 53,
      ),
    );
    const loopBack = set(sets, "KUBE-LOOP-BACK");
    assert.deepEqual(loopBack.members[2]?.elements, [
      { kind: "ip", addr: parseIpv4("10.13.76.15") },
      { kind: "proto-port", proto: 6, port: 8080 },
      { kind: "ip", addr: parseIpv4("10.13.76.15") },
    ]);
    const nodePorts = set(sets, "KUBE-NODE-PORT-TCP");
    assert.equal(nodePorts.family, null);
    assert.deepEqual(nodePorts.options, [["range", "0-65535"]]);
    assert.deepEqual(
      nodePorts.members.map((m) => m.elements),
      [[{ kind: "port", port: 30080 }], [{ kind: "port", port: 31380 }]],
    );
    assert.equal(set(sets, "KUBE-NODE-PORT-UDP").members.length, 0);
  });

  it("keeps weave's odd set names, comments and nomatch", () => {
    const sets = parseClean(fixture("weave-npc.txt"));
    const pods = set(sets, "weave-;rGqyMIl1HN^cfDki~Z$3]6!N");
    assert.equal(pods.members[0]?.comment, "namespace: default, pod: nginx-7c5ddbdf54-x8zpm");
    const ipBlock = set(sets, "weave-E.1.0W^NGSp]0au63XSwFQ?l5");
    assert.equal(ipBlock.members[0]?.nomatch, true);
    assert.deepEqual(ipBlock.members[0]?.elements[0], {
      kind: "net",
      net: { family: 4, addr: parseIpv4("172.16.5.0"), mask: 0xffffff00, prefix: 24 },
    });
    const list = set(sets, "weave-k?Z;25^M}|1s7P3|H9i;*;MhG");
    assert.equal(list.family, null);
    assert.deepEqual(list.members[1], {
      elements: [{ kind: "set", name: "weave-local-pods" }],
      nomatch: false,
      wildcard: false,
      comment: "local pods",
    });
  });

  it("reads every extension and element kind of the mixed dump", () => {
    const sets = parseClean(fixture("kernel-mixed.txt"));
    assert.deepEqual(set(sets, "TIMED").members[0], {
      elements: [{ kind: "ip", addr: parseIpv4("10.9.0.1") }],
      nomatch: false,
      wildcard: false,
      timeout: 0,
      packets: 12n,
      bytes: 3456n,
      comment: "pinned by hand",
      skbmark: { mark: 0x10, mask: 0xff },
      skbprio: { major: 1, minor: 0x10 },
      skbqueue: 3,
    });
    const v6 = set(sets, "V6NETPORT");
    assert.equal(v6.family, 6);
    const ping = v6.members.find((m) => m.elements[1]?.kind === "proto-port" && m.elements[1].proto === 58);
    assert.deepEqual(ping?.elements, [
      { kind: "net", net: { family: 6, addr: parseIpv6("fd00::1"), mask: (1n << 128n) - 1n, prefix: 128 } },
      { kind: "proto-port", proto: 58, port: 128 << 8 },
    ]);
    const protos = set(sets, "PROTOS").members.map((m) => m.elements[1]);
    assert.ok(protos.some((e) => e?.kind === "proto-port" && e.proto === 1 && e.port === (3 << 8) + 1));
    assert.ok(protos.some((e) => e?.kind === "proto-port" && e.proto === 200 && e.port === 0));
    assert.deepEqual(set(sets, "IFACES").members[3]?.elements[1], {
      kind: "iface",
      name: "veth",
      physdev: false,
    });
    assert.equal(set(sets, "IFACES").members[3]?.wildcard, true);
    assert.deepEqual(set(sets, "IFACES").members[0]?.elements[1], {
      kind: "iface",
      name: "eth1",
      physdev: true,
    });
    assert.deepEqual(set(sets, "BITMAC").members[0]?.elements[1], { kind: "mac", mac: 0x0011223344aa });
    assert.equal(set(sets, "BITMAC").members[1]?.elements.length, 1);
    assert.equal(set(sets, "BITIP").family, 4);
  });
});

describe("parseIpsetSave diagnostics", () => {
  const diagnose = (text: string) => parseIpsetSave(text, "dump.txt").diagnostics;

  it("names the line, column and offending text of a bad member", () => {
    const text = [
      "create A hash:ip family inet hashsize 1024 maxelem 65536",
      "add A 10.0.0.1",
      "",
      "add A 10.0.0.x",
    ].join("\n");
    assert.deepEqual(diagnose(text), [
      {
        code: "ipset.bad-member",
        severity: "error",
        message: 'Cannot parse ipset line 4: member "10.0.0.x" is not an IPv4 address',
        source: { file: "dump.txt", line: 4, column: 7 },
      },
    ]);
    const { value } = parseIpsetSave(text, "dump.txt");
    assert.equal(value.get("A")?.members.length, 1, "the good lines are kept");
  });

  it("quotes the whole entry when one part of several is bad", () => {
    const [d] = diagnose("create P hash:ip,port family inet\nadd P 10.0.0.1,tcp:99999");
    assert.equal(
      d?.message,
      'Cannot parse ipset line 2: member "10.0.0.1,tcp:99999": "99999" is not a port number',
    );
  });

  it("refuses members of a set that was not created", () => {
    const [d] = diagnose("add GHOST 10.0.0.1\n");
    assert.equal(d?.code, "ipset.unknown-set");
    assert.equal(d?.severity, "error");
    assert.deepEqual(d?.source, { file: "dump.txt", line: 1, column: 5 });
    assert.match(d?.message ?? "", /^Cannot parse ipset line 1: set "GHOST"/);
  });

  it("keeps sets of unknown types with raw members, warning once", () => {
    const text =
      "create X hash:ip,port,ip,port family inet hashsize 1024 fancy\nadd X 1.2.3.4,tcp:1,5.6.7.8,udp:2 timeout 5\n";
    const { value, diagnostics } = parseIpsetSave(text, "dump.txt");
    assert.deepEqual(
      diagnostics.map((d) => [d.code, d.severity, d.source?.column]),
      [
        ["ipset.unknown-type", "warning", 10],
        ["ipset.bad-option", "error", 35],
      ],
    );
    assert.deepEqual(value.get("X")?.members, []);
    const clean =
      "create X hash:ip,port,ip,port family inet hashsize 1024 fancy\nadd X 1.2.3.4,tcp:1,5.6.7.8,udp:2\n";
    const parsed = parseIpsetSave(clean, "dump.txt");
    assert.deepEqual(parsed.value.get("X")?.members[0]?.elements, [
      { kind: "raw", text: "1.2.3.4,tcp:1,5.6.7.8,udp:2" },
    ]);
    assert.equal(writeIpsetSave(parsed.value), clean);
  });

  it("says to use ipset save when given ipset list output, once", () => {
    const listed = "Name: KUBE-CLUSTER-IP\nType: hash:ip,port\nRevision: 7\nMembers:\n10.0.0.1,tcp:443\n";
    assert.deepEqual(diagnose(listed), [
      {
        code: "ipset.list-format",
        severity: "error",
        message:
          'Cannot parse ipset line 1: this is "ipset list" output; only "ipset save" output is understood',
        source: { file: "dump.txt", line: 1, column: 1 },
      },
    ]);
  });

  it("checks create options against the type and their values", () => {
    const codes = (text: string) => diagnose(text).map((d) => [d.code, d.source?.column, d.message]);
    assert.deepEqual(codes("create A hash:ip family inet range 0-5"), [
      [
        "ipset.unknown-option",
        30,
        'Cannot parse ipset line 1: create option "range" does not apply to hash:ip',
      ],
    ]);
    assert.deepEqual(codes("create A hash:ip family inet netmask 33"), [
      ["ipset.bad-option", 38, 'Cannot parse ipset line 1: create option "netmask" has the bad value "33"'],
    ]);
    assert.deepEqual(codes("create A hash:ip family ipx"), [
      [
        "ipset.bad-option",
        25,
        'Cannot parse ipset line 1: create option "family" has the value "ipx", not inet or inet6',
      ],
    ]);
    assert.deepEqual(codes("create A hash:ip hashsize"), [
      ["ipset.bad-option", 18, 'Cannot parse ipset line 1: create option "hashsize" needs a value'],
    ]);
    assert.equal(diagnose("create A hash:ip\ncreate A hash:net")[0]?.code, "ipset.duplicate-set");
    assert.equal(diagnose(`create ${"N".repeat(32)} hash:ip`)[0]?.code, "ipset.bad-name");
  });

  it("checks entry options against the set", () => {
    const messages = (text: string) => diagnose(text).map((d) => d.message);
    assert.deepEqual(messages('create A hash:ip\nadd A 10.0.0.1 comment "no comment flag"'), [
      'Cannot parse ipset line 2: entry option "comment" needs a set created with "comment"',
    ]);
    assert.deepEqual(messages("create A hash:ip\nadd A 10.0.0.1 nomatch"), [
      'Cannot parse ipset line 2: entry option "nomatch" applies only to hash types with a net, not hash:ip',
    ]);
    assert.deepEqual(messages("create A hash:ip timeout 5\nadd A 10.0.0.1 timeout soon"), [
      'Cannot parse ipset line 2: entry option "timeout" has the bad value "soon"',
    ]);
    assert.deepEqual(messages("create A hash:ip\nadd A 10.0.0.1 before B"), [
      'Cannot parse ipset line 2: unknown entry option "before"',
    ]);
  });

  it("splits words as ipset restore does, quotes and all", () => {
    const { value, diagnostics } = parseIpsetSave(
      'create C hash:ip comment\nadd C 10.0.0.1 comment "a  b\tc"',
      "d",
    );
    assert.deepEqual(diagnostics, []);
    assert.equal(value.get("C")?.members[0]?.comment, "a  b\tc");
    const [open] = diagnose('create C hash:ip comment\nadd C 10.0.0.1 comment "open');
    assert.deepEqual([open?.code, open?.source?.column], ["ipset.unclosed-quote", 24]);
  });

  it("skips what ipset restore skips and names other commands", () => {
    const text = "# saved by hand\r\n\r\ncreate A hash:ip\r\nadd A 10.0.0.1\r\nCOMMIT\r\nflush A\r\n";
    const { value, diagnostics } = parseIpsetSave(text, "d");
    assert.equal(value.get("A")?.members.length, 1);
    assert.deepEqual(
      diagnostics.map((d) => [d.code, d.source?.line]),
      [["ipset.unknown-command", 6]],
    );
  });

  it("refuses a list:set member that does not exist or is a list:set", () => {
    const text = "create L list:set size 8\ncreate M list:set size 8\nadd L NOPE\nadd L M\n";
    assert.deepEqual(
      diagnose(text).map((d) => [d.code, d.message]),
      [
        ["ipset.unknown-set", 'Cannot parse ipset line 3: member set "NOPE" does not exist'],
        ["ipset.bad-member", 'Cannot parse ipset line 4: member set "M" is itself a list:set'],
      ],
    );
  });
});
