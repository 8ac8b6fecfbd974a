import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { seededRng } from "../../../core/rng.ts";
import { parseIptablesSave } from "../../../inputs/iptables/parse-save.ts";
import { makePacket, type Packet, PROTO, TCP } from "../../../model/packet.ts";
import { ConntrackTable } from "../conntrack/table.ts";
import { compileRuleset } from "./compile.ts";
import { newEngineState } from "./env.ts";
import { type HostContext, type HostInput, traverseHost } from "./host.ts";
import { staticHost } from "./static-host.ts";

/**
 * host.ts with a router (HostContext.route): the out interface of a forwarded packet is the route of
 * the destination PREROUTING's DNAT left; a bridged frame keeps its port unless DNAT moved it; and
 * the answers REJECT makes (nf_ct_attach) are RELATED to the refused packet's entry, translated by
 * its NAT, and never confirm it.
 */

const ip = (s: string): number => s.split(".").reduce((a, b) => a * 256 + Number(b), 0);
const NODE = ip("10.224.0.4");
const CLIENT = ip("203.0.113.10");
const VIP = ip("20.1.2.3");
const POD = ip("10.224.0.7");

const RULES = `*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -d 20.1.2.3/32 -p tcp -m tcp --dport 80 -j DNAT --to-destination 10.224.0.7:8080
-A PREROUTING -d 20.1.2.3/32 -p udp -m udp --dport 53 -j DNAT --to-destination 10.224.0.7:5353
-A PREROUTING -d 20.1.2.3/32 -p tcp -m tcp --dport 81 -j DNAT --to-destination 10.224.0.7:8081
-A OUTPUT -d 20.1.2.3/32 -p tcp -m tcp --dport 80 -j DNAT --to-destination 10.224.0.7:8080
COMMIT
*mangle
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A POSTROUTING -d 10.224.0.7/32 ! -o azv7 -j DROP
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A FORWARD -d 10.224.0.7/32 ! -o azv7 -j DROP
-A FORWARD -p tcp -m tcp --dport 8081 -j REJECT --reject-with tcp-reset
COMMIT
`;

const rules = compileRuleset(parseIptablesSave(RULES, "test.rules").value);
const host = staticHost({
  localIps: [{ family: 4, addr: NODE }],
  ifaceAddrs: new Map([["eth0", { family: 4, addr: NODE }]]),
});

/** The node's routes: its pod by azv7, the rest by eth0. */
const router = (p: Packet) => ({ out: p.dst === POD ? "azv7" : "eth0" });

function context(
  route?: HostContext["route"],
  conntrack = new ConntrackTable({ now: () => 0 }),
): HostContext {
  return {
    rules,
    host,
    conntrack,
    state: newEngineState(),
    now: 0,
    rng: seededRng(1),
    forwarding: true,
    choose: () => true,
    ...(route ? { route } : {}),
  };
}

const tcp = (src: number, dst: number, sport: number, dport: number, flags: number = TCP.SYN) =>
  makePacket({ family: 4, proto: PROTO.tcp, src, dst, sport, dport, tcpFlags: flags });

describe("the route after DNAT", () => {
  const syn = tcp(CLIENT, VIP, 50000, 80);

  it("a forwarded packet DNATed to a pod leaves by the pod's veth, and FORWARD/POSTROUTING see it", () => {
    const tr = traverseHost(context(router), { packet: syn, inIface: "eth0", outIface: null });
    assert.equal(tr.verdict, "ACCEPT");
    assert.equal(tr.outIface, "azv7");
    assert.equal(tr.packet.dst, POD);
  });

  it("without a router the caller's out interface stands (iptables trace --out)", () => {
    const tr = traverseHost(context(), { packet: syn, inIface: "eth0", outIface: "eth0" });
    assert.equal(tr.verdict, "DROP");
    assert.deepEqual(tr.stoppedAt, { hook: "FORWARD", table: "filter" });
  });

  it("a locally sent packet DNATed in OUTPUT is routed again for POSTROUTING", () => {
    const out = tcp(NODE, VIP, 40000, 80);
    const tr = traverseHost(context(router), { packet: out, inIface: null, outIface: "eth0" });
    assert.equal(tr.verdict, "ACCEPT");
    assert.equal(tr.outIface, "azv7");
  });

  it("no route: the packet is dropped after PREROUTING", () => {
    const tr = traverseHost(
      context(() => null),
      { packet: syn, inIface: "eth0", outIface: null },
    );
    assert.equal(tr.verdict, "DROP");
    assert.deepEqual(tr.stoppedAt, { hook: "PREROUTING", table: null });
  });

  it("a bridged frame keeps its port when nothing DNATs it, and is routed when something does", () => {
    const bridged: HostInput = {
      packet: tcp(CLIENT, ip("10.224.0.9"), 50000, 80),
      inIface: "azure0",
      outIface: "azure0",
      physIn: "eth0",
      physOut: "azv9",
      bridged: true,
    };
    const never = () => {
      throw new Error("a bridged frame without DNAT is switched, not routed");
    };
    const kept = traverseHost(context(never), bridged);
    assert.deepEqual([kept.outIface, kept.physOut], ["azure0", "azv9"]);
    const moved = traverseHost(
      context(() => ({ out: "azure0", physOut: "azv7" })),
      { ...bridged, packet: syn },
    );
    // DNATed to the pod: br_nf_pre_routing_finish routes it and physdev-out becomes the pod's port;
    // FORWARD's `! -o azv7` still matches, as out stays the bridge.
    assert.equal(moved.physOut, "azv7");
    assert.deepEqual(moved.stoppedAt, { hook: "FORWARD", table: "filter" });
  });
});

