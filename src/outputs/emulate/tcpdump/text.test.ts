import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { datagramBytes } from "../../../dataplane/sim/endpoints/quote.ts";
import type { Frame } from "../../../model/frame.ts";
import {
  icmpErrorCapture,
  laptopHandshake,
  mixedCapture,
  probeExchange,
} from "../../pcap/testdata/sample-frames.ts";
import { writePcap } from "../../pcap/write-pcap.ts";
import { formatTime, tcpdumpHeader, tcpdumpLine, tcpdumpSummary, tcpdumpText } from "./text.ts";

describe("tcpdumpText", () => {
  it("prints the seed's probe capture (seed lines 281-289, without -n)", () => {
    assert.deepEqual(
      [...tcpdumpHeader("eth0"), ...tcpdumpText(probeExchange(), { numeric: false })],
      [
        "tcpdump: verbose output suppressed, use -v or -vv for full protocol decode",
        "listening on eth0, link-type EN10MB (Ethernet), capture size 262144 bytes",
        "23:38:56.006768 IP 10.13.76.4.50358 > 168.63.129.16.http: Flags [S], seq 2243581835, win 29200, options [mss 1460,sackOK,TS val 1927742031 ecr 0,nop,wscale 7], length 0",
        "23:38:56.007231 IP 168.63.129.16.http > 10.13.76.4.50358: Flags [S.], seq 3358221709, ack 2243581836, win 8192, options [mss 1460,nop,wscale 8,sackOK,TS val 560363995 ecr 1927742031], length 0",
        "23:38:56.007265 IP 10.13.76.4.50358 > 168.63.129.16.http: Flags [.], ack 1, win 229, options [nop,nop,TS val 1927742031 ecr 560363995], length 0",
        "23:38:56.007307 IP 10.13.76.4.50358 > 168.63.129.16.http: Flags [P.], seq 1:199, ack 1, win 229, options [nop,nop,TS val 1927742031 ecr 560363995], length 198: HTTP: GET /machine/?comp=goalstate HTTP/1.1",
        "23:38:56.008010 IP 168.63.129.16.http > 10.13.76.4.50358: Flags [FP.], seq 1:2392, ack 199, win 1026, options [nop,nop,TS val 560363996 ecr 1927742031], length 2391: HTTP: HTTP/1.1 200 OK",
        "23:38:56.008102 IP 10.13.76.4.50358 > 168.63.129.16.http: Flags [.], ack 2393, win 266, options [nop,nop,TS val 1927742032 ecr 560363996], length 0",
        "23:38:56.008521 IP 10.13.76.4.50358 > 168.63.129.16.http: Flags [F.], seq 199, ack 2393, win 266, options [nop,nop,TS val 1927742032 ecr 560363996], length 0",
      ],
    );
  });

  it("prints the seed's laptop handshake with -n (seed lines 296-298)", () => {
    assert.deepEqual(tcpdumpText(laptopHandshake(), { numeric: true }), [
      "23:40:31.788475 IP 109.125.120.58.62538 > 51.144.176.251.80: Flags [S], seq 1755954558, win 64240, options [mss 1420,nop,wscale 8,nop,nop,sackOK], length 0",
      "23:40:31.788549 IP 51.144.176.251.80 > 109.125.120.58.62538: Flags [S.], seq 1844749018, ack 1755954559, win 29200, options [mss 1460,nop,nop,sackOK,nop,wscale 7], length 0",
      "23:40:31.820718 IP 109.125.120.58.62538 > 51.144.176.251.80: Flags [.], ack 1, win 515, length 0",
    ]);
  });

  it("starts relative numbers at the first ACK it sees, as print-tcp.c does for a capture begun mid-flow", () => {
    const [, , third, fourth, fifth] = probeExchange();
    assert.match(tcpdumpLine(fourth!, { numeric: true }), /seq 2243581836:2243582034, ack 3358221710,/);
    const lines = tcpdumpText([third!, fourth!, fifth!], { numeric: true });
    assert.match(lines[0]!, /Flags \[\.\], ack 3358221710,/);
    assert.match(lines[1]!, /Flags \[P\.\], seq 0:198, ack 1,/);
    assert.match(lines[2]!, /Flags \[FP\.\], seq 1:2392, ack 198,/);
  });

  it("formats times of day in UTC with microseconds, and the 4.99 header and the exit summary", () => {
    assert.equal(formatTime(Date.UTC(2019, 0, 21, 8, 31, 20) * 1000 + 206214), "08:31:20.206214");
    assert.equal(
      tcpdumpHeader("azv47c3ee9d512", "4.99", true)[0],
      "listening on azv47c3ee9d512, link-type EN10MB (Ethernet), snapshot length 262144 bytes",
    );
    assert.deepEqual(tcpdumpSummary(1, 1), [
      "1 packet captured",
      "1 packet received by filter",
      "0 packets dropped by kernel",
    ]);
  });
});

