import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { buildTwin } from "../../../controlplane/build-twin.ts";
import { seedCluster } from "../../../controlplane/testdata/seed-scenario.ts";
import { parseIpv4 } from "../../../core/ip.ts";
import { seededRng } from "../../../core/rng.ts";
import type { Frame } from "../../../model/frame.ts";
import { TCP } from "../../../model/packet.ts";
import type { Twin } from "../../../model/twin.ts";
import { parseResponse } from "../endpoints/http.ts";
import { LINUX_2019, WINDOWS_LAPTOP } from "../endpoints/os-profile.ts";
import { text } from "../endpoints/segment.ts";
import { browse } from "./browser.ts";
import { probeAnswerer } from "./probe-answer.ts";
import { aksToday } from "./testdata/twins.ts";
import { type Timed, Timeline } from "./timeline.ts";
import { World } from "./world.ts";

const ip = (s: string): number => parseIpv4(s)!;
const NODE = "aks-nodepool1-31351229-0";
const WIRE = ip("168.63.129.16");
const VIP = ip("51.144.176.251");
const S = 1_000_000;

function world(twin: Twin): { w: World; start: number } {
  const start = twin.now * S;
  return { w: new World(twin, { seed: 11, start, probe: probeAnswerer(11) }), start };
}

const eth0 = (w: World, node = NODE): readonly Frame[] => w.captures.get(node, "eth0").frames;
const syns = (frames: readonly Frame[], dst: number) =>
  frames.filter((f) => f.packet.dst === dst && f.packet.tcpFlags === TCP.SYN);

describe("the timeline: what runs by itself as the clock moves", () => {
  it("runs its items' events in time order, ties in the order they were added", () => {
    const log: string[] = [];
    const item = (name: string, times: number[]): Timed => ({
      nextTime: () => times[0] ?? null,
      step: () => log.push(`${name}@${times.shift()}`),
      done: () => times.length === 0,
    });
    const t = new Timeline(0);
    t.add(item("a", [1, 5, 9]));
    t.add(item("b", [5, 6]));
    t.advance(6);
    assert.deepEqual(log, ["a@1", "a@5", "b@5", "b@6"]);
    assert.equal(t.now, 6);
    t.advance(100);
    assert.deepEqual(log.slice(4), ["a@9"]);
  });
});

describe("a node's guest agent polling the wire server (seed lines 280-286)", () => {
  const twin = buildTwin(seedCluster);

  it("nothing happens until the clock is advanced", () => {
    const { w, start } = world(twin);
    assert.equal(eth0(w).length, 0);
    w.advance(start + 30 * S);
    assert.ok(syns(eth0(w), WIRE).length > 0);
  });

  it("every 3 s (WALinuxAgent 2.2's GOAL_STATE_INTERVAL), one connection each, left in TIME_WAIT", () => {
    const { w, start } = world(twin);
    w.advance(start + 60 * S);
    const polls = syns(eth0(w), WIRE);
    const gaps = polls.slice(1).map((f, i) => f.time - polls[i]!.time);
    assert.ok(polls.length >= 19 && polls.length <= 20, `${polls.length} polls in a minute`);
    assert.ok(gaps.every((g) => g === 3 * S + 2_000));
    // From the node itself, not masqueraded, each on its own ephemeral port.
    assert.ok(polls.every((f) => f.packet.src === ip("10.13.76.4") && f.packet.dport === 80));
    assert.equal(new Set(polls.map((f) => f.packet.sport)).size, polls.length);
    const answers = eth0(w).filter((f) => f.packet.src === WIRE && f.payload.length > 0);
    assert.equal(answers.length, polls.length);
    assert.ok(answers.every((f) => f.payload.length === 2391 && f.packet.tcpFlags & TCP.FIN));
    assert.match(text(answers[0]!.payload), /^HTTP\/1\.1 200 OK\r\n/);
    const entries = w.nodes
      .get(NODE)!
      .conntrack.list()
      .filter((e) => e.orig.dst === WIRE);
    assert.ok(entries.length > 0);
    assert.ok(entries.every((e) => e.tcpState === "TIME_WAIT" && e.reply.dst === ip("10.13.76.4")));
  });

  it("today's agent waits 6 s (Extensions.GoalStatePeriod), on every node", () => {
    const today = aksToday();
    const { w, start } = world(today);
    w.advance(start + 60 * S);
    for (const node of today.nodes) {
      const polls = syns(eth0(w, node.name), WIRE);
      assert.ok(polls.length >= 9 && polls.length <= 10, `${node.name}: ${polls.length} polls`);
      assert.equal(polls[1]!.time - polls[0]!.time, 6 * S + 2_000);
    }
  });

  it("a jump of the clock runs the polls of its last three minutes only", () => {
    const { w, start } = world(twin);
    w.advance(start + 3600 * S);
    const polls = syns(eth0(w), WIRE);
    assert.ok(polls.length >= 59 && polls.length <= 60, `${polls.length} polls`);
    assert.ok(polls[0]!.time >= start + 3420 * S);
  });
});

