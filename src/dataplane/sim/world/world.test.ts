import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { buildTwin } from "../../../controlplane/build-twin.ts";
import { seedCluster, seedLocal } from "../../../controlplane/testdata/seed-scenario.ts";
import { formatIpv4 } from "../../../core/ip.ts";
import { seededRng } from "../../../core/rng.ts";
import { TCP } from "../../../model/packet.ts";
import type { Twin } from "../../../model/twin.ts";
import { formatConntrackList } from "../../../outputs/render/conntrack-list.ts";
import { whereamiRemoteAddress } from "../endpoints/apps/whereami.ts";
import { curlRequest, parseResponse } from "../endpoints/http.ts";
import { LINUX_2019, WINDOWS_CORPNET, WINDOWS_LAPTOP } from "../endpoints/os-profile.ts";
import { tcpFrame } from "../endpoints/segment.ts";
import { connect } from "./connect.ts";
import { type ProbeRecord, probeAnswerer } from "./probe-answer.ts";
import { ip, tcpTo } from "./testdata/traffic.ts";
import type { Place } from "./types.ts";
import { World } from "./world.ts";

const NODE = "aks-nodepool1-31351229-0";
const laptop = { kind: "host", name: "laptop" } as const;

function world(twin: Twin, log?: ProbeRecord[]): { w: World; start: number } {
  const start = twin.now * 1_000_000;
  return { w: new World(twin, { seed: 11, start, probe: probeAnswerer(11, log) }), start };
}

function get(w: World, from: Place, to: string, port: number, now: number, sport = 51535) {
  return tcpTo(w, from, to, port, sport, now, {
    profile: from.kind === "host" ? WINDOWS_LAPTOP : LINUX_2019,
  });
}

