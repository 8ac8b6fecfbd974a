import assert from "node:assert/strict";
import { test } from "node:test";
import { parseIpv4, parseIpv6 } from "../../../core/ip.ts";
import type { ConntrackEntry, CtState, CtTuple, TcpState } from "../../../model/conntrack.ts";
import { makePacket, type Packet, PROTO, TCP } from "../../../model/packet.ts";
import { ConntrackTable, invert, tupleKey, tupleOf } from "./table.ts";
import { KUBE_PROXY_TIMEOUTS } from "./timeouts.ts";

const { SYN, ACK, FIN, RST, PSH } = TCP;
const CLIENT = parseIpv4("10.0.0.1")!;
const SERVER = parseIpv4("10.0.0.2")!;
const BACKEND = parseIpv4("10.244.1.5")!;

function clock(start = 1_000_000) {
  let t = start;
  return {
    now: () => t,
    advance: (ms: number) => {
      t += ms;
    },
  };
}

function tcp(src: number, dst: number, sport: number, dport: number, tcpFlags: number): Packet {
  return makePacket({ family: 4, proto: PROTO.tcp, src, dst, sport, dport, tcpFlags });
}
function udp(src: number, dst: number, sport: number, dport: number): Packet {
  return makePacket({ family: 4, proto: PROTO.udp, src, dst, sport, dport });
}
function icmp(src: number, dst: number, icmpType: number, icmpId = 7): Packet {
  return makePacket({ family: 4, proto: PROTO.icmp, src, dst, icmpType, icmpCode: 0, icmpId });
}

/** Whole seconds until the entry expires. */
function left(e: ConntrackEntry, now: number): number {
  return (e.expiresAt - now) / 1000;
}

test("a TCP connection's life: states, timeouts, SEEN_REPLY and ASSURED", () => {
  const c = clock();
  const ct = new ConntrackTable({ now: c.now });
  const out = (flags: number) => tcp(CLIENT, SERVER, 40000, 80, flags);
  const back = (flags: number) => tcp(SERVER, CLIENT, 80, 40000, flags);

  const first = ct.classify(out(SYN));
  assert.equal(first.ctstate, "NEW");
  const entry = first.entry!;
  assert.equal(entry.status.confirmed, false);
  assert.equal(ct.lookup(out(SYN)), null, "not indexed before confirmation");
  assert.ok(ct.confirm(entry));
  assert.equal(entry.tcpState, "SYN_SENT");
  assert.equal(left(entry, c.now()), 120);

  const steps: [Packet, CtState, TcpState, number, boolean][] = [
    [back(SYN | ACK), "ESTABLISHED", "SYN_RECV", 60, false],
    [out(ACK), "ESTABLISHED", "ESTABLISHED", 432000, true],
    [out(ACK | PSH), "ESTABLISHED", "ESTABLISHED", 432000, true],
    [out(FIN | ACK), "ESTABLISHED", "FIN_WAIT", 120, true],
    [back(ACK), "ESTABLISHED", "CLOSE_WAIT", 60, true],
    [back(FIN | ACK), "ESTABLISHED", "LAST_ACK", 30, true],
    [out(ACK), "ESTABLISHED", "TIME_WAIT", 120, true],
  ];
  for (const [p, ctstate, state, timeout, assured] of steps) {
    c.advance(1000);
    const r = ct.classify(p);
    assert.equal(r.entry, entry);
    assert.equal(r.ctstate, ctstate);
    assert.equal(entry.tcpState, state);
    assert.equal(left(entry, c.now()), timeout, `timeout in ${state}`);
    assert.equal(entry.status.assured, assured, `assured in ${state}`);
    assert.equal(entry.status.seenReply, true);
  }
  assert.equal(ct.size, 1);
});

test("the first packets before a reply are NEW, and a retransmitted SYN does not refresh", () => {
  const c = clock();
  const ct = new ConntrackTable({ now: c.now });
  const syn = tcp(CLIENT, SERVER, 40001, 80, SYN);
  const entry = ct.classify(syn).entry!;
  ct.confirm(entry);
  const expires = entry.expiresAt;
  c.advance(3000);
  const again = ct.classify(syn);
  assert.equal(again.ctstate, "NEW");
  assert.equal(again.dir, "ORIGINAL");
  assert.equal(entry.expiresAt, expires, "SYN retransmit keeps the old timeout");
});

