import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { buildTwin } from "../../controlplane/build-twin.ts";
import { labPlan } from "../../lab/plan.ts";
import type { Service } from "../../model/k8s.ts";
import type { Scenario } from "../../model/scenario.ts";
import type { Twin } from "../../model/twin.ts";
import { runWalk } from "../../outputs/render/walk-run.ts";
import { GEN_MAX_PODS, generateScenario, SYSTEM_PODS } from "./generate.ts";
import { parseScenario } from "./parse.ts";

/**
 * Generated scenarios are valid and keep their promises: they read without a diagnostic, build a
 * twin and a lab plan, spread a Deployment over several nodes, leave a node without an endpoint of
 * the Local service, hold a service without endpoints, and stay small enough for the lab.
 */

const SEEDS = Array.from({ length: 50 }, (_, i) => i);

interface Built {
  readonly seed: number;
  readonly scenario: Scenario;
  readonly twin: Twin;
}

const cache = new Map<string, Built>();
function built(seed: number, nodes?: number): Built {
  const key = `${seed}/${nodes ?? ""}`;
  let b = cache.get(key);
  if (!b) {
    const g = generateScenario(seed, nodes === undefined ? {} : { nodes });
    const parsed = parseScenario(g.yaml, `${g.name}.yaml`, () => null);
    assert.deepEqual(parsed.diagnostics, [], `seed ${seed}`);
    const scenario = parsed.value!;
    b = { seed, scenario, twin: buildTwin(scenario) };
    cache.set(key, b);
  }
  return b;
}

const userServices = (t: Twin) =>
  t.k8s.services.filter((s) => s.meta.namespace === "default" && s.meta.name !== "kubernetes");
const userPods = (t: Twin) => t.k8s.pods.filter((p) => p.meta.namespace === "default");
const endpointsOf = (t: Twin, s: Service) =>
  t.k8s.endpoints
    .filter((e) => e.meta.namespace === s.meta.namespace && e.meta.name === s.meta.name)
    .flatMap((e) => e.subsets.flatMap((x) => x.addresses));
const legacy = (t: Twin) => t.scenario.cluster.kubernetesVersion.startsWith("1.11.");

function checkPromises({ seed, twin }: Built): void {
  const at = `seed ${seed}`;
  const nodes = twin.nodes.map((n) => n.name);
  assert.ok(nodes.length >= 2 && nodes.length <= 4, at);
  assert.equal(nodes.length, twin.scenario.cluster.nodeCount, at);

  // Every pod runs, where its pin put it; the lab's namespaces stay few.
  for (const p of twin.k8s.pods) assert.equal(p.phase, "Running", `${at}: ${p.meta.name}`);
  const ownNet = twin.k8s.pods.filter((p) => !p.hostNetwork);
  assert.ok(ownNet.length <= GEN_MAX_PODS, `${at}: ${ownNet.length} pods`);
  assert.equal(
    ownNet.length - userPods(twin).length,
    legacy(twin) ? SYSTEM_PODS.legacy : SYSTEM_PODS.today,
    `${at}: SYSTEM_PODS matches the control plane`,
  );
  const deployments = twin.k8s.deployments.filter((d) => d.meta.namespace === "default");
  const nodesOf = (app: string) =>
    new Set(
      userPods(twin)
        .filter((p) => p.meta.labels.app === app)
        .map((p) => p.nodeName),
    );
  assert.ok(
    deployments.some((d) => nodesOf(d.meta.name).size >= 2),
    `${at}: some Deployment's pods are on two nodes or more`,
  );

  const services = userServices(twin);
  assert.equal(services.length, 4, at);
  const cluster = services.filter((s) => s.type === "LoadBalancer" && s.externalTrafficPolicy === "Cluster");
  const local = services.filter((s) => s.type === "LoadBalancer" && s.externalTrafficPolicy === "Local");
  const clusterIp = services.filter((s) => s.type === "ClusterIP");
  assert.equal(cluster.length, 1, at);
  assert.equal(local.length, 1, at);
  assert.equal(clusterIp.length, 2, at);
  for (const s of [...cluster, ...local])
    assert.equal(s.loadBalancerIngress.length, 1, `${at}: ${s.meta.name}`);
  const empty = services.filter((s) => endpointsOf(twin, s).length === 0);
  assert.deepEqual(
    empty.map((s) => [s.meta.name, s.type]),
    [["canary", "ClusterIP"]],
    `${at}: one service without endpoints`,
  );

  // The Local service: endpoints on some nodes, none on another, whose health check answers 503.
  const svc = local[0]!;
  const withEndpoint = new Set(endpointsOf(twin, svc).map((a) => a.nodeName));
  assert.ok(withEndpoint.size >= 1 && withEndpoint.size < nodes.length, at);
  const localCounts = twin.nodes.map(
    (n) => n.healthChecks.find((h) => h.name === svc.meta.name)?.localEndpoints ?? -1,
  );
  assert.ok(localCounts.includes(0), `${at}: a node without local endpoint (${localCounts})`);
  assert.ok(!localCounts.includes(-1), `${at}: every node serves the health check`);

  const internet = twin.hosts.find((h) => h.kind === "internet")!;
  assert.match(internet.ip, /^(192\.0\.2|198\.51\.100|203\.0\.113)\.\d+$/, at);
  const vm = twin.hosts.find((h) => h.kind === "vnet");
  assert.equal(vm?.subnet, "vmsubnet", at);
}

