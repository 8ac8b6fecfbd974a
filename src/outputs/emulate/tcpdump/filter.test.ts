import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import type { Frame } from "../../../model/frame.ts";
import { PROTO } from "../../../model/packet.ts";
import { icmpErrorCapture, mixedCapture } from "../../pcap/testdata/sample-frames.ts";
import { writePcap } from "../../pcap/write-pcap.ts";
import { compileFilter } from "./filter.ts";
import { formatTime } from "./text.ts";

const frames = [...mixedCapture(), ...icmpErrorCapture()];

function selected(filter: string, from: readonly Frame[] = frames): string[] {
  const c = compileFilter(filter);
  if (!c.ok) throw new Error(`${filter}: ${c.error.message} at ${c.error.column}`);
  return from.filter(c.match).map((f) => formatTime(f.time));
}

const GOOD = [
  "",
  "port 80",
  "port 80 and not host 168.63.129.16",
  "port 80 and not host 168.63.129.16 and not host 169.254.169.254",
  "tcp",
  "udp",
  "icmp",
  "ip",
  "arp",
  "ip6",
  "src host 10.13.76.4",
  "dst port 53",
  "src port 80",
  "tcp port 80",
  "udp port 80",
  "udp port domain",
  "port http",
  "net 10.13.76.0/24",
  "net 10.13",
  "dst net 168.63.0.0/16",
  "host 10.13.76.4 or 10.13.76.26",
  "port 80 or 443 and tcp",
  "port 80 or udp and src host 10.13.76.4",
  "not port 80 or udp",
  "!(tcp && port 80) || icmp",
  "portrange 40000-52000",
  "src or dst port 53",
  "src and dst net 10.0.0.0/8",
  "ip host 51.144.176.251",
  "not not tcp",
  "host 10.13.76.4 and (port 53 or icmp)",
  "dst 10.13.76.4",
  // ICMP errors: their own addresses count, what they quote does not.
  "host 51.144.176.251",
  "icmp and host 109.125.120.58",
  "port 80 and host 109.125.120.58",
  // Relations over packet bytes (pcap-filter(7) "expr relop expr").
  "icmp[icmptype] == icmp-unreach",
  "icmp[icmptype] != icmp-echo and icmp[icmptype] != icmp-echoreply",
  "icmp[0] = 3 and icmp[1] = 3",
  "icmp[30:2] == 80",
  "dst port 53 or icmp[30:2] = 53",
  "icmp[icmpcode] & 8 != 0",
  "tcp[tcpflags] & tcp-syn != 0",
  "tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn",
  "tcp[13] & tcp-rst != 0",
  "ip[1] = 0xc0",
  "ip[1] & 3 = 2",
  "(tcp[12] >> 4) * 4 = 40",
  "tcp and (tcp[13] & 2 != 0)",
  "(icmp[0]) = 3",
  "ip[2:2] - 20 > 100",
  "udp[4:2] = 60",
  "ether[12:2] = 0x800",
  "len > 500",
  "len - 14 = ip[2:2]",
  "less 100",
  "greater 600",
  "1 + 2 * 3 = 7 and udp",
  "0 - 1 = 0xffffffff and udp",
  "010 = 8 and port 53",
  "icmp[0] ^ 3 = 0",
  // A load past the end rejects the packet, even under `not`, as the BPF program returns 0 there.
  "not icmp[100] = 1",
  "icmp[600] = 1 or tcp",
];

const BAD: [string, number][] = [
  ["port 80 and", 12],
  ["host", 5],
  ["net 10.13.76.1/24", 5],
  ["port 70000", 6],
  ["tcp host 10.0.0.1", 10],
  ["(tcp", 5],
  ["port 80 )", 9],
  ["host 10.0.0.1 $ tcp", 15],
  ["icmp[0] / 0 = 1", 9],
  ["icmp[0] % 0 = 1", 9],
  ["tcp[0:3] = 1", 7],
  ["icmp[0 = 3", 5],
  ["tcp[13] & 2", 4],
];

