import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseIpv4 } from "../../core/ip.ts";
import { probeAnswerer } from "../../dataplane/sim/world/probe-answer.ts";
import {
  aksToday as aksTodayWith,
  manifest,
  twoNodeLocal,
  twoNodeLocalToday,
} from "../../dataplane/sim/world/testdata/twins.ts";
import { WALK_DELAY_US } from "../../dataplane/sim/world/walk-paths.ts";
import { World } from "../../dataplane/sim/world/world.ts";
import type { Twin } from "../../model/twin.ts";
import { builtins, manyNodes } from "./testdata/twins.ts";
import { topologyOf } from "./topology.ts";

const [seedCluster, seedLocal, aksToday] = builtins();
const NODE = "aks-nodepool1-31351229-0";
const WRONG_TARGET_PORT = manifest(`apiVersion: v1
kind: Service
metadata:
  name: web-wrong-port
spec:
  type: LoadBalancer
  ports:
  - port: 80
    targetPort: 8081
  selector:
    app: web`);

describe("web topology: what the page draws, read off the twin", () => {
  it("reads the seed's load balancer: frontend VIP, floating-IP rule, probe, the node's probe up", () => {
    const lb = topologyOf(seedCluster!.twin, "seed-cluster").loadBalancers[0];
    assert.deepEqual(
      lb?.frontends.map((f) => f.ip),
      ["51.144.176.251"],
    );
    const rule = lb?.rules[0];
    assert.deepEqual(
      [
        rule?.frontendIp,
        rule?.protocol,
        rule?.frontendPort,
        rule?.backendPort,
        rule?.floatingIp,
        rule?.probe,
      ],
      ["51.144.176.251", "Tcp", 80, 80, true, lb?.probes[0]?.name],
    );
    assert.deepEqual(
      lb?.probes.map((p) => [p.protocol, p.port, p.path, p.intervalSeconds, p.unhealthyThreshold]),
      [["Tcp", 30064, null, 5, 2]],
    );
    assert.deepEqual(lb?.backends, [
      { node: NODE, ip: "10.13.76.4", probes: [{ probe: lb?.probes[0]?.name, up: true }] },
    ]);
  });

  it("gives each node eth0, azure0 and docker0 in bridge mode, only eth0 in transparent mode", () => {
    const seed = topologyOf(seedCluster!.twin, "seed-cluster").nodes[0];
    assert.deepEqual(
      seed?.interfaces.map((i) => [i.name, i.ips, i.master]),
      [
        ["eth0", [], "azure0"],
        ["azure0", ["10.13.76.4"], null],
        ["docker0", ["172.17.0.1"], null],
      ],
    );
    assert.equal(seed?.interfaces[0]?.mac, "00:0d:3a:28:bd:02");
    const today = topologyOf(aksToday!.twin, "aks-today").nodes;
    assert.deepEqual(
      today.map((n) => n.interfaces.map((i) => i.name)),
      [["eth0"], ["eth0"], ["eth0"]],
    );
  });

  it("pairs each pod with its host veth by ifindex and marks host-network pods", () => {
    const pods = topologyOf(seedCluster!.twin, "seed-cluster").nodes[0]?.pods ?? [];
    // The walk crosses azva4124965a9b into whereami-...-qfq2k (seed line 280's capture).
    const qfq2k = pods.find((p) => p.name === "whereami-564765b89-qfq2k");
    assert.deepEqual(
      [qfq2k?.id, qfq2k?.ip, qfq2k?.hostVeth, qfq2k?.podIface, qfq2k?.hostNetwork],
      [`${NODE}/default/whereami-564765b89-qfq2k`, "10.13.76.26", "azva4124965a9b", "eth0", false],
    );
    const proxy = pods.find((p) => p.name.startsWith("kube-proxy-"));
    assert.deepEqual([proxy?.hostNetwork, proxy?.hostVeth, proxy?.ip], [true, "", "10.13.76.4"]);
    const veths = pods.filter((p) => !p.hostNetwork).map((p) => p.hostVeth);
    assert.equal(new Set(veths).size, veths.length, "one host veth per pod");
    assert.ok(veths.every((v) => v.startsWith("azv")));
  });

  it("lists the health check node ports of Local services and the services themselves", () => {
    const view = topologyOf(seedLocal!.twin, "seed-local");
    assert.deepEqual(view.nodes[0]?.healthCheckPorts, [32364]);
    assert.deepEqual(topologyOf(seedCluster!.twin, "seed-cluster").nodes[0]?.healthCheckPorts, []);
    const svc = view.services.find((s) => s.name === "whereami");
    assert.deepEqual(
      [svc?.type, svc?.loadBalancerIps, svc?.externalTrafficPolicy, svc?.healthCheckNodePort, svc?.ports],
      ["LoadBalancer", ["13.93.66.174"], "Local", 32364, [{ port: 80, nodePort: 32663, protocol: "TCP" }]],
    );
    assert.equal(view.services.find((s) => s.name === "kubernetes")?.healthCheckNodePort, null);
  });

  it("reads hosts and the VNet with its subnets", () => {
    const view = topologyOf(seedCluster!.twin, "seed-cluster");
    assert.equal(view.scenario, "seed-cluster");
    assert.deepEqual(view.hosts, [
      { name: "laptop", kind: "internet", ip: "109.125.120.58" },
      { name: "testvm", kind: "vnet", ip: "10.13.1.4" },
    ]);
    assert.deepEqual(view.vnet, {
      name: "aksVnet",
      cidr: "10.13.0.0/16",
      subnets: [
        { name: "aks", cidr: "10.13.76.0/24" },
        { name: "vmsubnet", cidr: "10.13.1.0/24" },
      ],
    });
  });

  describe("probe states agree with the data plane's probes by the time the walk sends", () => {
    const cases: [string, Twin, number][] = [
      ...builtins().map((f) => [f.name, f.twin, 0] as [string, Twin, number]),
      // A second node without the Local service's pods: its health check answers 503.
      ["seed-local on two nodes", twoNodeLocal(), 1],
      ["aks-today on two nodes", twoNodeLocalToday(), 1],
      // The same with the LB probing the node port itself: KUBE-XLB drops it where no pod is.
      ["seed-local on two nodes, probing the node port", probingNodePort(twoNodeLocal(), 32663), 1],
      // A LoadBalancer whose target port no container listens on: every node fails its Tcp probe.
      ["aks-today with a wrong targetPort", aksTodayWith(WRONG_TARGET_PORT), 3],
      ["10 nodes, 2019", manyNodes({ era: "2019" }).twin, 7],
      ["10 nodes, today", manyNodes({ era: "today" }).twin, 7],
    ];
    for (const [name, twin, down] of cases) {
      it(`${name}: ${down} probe${down === 1 ? "" : "s"} down`, () => {
        const simulated = simulatedProbes(twin);
        const shown = topologyOf(twin, name).loadBalancers.flatMap((lb) =>
          lb.backends.flatMap((be) =>
            be.probes.map((p) => `${lb.name} ${be.node} ${p.probe}: ${p.up ? "up" : "down"}`),
          ),
        );
        assert.deepEqual(shown, simulated);
        assert.equal(shown.filter((s) => s.endsWith("down")).length, down);
      });
    }
  });
});

