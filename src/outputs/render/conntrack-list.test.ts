import assert from "node:assert/strict";
import { test } from "node:test";
import { parseIpv4, parseIpv6 } from "../../core/ip.ts";
import { ConntrackTable, invert } from "../../dataplane/sim/conntrack/table.ts";
import { KUBE_PROXY_TIMEOUTS } from "../../dataplane/sim/conntrack/timeouts.ts";
import type { ConntrackEntry, CtTuple } from "../../model/conntrack.ts";
import { makePacket, PROTO, TCP } from "../../model/packet.ts";
import { filterEntries, formatConntrackEntry, formatConntrackList } from "./conntrack-list.ts";

const ip = (text: string) => parseIpv4(text)!;
const NOW = 5_000_000;

const SEED =
  "tcp      6 3577 CLOSE_WAIT src=109.125.120.58 dst=51.144.176.251 sport=51535 dport=80 " +
  "src=10.13.76.7 dst=10.13.76.4 sport=80 dport=51535 [ASSURED] mark=0 use=1";

function tuple(proto: number, src: string, dst: string, sport: number, dport: number): CtTuple {
  return { family: 4, proto, src: ip(src), dst: ip(dst), sport, dport, icmpType: -1, icmpCode: -1 };
}

function entry(init: Partial<ConntrackEntry> & Pick<ConntrackEntry, "orig" | "reply">): ConntrackEntry {
  return {
    id: 1,
    tcpState: null,
    status: {
      expected: false,
      seenReply: true,
      assured: false,
      confirmed: true,
      srcNat: false,
      dstNat: false,
    },
    mark: 0,
    zone: 0,
    expiresAt: NOW + 30_000,
    use: 1,
    ...init,
  };
}

/** The seed's CLOSE_WAIT entry, written out field by field. */
function seedEntry(): ConntrackEntry {
  return entry({
    orig: tuple(PROTO.tcp, "109.125.120.58", "51.144.176.251", 51535, 80),
    reply: tuple(PROTO.tcp, "10.13.76.7", "10.13.76.4", 80, 51535),
    tcpState: "CLOSE_WAIT",
    status: { expected: false, seenReply: true, assured: true, confirmed: true, srcNat: true, dstNat: true },
    expiresAt: NOW + 3_577_000,
  });
}

test("the seed's line, from a constructed entry", () => {
  assert.equal(formatConntrackEntry(seedEntry(), NOW), SEED);
});

test("the seed's line, from the table: LB floating IP, DNAT to the pod, MASQUERADE to the node", () => {
  let now = NOW;
  const ct = new ConntrackTable({ now: () => now, timeouts: KUBE_PROXY_TIMEOUTS });
  const client = ip("109.125.120.58");
  const publicIp = ip("51.144.176.251");
  const pod = ip("10.13.76.7");
  const node = ip("10.13.76.4");
  const fromClient = (tcpFlags: number) =>
    makePacket({
      family: 4,
      proto: PROTO.tcp,
      src: client,
      dst: publicIp,
      sport: 51535,
      dport: 80,
      tcpFlags,
    });
  const fromPod = (tcpFlags: number) =>
    makePacket({ family: 4, proto: PROTO.tcp, src: pod, dst: node, sport: 80, dport: 51535, tcpFlags });

  const e = ct.classify(fromClient(TCP.SYN)).entry!;
  ct.setReply(e, { ...e.reply, src: pod }, "DNAT");
  ct.setReply(e, { ...e.reply, dst: node }, "SNAT");
  assert.ok(ct.confirm(e));
  ct.classify(fromPod(TCP.SYN | TCP.ACK));
  ct.classify(fromClient(TCP.ACK));
  ct.classify(fromClient(TCP.FIN | TCP.ACK));
  ct.classify(fromPod(TCP.ACK));
  now += 23_000;
  assert.equal(formatConntrackEntry(e, now), SEED);
});

