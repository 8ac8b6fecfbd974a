import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { TcpOption } from "../../../model/frame.ts";
import { TCP } from "../../../model/packet.ts";
import { groCoalesce } from "./gro.ts";
import { tcpFrame, utf8 } from "./segment.ts";

const l2 = { time: 1, srcMac: "a", dstMac: "b", ipId: 7, ttl: 128, dontFragment: true };
const ts = (value: number): TcpOption[] => [
  { kind: "nop" },
  { kind: "nop" },
  { kind: "timestamp", value, echo: 9 },
];

/** A segment from 168.63.129.16:80 to 10.13.76.4:50358 carrying `len` bytes at `seq`. */
function seg(seq: number, len: number, flags: number = TCP.ACK, options: TcpOption[] = ts(5)) {
  return tcpFrame(l2, {
    src: { ip: 0xa83f8110, port: 80 },
    dst: { ip: 0x0a0d4c04, port: 50358 },
    flags,
    seq,
    ack: 199,
    window: 1026,
    options,
    payload: utf8("x".repeat(len)),
  });
}

describe("GRO: what a Linux NIC hands its stack from one burst", () => {
  it("the wire server's answer: 1448 bytes then 943 with FIN and PSH become one [FP.] of 2391", () => {
    const out = groCoalesce([seg(1000, 1448), seg(2448, 943, TCP.ACK | TCP.PSH | TCP.FIN)]);
    assert.equal(out.length, 1);
    const [m] = out;
    assert.equal(m!.payload.length, 2391);
    assert.equal(m!.packet.tcpFlags, TCP.ACK | TCP.PSH | TCP.FIN);
    assert.equal(m!.tcp!.seq, 1000);
    // The IP length grows by the data merged in; the header (and its options) is the first one's.
    assert.equal(m!.packet.length, 20 + 32 + 2391);
    assert.equal(m!.ipId, 7);
  });

  it("a segment with PSH flushes: the next one starts a new merge", () => {
    const out = groCoalesce([seg(0, 1448, TCP.ACK | TCP.PSH), seg(1448, 100)]);
    assert.deepEqual(
      out.map((f) => f.payload.length),
      [1448, 100],
    );
  });

  it("a segment shorter than the first ends the merge after it", () => {
    const out = groCoalesce([seg(0, 1448), seg(1448, 500), seg(1948, 1448)]);
    assert.deepEqual(
      out.map((f) => f.payload.length),
      [1948, 1448],
    );
  });

  it("different timestamps, a gap in sequence or a pure ACK are not merged", () => {
    assert.equal(groCoalesce([seg(0, 1448), seg(1448, 1448, TCP.ACK, ts(6))]).length, 2);
    assert.equal(groCoalesce([seg(0, 1448), seg(2000, 1448)]).length, 2);
    assert.equal(groCoalesce([seg(0, 1448), seg(1448, 0)]).length, 2);
    assert.equal(groCoalesce([seg(0, 0), seg(0, 0)]).length, 2);
  });
});