describe("REJECT's answers in the refused packet's entry", () => {
  it("an ICMP error about a DNATed packet leaves from the VIP and quotes what the client sent", () => {
    const ct = new ConntrackTable({ now: () => 0 });
    const ctx = context(router, ct);
    const syn = traverseHost(ctx, { packet: tcp(CLIENT, VIP, 50000, 80), inIface: "eth0", outIface: null });
    // As if FORWARD had refused it: the node's error from its own address, quoting the DNATed SYN.
    const icmp = makePacket({
      family: 4,
      proto: PROTO.icmp,
      src: NODE,
      dst: CLIENT,
      icmpType: 3,
      icmpCode: 3,
    });
    const answer = traverseHost(ctx, {
      packet: icmp,
      inIface: null,
      outIface: "eth0",
      inner: syn.packet,
      attached: { entry: syn.conntrack!, dir: "REPLY" },
    });
    assert.equal(answer.ctState, "RELATED");
    // nf_nat_icmp_reply_translation at POSTROUTING: the outer source and the quoted destination are the VIP again.
    assert.equal(answer.packet.src, VIP);
    assert.deepEqual([answer.inner!.dst, answer.inner!.dport], [VIP, 80]);
    assert.deepEqual([answer.inner!.src, answer.inner!.sport], [CLIENT, 50000]);
  });

  it("a RST attached to a refused SYN gets the connection's NAT in the reply direction, and confirms nothing", () => {
    const ct = new ConntrackTable({ now: () => 0 });
    const ctx = context(router, ct);
    const syn = traverseHost(ctx, { packet: tcp(CLIENT, VIP, 50000, 81), inIface: "eth0", outIface: null });
    assert.deepEqual([syn.verdict, syn.rejectWith], ["REJECT", "tcp-reset"]);
    const entry = syn.conntrack!;
    assert.equal(entry.status.confirmed, false);
    const rst = tcp(POD, CLIENT, 8081, 50000, TCP.RST | TCP.ACK);
    const answer = traverseHost(ctx, {
      packet: rst,
      inIface: null,
      outIface: "eth0",
      attached: { entry, dir: "REPLY" },
    });
    assert.equal(answer.verdict, "ACCEPT");
    assert.equal(answer.ctState, "RELATED");
    assert.deepEqual([answer.packet.src, answer.packet.sport], [VIP, 81]);
    assert.equal(entry.status.confirmed, false);
    assert.equal(ct.size, 0);
  });

  it("an ICMP error crossing a host is related to the entry of the datagram it quotes, and un-NATed", () => {
    const ct = new ConntrackTable({ now: () => 0 });
    const ctx = context(router, ct);
    const query = makePacket({ family: 4, proto: PROTO.udp, src: CLIENT, dst: VIP, sport: 40000, dport: 53 });
    const fwd = traverseHost(ctx, { packet: query, inIface: "eth0", outIface: null });
    assert.equal(fwd.verdict, "ACCEPT");
    // The pod's kernel: port unreachable from the pod, quoting the datagram as it arrived.
    const err = makePacket({ family: 4, proto: PROTO.icmp, src: POD, dst: CLIENT, icmpType: 3, icmpCode: 3 });
    const back = traverseHost(ctx, { packet: err, inIface: "azv7", outIface: null, inner: fwd.packet });
    assert.equal(back.ctState, "RELATED");
    assert.equal(back.packet.src, VIP);
    assert.deepEqual([back.inner!.dst, back.inner!.dport], [VIP, 53]);
    // Without the quote conntrack cannot relate it: INVALID.
    const lost = traverseHost(ctx, { packet: err, inIface: "azv7", outIface: null });
    assert.equal(lost.ctState, "INVALID");
  });
});