test("UDP before a reply shows [UNREPLIED] after the original tuple", () => {
  const e = entry({
    orig: tuple(PROTO.udp, "10.99.0.1", "10.99.0.2", 58536, 9999),
    reply: tuple(PROTO.udp, "10.99.0.2", "10.99.0.1", 9999, 58536),
    status: {
      expected: false,
      seenReply: false,
      assured: false,
      confirmed: true,
      srcNat: false,
      dstNat: false,
    },
    expiresAt: NOW + 29_500,
  });
  assert.equal(
    formatConntrackEntry(e, NOW),
    "udp      17 29 src=10.99.0.1 dst=10.99.0.2 sport=58536 dport=9999 [UNREPLIED] " +
      "src=10.99.0.2 dst=10.99.0.1 sport=9999 dport=58536 mark=0 use=1",
  );
});

test("ICMP prints each direction's type and code with the id", () => {
  const orig: CtTuple = { ...tuple(PROTO.icmp, "10.99.0.1", "10.99.0.2", 4345, 0), icmpType: 8, icmpCode: 0 };
  const e = entry({ orig, reply: invert(orig) });
  assert.equal(
    formatConntrackEntry(e, NOW),
    "icmp     1 30 src=10.99.0.1 dst=10.99.0.2 type=8 code=0 id=4345 " +
      "src=10.99.0.2 dst=10.99.0.1 type=0 code=0 id=4345 mark=0 use=1",
  );
});

test("zone only when non-zero, mark always, -o extended and -o id", () => {
  const e = { ...seedEntry(), mark: 16384, zone: 3, id: 42 };
  const line = formatConntrackEntry(e, NOW, { extended: true, showId: true });
  assert.equal(line, `ipv4     2 ${SEED.replace("mark=0 use=1", "mark=16384 zone=3 use=1 id=42")}`);
});

test("IPv6 addresses are printed the way inet_ntop does", () => {
  const orig: CtTuple = {
    family: 6,
    proto: PROTO.tcp,
    src: parseIpv6("fd00:0:0:0:0:0:0:1")!,
    dst: parseIpv6("2001:db8::10")!,
    sport: 1000,
    dport: 443,
    icmpType: -1,
    icmpCode: -1,
  };
  const e = entry({ orig, reply: invert(orig), tcpState: "SYN_SENT" });
  e.status.seenReply = false;
  assert.equal(
    formatConntrackEntry(e, NOW),
    "tcp      6 30 SYN_SENT src=fd00::1 dst=2001:db8::10 sport=1000 dport=443 [UNREPLIED] " +
      "src=2001:db8::10 dst=fd00::1 sport=443 dport=1000 mark=0 use=1",
  );
});

test("seconds left are whole seconds rounded down and never negative", () => {
  const e = seedEntry();
  assert.match(formatConntrackEntry({ ...e, expiresAt: NOW + 999 }, NOW), /^tcp {6}6 0 CLOSE_WAIT /);
  assert.match(formatConntrackEntry({ ...e, expiresAt: NOW - 5000 }, NOW), /^tcp {6}6 0 /);
});

test("the list goes to stdout, the count to stderr, always 'flow entries'", () => {
  const e = seedEntry();
  assert.deepEqual(formatConntrackList([], NOW), {
    stdout: "",
    stderr: "conntrack v1.4.3 (conntrack-tools): 0 flow entries have been shown.\n",
  });
  assert.deepEqual(formatConntrackList([e], NOW), {
    stdout: `${SEED}\n`,
    stderr: "conntrack v1.4.3 (conntrack-tools): 1 flow entries have been shown.\n",
  });
  const two = formatConntrackList([e, e], NOW, { version: "1.4.7" });
  assert.equal(two.stdout, `${SEED}\n${SEED}\n`);
  assert.equal(two.stderr, "conntrack v1.4.7 (conntrack-tools): 2 flow entries have been shown.\n");
});

