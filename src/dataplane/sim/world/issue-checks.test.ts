import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { buildTwin } from "../../../controlplane/build-twin.ts";
import { seedCluster, seedLocal } from "../../../controlplane/testdata/seed-scenario.ts";
import { toNumber } from "../../../core/dyadic.ts";
import { formatIpv4 } from "../../../core/ip.ts";
import { TCP } from "../../../model/packet.ts";
import type { Twin } from "../../../model/twin.ts";
import { formatConntrackList } from "../../../outputs/render/conntrack-list.ts";
import { whereamiRemoteAddress } from "../endpoints/apps/whereami.ts";
import { parseResponse } from "../endpoints/http.ts";
import { tcpFrame } from "../endpoints/segment.ts";
import { probeThreshold } from "../fabric/topology.ts";
import { type ProbeRecord, probeAnswerer } from "./probe-answer.ts";
import { ip, tcpTo } from "./testdata/traffic.ts";
import { aksToday, NODE_A, TODAY_NODE_A, twoNodeLocal, twoNodeLocalToday } from "./testdata/twins.ts";
import type { Place, SendResult } from "./types.ts";
import { placeFor, walkPaths } from "./walk-paths.ts";
import { World } from "./world.ts";

/** The checks of the data plane's issue: who sees which source, the Local probes, the in-cluster paths. */

function syn(time: number, src: { ip: number; port: number }, dst: { ip: number; port: number }) {
  return tcpFrame(
    { time, srcMac: "00:11:22:33:44:55", dstMac: "12:34:56:78:9a:bc", ipId: 1, ttl: 128, dontFragment: true },
    { src, dst, flags: TCP.SYN, seq: 1000, ack: 0, window: 64240, options: [], payload: new Uint8Array(0) },
  );
}

/** The node an LB-balanced frame reached first. */
const nodeReached = (r: SendResult): string | null => {
  const h = r.hops.find((x) => x.where.kind === "node");
  return h && h.where.kind === "node" ? h.where.node : null;
};

function walkFromLaptop(twin: Twin, vip: string) {
  const laptop = placeFor(twin, "laptop")!;
  return walkPaths(twin, {
    from: laptop.place,
    ip: laptop.ip,
    sport: 51535,
    to: { ip: ip(vip), port: 80 },
    proto: "tcp",
    seed: 7,
  }).paths;
}

describe("the source a pod sees: Cluster against Local (the seed)", () => {
  it("Cluster: each pod with probability 1/2 sees the node 10.13.76.4; the reply tuple's destination is the node", () => {
    const paths = walkFromLaptop(buildTwin(seedCluster), "51.144.176.251");
    assert.deepEqual(paths.map((p) => formatIpv4(p.request.delivered!.frame.packet.dst as number)).sort(), [
      "10.13.76.26",
      "10.13.76.7",
    ]);
    for (const p of paths) {
      assert.equal(toNumber(p.probability), 0.5);
      assert.equal(formatIpv4(p.request.delivered!.frame.packet.src as number), "10.13.76.4");
      const ct = formatConntrackList(
        p.world.nodes.get(NODE_A)!.conntrack.list(),
        Math.floor(p.time / 1000),
      ).stdout;
      assert.match(
        ct,
        /src=109\.125\.120\.58 dst=51\.144\.176\.251 sport=51535 dport=80 .* dst=10\.13\.76\.4 sport=80/,
      );
    }
  });

  it("Cluster on three nodes: a pod on another node sees the node the LB chose, masqueraded once", () => {
    // The mark KUBE-MARK-MASQ sets stays on that node (skb_scrub_packet): the pod's node forwards the
    // packet without masquerading it again.
    const twin = buildTwin({ ...seedCluster, cluster: { ...seedCluster.cluster, nodeCount: 3 } });
    const paths = walkFromLaptop(twin, "51.144.176.251");
    const nodeIp = new Map(twin.nodes.map((n) => [n.name, n.ip]));
    let crossed = 0;
    for (const p of paths) {
      const lbNode = nodeReached(p.request)!;
      const delivered = p.request.delivered!;
      assert.equal(formatIpv4(delivered.frame.packet.src as number), nodeIp.get(lbNode));
      if (delivered.at.kind === "pod" && delivered.at.node !== lbNode) crossed++;
    }
    assert.ok(crossed > 0, "some path crosses from the LB's node to a pod on another node");
  });

  it("Local: each pod with probability 1/2 sees the client's address, kept in the reply tuple", () => {
    const paths = walkFromLaptop(buildTwin(seedLocal), "13.93.66.174");
    assert.deepEqual(paths.map((p) => formatIpv4(p.request.delivered!.frame.packet.dst as number)).sort(), [
      "10.13.76.15",
      "10.13.76.30",
    ]);
    for (const p of paths) {
      assert.equal(toNumber(p.probability), 0.5);
      assert.equal(p.outcome, "completed");
      assert.equal(formatIpv4(p.request.delivered!.frame.packet.src as number), "167.220.196.180");
      const ct = formatConntrackList(
        p.world.nodes.get(NODE_A)!.conntrack.list(),
        Math.floor(p.time / 1000),
      ).stdout;
      assert.match(
        ct,
        /src=167\.220\.196\.180 dst=13\.93\.66\.174 .* dst=167\.220\.196\.180 sport=80 dport=51535/,
      );
    }
  });
});

