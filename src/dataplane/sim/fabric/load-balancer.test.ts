import assert from "node:assert/strict";
import { test } from "node:test";
import { formatIpv4, parseIpv4 } from "../../../core/ip.ts";
import { seededRng } from "../../../core/rng.ts";
import { makePacket, type Packet, PROTO, TCP } from "../../../model/packet.ts";
import { AzureLbFabric, type LbForwarded } from "./load-balancer.ts";
import type { ProbeFn } from "./probes.ts";
import { SEED_VIP, type SeedLbOptions, seedAzureState } from "./testdata/seed-lb.ts";

const ip = (s: string): number => parseIpv4(s)!;
const A = "10.13.76.4";
const B = "10.13.76.5";
const C = "10.13.76.6";
const SEED = 0x4a8e1a6d;

function syn(src: string, sport: number, dst = SEED_VIP, dport = 80, proto: number = PROTO.tcp): Packet {
  return makePacket({
    family: 4,
    proto,
    src: ip(src),
    dst: ip(dst),
    sport,
    dport,
    tcpFlags: proto === PROTO.tcp ? TCP.SYN : 0,
  });
}

function fabric(o: SeedLbOptions, probe?: ProbeFn, seed = SEED): AzureLbFabric {
  return new AzureLbFabric(seedAzureState(o), { seed, start: 0, ...(probe ? { probe } : {}) });
}

function forwarded(r: ReturnType<AzureLbFabric["route"]>): LbForwarded {
  assert.equal(r.verdict, "forwarded", r.verdict === "dropped" ? r.detail : "");
  return r as LbForwarded;
}

const allUp: ProbeFn = () => "up";

test("the seed: the laptop's packet reaches 10.13.76.4 with the VIP still as destination (floating IP)", () => {
  const lb = fabric({}, allUp);
  const r = forwarded(lb.route(syn("109.125.120.58", 51535), 0));
  assert.equal(r.backend.nodeIpText, A);
  assert.equal(formatIpv4(r.packet.dst as number), SEED_VIP);
  assert.equal(r.packet.dport, 80);
  assert.equal(formatIpv4(r.packet.src as number), "109.125.120.58");
  assert.equal(r.packet.sport, 51535);
  assert.equal(r.rule.rule.name, "a48b4c0e11cfd11e9981c7abfb60d882-TCP-80");
  assert.equal(r.flow, "new");
  // The pod's answer leaves the node from the VIP (DSR): the host keeps it so.
  const reply = makePacket({
    family: 4,
    proto: PROTO.tcp,
    src: ip(SEED_VIP),
    dst: ip("109.125.120.58"),
    sport: 80,
    dport: 51535,
  });
  const back = lb.reply(reply, 10);
  assert.equal(back.verdict, "rewritten");
  if (back.verdict === "rewritten") assert.equal(back.packet.src, ip(SEED_VIP));
  // The next segment of the flow stays on it.
  assert.equal(
    forwarded(lb.route({ ...syn("109.125.120.58", 51535), tcpFlags: TCP.ACK }, 20)).flow,
    "established",
  );
});

test("floating IP off: the destination becomes the node and its backend port; the reply's source the VIP again", () => {
  const lb = fabric({ floatingIp: false, backendPort: 30064 });
  const r = forwarded(lb.route(syn("109.125.120.58", 51535), 0));
  assert.equal(formatIpv4(r.packet.dst as number), A);
  assert.equal(r.packet.dport, 30064);
  const reply = makePacket({
    family: 4,
    proto: PROTO.tcp,
    src: ip(A),
    dst: ip("109.125.120.58"),
    sport: 30064,
    dport: 51535,
  });
  const back = lb.reply(reply, 1);
  assert.equal(back.verdict, "rewritten");
  if (back.verdict === "rewritten") {
    assert.equal(formatIpv4(back.packet.src as number), SEED_VIP);
    assert.equal(back.packet.sport, 80);
  }
  // Traffic the node starts itself is not an LB reply.
  const own = makePacket({
    family: 4,
    proto: PROTO.tcp,
    src: ip(A),
    dst: ip("1.1.1.1"),
    sport: 40000,
    dport: 443,
  });
  assert.equal(lb.reply(own, 2).verdict, "not-lb-flow");
});

