import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { formatIpv4 } from "../../core/ip.ts";
import { readPcap } from "./read-pcap.ts";
import { mixedCapture } from "./testdata/sample-frames.ts";
import { writePcap } from "./write-pcap.ts";

const frames = mixedCapture();

describe("writePcap", () => {
  it("writes the libpcap global header: magic, 2.4, snaplen 262144, Ethernet", () => {
    const v = new DataView(writePcap([]).buffer);
    assert.equal(v.getUint32(0).toString(16), "a1b2c3d4");
    assert.deepEqual([v.getUint16(4), v.getUint16(6), v.getUint32(16), v.getUint32(20)], [2, 4, 262144, 1]);
  });

  it("reads back every frame field with valid checksums and lengths", () => {
    const { frames: back, problems } = readPcap(writePcap(frames));
    assert.deepEqual(problems, []);
    assert.deepEqual(back, frames);
  });

  it("the reader catches a flipped byte in the TCP payload and in the IP header", () => {
    const bytes = writePcap(frames.slice(3, 4));
    const payloadByte = bytes.length - 10;
    bytes[payloadByte]! ^= 0x20;
    bytes[24 + 16 + 14 + 8]! ^= 1; // the TTL
    assert.deepEqual(readPcap(bytes).problems, [
      "record 1: bad IPv4 header checksum",
      "record 1: bad TCP checksum",
    ]);
  });
});

const tshark = spawnSync("tshark", ["--version"]).status === 0;
describe("tshark reads our pcap", { skip: tshark ? false : "tshark not installed" }, () => {
  const dir = mkdtempSync(join(tmpdir(), "packetwalk-pcap-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "mixed.pcap");
  writeFileSync(file, writePcap(frames));
  const run = (args: string[]) =>
    spawnSync(
      "tshark",
      [
        "-r",
        file,
        "-o",
        "tcp.check_checksum:TRUE",
        "-o",
        "udp.check_checksum:TRUE",
        "-o",
        "ip.check_checksum:TRUE",
        ...args,
      ],
      { encoding: "utf8" },
    );

  it("shows the same addresses, ports, flags and absolute sequence numbers", () => {
    const fields = [
      "ip.src",
      "ip.dst",
      "ip.id",
      "ip.ttl",
      "ip.flags.df",
      "tcp.srcport",
      "tcp.dstport",
      "tcp.flags",
      "tcp.seq_raw",
      "tcp.ack_raw",
      "tcp.window_size_value",
      "tcp.len",
      "udp.srcport",
      "udp.dstport",
      "icmp.type",
      "icmp.ident",
      "icmp.seq",
    ];
    const r = run(["-T", "fields", "-E", "separator=|", ...fields.flatMap((f) => ["-e", f])]);
    assert.equal(r.status, 0, r.stderr);
    const got = r.stdout.trimEnd().split("\n");
    const want = frames.map((f) => {
      const p = f.packet;
      const isTcp = f.tcp !== null;
      const l4 = isTcp
        ? [
            p.sport,
            p.dport,
            "0x" + p.tcpFlags.toString(16).padStart(4, "0"),
            f.tcp!.seq,
            f.tcp!.ack,
            f.tcp!.window,
            f.payload.length,
          ]
        : ["", "", "", "", "", "", ""];
      const udp = p.proto === 17 ? [p.sport, p.dport] : ["", ""];
      const icmp = p.proto === 1 ? [p.icmpType, p.icmpId, f.icmpSeq] : ["", "", ""];
      return [
        formatIpv4(p.src as number),
        formatIpv4(p.dst as number),
        "0x" + f.ipId.toString(16).padStart(4, "0"),
        f.ttl,
        f.dontFragment ? 1 : 0,
        ...l4,
        ...udp,
        ...icmp,
      ].join("|");
    });
    assert.deepEqual(got, want);
  });

  it("finds no malformed packets, bad checksums or warnings (-z expert)", () => {
    const r = run(["-q", "-z", "expert,warn"]);
    assert.equal(r.status, 0, r.stderr);
    // tshark warns about running as root; nothing else may appear.
    assert.equal(r.stderr.replace(/^Running as user "root".*\n/m, ""), "");
    assert.doesNotMatch(r.stdout, /Malformed|Warning|Error|checksum/i, r.stdout);
    const bad = run([
      "-Y",
      "_ws.malformed || _ws.expert.severity >= warning || tcp.checksum.status == 0 || udp.checksum.status == 0 || ip.checksum.status == 0 || icmp.checksum.status == 0",
    ]);
    assert.equal(bad.stdout, "");
  });
});
if (!tshark)
  it("tshark cross-check skipped: tshark not installed (scripts/setup.sh installs it)", {
    skip: true,
  }, () => {});