for (const c of [
  { era: "the seed's 1.11 (Basic LB)", build: twoNodeLocal, nodeA: NODE_A, service: "whereami" },
  { era: "today's (Standard LB)", build: twoNodeLocalToday, nodeA: TODAY_NODE_A, service: "web-local" },
]) {
  describe(`Local on two nodes, pods on one, ${c.era}: the LB stops choosing the other node once its probe fails`, () => {
    const twin = c.build();
    const nodeB = twin.nodes.find((n) => n.name !== c.nodeA)!;
    const svc = twin.k8s.services.find((s) => s.meta.name === c.service)!;
    const vip = { ip: ip(svc.loadBalancerIngress[0]!), port: 80 };
    const laptop: Place = { kind: "host", name: "laptop" };
    const client = ip(twin.hosts.find((h) => h.name === "laptop")!.ip);
    const start = twin.now * 1_000_000;
    const probe = twin.azure.loadBalancers
      .flatMap((lb) => lb.probes)
      .find((p) => p.port === svc.healthCheckNodePort)!;

    it("B's /healthz answers 503 until B is marked down; new flows then all go to A, B's old flows stay on B", () => {
      const log: ProbeRecord[] = [];
      const w = new World(twin, { seed: 11, start, probe: probeAnswerer(11, log) });
      // Before any probe has failed twice, flows hash over both nodes.
      const early = new Map<number, SendResult>();
      for (let i = 0; i < 24; i++)
        early.set(
          20000 + i,
          w.send(syn(start + 100_000 + i * 1000, { ip: client, port: 20000 + i }, vip), laptop),
        );
      const toB = [...early].filter(([, r]) => nodeReached(r) === nodeB.name);
      assert.ok(toB.length > 0 && toB.length < 24, `${toB.length} of 24 early flows went to B`);
      if (twin.nodes[0]!.kubeProxy.layout === "current") {
        // KUBE-EXTERNAL-SERVICES: "has no local endpoints" drops them on B.
        for (const [, r] of toB) assert.match(r.hops.at(-1)!.note, /DROP in filter FORWARD/);
      }

      // About 10 s of virtual time: B's health check (kube-proxy, no local endpoint) answers 503.
      const after = start + 20_000_000;
      w.fabric.probes!.advance(Math.floor(after / 1000));
      const onB = log.filter((p) => p.nodeIp === nodeB.ip && p.port === probe.port);
      assert.ok(onB.length >= 2);
      assert.ok(onB.every((p) => p.status === 503 && p.result === "down"));
      assert.ok(
        log.filter((p) => p.port === probe.port && p.nodeIp !== nodeB.ip).every((p) => p.status === 200),
      );
      const down = w.fabric.probes!.events.find(
        (e) => e.nodeIp === nodeB.ip && e.port === probe.port && e.changed,
      );
      assert.ok(down && down.state === "down");
      // Marked down at the threshold's failure in a row, within two intervals of the start.
      assert.equal(down.consecutive, probeThreshold(probe));
      assert.ok(down.time - Math.floor(start / 1000) <= 2 * probe.intervalInSeconds * 1000);

      // New flows: every one to A, answered by a pod there.
      for (let i = 0; i < 24; i++) {
        const r = w.send(syn(after + i * 1000, { ip: client, port: 30000 + i }, vip), laptop);
        assert.equal(nodeReached(r), c.nodeA);
        assert.equal(r.delivered?.at.kind, "pod");
      }
      // A flow that started on B keeps its backend (Azure does not move established flows).
      const [old] = toB[0]!;
      const again = w.send(syn(after + 50_000, { ip: client, port: old }, vip), laptop);
      assert.equal(nodeReached(again), nodeB.name);
      assert.match(again.hops.find((h) => h.where.kind === "fabric")!.note, /established flow/);
    });

    it("a connection made to A before B went down keeps going after", () => {
      const w = new World(twin, { seed: 11, start, probe: probeAnswerer(11) });
      let sport = 40000;
      let first: SendResult | null = null;
      for (; sport < 40050; sport++) {
        first = w.send(syn(start + 100_000, { ip: client, port: sport }, vip), laptop);
        if (nodeReached(first) === c.nodeA) break;
      }
      assert.equal(first?.delivered?.at.kind, "pod");
      const atPod = first!.delivered!.frame;
      // The pod's SYN-ACK, then 20 s later (B is down by then) the client's ACK of the same flow.
      const synAck = tcpFrame(
        {
          time: start + 200_000,
          srcMac: "00:00:00:00:00:00",
          dstMac: "00:00:00:00:00:00",
          ipId: 0,
          ttl: 64,
          dontFragment: true,
        },
        {
          src: { ip: atPod.packet.dst as number, port: 80 },
          dst: { ip: atPod.packet.src as number, port: atPod.packet.sport },
          flags: TCP.SYN | TCP.ACK,
          seq: 5000,
          ack: 1001,
          window: 64240,
          options: [],
          payload: new Uint8Array(0),
        },
      );
      const pod = first!.delivered!.at;
      assert.deepEqual(w.send(synAck, pod).delivered?.at, laptop);
      const ack = tcpFrame(
        {
          time: start + 20_000_000,
          srcMac: "00:11:22:33:44:55",
          dstMac: "12:34:56:78:9a:bc",
          ipId: 2,
          ttl: 128,
          dontFragment: true,
        },
        {
          src: { ip: client, port: sport },
          dst: vip,
          flags: TCP.ACK,
          seq: 1001,
          ack: 5001,
          window: 515,
          options: [],
          payload: new Uint8Array(0),
        },
      );
      const r = w.send(ack, laptop);
      assert.ok(
        w.fabric.probes!.events.some(
          (e) => e.nodeIp === nodeB.ip && e.changed && e.time <= 20_000 + Math.floor(start / 1000),
        ),
      );
      assert.deepEqual(r.delivered?.at, pod);
      assert.equal(r.hops.find((h) => h.steps.length > 0)?.ctState, "ESTABLISHED");
    });
  });
}