describe("tcpdumpText: ICMP errors (print-icmp.c)", () => {
  const frames = icmpErrorCapture();
  const text = (numeric: boolean, verbose = false) =>
    tcpdumpText(frames, { numeric, verbose }).map((l) => l.slice(16));
  const errors = (numeric: boolean) =>
    text(numeric).filter((l) => l.includes(": ICMP ") && !l.includes("echo"));

  it("names what the error quotes: its destination, and for port unreachable the protocol and port", () => {
    // The quote was NATed back by conntrack: the client sees the VIP it connected to, not the pod.
    assert.deepEqual(errors(true).slice(0, 3), [
      "IP 10.13.76.4 > 109.125.120.58: ICMP 51.144.176.251 tcp port 80 unreachable, length 68",
      "IP 10.13.76.4 > 10.13.76.26: ICMP 10.0.0.10 udp port 53 unreachable, length 88",
      "IP 10.13.76.26 > 10.13.76.4: ICMP 10.13.76.26 udp port 9999 unreachable, length 556",
    ]);
    // Without -n the port is named from /etc/services, TCP and UDP apart.
    assert.deepEqual(
      errors(false)
        .slice(0, 2)
        .map((l) => l.replace(/.*: ICMP /, "")),
      [
        "51.144.176.251 tcp port http unreachable, length 68",
        "10.0.0.10 udp port domain unreachable, length 88",
      ],
    );
  });

  it("prints every code REJECT sends in the words of unreach2str", () => {
    const byCode = errors(true).filter((l) => l.includes("10.0.0.10") && !l.includes("udp port"));
    assert.deepEqual(
      byCode.map((l) => l.replace(/.*: ICMP /, "")),
      [
        "net 10.0.0.10 unreachable, length 88",
        "host 10.0.0.10 unreachable, length 88",
        "10.0.0.10 protocol 17 unreachable, length 88",
        "net 10.0.0.10 unreachable - admin prohibited, length 88",
        "host 10.0.0.10 unreachable - admin prohibited, length 88",
        "host 10.0.0.10 unreachable - admin prohibited filter, length 88",
        "10.0.0.10 unreachable - need to frag, length 88",
      ],
    );
  });

  it("reads a quoted ICMP datagram's 'port' where UDP keeps it: bytes 2-3, the echo's checksum", () => {
    const ping = frames.find((f) => f.packet.icmpType === 8)!;
    const quoted = datagramBytes(ping);
    const checksum = (quoted[22]! << 8) | quoted[23]!;
    assert.ok(
      text(true).includes(
        `IP 10.13.76.4 > 10.13.76.26: ICMP 10.0.0.1 protocol 1 port ${checksum} unreachable, length 92`,
      ),
    );
  });

  it("-v shows the error's TOS 0xc0 and the quoted datagram, printed as a packet of its own", () => {
    const [, error] = text(true, true);
    assert.equal(
      error,
      [
        "IP (tos 0xc0, ttl 64, id 4060, offset 0, flags [none], proto ICMP (1), length 88)",
        "    10.13.76.4 > 109.125.120.58: ICMP 51.144.176.251 tcp port 80 unreachable, length 68",
        // The quote as FORWARD saw it: TTL decremented, addresses NATed back, checksum adjusted.
        "\tIP (tos 0x0, ttl 51, id 321, offset 0, flags [DF], proto TCP (6), length 60)",
        "    109.125.120.58.51535 > 51.144.176.251.80: Flags [S], cksum 0xc07e (correct), seq 4000000000, win 64240, options [mss 1460,sackOK,TS val 123456 ecr 0,nop,wscale 7], length 0",
      ].join("\n"),
    );
    // The SYN itself, before the error, carries the same checksum: the NAT's adjustment undid the DNAT.
    assert.match(text(true, true)[0]!, /Flags \[S\], cksum 0xc07e \(correct\)/);
    assert.match(text(true, true).at(-1)!, /^IP \(tos 0x2,ECT\(0\), ttl 64,/);
  });

  it("-v stops a quote cut short where the capture ends, as tcpdump's bounds checks do", () => {
    const cut = text(true, true).find((l) => l.includes("tcp port 8080 unreachable"))!;
    assert.match(cut, /length 643: HTTP, length: 643 \[\|http\]$/);
  });
});

const tcpdump = spawnSync("tcpdump", ["--version"]).status === 0;
describe("tcpdumpText against the real tcpdump -r", {
  skip: tcpdump ? false : "tcpdump not installed",
}, () => {
  const dir = mkdtempSync(join(tmpdir(), "packetwalk-tcpdump-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const captures: [string, Frame[]][] = [
    ["TCP, HTTP, DNS, ICMP and UDP", mixedCapture()],
    ["a capture begun mid-flow", probeExchange().slice(2)],
    ["ICMP errors, resets and TOS bits", icmpErrorCapture()],
  ];
  const flags = [[], ["-n"], ["-v"], ["-n", "-v"]];
  for (const [[what, frames], args] of captures.flatMap((c) => flags.map((f) => [c, f] as const))) {
    const file = join(dir, `${what.length}-${args.join("")}.pcap`);
    writeFileSync(file, writePcap(frames));
    it(`prints what tcpdump ${args.join(" ")} prints for ${what}`, () => {
      const r = spawnSync("tcpdump", ["-r", file, ...args], {
        encoding: "utf8",
        env: { ...process.env, TZ: "UTC" },
      });
      assert.equal(r.status, 0, r.stderr);
      const ours = tcpdumpText(frames, { numeric: args.includes("-n"), verbose: args.includes("-v") });
      assert.deepEqual(ours.join("\n").split("\n"), r.stdout.trimEnd().split("\n"));
    });
  }
});
if (!tcpdump) it("tcpdump cross-check skipped: tcpdump not installed", { skip: true }, () => {});