describe("seed-cluster (externalTrafficPolicy Cluster)", () => {
  const twin = buildTwin(seedCluster);

  it("the laptop's GET to the VIP completes; whereami sees the node's address; conntrack has the seed's shape", () => {
    const { w, start } = world(twin);
    const now = start + 10_000_000;
    const c = get(w, laptop, "51.144.176.251", 80, now);
    assert.equal(c.result.outcome, "completed");
    const res = parseResponse(c.result.client.received)!;
    assert.equal(res.status, 200);
    assert.equal(whereamiRemoteAddress(res.body), "10.13.76.4");
    const lines = formatConntrackList(
      w.nodes.get(NODE)!.conntrack.list(),
      Math.floor(c.result.end / 1000),
    ).stdout;
    assert.match(
      lines,
      /src=109\.125\.120\.58 dst=51\.144\.176\.251 sport=51535 dport=80 .*src=10\.13\.76\.(7|26) dst=10\.13\.76\.4 sport=80 dport=\d+/,
    );
    // The SYN's walk: LB (VIP kept), eth0, azure0, DNAT + MASQUERADE, the pod's veth, the pod.
    const syn = c.sends[0]!;
    assert.ok(syn.delivered && syn.delivered.at.kind === "pod");
    const nat = syn.hops.find((h) => h.steps.length > 0)!;
    assert.equal(nat.verdict, "forwarded");
    assert.equal(formatIpv4(nat.after.packet.src as number), "10.13.76.4");
    assert.match(formatIpv4(nat.after.packet.dst as number), /^10\.13\.76\.(7|26)$/);
    assert.ok(nat.conntrack !== null);
  });

  it("eth0's capture: the VIP is the request's destination and the reply's source (DSR, floating IP)", () => {
    const { w, start } = world(twin);
    get(w, laptop, "51.144.176.251", 80, start + 10_000_000, 50001);
    const frames = w.captures
      .get(NODE, "eth0")
      .frames.filter((f) => f.packet.sport === 50001 || f.packet.dport === 50001);
    const vip = ip("51.144.176.251");
    const inbound = frames.filter((f) => f.packet.src === ip("109.125.120.58"));
    const outbound = frames.filter((f) => f.packet.dst === ip("109.125.120.58"));
    assert.ok(inbound.length >= 3 && outbound.length >= 3);
    assert.ok(inbound.every((f) => f.packet.dst === vip && f.packet.dport === 80));
    assert.ok(outbound.every((f) => f.packet.src === vip && f.packet.sport === 80));
    assert.equal(outbound[0]!.packet.tcpFlags, TCP.SYN | TCP.ACK);
    // Every frame was also seen on the pod's side with the pod's address.
    const podFrames = w.captures.all().filter((c) => c.where.startsWith(`${NODE}/default/whereami`));
    assert.ok(podFrames.some((c) => c.frames.length > 0));
  });

  it("over many source ports both pods answer, about half each", () => {
    const { w, start } = world(twin);
    const hits = new Map<string, number>();
    const n = 400;
    for (let i = 0; i < n; i++) {
      const sport = 20000 + i;
      const f = tcpFrame(
        {
          time: start + 1_000_000 + i * 1000,
          srcMac: "00:11:22:33:44:55",
          dstMac: "12:34:56:78:9a:bc",
          ipId: i,
          ttl: 128,
          dontFragment: true,
        },
        {
          src: { ip: ip("109.125.120.58"), port: sport },
          dst: { ip: ip("51.144.176.251"), port: 80 },
          flags: TCP.SYN,
          seq: i * 7919,
          ack: 0,
          window: 64240,
          options: [],
          payload: new Uint8Array(0),
        },
      );
      const r = w.send(f, laptop);
      assert.ok(r.delivered, `SYN from port ${sport}: ${r.fate}`);
      const at = r.delivered.at;
      const name = at.kind === "pod" ? at.pod : "?";
      hits.set(name, (hits.get(name) ?? 0) + 1);
    }
    assert.deepEqual([...hits.keys()].sort(), [
      "default/whereami-564765b89-j7bpw",
      "default/whereami-564765b89-qfq2k",
    ]);
    for (const count of hits.values()) assert.ok(count > n * 0.4 && count < n * 0.6, `${count} of ${n}`);
  });

  it("a client that keeps its connection open (a browser) is left in CLOSE_WAIT when httpd closes it", () => {
    const { w, start } = world(twin);
    const c = connect(w, {
      from: laptop,
      sport: 51600,
      to: { ip: ip("51.144.176.251"), port: 80 },
      request: curlRequest("51.144.176.251", 80, "/"),
      now: start + 10_000_000,
      rng: seededRng(3),
      profile: WINDOWS_LAPTOP,
      closeAfterResponse: false,
      closeOnPeerFin: false,
    });
    assert.equal(parseResponse(c.result.client.received)?.status, 200);
    assert.equal(c.result.client.state, "CLOSE_WAIT");
    const lines = formatConntrackList(
      w.nodes.get(NODE)!.conntrack.list(),
      Math.floor(c.result.end / 1000),
    ).stdout;
    assert.match(lines, /CLOSE_WAIT src=109\.125\.120\.58 dst=51\.144\.176\.251 sport=51600/);
  });

  it("the LB's Tcp probe on node port 30064 completes through the node's NAT", () => {
    const log: ProbeRecord[] = [];
    const { w, start } = world(twin, log);
    w.fabric.probes!.advance(Math.floor(start / 1000) + 20_000);
    assert.ok(log.length >= 3);
    assert.ok(log.every((p) => p.port === 30064 && p.outcome === "completed" && p.result === "up"));
    // The probe came in on eth0 from 168.63.129.16 to the node itself.
    const probe = w.captures.get(NODE, "eth0").frames.find((f) => f.packet.src === ip("168.63.129.16"));
    assert.ok(probe && probe.packet.dst === ip("10.13.76.4") && probe.packet.dport === 30064);
  });

  it("the node curls its own node port (OUTPUT path, DNAT to a pod)", () => {
    const { w, start } = world(twin);
    const c = get(w, { kind: "node", node: NODE }, "10.13.76.4", 30064, start + 1_000_000, 40000);
    assert.equal(c.result.outcome, "completed");
    assert.equal(parseResponse(c.result.client.received)?.status, 200);
    assert.equal(c.sends[0]!.delivered?.at.kind, "pod");
  });

  it("a pod reaches its own service's ClusterIP (hairpin: masqueraded)", () => {
    const { w, start } = world(twin);
    const pod = { kind: "pod", node: NODE, pod: "default/whereami-564765b89-j7bpw" } as const;
    let sawSelf = false;
    for (let sport = 33000; sport < 33040 && !sawSelf; sport++) {
      const c = get(w, pod, "10.0.159.58", 80, start + 1_000_000 + sport * 10_000, sport);
      assert.equal(c.result.outcome, "completed");
      const at = c.sends[0]!.delivered?.at;
      if (at?.kind === "pod" && at.pod === pod.pod) {
        sawSelf = true;
        // KUBE-SEP's `-s <endpoint> -j KUBE-MARK-MASQ`: the pod sees the node's bridge address.
        assert.equal(whereamiRemoteAddress(parseResponse(c.result.client.received)!.body), "10.13.76.4");
      }
    }
    assert.ok(sawSelf);
  });
});