describe("paths inside the cluster", () => {
  it("a pod calling its own service in transparent mode is masqueraded to its node's address", () => {
    const twin = aksToday();
    const pod = twin.k8s.pods.find((p) => p.meta.name.startsWith("web-"))!;
    const node = twin.nodes.find((n) => n.name === pod.nodeName)!;
    const me = placeFor(twin, pod.meta.name)!;
    const svc = twin.k8s.services.find((s) => s.meta.name === "web-internal")!;
    const { paths } = walkPaths(twin, {
      from: me.place,
      ip: me.ip,
      sport: 40500,
      to: { ip: ip(svc.clusterIP), port: 8080 },
      proto: "tcp",
      seed: 3,
    });
    const self = paths.find(
      (p) => formatIpv4(p.request.delivered!.frame.packet.dst as number) === pod.podIP,
    )!;
    // KUBE-SEP's `-s <endpoint> -j KUBE-MARK-MASQ`: the pod sees its node (MASQUERADE out of its veth).
    assert.equal(formatIpv4(self.request.delivered!.frame.packet.src as number), node.ip);
    assert.equal(self.outcome, "completed");
    // Another endpoint sees the pod itself (no masquerade inside the cluster's range).
    const other = paths.find((p) => p !== self)!;
    assert.equal(formatIpv4(other.request.delivered!.frame.packet.src as number), pod.podIP);
    assert.equal(other.outcome, "completed");
  });

  it("a pod reaches a ClusterIP; the server sees the pod's own address", () => {
    const twin = buildTwin(seedCluster);
    const w = new World(twin, { seed: 2, start: twin.now * 1_000_000 });
    const dns = twin.k8s.pods.find((p) => p.meta.name.startsWith("heapster"))!;
    const from: Place = { kind: "pod", node: NODE_A, pod: `${dns.meta.namespace}/${dns.meta.name}` };
    const c = tcpTo(w, from, "10.0.159.58", 80, 41500, twin.now * 1_000_000 + 1_000_000);
    assert.equal(c.result.outcome, "completed");
    assert.equal(whereamiRemoteAddress(parseResponse(c.result.client.received)!.body), dns.podIP);
  });

  it("a node reaches another node's node port", () => {
    const twin = aksToday();
    const w = new World(twin, { seed: 2, start: twin.now * 1_000_000 });
    const [a, b] = twin.nodes;
    const port = twin.k8s.services.find((s) => s.meta.name === "web-cluster")!.ports[0]!.nodePort;
    const c = tcpTo(w, { kind: "node", node: a!.name }, b!.ip, port, 41600, twin.now * 1_000_000 + 1_000_000);
    assert.equal(c.result.outcome, "completed");
    assert.equal(c.sends[0]!.delivered?.at.kind, "pod");
    assert.equal(parseResponse(c.result.client.received)?.status, 200);
  });

  it("the jump VM reaches a pod's address; the pod sees the VM's own address", () => {
    const twin = buildTwin(seedCluster);
    const w = new World(twin, { seed: 2, start: twin.now * 1_000_000 });
    const c = tcpTo(
      w,
      { kind: "host", name: "testvm" },
      "10.13.76.26",
      80,
      41700,
      twin.now * 1_000_000 + 1_000_000,
    );
    assert.equal(c.result.outcome, "completed");
    assert.equal(whereamiRemoteAddress(parseResponse(c.result.client.received)!.body), "10.13.1.4");
  });

  for (const [era, build, rule] of [
    ["2019 (the AKS masquerade rule)", () => buildTwin(seedCluster), "POSTROUTING"],
    ["today (ip-masq-agent)", () => aksToday(), "IP-MASQ-AGENT"],
  ] as const) {
    it(`a pod's packet to the internet leaves with its node's address, ${era}`, () => {
      const twin = build();
      const w = new World(twin, { seed: 2, start: twin.now * 1_000_000 });
      const pod = twin.k8s.pods.find((p) => !p.hostNetwork && p.app.kind !== "none")!;
      const node = twin.nodes.find((n) => n.name === pod.nodeName)!;
      const laptop = twin.hosts.find((h) => h.kind === "internet")!;
      const from: Place = { kind: "pod", node: node.name, pod: `${pod.meta.namespace}/${pod.meta.name}` };
      const r = w.send(
        syn(
          twin.now * 1_000_000 + 1_000_000,
          { ip: ip(pod.podIP), port: 41800 },
          { ip: ip(laptop.ip), port: 443 },
        ),
        from,
      );
      assert.deepEqual(r.delivered?.at, { kind: "host", name: laptop.name });
      assert.equal(formatIpv4(r.delivered!.frame.packet.src as number), node.ip);
      const nat = r.hops.find((h) => h.steps.length > 0)!;
      assert.ok(nat.hits.some((h) => h.chain === rule && / -j MASQUERADE/.test(h.rule)));
    });
  }
});
