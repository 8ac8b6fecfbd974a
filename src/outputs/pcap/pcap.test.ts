import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { formatIpv4 } from "../../core/ip.ts";
import { datagramBytes, ICMP_QUOTE_MAX, parseQuote } from "../../dataplane/sim/endpoints/quote.ts";
import { readPcap } from "./read-pcap.ts";
import { icmpErrorCapture, mixedCapture } from "./testdata/sample-frames.ts";
import { writePcap } from "./write-pcap.ts";

const frames = mixedCapture();
const errors = icmpErrorCapture();

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

  it("writes the data plane's datagram after the Ethernet header, with the TOS byte and ICMP errors' quotes", () => {
    const back = readPcap(writePcap(errors));
    assert.deepEqual(back.problems, []);
    assert.deepEqual(back.frames, errors);
    const bytes = writePcap(errors.slice(1, 2)).subarray(24 + 16);
    assert.equal(bytes[14 + 1], 0xc0);
    // The rest of the datagram is datagramBytes' (only the TOS and so the header checksum differ).
    const plain = datagramBytes(errors[1]!);
    assert.deepEqual(bytes.subarray(14 + 20), plain.subarray(20));
    assert.deepEqual([...bytes.subarray(14 + 12, 14 + 20)], [...plain.subarray(12, 20)]);
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
describe("tshark reads our ICMP errors", { skip: tshark ? false : "tshark not installed" }, () => {
  const dir = mkdtempSync(join(tmpdir(), "packetwalk-pcap-icmp-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "errors.pcap");
  writeFileSync(file, writePcap(errors));
  // Wireshark always verifies ICMP checksums (it has no preference for it); TCP's is checked apart
  // (see the last test: a quote cut at 548 bytes cannot be verified).
  const run = (args: string[], protos = ["udp", "ip"]) => {
    const checks = protos.flatMap((p) => ["-o", `${p}.check_checksum:TRUE`]);
    return spawnSync("tshark", ["-r", file, ...checks, ...args], { encoding: "utf8" });
  };

  it("decodes each error's TOS, type and code, and the datagram it quotes", () => {
    const fields = ["ip.dsfield", "icmp.type", "icmp.code", "ip.src", "ip.dst", "tcp.dstport", "udp.dstport"];
    const r = run([
      "-Y",
      "icmp.type == 3",
      "-T",
      "fields",
      "-E",
      "separator=|",
      ...fields.flatMap((f) => ["-e", f]),
    ]);
    assert.equal(r.status, 0, r.stderr);
    const want = errors
      .filter((f) => f.packet.icmpType === 3)
      .map((f) => {
        const q = parseQuote(f.payload)!.packet;
        const port = (proto: number) => (q.proto === proto ? String(q.dport) : "");
        // A quoted ICMP datagram has its own type and code.
        const inner = (v: number) => (q.proto === 1 ? `,${v}` : "");
        return [
          `0x${(f.tos ?? 0).toString(16).padStart(2, "0")},0x00`,
          `${f.packet.icmpType}${inner(q.icmpType)}`,
          `${f.packet.icmpCode}${inner(q.icmpCode)}`,
          `${formatIpv4(f.packet.src as number)},${formatIpv4(q.src as number)}`,
          `${formatIpv4(f.packet.dst as number)},${formatIpv4(q.dst as number)}`,
          port(6),
          port(17),
        ].join("|");
      });
    assert.deepEqual(r.stdout.trimEnd().split("\n"), want);
  });

  it("finds no malformed packets, bad checksums or warnings but the RST's, the quotes' own checksums included", () => {
    const r = run(["-q", "-z", "expert,warn"]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr.replace(/^Running as user "root".*\n/m, ""), "");
    // Wireshark files every RST under warnings ("Connection reset (RST)"); nothing else may be there.
    const rows = r.stdout.split("\n").filter((l) => /^\s+\d+\s/.test(l));
    assert.deepEqual(
      rows.map((l) => l.trim().replace(/\s+/g, " ")),
      ["1 Sequence TCP Connection reset (RST)"],
    );
    const bad = run([
      "-Y",
      "_ws.malformed || (_ws.expert.severity >= warning && !tcp.flags.reset) || udp.checksum.status == 0 || ip.checksum.status == 0 || icmp.checksum.status == 0",
    ]);
    assert.equal(bad.stdout, "");
  });

  it("verifies a whole quote's TCP checksum (conntrack's NAT-back adjusted it); a cut quote's it cannot", () => {
    const numbers = (filter: string) =>
      run(["-Y", filter, "-T", "fields", "-e", "frame.number"], ["tcp"]).stdout.trim().split("\n");
    const quotesTcp = (f: (typeof errors)[number]) =>
      f.packet.icmpType === 3 && parseQuote(f.payload)?.packet.proto === 6;
    const frameNumbers = (keep: (f: (typeof errors)[number]) => boolean) =>
      errors.flatMap((f, i) => (keep(f) ? [String(i + 1)] : []));
    // Linux quotes 548 bytes at most; Wireshark, asked to check TCP checksums, sums what is there.
    const cut = (f: (typeof errors)[number]) => f.payload.length === ICMP_QUOTE_MAX;
    assert.deepEqual(
      numbers("icmp && tcp.checksum.status == 1"),
      frameNumbers((f) => quotesTcp(f) && !cut(f)),
    );
    assert.deepEqual(
      numbers("icmp && tcp.checksum.status == 0"),
      frameNumbers((f) => quotesTcp(f) && cut(f)),
    );
  });
});
if (!tshark)
  it("tshark cross-check skipped: tshark not installed (scripts/setup.sh installs it)", {
    skip: true,
  }, () => {});