test("kube-proxy's timeouts apply to ESTABLISHED and CLOSE_WAIT", () => {
  const c = clock();
  const ct = new ConntrackTable({ now: c.now, timeouts: KUBE_PROXY_TIMEOUTS });
  const entry = ct.classify(tcp(CLIENT, SERVER, 40002, 80, SYN)).entry!;
  ct.confirm(entry);
  ct.classify(tcp(SERVER, CLIENT, 80, 40002, SYN | ACK));
  ct.classify(tcp(CLIENT, SERVER, 40002, 80, ACK));
  assert.equal(left(entry, c.now()), 86400);
  ct.classify(tcp(CLIENT, SERVER, 40002, 80, FIN | ACK));
  ct.classify(tcp(SERVER, CLIENT, 80, 40002, ACK));
  assert.equal(entry.tcpState, "CLOSE_WAIT");
  assert.equal(left(entry, c.now()), 3600);
});

test("SYN/ACK, RST and FIN/ACK without an entry are INVALID and create nothing", () => {
  const ct = new ConntrackTable({ now: () => 0 });
  for (const flags of [SYN | ACK, RST, RST | ACK, FIN | ACK, FIN]) {
    const r = ct.classify(tcp(CLIENT, SERVER, 40003, 80, flags));
    assert.deepEqual(r, { entry: null, dir: null, ctstate: "INVALID" }, `flags ${flags}`);
  }
  assert.equal(ct.size, 0);
  assert.throws(() => ct.create(tcp(CLIENT, SERVER, 40003, 80, SYN | ACK)), RangeError);
});

test("a mid-stream ACK is picked up when loose, with the short timeout until a reply", () => {
  const c = clock();
  const ct = new ConntrackTable({ now: c.now });
  const r = ct.classify(tcp(CLIENT, SERVER, 40004, 80, ACK));
  assert.equal(r.ctstate, "NEW");
  const entry = r.entry!;
  ct.confirm(entry);
  assert.equal(entry.tcpState, "ESTABLISHED");
  assert.equal(left(entry, c.now()), 300);
  ct.classify(tcp(SERVER, CLIENT, 80, 40004, ACK));
  assert.equal(entry.status.assured, false, "the answer itself runs before SEEN_REPLY is set");
  ct.classify(tcp(CLIENT, SERVER, 40004, 80, ACK));
  assert.equal(entry.status.assured, true);
  assert.equal(left(entry, c.now()), 432000);

  const strict = new ConntrackTable({ now: c.now, tcpLoose: false });
  assert.equal(strict.classify(tcp(CLIENT, SERVER, 40004, 80, ACK)).ctstate, "INVALID");
});

test("a RST before any reply kills the entry (connection refused)", () => {
  const ct = new ConntrackTable({ now: () => 0 });
  const entry = ct.classify(tcp(CLIENT, SERVER, 40005, 81, SYN)).entry!;
  ct.confirm(entry);
  const r = ct.classify(tcp(SERVER, CLIENT, 81, 40005, RST | ACK));
  assert.equal(r.ctstate, "ESTABLISHED", "the RST itself still belongs to the connection");
  assert.equal(ct.lookup(tcp(CLIENT, SERVER, 40005, 81, SYN)), null);
  assert.equal(ct.size, 0);
});

test("a RST on an established connection moves to CLOSE for 10 seconds", () => {
  const c = clock();
  const ct = new ConntrackTable({ now: c.now });
  const entry = ct.classify(tcp(CLIENT, SERVER, 40006, 80, SYN)).entry!;
  ct.confirm(entry);
  ct.classify(tcp(SERVER, CLIENT, 80, 40006, SYN | ACK));
  ct.classify(tcp(CLIENT, SERVER, 40006, 80, ACK));
  ct.classify(tcp(SERVER, CLIENT, 80, 40006, RST));
  assert.equal(entry.tcpState, "CLOSE");
  assert.equal(left(entry, c.now()), 10);
});

