import assert from "node:assert/strict";
import { test } from "node:test";
import type { CtDir, TcpState } from "../../../model/conntrack.ts";
import { TCP } from "../../../model/packet.ts";
import {
  newTcpTrack,
  type TcpTrack,
  tcpFlagsValid,
  tcpIndex,
  tcpNewState,
  tcpStep,
  tcpTransition,
} from "./tcp-state.ts";

const { SYN, ACK, FIN, RST, PSH, URG, ECE, CWR } = TCP;

/** Feeds segments through tcpStep, failing on anything but ACCEPT/IGNORE. */
function walk(segments: readonly (readonly [CtDir, number])[], from: TcpTrack = newTcpTrack()): TcpTrack {
  let track = from;
  for (const [dir, flags] of segments) {
    const step = tcpStep(track, dir, flags);
    assert.ok(
      step.kind === "ACCEPT" || step.kind === "IGNORE",
      `${dir} ${flags} in ${track.state}: ${step.kind}`,
    );
    track = step.track;
  }
  return track;
}

test("the handshake and an orderly close walk the kernel's states", () => {
  const steps: [CtDir, number, TcpState][] = [
    ["ORIGINAL", SYN, "SYN_SENT"],
    ["REPLY", SYN | ACK, "SYN_RECV"],
    ["ORIGINAL", ACK, "ESTABLISHED"],
    ["ORIGINAL", FIN | ACK, "FIN_WAIT"],
    ["REPLY", ACK, "CLOSE_WAIT"],
    ["REPLY", FIN | ACK, "LAST_ACK"],
    ["ORIGINAL", ACK, "TIME_WAIT"],
  ];
  let state: TcpState = "NONE";
  for (const [dir, flags, expected] of steps) {
    const next = tcpTransition(state, dir, flags);
    assert.equal(next, expected, `${dir} flags ${flags} from ${state}`);
    state = expected;
  }
});

test("get_conntrack_index: RST wins, then SYN, then FIN, then ACK", () => {
  assert.equal(tcpIndex(RST | SYN | ACK), "RST");
  assert.equal(tcpIndex(SYN), "SYN");
  assert.equal(tcpIndex(SYN | ACK), "SYNACK");
  assert.equal(tcpIndex(FIN | ACK), "FIN");
  assert.equal(tcpIndex(ACK | PSH), "ACK");
  assert.equal(tcpIndex(PSH), "NONE");
});

test("tcp_error rejects flag combinations before the table is consulted", () => {
  for (const ok of [SYN, SYN | URG, SYN | ACK, RST, RST | ACK, FIN | ACK, FIN | ACK | URG, ACK, ACK | URG]) {
    assert.ok(tcpFlagsValid(ok), `flags ${ok}`);
    assert.ok(tcpFlagsValid(ok | PSH | ECE | CWR), `flags ${ok} with PSH/ECE/CWR`);
  }
  for (const bad of [0, FIN, SYN | FIN, SYN | RST, FIN | RST | ACK, PSH, URG, SYN | ACK | URG]) {
    assert.ok(!tcpFlagsValid(bad), `flags ${bad}`);
  }
  // A bare FIN would be FIN_WAIT by the table, but tcp_error has already said INVALID.
  assert.equal(tcpTransition("ESTABLISHED", "ORIGINAL", FIN), "INVALID");
});

test("tcp_new: SYN opens, an ACK is picked up only when loose, the rest is invalid", () => {
  assert.equal(tcpNewState(SYN), "SYN_SENT");
  assert.equal(tcpNewState(ACK), "ESTABLISHED");
  assert.equal(tcpNewState(ACK | PSH), "ESTABLISHED");
  assert.equal(tcpNewState(ACK, false), "INVALID");
  assert.equal(tcpNewState(SYN, false), "SYN_SENT");
  for (const flags of [SYN | ACK, FIN | ACK, RST, RST | ACK, FIN, 0])
    assert.equal(tcpNewState(flags), "INVALID");
});

test("sIV and sIG cells are reported as such", () => {
  // SYN in ESTABLISHED from the client: ignored (we may be out of sync); from the server: invalid.
  assert.equal(tcpTransition("ESTABLISHED", "ORIGINAL", SYN), "IGNORE");
  assert.equal(tcpTransition("ESTABLISHED", "REPLY", SYN), "INVALID");
  // An ACK from the client before any SYN/ACK is invalid; from the server it might be half-open.
  assert.equal(tcpTransition("SYN_SENT", "ORIGINAL", ACK), "INVALID");
  assert.equal(tcpTransition("SYN_SENT", "REPLY", ACK), "IGNORE");
  // A retransmitted SYN/ACK is ignored; the client cannot send one after its SYN.
  assert.equal(tcpTransition("SYN_RECV", "REPLY", SYN | ACK), "IGNORE");
  assert.equal(tcpTransition("SYN_SENT", "ORIGINAL", SYN | ACK), "INVALID");
  // RST closes from any state but NONE.
  assert.equal(tcpTransition("NONE", "ORIGINAL", RST), "INVALID");
  assert.equal(tcpTransition("SYN_SENT", "REPLY", RST | ACK), "CLOSE");
});