/** The twin with its load balancers' probes sent as Tcp to `port`. */
function probingNodePort(twin: Twin, port: number): Twin {
  const loadBalancers = twin.azure.loadBalancers.map((lb) => ({
    ...lb,
    probes: lb.probes.map((p) => ({ ...p, protocol: "Tcp" as const, port, requestPath: null })),
  }));
  return { ...twin, azure: { ...twin.azure, loadBalancers } };
}

/**
 * Each backend's state for each probe as the World finds it: probes answered through the twin
 * (as `walk` runs them), read at the moment the walk's client sends.
 */
function simulatedProbes(twin: Twin): string[] {
  const start = twin.now * 1_000_000;
  const world = new World(twin, {
    seed: twin.scenario.seed,
    start,
    probe: probeAnswerer(twin.scenario.seed),
  });
  const at = Math.floor((start + WALK_DELAY_US) / 1000);
  const nodeOfIp = new Map(twin.nodes.map((n) => [n.ip, n.name] as const));
  const out: string[] = [];
  const ipOf = new Map(
    twin.azure.nics.flatMap((n) => n.ipConfigurations.map((c) => [c.id.toLowerCase(), c.privateIpAddress])),
  );
  for (const lb of twin.azure.loadBalancers) {
    const pool = (id: string) =>
      (
        lb.backendAddressPools.find((p) => p.id.toLowerCase() === id.toLowerCase())
          ?.backendIpConfigurationIds ?? []
      ).map((c) => ipOf.get(c.toLowerCase()) ?? "");
    const members = [...new Set(lb.backendAddressPools.flatMap((p) => pool(p.id)))];
    for (const ip of members) {
      for (const probe of lb.probes) {
        // A probe goes to the members of the pools of the rules that use it.
        const sent = lb.loadBalancingRules.some(
          (r) =>
            r.probeId?.toLowerCase() === probe.id.toLowerCase() && pool(r.backendAddressPoolId).includes(ip),
        );
        if (!sent) continue;
        const up = world.fabric.probes?.isUp(probe.id, parseIpv4(ip) as number, at) ?? true;
        out.push(`${lb.name} ${nodeOfIp.get(ip) ?? ip} ${probe.name}: ${up ? "up" : "down"}`);
      }
    }
  }
  return out;
}