test("an invalid segment of a known connection leaves the entry alone", () => {
  const c = clock();
  const ct = new ConntrackTable({ now: c.now });
  const entry = ct.classify(tcp(CLIENT, SERVER, 40007, 80, SYN)).entry!;
  ct.confirm(entry);
  const before = { state: entry.tcpState, expiresAt: entry.expiresAt };
  c.advance(5000);
  const r = ct.classify(tcp(CLIENT, SERVER, 40007, 80, ACK)); // ACK before any SYN/ACK: sIV
  assert.deepEqual(r, { entry: null, dir: null, ctstate: "INVALID" });
  assert.deepEqual({ state: entry.tcpState, expiresAt: entry.expiresAt }, before);
  assert.deepEqual(ct.update(entry, "ORIGINAL", tcp(CLIENT, SERVER, 40007, 80, SYN | FIN)), {
    ctstate: "INVALID",
    invalid: true,
    killed: false,
    repeat: false,
  });
});

test("a new SYN on a TIME_WAIT tuple replaces the old entry", () => {
  const ct = new ConntrackTable({ now: () => 0 });
  const out = (flags: number) => tcp(CLIENT, SERVER, 40008, 80, flags);
  const back = (flags: number) => tcp(SERVER, CLIENT, 80, 40008, flags);
  const old = ct.classify(out(SYN)).entry!;
  ct.confirm(old);
  for (const p of [back(SYN | ACK), out(ACK), out(FIN | ACK), back(FIN | ACK), out(ACK)]) ct.classify(p);
  assert.equal(old.tcpState, "TIME_WAIT");
  const r = ct.classify(out(SYN));
  assert.equal(r.ctstate, "NEW");
  assert.notEqual(r.entry, old);
  assert.equal(r.entry?.tcpState, "SYN_SENT");
  assert.equal(ct.size, 0, "the old entry is gone, the new one is not confirmed yet");
  assert.ok(ct.confirm(r.entry!));
  assert.deepEqual(
    ct.list().map((e) => e.id),
    [r.entry!.id],
  );
});

test("UDP: unreplied, then replied, assured only for a stream older than two seconds", () => {
  const c = clock();
  const ct = new ConntrackTable({ now: c.now });
  const req = udp(CLIENT, SERVER, 50000, 53);
  const resp = udp(SERVER, CLIENT, 53, 50000);
  const first = ct.classify(req);
  assert.equal(first.ctstate, "NEW");
  const entry = first.entry!;
  ct.confirm(entry);
  assert.equal(entry.status.seenReply, false);
  assert.equal(left(entry, c.now()), 30);
  assert.equal(ct.classify(req).ctstate, "NEW", "still no reply");

  c.advance(100);
  assert.equal(ct.classify(resp).ctstate, "ESTABLISHED");
  assert.equal(entry.status.seenReply, true);
  assert.equal(entry.status.assured, false);
  assert.equal(left(entry, c.now()), 30);

  c.advance(100);
  assert.equal(ct.classify(req).ctstate, "ESTABLISHED");
  assert.equal(entry.status.assured, false, "a quick exchange is not a stream yet");
  assert.equal(left(entry, c.now()), 30);

  c.advance(2000);
  ct.classify(req);
  assert.equal(entry.status.assured, true);
  assert.equal(left(entry, c.now()), 120);
});

test("ICMP echo: request and reply tuples, 30 s, never assured", () => {
  const c = clock();
  const ct = new ConntrackTable({ now: c.now });
  const r = ct.classify(icmp(CLIENT, SERVER, 8, 4345));
  assert.equal(r.ctstate, "NEW");
  const entry = r.entry!;
  ct.confirm(entry);
  assert.deepEqual([entry.orig.icmpType, entry.orig.icmpCode, entry.orig.sport], [8, 0, 4345]);
  assert.deepEqual([entry.reply.icmpType, entry.reply.src, entry.reply.dst], [0, SERVER, CLIENT]);
  const reply = ct.classify(icmp(SERVER, CLIENT, 0, 4345));
  assert.equal(reply.ctstate, "ESTABLISHED");
  assert.equal(reply.dir, "REPLY");
  ct.classify(icmp(CLIENT, SERVER, 8, 4345));
  assert.equal(entry.status.assured, false);
  assert.equal(left(entry, c.now()), 30);

  // An echo reply nobody asked for, a different id, and a type that cannot open a "connection".
  assert.equal(ct.classify(icmp(SERVER, CLIENT, 0, 9999)).ctstate, "INVALID");
  assert.equal(ct.classify(icmp(CLIENT, SERVER, 9)).ctstate, "INVALID");
  assert.equal(ct.classify(icmp(CLIENT, SERVER, 42)).ctstate, "INVALID");
});