test("the table never leads back to NONE and only names real states", () => {
  const states: TcpState[] = [
    "NONE",
    "SYN_SENT",
    "SYN_RECV",
    "ESTABLISHED",
    "FIN_WAIT",
    "CLOSE_WAIT",
    "LAST_ACK",
    "TIME_WAIT",
    "CLOSE",
    "SYN_SENT2",
  ];
  const allowed = new Set<string>([...states.filter((s) => s !== "NONE"), "INVALID", "IGNORE"]);
  for (const state of states) {
    for (const dir of ["ORIGINAL", "REPLY"] as const) {
      for (let flags = 0; flags < 256; flags++) assert.ok(allowed.has(tcpTransition(state, dir, flags)));
    }
  }
});

test("tcpStep marks the close initiator and remembers the last segment", () => {
  const track = walk([
    ["ORIGINAL", SYN],
    ["REPLY", SYN | ACK],
    ["ORIGINAL", ACK],
    ["REPLY", FIN | ACK],
  ]);
  assert.equal(track.state, "FIN_WAIT");
  assert.equal(track.closeInit, true);
  assert.equal(track.lastIndex, "FIN");
  assert.equal(track.lastDir, "REPLY");
});

test("a SYN after an orderly close reopens; after a foreign RST it is only ignored", () => {
  const timeWait = walk([
    ["ORIGINAL", SYN],
    ["REPLY", SYN | ACK],
    ["ORIGINAL", ACK],
    ["ORIGINAL", FIN | ACK],
    ["REPLY", FIN | ACK],
    ["ORIGINAL", ACK],
  ]);
  assert.equal(timeWait.state, "TIME_WAIT");
  assert.deepEqual(tcpStep(timeWait, "ORIGINAL", SYN), { kind: "REOPEN" });
  // The server may reopen from TIME_WAIT too (REPLY syn sTW -> sSS).
  assert.deepEqual(tcpStep(timeWait, "REPLY", SYN), { kind: "REOPEN" });

  // The server reset the connection: CLOSE without a FIN, last RST from the other side.
  const reset = walk([
    ["ORIGINAL", SYN],
    ["REPLY", SYN | ACK],
    ["ORIGINAL", ACK],
    ["REPLY", RST],
  ]);
  assert.equal(reset.state, "CLOSE");
  const step = tcpStep(reset, "ORIGINAL", SYN);
  assert.equal(step.kind, "IGNORE");
  // The client aborting itself and reconnecting does reopen.
  const aborted = walk([
    ["ORIGINAL", SYN],
    ["REPLY", SYN | ACK],
    ["ORIGINAL", ACK],
    ["ORIGINAL", RST],
  ]);
  assert.deepEqual(tcpStep(aborted, "ORIGINAL", SYN), { kind: "REOPEN" });
});

test("simultaneous open reaches ESTABLISHED through SYN_SENT2", () => {
  const s2 = walk([
    ["ORIGINAL", SYN],
    ["REPLY", SYN],
  ]);
  assert.equal(s2.state, "SYN_SENT2");
  assert.equal(s2.simultaneousOpen, true);
  const recv = walk([["ORIGINAL", SYN | ACK]], s2);
  assert.equal(recv.state, "SYN_RECV");
  assert.equal(walk([["REPLY", ACK]], recv).state, "ESTABLISHED");
  // Without simultaneous open, a reply ACK in SYN_RECV leaves the state alone.
  const normal = walk([
    ["ORIGINAL", SYN],
    ["REPLY", SYN | ACK],
  ]);
  assert.equal(walk([["REPLY", ACK]], normal).state, "SYN_RECV");
});

test("a SYN/ACK answering an ignored SYN resyncs to SYN_RECV", () => {
  const established = walk([
    ["ORIGINAL", SYN],
    ["REPLY", SYN | ACK],
    ["ORIGINAL", ACK],
  ]);
  const ignored = tcpStep(established, "ORIGINAL", SYN);
  assert.equal(ignored.kind, "IGNORE");
  assert.ok(ignored.kind === "IGNORE");
  assert.equal(ignored.track.state, "ESTABLISHED");
  const resync = tcpStep(ignored.track, "REPLY", SYN | ACK);
  assert.ok(resync.kind === "ACCEPT");
  assert.equal(resync.oldState, "SYN_SENT");
  assert.equal(resync.track.state, "SYN_RECV");
});

test("an RFC 5961 challenge ACK in LAST_ACK does not move to TIME_WAIT", () => {
  const lastAck = walk([
    ["ORIGINAL", SYN],
    ["REPLY", SYN | ACK],
    ["ORIGINAL", ACK],
    ["ORIGINAL", FIN | ACK],
    ["REPLY", FIN | ACK],
  ]);
  assert.equal(lastAck.state, "LAST_ACK");
  const syn = tcpStep(lastAck, "ORIGINAL", SYN);
  assert.ok(syn.kind === "IGNORE");
  assert.equal(syn.track.challengeAck, true);
  const challenge = tcpStep(syn.track, "REPLY", ACK);
  assert.ok(challenge.kind === "IGNORE");
  assert.equal(challenge.track.state, "LAST_ACK");
  assert.equal(challenge.track.challengeAck, false);
  // The genuine last ACK then closes as usual.
  assert.equal(walk([["ORIGINAL", ACK]], challenge.track).state, "TIME_WAIT");
});
