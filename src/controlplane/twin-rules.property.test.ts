import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { parseIptablesSave } from "../inputs/iptables/parse-save.ts";
import { formatRulesetFile } from "../model/netfilter/save.ts";
import type { Manifest, Scenario } from "../model/scenario.ts";
import { buildTwin } from "./build-twin.ts";
import { seedCluster } from "./testdata/seed-scenario.ts";

/**
 * For any valid scenario (services of every type and policy over random deployments, both eras,
 * one to three nodes, any seed) every node's generated ruleset is what issue 2's parser reads
 * without a single diagnostic, and writes back byte for byte.
 */

const manifest = (object: Record<string, unknown>): Manifest => ({
  object,
  source: { file: "prop", line: 1 },
});

const serviceArb = fc.record({
  type: fc.constantFrom("ClusterIP", "NodePort", "LoadBalancer"),
  local: fc.boolean(),
  app: fc.nat(2),
  ports: fc.uniqueArray(fc.integer({ min: 1, max: 9000 }), { minLength: 1, maxLength: 3 }),
  udp: fc.boolean(),
  affinity: fc.boolean(),
});

const scenarioArb = fc.record({
  seed: fc.nat(),
  version: fc.constantFrom("1.11.5", "1.16.9", "1.28.3", "1.33.2"),
  nodes: fc.integer({ min: 1, max: 3 }),
  replicas: fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 3, maxLength: 3 }),
  services: fc.array(serviceArb, { maxLength: 6 }),
});

type ScenarioParams = typeof scenarioArb extends fc.Arbitrary<infer T> ? T : never;

function scenarioOf(p: ScenarioParams): Scenario {
  const legacy = p.version.startsWith("1.1");
  const deployments = p.replicas.map((replicas, i) =>
    manifest({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: `app${i}` },
      spec: {
        replicas,
        selector: { matchLabels: { app: `app${i}` } },
        template: {
          metadata: { labels: { app: `app${i}` } },
          spec: { containers: [{ name: "c", image: "nginx", ports: [{ containerPort: 8080 }] }] },
        },
      },
    }),
  );
  const services = p.services.map((s, i) =>
    manifest({
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: `svc${i}` },
      spec: {
        type: s.type,
        ...(s.local && s.type !== "ClusterIP" ? { externalTrafficPolicy: "Local" } : {}),
        ...(s.affinity ? { sessionAffinity: "ClientIP" } : {}),
        selector: { app: `app${s.app}` },
        ports: s.ports.map((port, k) => ({
          name: `p${k}`,
          port,
          targetPort: 8080,
          protocol: s.udp && k === 0 ? "UDP" : "TCP",
        })),
      },
    }),
  );
  return {
    ...seedCluster,
    seed: p.seed,
    manifests: [...deployments, ...services],
    pins: {},
    cluster: {
      ...seedCluster.cluster,
      nodeCount: p.nodes,
      kubernetesVersion: p.version,
      loadBalancerSku: legacy ? "basic" : "standard",
      cniMode: legacy ? "bridge" : "transparent",
      dockerBridgeCidr: legacy ? "172.17.0.1/16" : null,
    },
  };
}

describe("control plane: generated rules parse back", () => {
  it("every node's ruleset parses with no diagnostics and writes back identically", () => {
    fc.assert(
      fc.property(scenarioArb, (p) => {
        const twin = buildTwin(scenarioOf(p));
        for (const node of twin.nodes) {
          const text = formatRulesetFile(node.ruleset);
          const parsed = parseIptablesSave(text, node.name);
          assert.deepEqual(parsed.diagnostics, [], text);
          assert.equal(formatRulesetFile(parsed.value), text);
        }
      }),
      { numRuns: 60 },
    );
  });
});