test("ICMPv6: echo pairs 128/129, neighbour discovery is untracked", () => {
  const a = parseIpv6("fd00::1")!;
  const b = parseIpv6("fd00::2")!;
  const ct = new ConntrackTable({ now: () => 0 });
  const v6 = (src: bigint, dst: bigint, icmpType: number) =>
    makePacket({ family: 6, proto: PROTO.icmpv6, src, dst, icmpType, icmpCode: 0, icmpId: 1 });
  const entry = ct.classify(v6(a, b, 128)).entry!;
  ct.confirm(entry);
  assert.equal(entry.reply.icmpType, 129);
  assert.equal(ct.classify(v6(b, a, 129)).dir, "REPLY");
  assert.equal(ct.classify(v6(a, b, 135)).ctstate, "UNTRACKED");
});

test("ICMP errors quoting a tracked packet are RELATED", () => {
  const ct = new ConntrackTable({ now: () => 0 });
  const sent = udp(CLIENT, SERVER, 50001, 9999);
  const entry = ct.classify(sent).entry!;
  ct.confirm(entry);
  const unreachable = makePacket({
    family: 4,
    proto: PROTO.icmp,
    src: SERVER,
    dst: CLIENT,
    icmpType: 3,
    icmpCode: 3,
  });
  assert.deepEqual(ct.classify(unreachable, tupleOf(sent)), { entry, dir: "REPLY", ctstate: "RELATED" });
  // The same error sent somewhere else, without a quote, or quoting an unknown flow: INVALID.
  const elsewhere = { ...unreachable, dst: BACKEND };
  assert.equal(ct.classify(elsewhere, tupleOf(sent)).ctstate, "INVALID");
  assert.equal(ct.classify(unreachable).ctstate, "INVALID");
  assert.equal(ct.classify(unreachable, tupleOf(udp(CLIENT, SERVER, 1, 2))).ctstate, "INVALID");
  // Time exceeded travelling towards the server relates in the original direction.
  const exceeded = makePacket({
    family: 4,
    proto: PROTO.icmp,
    src: CLIENT,
    dst: SERVER,
    icmpType: 11,
    icmpCode: 0,
  });
  assert.equal(ct.classify(exceeded, tupleOf(udp(SERVER, CLIENT, 9999, 50001))).dir, "ORIGINAL");
  assert.equal(entry.status.seenReply, false, "errors do not count as replies");
});

test("entries are indexed by the reply tuple NAT wrote", () => {
  const c = clock();
  const ct = new ConntrackTable({ now: c.now });
  const vip = parseIpv4("10.96.0.10")!;
  const syn = tcp(CLIENT, vip, 40010, 80, SYN);
  const entry = ct.classify(syn).entry!;
  const natted: CtTuple = { ...entry.reply, src: BACKEND };
  ct.setReply(entry, natted, "DNAT");
  assert.equal(entry.status.dstNat, true);
  assert.equal(entry.status.srcNat, false);
  assert.ok(ct.confirm(entry));

  assert.ok(ct.isTupleTaken(natted));
  assert.ok(!ct.isTupleTaken(natted, entry));
  assert.ok(ct.isTupleTaken(entry.orig), "the original tuple is taken too");
  const fromBackend = ct.classify(tcp(BACKEND, CLIENT, 80, 40010, SYN | ACK));
  assert.equal(fromBackend.entry, entry);
  assert.equal(fromBackend.dir, "REPLY");
  assert.equal(ct.lookup(tcp(vip, CLIENT, 80, 40010, ACK)), null, "the un-NATed reply tuple is not indexed");
  assert.throws(() => ct.setReply(entry, invert(entry.orig), "SNAT"), /confirmed/);
});