describe("a browser opening the VIP (seed lines 190-192)", () => {
  const twin = buildTwin(seedCluster);
  const laptop = { kind: "host", name: "laptop" } as const;

  function open(profile = WINDOWS_LAPTOP) {
    const { w, start } = world(twin);
    const now = start + 10 * S;
    w.advance(now);
    const b = browse(w, {
      from: laptop,
      sport: 51535,
      to: { ip: VIP, port: 80 },
      host: "51.144.176.251",
      path: "/",
      now,
      rng: seededRng(5),
      profile,
    });
    for (const c of b.connections) w.timeline.add(c);
    w.advance(now + 2 * S);
    return { w, b, now };
  }

  const fromLaptop = (w: World) => eth0(w).filter((f) => f.packet.src === ip("109.125.120.58"));
  const entries = (w: World) =>
    w.nodes
      .get(NODE)!
      .conntrack.list()
      .filter((e) => e.orig.dst === VIP);

  it("two connections from adjacent ports: the page, and a preconnected one that fetches its stylesheet", () => {
    const { w, b, now } = open();
    const ports = syns(fromLaptop(w), VIP).map((f) => f.packet.sport);
    assert.deepEqual(ports, [51535, 51536]);
    const requests = fromLaptop(w)
      .filter((f) => f.payload.length > 0)
      .map((f) => [f.packet.sport, text(f.payload).split("\r\n")[0]]);
    assert.deepEqual(requests, [
      [51535, "GET / HTTP/1.1"],
      [51536, "GET /styles.css HTTP/1.1"],
    ]);
    const [page] = b.connections;
    assert.equal(parseResponse(page!.run.result().responses[0]!.bytes)?.status, 200);
    assert.ok(b.loadedAt()! > now);
    assert.deepEqual(
      entries(w).map((e) => e.tcpState),
      ["ESTABLISHED", "ESTABLISHED"],
    );
  });

  it("never closes: httpd's keep-alive timeout (5 s) leaves both in CLOSE_WAIT", () => {
    const { w, now } = open();
    w.advance(now + 20 * S);
    assert.deepEqual(
      entries(w).map((e) => e.tcpState),
      ["CLOSE_WAIT", "CLOSE_WAIT"],
    );
    assert.ok(fromLaptop(w).every((f) => !(f.packet.tcpFlags & TCP.FIN)));
    const fins = eth0(w).filter((f) => f.packet.dst === ip("109.125.120.58") && f.packet.tcpFlags & TCP.FIN);
    assert.equal(fins.length, 2);
  });

  it("a Linux browser's second connection is two ports further (connect() takes every second port)", () => {
    const { w } = open(LINUX_2019);
    assert.deepEqual(
      syns(fromLaptop(w), VIP).map((f) => f.packet.sport),
      [51535, 51537],
    );
  });
});
