import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { seededRng } from "../../../core/rng.ts";
import type { Frame } from "../../../model/frame.ts";
import { PROTO } from "../../../model/packet.ts";
import { internetChecksum } from "../../../outputs/pcap/checksum.ts";
import { encodeFrame } from "../../../outputs/pcap/encode.ts";
import { destUnreachable, echoRequest, UNREACH } from "./icmp.ts";
import { LINUX_CURRENT } from "./os-profile.ts";
import { datagramBytes, ICMP_QUOTE_MAX, isIcmpError, parseQuote, quoteOf, rewriteQuote } from "./quote.ts";
import { udpFrame, utf8 } from "./segment.ts";
import { TcpConnection } from "./tcp-connection.ts";

/** The datagram an ICMP error quotes, checked against the pcap writer's bytes and read back. */

const L2 = {
  srcMac: "00:11:22:33:44:55",
  dstMac: "66:77:88:99:aa:bb",
  ipId: 4242,
  ttl: 64,
  dontFragment: true,
};

function linuxSyn(): Frame {
  const c = new TcpConnection({
    profile: LINUX_CURRENT,
    local: { ip: 0x0ae00005, port: 41000 },
    remote: { ip: 0x0a00452d, port: 80 },
    mac: L2.srcMac,
    nextHopMac: L2.dstMac,
    rng: seededRng(9),
  });
  return c.connect(1_000_000);
}

function bigTcp(): Frame {
  const c = new TcpConnection({
    profile: LINUX_CURRENT,
    local: { ip: 0x0ae00005, port: 41000 },
    remote: { ip: 0x0a00452d, port: 80 },
    mac: L2.srcMac,
    nextHopMac: L2.dstMac,
    rng: seededRng(9),
  });
  c.state = "ESTABLISHED";
  return c.send(new Uint8Array(1200).fill(0x61), 2_000_000)[0]!;
}

const udp = (): Frame =>
  udpFrame({ ...L2, time: 5 }, { ip: 0x0ae00005, port: 5353 }, { ip: 0x0ae00013, port: 53 }, utf8("query"));

describe("the quoted datagram", () => {
  it("is the frame's IPv4 datagram as the pcap writer puts it on the wire (TCP with options, UDP, ICMP echo)", () => {
    const echo = echoRequest(
      { mac: L2.srcMac, nextHopMac: L2.dstMac, ttl: 64 },
      0x0ae00005,
      0x0ae00013,
      7,
      1,
      9,
      3,
    );
    for (const f of [linuxSyn(), udp(), echo])
      assert.deepEqual(datagramBytes(f), encodeFrame(f).subarray(14));
  });

  it("takes the TTL the packet had where it was refused, with the header checksum to match", () => {
    const f = linuxSyn();
    const q = datagramBytes(f, 63);
    assert.equal(q[8], 63);
    assert.equal(internetChecksum(q, 0, 20), 0);
  });

  it("is cut at 548 bytes, so the error fits in 576 (__icmp_send)", () => {
    assert.equal(ICMP_QUOTE_MAX, 548);
    const big = bigTcp();
    assert.equal(quoteOf(big).length, 548);
    assert.deepEqual(quoteOf(big), datagramBytes(big).subarray(0, 548));
    assert.equal(quoteOf(linuxSyn()).length, linuxSyn().packet.length);
  });

  it("reads back: addresses, ports, sequence, flags", () => {
    const f = linuxSyn();
    const q = parseQuote(quoteOf(f))!;
    assert.deepEqual(
      [q.packet.proto, q.packet.src, q.packet.dst, q.packet.sport, q.packet.dport, q.packet.tcpFlags],
      [PROTO.tcp, f.packet.src, f.packet.dst, f.packet.sport, f.packet.dport, f.packet.tcpFlags],
    );
    assert.equal(q.tcpSeq, f.tcp!.seq);
    assert.equal(parseQuote(new Uint8Array(24)), null);
  });

  it("NAT's rewrite keeps both checksums right: the same bytes as the rewritten packet's own, even cut short", () => {
    for (const f of [linuxSyn(), udp(), bigTcp()]) {
      const to = { ...f.packet, src: 0x0a000a0a, sport: 30123, dst: 0xc0a80101, dport: 8080 };
      const rewritten = rewriteQuote(quoteOf(f), to);
      assert.deepEqual(rewritten, quoteOf({ ...f, packet: to }));
    }
  });
});

describe("destination unreachable", () => {
  it("quotes the packet after an 8-byte header, without DF, and encodes with valid checksums", () => {
    const syn = linuxSyn();
    const e = destUnreachable(syn, UNREACH.PORT, { src: 0x0ae00004, ttl: 64, ipId: 99, time: 7 }, 63);
    assert.ok(isIcmpError(e.packet));
    assert.deepEqual([e.packet.icmpType, e.packet.icmpCode], [3, 3]);
    assert.equal(e.packet.dst, syn.packet.src);
    assert.equal(e.packet.length, 20 + 8 + syn.packet.length);
    assert.equal(e.dontFragment, false);
    const wire = encodeFrame(e);
    assert.equal(internetChecksum(wire, 14, 34), 0);
    assert.equal(internetChecksum(wire, 34, wire.length), 0);
    // Bytes 4-7 of the ICMP header are unused for these codes; the quote follows.
    assert.deepEqual([...wire.subarray(38, 42)], [0, 0, 0, 0]);
    assert.deepEqual(wire.subarray(42), datagramBytes(syn, 63));
  });

  it("goes out with TOS 0xc0 plus the offending packet's TOS bits, and quotes that packet's TOS", () => {
    const plain = destUnreachable(linuxSyn(), UNREACH.PORT, { src: 1, ttl: 64, ipId: 1, time: 0 });
    assert.equal(plain.tos, 0xc0);
    // IPTOS_LOWDELAY (0x10) is kept, the ECN bits (0x03) and precedence (0xe0) are not.
    const marked = { ...linuxSyn(), tos: 0xb3 };
    const e = destUnreachable(marked, UNREACH.PORT, { src: 1, ttl: 64, ipId: 1, time: 0 });
    assert.equal(e.tos, 0xc0 | (0xb3 & 0x1e));
    const wire = encodeFrame(e);
    assert.equal(wire[15], e.tos, "the error's own TOS byte");
    assert.equal(wire[42 + 1], 0xb3, "the quoted header keeps the offending TOS");
    assert.equal(internetChecksum(wire, 42, 62), 0, "the quoted header's checksum covers its TOS");
  });
});