test("setReply with an unchanged tuple sets no NAT bit", () => {
  const ct = new ConntrackTable({ now: () => 0 });
  const entry = ct.create(udp(CLIENT, SERVER, 1000, 53));
  ct.setReply(entry, { ...entry.reply }, "SNAT");
  assert.equal(entry.status.srcNat, false);
});

test("expiry follows the injected clock and is lazy", () => {
  const c = clock();
  const ct = new ConntrackTable({ now: c.now });
  const p = udp(CLIENT, SERVER, 50002, 53);
  const entry = ct.classify(p).entry!;
  ct.confirm(entry);
  c.advance(29_999);
  assert.equal(ct.lookup(p)?.entry, entry);
  c.advance(1);
  assert.equal(ct.lookup(p), null);
  assert.equal(ct.size, 0);
  assert.deepEqual(ct.list(), []);
  assert.ok(!ct.isTupleTaken(entry.reply));
  // A later packet of the same flow starts over.
  const again = ct.classify(p);
  assert.equal(again.ctstate, "NEW");
  assert.notEqual(again.entry, entry);
});

test("the timer starts at confirmation", () => {
  const c = clock();
  const ct = new ConntrackTable({ now: c.now });
  const entry = ct.create(udp(CLIENT, SERVER, 50003, 53));
  c.advance(5000);
  ct.confirm(entry);
  assert.equal(entry.expiresAt, c.now() + 30_000);
});

test("confirm refuses a clashing tuple; ids, order, delete and flush are deterministic", () => {
  const ct = new ConntrackTable({ now: () => 0 });
  const a = ct.create(udp(CLIENT, SERVER, 1, 53));
  const clash = ct.create(udp(CLIENT, SERVER, 1, 53));
  const b = ct.create(udp(CLIENT, SERVER, 2, 53));
  const c = ct.create(tcp(CLIENT, SERVER, 3, 80, SYN));
  assert.deepEqual([a.id, clash.id, b.id, c.id], [1, 2, 3, 4]);
  assert.ok(ct.confirm(c));
  assert.ok(ct.confirm(a));
  assert.ok(!ct.confirm(clash));
  assert.ok(ct.confirm(b));
  assert.deepEqual(
    ct.list().map((e) => e.id),
    [1, 3, 4],
  );
  assert.ok(ct.delete(b));
  assert.ok(!ct.delete(b));
  assert.equal(ct.size, 2);
  ct.flush();
  assert.equal(ct.size, 0);
  assert.equal(ct.lookup(udp(CLIENT, SERVER, 1, 53)), null);
});

test("tuples: ports swap, ICMP keeps the id, keys separate families and ICMP types", () => {
  const t = tupleOf(udp(CLIENT, SERVER, 1234, 53));
  assert.deepEqual(invert(t), { ...t, src: SERVER, dst: CLIENT, sport: 53, dport: 1234 });
  assert.deepEqual(invert(invert(t)), t);
  const echo = tupleOf(icmp(CLIENT, SERVER, 13, 5));
  assert.deepEqual(invert(echo), { ...echo, src: SERVER, dst: CLIENT, icmpType: 14 });
  assert.throws(() => invert(tupleOf(icmp(CLIENT, SERVER, 3))), RangeError);
  assert.notEqual(tupleKey(echo), tupleKey({ ...echo, icmpType: 8 }));
  assert.notEqual(tupleKey(t), tupleKey({ ...t, family: 6 }));
  assert.equal(ConntrackTable.tupleOf, tupleOf);
  // Protocols without ports track by addresses only (the generic tracker), for 600 s.
  const gre = makePacket({ family: 4, proto: 47, src: CLIENT, dst: SERVER, sport: 9, dport: 9 });
  assert.deepEqual([tupleOf(gre).sport, tupleOf(gre).dport], [0, 0]);
  const ct = new ConntrackTable({ now: () => 0 });
  const entry = ct.classify(gre).entry!;
  assert.equal(left(entry, 0), 600);
});