describe("seed-local (externalTrafficPolicy Local)", () => {
  const twin = buildTwin(seedLocal);
  const corpnet = { kind: "host", name: "laptop" } as const;

  it("the laptop's GET completes and whereami sees the client's own address", () => {
    const { w, start } = world(twin);
    const c = connect(w, {
      from: corpnet,
      sport: 61234,
      to: { ip: ip("13.93.66.174"), port: 80 },
      request: curlRequest("13.93.66.174", 80, "/"),
      now: start + 10_000_000,
      rng: seededRng(5),
      profile: WINDOWS_CORPNET,
    });
    assert.equal(c.result.outcome, "completed");
    assert.equal(whereamiRemoteAddress(parseResponse(c.result.client.received)!.body), "167.220.196.180");
    const out = w.captures.get(NODE, "eth0").frames.filter((f) => f.packet.dst === ip("167.220.196.180"));
    assert.ok(out.length > 0 && out.every((f) => f.packet.src === ip("13.93.66.174")));
  });

  it("the LB's Http probe of the health check port 32364 gets 200 with 2 local endpoints", () => {
    const log: ProbeRecord[] = [];
    const { w, start } = world(twin, log);
    w.fabric.probes!.advance(Math.floor(start / 1000) + 12_000);
    assert.ok(log.length >= 2);
    assert.ok(log.every((p) => p.port === 32364 && p.status === 200 && p.result === "up"));
    const c = get(w, { kind: "fabric", name: "wireserver" }, "10.13.76.4", 32364, start + 20_000_000, 49999);
    const body = parseResponse(c.result.client.received)?.body ?? "";
    assert.match(body, /"localEndpoints": 2/);
  });
});

describe("transparent mode and determinism", () => {
  it("transparent mode (/32 routes to the azv devices): the GET completes, masqueraded", () => {
    const twin = buildTwin({ ...seedCluster, cluster: { ...seedCluster.cluster, cniMode: "transparent" } });
    const { w, start } = world(twin);
    const c = get(w, laptop, "51.144.176.251", 80, start + 10_000_000);
    assert.equal(c.result.outcome, "completed");
    assert.equal(whereamiRemoteAddress(parseResponse(c.result.client.received)!.body), "10.13.76.4");
    const toPod = c.sends[0]!.hops.find((h) => h.where.kind === "node" && h.direction === "out")!;
    assert.match(toPod.iface ?? "", /^azv/);
  });

  it("the same seed gives the same captures", () => {
    const twin = buildTwin(seedCluster);
    const run = () => {
      const { w, start } = world(twin);
      for (let i = 0; i < 5; i++) get(w, laptop, "51.144.176.251", 80, start + i * 1_000_000, 40000 + i);
      return w.captures
        .all()
        .map(
          (c) =>
            `${c.where} ${c.iface} ${c.frames.map((f) => `${f.time}:${f.packet.src}>${f.packet.dst}:${f.tcp?.seq}`).join(",")}`,
        );
    };
    assert.deepEqual(run(), run());
  });
});
