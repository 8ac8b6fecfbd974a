import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { scaleScenario } from "../../../bench/twin-scenario.ts";
import { formatRulesetFile } from "../../model/netfilter/save.ts";
import type { Scenario } from "../../model/scenario.ts";
import type { Twin } from "../../model/twin.ts";
import { buildTwin } from "../build-twin.ts";
import { seedLocal } from "../testdata/seed-scenario.ts";
import { clusterRules, nodeRuleset } from "./cluster-rules.ts";
import { buildNodeRuleset, type ClusterRulesInput } from "./node-rules.ts";

/**
 * The shared build (clusterRules + nodeRuleset) against a from-scratch build of each node
 * (buildNodeRuleset): byte for byte the same iptables-save, in both layouts, with services whose
 * rules depend on the node (traffic policies Local, source ranges that do or do not hold the node)
 * next to ones that do not.
 */

/** Every kind of service port the generators treat differently, spread over the scenario's services. */
function varied(sc: Scenario): Scenario {
  let n = 0;
  const manifests = sc.manifests.map((m) => {
    const o = m.object as { kind?: string; spec?: Record<string, unknown> };
    if (o.kind !== "Service") return m;
    const i = n++;
    const spec: Record<string, unknown> = { ...o.spec };
    if (i % 7 === 0) spec.internalTrafficPolicy = "Local";
    if (i % 11 === 0) Object.assign(spec, { type: "NodePort", externalTrafficPolicy: "Local" });
    if (i % 13 === 0)
      Object.assign(spec, { type: "LoadBalancer", loadBalancerSourceRanges: ["10.224.0.0/30"] });
    if (i % 17 === 0)
      Object.assign(spec, {
        type: "LoadBalancer",
        externalTrafficPolicy: "Local",
        loadBalancerSourceRanges: ["10.224.0.5/32", "1.2.3.0/24"],
      });
    if (i % 19 === 0) spec.externalIPs = ["5.6.7.8"];
    if (i % 23 === 0) spec.sessionAffinity = "ClientIP";
    if (i % 29 === 0) spec.selector = { app: "nothing" };
    return { ...m, object: { ...o, spec } };
  });
  return { ...sc, manifests };
}

function inputOf(
  twin: Twin,
  layout: "1.11" | "current",
  extra: Partial<ClusterRulesInput> = {},
): ClusterRulesInput {
  return {
    layout,
    kubernetesVersion: layout === "1.11" ? "1.11.5" : "1.33.2",
    clusterCidr: "10.224.0.0/16",
    services: twin.k8s.services,
    endpoints: twin.k8s.endpoints,
    dockerBridgeCidr: null,
    masqueradeExcept: null,
    ipMasqAgentCidrs: ["10.224.0.0/12"],
    ...extra,
  };
}

function assertSameAsScratch(twin: Twin, input: ClusterRulesInput): void {
  const shared = clusterRules(input);
  for (const node of twin.nodes) {
    const fast = nodeRuleset(shared, { nodeName: node.name, nodeIP: node.ip });
    const scratch = buildNodeRuleset({ ...input, nodeName: node.name, nodeIP: node.ip });
    assert.equal(formatRulesetFile(fast), formatRulesetFile(scratch), `node ${node.name}`);
  }
}

describe("kube-proxy: the cluster's shared build equals each node's from-scratch build", () => {
  const twin = buildTwin(varied(scaleScenario(6, 150)));

  it("has node-dependent services with and without local endpoints on the nodes", () => {
    const local = twin.k8s.services.filter((s) => s.externalTrafficPolicy === "Local");
    assert.ok(local.length > 3 && twin.k8s.services.some((s) => s.internalTrafficPolicy === "Local"));
  });

  for (const layout of ["current", "1.11"] as const) {
    it(`${layout} layout, today's writers`, () => assertSameAsScratch(twin, inputOf(twin, layout)));
    it(`${layout} layout, 2019's writers, iptables-save header, services as given`, () =>
      assertSameAsScratch(
        twin,
        inputOf(twin, layout, {
          dockerBridgeCidr: "172.17.0.0/16",
          masqueradeExcept: "10.0.0.0/8",
          ipMasqAgentCidrs: null,
          blockWireserver: true,
          serviceOrder: "as-given",
          saveHeader: { version: "v1.6.1", time: "Tue Jan 22 23:40:00 2019" },
        }),
      ));
  }

  it("the current layout without comments (over 1000 endpoints) and without --random-fully", () => {
    const big = buildTwin(varied(scaleScenario(12, 600)));
    assertSameAsScratch(big, inputOf(big, "current", { randomFully: false }));
  });

  it("the seed's Local half on three nodes (1.11, docker)", () => {
    const seed3 = buildTwin({ ...seedLocal, cluster: { ...seedLocal.cluster, nodeCount: 3 } });
    assertSameAsScratch(
      seed3,
      inputOf(seed3, "1.11", { clusterCidr: "10.13.76.0/24", dockerBridgeCidr: "172.17.0.0/16" }),
    );
  });

  it("shares what does not depend on the node: whole rulesets, tables and chains", () => {
    const shared = clusterRules(inputOf(twin, "current"));
    const files = twin.nodes.map((n) => nodeRuleset(shared, { nodeName: n.name, nodeIP: n.ip }));
    const mangle = files.map((f) => f.dumps[0]?.tables.find((t) => t.name === "mangle"));
    assert.ok(
      mangle.every((t) => t === mangle[0]),
      "one mangle table for all nodes",
    );
    const chainsOf = (i: number) => files[i]?.dumps[0]?.tables.find((t) => t.name === "nat")?.chains ?? [];
    // The endpoint chains of the service ports that do not depend on the node are shared objects.
    const perNode = new Set(shared.perNode);
    const independent = new Set(
      shared.ports.flatMap((sp, i) => (perNode.has(i) ? [] : sp.endpoints.map((e) => e.chain))),
    );
    const seps = chainsOf(0).filter((c) => independent.has(c.name));
    assert.ok(seps.length > 0, "the scenario has node-independent endpoint chains");
    const other = new Set(chainsOf(1));
    assert.ok(
      seps.every((c) => other.has(c)),
      "KUBE-SEP chains are shared objects",
    );
    const again = nodeRuleset(shared, {
      nodeName: twin.nodes[0]?.name ?? "",
      nodeIP: twin.nodes[0]?.ip ?? "",
    });
    assert.equal(again, files[0], "the same node inputs give the same RulesetFile");
  });
});