test("packets nothing matches are dropped with the reason", () => {
  const lb = fabric({});
  const other = lb.route(syn("109.125.120.58", 1, "51.144.176.252"), 0);
  assert.equal(other.verdict === "dropped" && other.reason, "no-frontend");
  const port = lb.route(syn("109.125.120.58", 1, SEED_VIP, 443), 0);
  assert.equal(port.verdict === "dropped" && port.reason, "no-rule");
  const udp = lb.route(syn("109.125.120.58", 1, SEED_VIP, 80, PROTO.udp), 0);
  assert.equal(udp.verdict === "dropped" && udp.reason, "no-rule");
  const empty = fabric({ nodes: [] }).route(syn("109.125.120.58", 1), 0);
  assert.equal(empty.verdict === "dropped" && empty.reason, "empty-pool");
});

/** New flows from fresh client ports at `now`: how many went to each node. */
function spread(lb: AzureLbFabric, now: number, n: number, firstPort: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const r = forwarded(lb.route(syn("109.125.120.58", firstPort + i), now));
    assert.equal(r.flow, "new");
    counts.set(r.backend.nodeIpText, (counts.get(r.backend.nodeIpText) ?? 0) + 1);
  }
  return counts;
}

test("a node probed down stops getting new flows after 2 failed probes and gets them back after 2 successes", () => {
  const probe: ProbeFn = (t, now) => (t.nodeIp === B && now < 30_000 ? "down" : "up");
  const lb = fabric({ nodes: [A, B, C] }, probe);
  const bEvents = () => lb.probes!.events.filter((e) => e.nodeIp === B);
  // Before the second failure B still gets its share.
  assert.ok((spread(lb, 0, 300, 1000).get(B) ?? 0) > 50);
  lb.probes!.advance(10_000);
  const [first, second] = bEvents();
  assert.equal(first!.result, "down");
  assert.equal(first!.state, "up");
  assert.equal(second!.changed, true);
  assert.equal(second!.state, "down");
  assert.equal(second!.time - first!.time, 5000);
  assert.ok(second!.time <= 10_000, `down at ${second!.time} ms`);
  assert.equal(spread(lb, second!.time, 300, 2000).get(B), undefined);
  assert.equal(spread(lb, 29_000, 300, 3000).get(B), undefined);
  // From 30 s the probes succeed again: up after the second success.
  lb.probes!.advance(45_000);
  const up = bEvents().find((e) => e.changed && e.state === "up")!;
  const successes = bEvents().filter((e) => e.result === "up");
  assert.equal(up, successes[1]);
  assert.ok(up.time >= 35_000 && up.time < 40_000, `up at ${up.time} ms`);
  assert.equal(spread(lb, up.time - 1, 300, 4000).get(B), undefined);
  assert.ok((spread(lb, up.time, 300, 5000).get(B) ?? 0) > 50);
  // The other nodes were never marked down.
  assert.ok(lb.probes!.events.filter((e) => e.nodeIp !== B).every((e) => e.state === "up" && !e.changed));
});

test("the 5-tuple hash spreads 10,000 flows over 3 healthy nodes within 5%", () => {
  const lb = fabric({ nodes: [A, B, C] }, allUp);
  const rng = seededRng(7);
  const counts = new Map<string, number>();
  for (let i = 0; i < 10_000; i++) {
    const src = formatIpv4((rng.nextU32() | 1) >>> 0);
    const r = forwarded(lb.route(syn(src, 1024 + (rng.nextU32() % 64000)), i));
    counts.set(r.backend.nodeIpText, (counts.get(r.backend.nodeIpText) ?? 0) + 1);
  }
  for (const node of [A, B, C]) {
    const n = counts.get(node) ?? 0;
    assert.ok(Math.abs(n - 10_000 / 3) <= (0.05 * 10_000) / 3, `${node}: ${n}`);
  }
});

test("the same inputs give the same choices; another seed gives others", () => {
  const choices = (seed: number) => {
    const lb = fabric({ nodes: [A, B, C] }, allUp, seed);
    return Array.from(
      { length: 200 },
      (_, i) => forwarded(lb.route(syn("109.125.120.58", 40000 + i), i)).backend.nodeIpText,
    );
  };
  assert.deepEqual(choices(SEED), choices(SEED));
  assert.notDeepEqual(choices(SEED), choices(SEED + 1));
});

test("SourceIP distribution keeps a client on one node whatever its ports; Default does not", () => {
  const nodesOf = (mode: "Default" | "SourceIP") => {
    const lb = fabric({ nodes: [A, B, C], loadDistribution: mode });
    return new Set(
      Array.from(
        { length: 50 },
        (_, i) => forwarded(lb.route(syn("109.125.120.58", 50000 + i), 0)).backend.nodeIpText,
      ),
    );
  };
  assert.equal(nodesOf("SourceIP").size, 1);
  assert.equal(nodesOf("Default").size, 3);
});