describe("compileFilter", () => {
  it("selects the seed's filter: port 80 without the Azure wire server and IMDS", () => {
    const seedFilter = "port 80 and not host 168.63.129.16 and not host 169.254.169.254";
    assert.deepEqual(selected(seedFilter, mixedCapture()), [
      "23:40:31.788475",
      "23:40:31.788549",
      "23:40:31.820718",
      "23:41:03.000000",
      "23:41:05.000000",
    ]);
  });

  it("gives and/or equal precedence, left to right, as libpcap does", () => {
    // (port 80 or port 443) and tcp: the UDP packet from port 80 is out.
    assert.ok(!selected("port 80 or 443 and tcp").includes("23:41:05.000000"));
    assert.ok(selected("tcp and port 443 or port 80").includes("23:41:05.000000"));
  });

  it("ICMP errors: `icmp` takes them, `port` never does (their quote's ports are not theirs)", () => {
    const isError = (f: Frame) => f.packet.proto === PROTO.icmp && f.packet.icmpType === 3;
    const errorTimes = frames.filter(isError).map((f) => formatTime(f.time));
    assert.ok(errorTimes.length > 5);
    for (const t of errorTimes) assert.ok(selected("icmp").includes(t));
    // The first error quotes a SYN to 51.144.176.251 port 80: neither its port nor that address is its own.
    const [first] = errorTimes;
    assert.ok(!selected("port 80").includes(first!));
    assert.ok(!selected("host 51.144.176.251").includes(first!));
    assert.ok(selected("icmp[30:2] == 80").includes(first!));
    assert.deepEqual(selected("icmp[icmptype] == icmp-unreach"), errorTimes);
  });

  it("a relation is false for another protocol, and a load past the end rejects the packet", () => {
    const udpTimes = frames.filter((f) => f.packet.proto === PROTO.udp).map((f) => formatTime(f.time));
    assert.deepEqual(
      selected("not tcp[0] = 0").filter((t) => udpTimes.includes(t)),
      udpTimes,
    );
    const shortIcmp = frames.filter((f) => f.packet.proto === PROTO.icmp && f.payload.length + 8 <= 100);
    const notFar = selected("not icmp[100] = 1");
    for (const f of shortIcmp) assert.ok(!notFar.includes(formatTime(f.time)));
  });

  for (const [text, column] of BAD) {
    it(`rejects "${text}" naming column ${column}`, () => {
      const c = compileFilter(text);
      assert.equal(c.ok, false);
      if (!c.ok) assert.equal(c.error.column, column, c.error.message);
    });
  }
});

const tcpdump = spawnSync("tcpdump", ["--version"]).status === 0;
describe("compileFilter against the real tcpdump -r -n FILTER", {
  skip: tcpdump ? false : "tcpdump not installed",
}, () => {
  const dir = mkdtempSync(join(tmpdir(), "packetwalk-filter-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "mixed.pcap");
  writeFileSync(file, writePcap(frames));
  const run = (filter: string) =>
    spawnSync("tcpdump", ["-r", file, "-n", ...(filter ? [filter] : [])], {
      encoding: "utf8",
      env: { ...process.env, TZ: "UTC" },
    });
  for (const filter of GOOD) {
    it(`"${filter}" selects the same packets`, () => {
      const r = run(filter);
      assert.equal(r.status, 0, r.stderr);
      const real = r.stdout
        .split("\n")
        .filter(Boolean)
        .map((l) => l.slice(0, 15));
      assert.deepEqual(selected(filter), real);
    });
  }
  it("every filter we reject, tcpdump rejects too", () => {
    for (const [text] of BAD) assert.notEqual(run(text).status, 0, text);
  });
});
if (!tcpdump) it("tcpdump filter cross-check skipped: tcpdump not installed", { skip: true }, () => {});