describe("generateScenario", () => {
  it("gives the same YAML for the same seed, another for another seed", () => {
    const texts = SEEDS.map((s) => generateScenario(s).yaml);
    SEEDS.forEach((s) => {
      const again = generateScenario(s);
      assert.equal(again.yaml, texts[s]);
      assert.equal(again.name, `gen-${s}`);
    });
    assert.equal(new Set(texts).size, texts.length);
    // Beyond the seed's own number: the clusters themselves differ.
    const bodies = texts.map((t) => t.replace(/gen-\d+|seed \d+|seed: \d+|--seed \d+/g, ""));
    assert.ok(new Set(bodies).size >= 45, `${new Set(bodies).size} distinct clusters`);
  });

  it("says in a header comment that it was generated, from which seed, and what it holds", () => {
    const { yaml } = generateScenario(12);
    assert.match(yaml, /^# Generated by `packetwalk scenario generate --seed 12`/);
    for (const word of ["Cluster:", "Deployments,", "Services:", "Hairpin:", "Hosts:", "no endpoints"])
      assert.ok(yaml.includes(word), word);
    assert.match(generateScenario(12, { nodes: 4 }).yaml, /^# Generated by `[^`]+ --seed 12 --nodes 4`/);
  });

  it("draws every era, CNI mode, node count and number of Deployments over 50 seeds", () => {
    const seen = new Set<string>();
    for (const s of SEEDS) {
      const c = built(s).scenario.cluster;
      const deployments = (generateScenario(s).yaml.match(/^ {4}kind: Deployment$/gm) ?? []).length - 1;
      seen.add(`version ${c.kubernetesVersion.startsWith("1.11.") ? "1.11" : "current"}`);
      seen.add(`${c.cniMode} ${c.loadBalancerSku}`);
      seen.add(`nodes ${c.nodeCount}`);
      seen.add(`deployments ${deployments}`);
    }
    for (const want of [
      "version 1.11",
      "version current",
      "bridge basic",
      "bridge standard",
      "transparent basic",
      "transparent standard",
      "nodes 2",
      "nodes 3",
      "nodes 4",
      "deployments 1",
      "deployments 2",
    ])
      assert.ok(seen.has(want), want);
  });

  it("keeps the LB SKU AKS offered with the version: Basic on 1.11, Standard today", () => {
    for (const s of SEEDS) {
      const c = built(s).scenario.cluster;
      assert.equal(c.loadBalancerSku, c.kubernetesVersion.startsWith("1.11.") ? "basic" : "standard");
    }
  });

  it("reads without a diagnostic, builds a twin and keeps its promises (seeds 0-49)", () => {
    for (const s of SEEDS) checkPromises(built(s));
  });

  it("honours nodes: 2, 3 and 4", () => {
    for (const nodes of [2, 3, 4])
      for (const s of [0, 1, 2, 3, 4, 5]) {
        const b = built(s, nodes);
        assert.equal(b.twin.nodes.length, nodes);
        checkPromises(b);
      }
  });

  it("builds a lab plan, with a server for every pod of ours", () => {
    for (const s of SEEDS) {
      const { twin } = built(s);
      const plan = labPlan(twin);
      const served = new Set(plan.servers.map((x) => x.pod));
      for (const p of userPods(twin))
        assert.ok(served.has(`default/${p.meta.name}`), `seed ${s}: ${p.meta.name}`);
    }
  });

  it("refuses a seed or node count out of range", () => {
    for (const seed of [-1, 1.5, 2 ** 32, Number.NaN])
      assert.throws(() => generateScenario(seed), RangeError, String(seed));
    for (const nodes of [0, 1, 5, 2.5])
      assert.throws(() => generateScenario(1, { nodes }), /nodes must be an integer from 2 to 4/);
    assert.equal(generateScenario(2 ** 32 - 1).name, "gen-4294967295");
  });
});

describe("walks through generated scenarios", () => {
  // One seed per era and CNI mode: the walk runs a whole world per branch, a few seeds suffice.
  const picks = new Map<string, number>();
  for (const s of SEEDS) {
    const c = built(s).scenario.cluster;
    const key = `${c.kubernetesVersion.startsWith("1.11.") ? "1.11" : "current"} ${c.cniMode}`;
    if (!picks.has(key)) picks.set(key, s);
  }

  for (const [key, seed] of [...picks].sort()) {
    it(`${key} (seed ${seed}): the internet reaches both LoadBalancers; the endpointless service is refused`, () => {
      const { twin } = built(seed);
      const walk = (from: string, ip: string, port: number) =>
        runWalk(twin, `gen-${seed}`, { from, to: `${ip}:${port}`, proto: "tcp" }).report;
      for (const s of userServices(twin).filter((x) => x.type === "LoadBalancer")) {
        const r = walk("laptop", s.loadBalancerIngress[0]!, s.ports[0]!.port);
        assert.equal(r.verdict, "delivered", `${s.meta.name} (${s.externalTrafficPolicy})`);
        if (s.externalTrafficPolicy === "Local") {
          // The LB sends only to nodes whose probe passes: the pod is on the node that got the packet.
          const own = new Set(endpointsOf(twin, s).map((a) => a.nodeName));
          for (const p of r.paths) assert.ok(own.has(p.node!), `${p.node} has a local endpoint`);
        }
      }
      const canary = userServices(twin).find((x) => x.meta.name === "canary")!;
      const to = [canary.clusterIP, canary.ports[0]!.port] as const;
      const pod = userPods(twin)[0]!;
      const fromPod = walk(pod.meta.name, ...to);
      if (legacy(twin)) {
        // 1.11 jumps to filter KUBE-SERVICES from OUTPUT only (docs/kube-proxy.md): a pod's SYN
        // is forwarded to the VNet, where no one has the cluster IP; the node's own is refused.
        assert.equal(fromPod.verdict, "dropped");
        assert.equal(walk(pod.nodeName, ...to).verdict, "rejected");
      } else {
        assert.equal(fromPod.verdict, "rejected");
        assert.match(fromPod.paths[0]!.reason ?? "", /REJECT in filter FORWARD/);
      }
    });
  }
});