test("filterEntries: -s/-d match the original tuple, -r/-q the reply tuple", () => {
  const seed = seedEntry();
  const dns = entry({
    id: 2,
    orig: tuple(PROTO.udp, "10.13.76.7", "10.0.0.10", 40000, 53),
    reply: tuple(PROTO.udp, "10.244.0.5", "10.13.76.7", 53, 40000),
  });
  const all = [seed, dns];
  const ids = (f: Parameters<typeof filterEntries>[1]) => filterEntries(all, f).map((e) => e.id);
  assert.deepEqual(ids({ src: "109.125.120.58" }), [1]);
  assert.deepEqual(ids({ src: "10.13.76.7" }), [2], "-s is the original source, not the reply's");
  assert.deepEqual(ids({ dst: "51.144.176.251" }), [1]);
  assert.deepEqual(ids({ src: "10.13.0.0/16" }), [2]);
  assert.deepEqual(ids({ dst: "10.0.0.0/8" }), [2]);
  assert.deepEqual(ids({ replySrc: "10.13.76.7" }), [1]);
  assert.deepEqual(ids({ replyDst: "10.13.76.4" }), [1]);
  assert.deepEqual(ids({ src: "fd00::1" }), [], "an IPv6 address lists the IPv6 table");
  assert.throws(() => ids({ src: "10.0.0.1", dst: "fd00::1" }), /mismatched address family/);
  assert.throws(() => ids({ src: "not-an-ip" }), /Cannot parse -s/);
});

test("filterEntries: protocol, ports, state, mark, status and NAT", () => {
  const seed = seedEntry();
  const dns = entry({
    id: 2,
    orig: tuple(PROTO.udp, "10.13.76.7", "10.0.0.10", 40000, 53),
    reply: tuple(PROTO.udp, "10.0.0.10", "10.13.76.7", 53, 40000),
    mark: 0x4000,
    status: {
      expected: false,
      seenReply: false,
      assured: false,
      confirmed: true,
      srcNat: false,
      dstNat: false,
    },
  });
  const ping: ConntrackEntry = (() => {
    const orig: CtTuple = { ...tuple(PROTO.icmp, "10.0.0.1", "10.0.0.2", 53, 0), icmpType: 8, icmpCode: 0 };
    return entry({ id: 3, orig, reply: invert(orig) });
  })();
  const all = [seed, dns, ping];
  const ids = (f: Parameters<typeof filterEntries>[1]) => filterEntries(all, f).map((e) => e.id);
  assert.deepEqual(ids({}), [1, 2, 3]);
  assert.deepEqual(ids({ proto: "tcp" }), [1]);
  assert.deepEqual(ids({ proto: 17 }), [2]);
  assert.deepEqual(ids({ proto: "ICMP" }), [3]);
  assert.throws(() => ids({ proto: "bogus" }), /unknown protocol/);
  assert.deepEqual(ids({ sport: 53 }), [], "--sport is the original source port; ICMP ids are not ports");
  assert.deepEqual(ids({ dport: 53 }), [2]);
  assert.deepEqual(ids({ replySport: 80 }), [1]);
  assert.deepEqual(ids({ replyDport: 40000 }), [2]);
  assert.deepEqual(ids({ icmpType: 8, icmpId: 53 }), [3]);
  assert.deepEqual(ids({ state: "CLOSE_WAIT" }), [1]);
  assert.deepEqual(ids({ mark: 0x4000 }), [2]);
  assert.deepEqual(ids({ mark: "0x4000/0x4000" }), [2]);
  assert.deepEqual(ids({ mark: "0/0x4000" }), [1, 3]);
  assert.deepEqual(ids({ status: ["ASSURED"] }), [1]);
  assert.deepEqual(ids({ status: ["UNREPLIED"] }), [2]);
  assert.deepEqual(ids({ srcNat: true }), [1]);
  assert.deepEqual(ids({ dstNat: true }), [1]);
  assert.deepEqual(ids({ srcNat: true, dstNat: true }), [1]);
  assert.deepEqual(ids({ anyNat: true }), [1]);
  assert.deepEqual(ids({ proto: "udp", dport: 53, status: ["ASSURED"] }), [], "selectors combine with AND");
});