/** A client port whose flow the LB sends to `node`. */
function flowTo(lb: AzureLbFabric, node: string, now: number): number {
  for (let port = 20000; ; port++) {
    const r = forwarded(lb.route(syn("109.125.120.58", port), now));
    if (r.backend.nodeIpText === node) return port;
  }
}

for (const sku of ["Standard", "Basic"] as const) {
  test(`${sku}: an established TCP flow keeps its node when it goes down; all nodes down ${sku === "Basic" ? "ends it" : "keeps it"}`, () => {
    let down = new Set<string>();
    const lb = fabric({ nodes: [A, B, C], sku }, (t) => (down.has(t.nodeIp) ? "down" : "up"));
    const port = flowTo(lb, B, 0);
    const ack = { ...syn("109.125.120.58", port), tcpFlags: TCP.ACK };
    down = new Set([B]);
    const one = forwarded(lb.route(ack, 20_000));
    assert.equal(one.backend.nodeIpText, B);
    assert.equal(one.flow, "established");
    assert.equal(one.healthy, 2);
    down = new Set([A, B, C]);
    const all = lb.route(ack, 40_000);
    if (sku === "Standard") {
      assert.equal(forwarded(all).backend.nodeIpText, B);
    } else {
      assert.equal(all.verdict === "dropped" && all.reason, "no-healthy-backend");
      assert.equal(
        lb.flowTable(40_000).some((f) => f.clientPort === port),
        false,
      );
    }
    // New flows have nowhere to go either way.
    const fresh = lb.route(syn("109.125.120.58", 9), 40_000);
    assert.equal(fresh.verdict === "dropped" && fresh.reason, "no-healthy-backend");
  });
}

test("a UDP flow moves to a healthy node when its node goes down", () => {
  let down = false;
  const lb = fabric({ nodes: [A, B, C], protocol: "Udp" }, (t) => (down && t.nodeIp === B ? "down" : "up"));
  let port = 30000;
  while (
    forwarded(lb.route(syn("109.125.120.58", port, SEED_VIP, 80, PROTO.udp), 0)).backend.nodeIpText !== B
  )
    port++;
  down = true;
  const moved = forwarded(lb.route(syn("109.125.120.58", port, SEED_VIP, 80, PROTO.udp), 20_000));
  assert.equal(moved.flow, "moved");
  assert.notEqual(moved.backend.nodeIpText, B);
  const again = forwarded(lb.route(syn("109.125.120.58", port, SEED_VIP, 80, PROTO.udp), 21_000));
  assert.equal(again.flow, "established");
  assert.equal(again.backend, moved.backend);
});

test("flows end after the rule's idle timeout (4 minutes); Standard resets them", () => {
  const lb = fabric({ nodes: [A, B, C], sku: "Standard" });
  lb.route(syn("109.125.120.58", 51535), 0);
  assert.equal(
    forwarded(lb.route({ ...syn("109.125.120.58", 51535), tcpFlags: TCP.ACK }, 239_999)).flow,
    "established",
  );
  assert.equal(lb.flowTable(239_999 + 239_999).length, 1);
  const expired = lb.expire(239_999 + 240_000);
  assert.equal(expired.length, 1);
  assert.equal(expired[0]!.tcpReset, true);
  assert.equal(lb.flowTable(0).length, 0);
  // A later segment has no flow state and is balanced afresh.
  assert.equal(
    forwarded(lb.route({ ...syn("109.125.120.58", 51535), tcpFlags: TCP.ACK }, 600_000)).flow,
    "new",
  );
  const basic = fabric({ sku: "Basic" });
  basic.route(syn("109.125.120.58", 1), 0);
  assert.equal(basic.expire(240_000)[0]!.tcpReset, false);
});

test("floating IP off: only the flow's own node can answer for it", () => {
  const lb = fabric({ nodes: [A, B, C], floatingIp: false });
  const r = forwarded(lb.route(syn("109.125.120.58", 51535), 0));
  const from = (node: string) =>
    lb.reply(
      makePacket({
        family: 4,
        proto: PROTO.tcp,
        src: ip(node),
        dst: ip("109.125.120.58"),
        sport: 80,
        dport: 51535,
      }),
      1,
    ).verdict;
  assert.equal(from(r.backend.nodeIpText), "rewritten");
  for (const other of [A, B, C].filter((n) => n !== r.backend.nodeIpText))
    assert.equal(from(other), "not-lb-flow");
});
