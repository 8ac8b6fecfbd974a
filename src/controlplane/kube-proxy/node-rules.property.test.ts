import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { parseIptablesSave } from "../../inputs/iptables/parse-save.ts";
import type { Endpoints, Service } from "../../model/k8s.ts";
import { formatRulesetFile } from "../../model/netfilter/save.ts";
import type { NodeRulesInput } from "./input.ts";
import { buildNodeRuleset } from "./node-rules.ts";
import { endpoints, NODE, port, service } from "./testing.ts";

/**
 * Property: for any mix of services (every type, both traffic policies, affinity, source ranges,
 * 0..6 endpoints on this node or elsewhere) in either layout, the generated ruleset parses back
 * with no diagnostic and writes back byte for byte.
 */

const octet = fc.integer({ min: 1, max: 254 });
const svcArb = fc.record({
  type: fc.constantFrom("ClusterIP", "NodePort", "LoadBalancer") as fc.Arbitrary<Service["type"]>,
  etp: fc.constantFrom("Cluster", "Local") as fc.Arbitrary<"Cluster" | "Local">,
  itp: fc.constantFrom("Cluster", "Local") as fc.Arbitrary<"Cluster" | "Local">,
  affinity: fc.boolean(),
  named: fc.boolean(),
  udp: fc.boolean(),
  externalIP: fc.boolean(),
  ranges: fc.constantFrom([], ["1.2.3.0/24"], ["10.13.0.0/16", "9.9.9.9/32"]),
  eps: fc.array(fc.tuple(octet, fc.boolean()), { maxLength: 6 }),
});

type Spec = typeof svcArb extends fc.Arbitrary<infer T> ? T : never;

function build(specs: Spec[], layout: "1.11" | "current"): NodeRulesInput {
  const services: Service[] = [];
  const eps: Endpoints[] = [];
  specs.forEach((s, i) => {
    const name = `svc${i}`;
    const pname = s.named ? "web" : "";
    const proto = s.udp ? "UDP" : "TCP";
    const np = s.type === "ClusterIP" ? 0 : 30000 + i;
    const lb = s.type === "LoadBalancer";
    services.push(
      service("ns", name, `10.0.${i}.10`, [port(pname, 80 + i, proto, np)], {
        type: s.type,
        externalTrafficPolicy: s.type === "ClusterIP" ? "Cluster" : s.etp,
        internalTrafficPolicy: s.itp,
        healthCheckNodePort: lb && s.etp === "Local" ? 31000 + i : 0,
        loadBalancerIngress: lb ? [`20.0.${i}.1`] : [],
        loadBalancerSourceRanges: lb ? s.ranges : [],
        externalIPs: s.externalIP ? [`30.0.${i}.1`] : [],
        sessionAffinity: s.affinity ? "ClientIP" : "None",
      }),
    );
    const ips = [...new Set(s.eps.map(([o]) => `10.13.${i}.${o}`))];
    const remote = s.eps.filter(([, local]) => !local).map(([o]) => `10.13.${i}.${o}`);
    eps.push(endpoints("ns", name, ips, [{ name: pname, port: 8080, protocol: proto }], remote));
  });
  const old = layout === "1.11";
  return {
    layout,
    kubernetesVersion: old ? "1.11.5" : "1.28.3",
    nodeName: NODE,
    nodeIP: "10.13.76.4",
    clusterCidr: "10.13.0.0/16",
    services,
    endpoints: eps,
    dockerBridgeCidr: old ? "172.17.0.0/16" : null,
    masqueradeExcept: old ? "10.0.0.0/8" : null,
    ipMasqAgentCidrs: old ? null : ["10.13.0.0/16", "10.0.0.0/16"],
    blockWireserver: true,
  };
}

test("generated rulesets parse back with no diagnostic and write back identically", () => {
  fc.assert(
    fc.property(fc.array(svcArb, { maxLength: 6 }), fc.constantFrom("1.11", "current"), (specs, layout) => {
      const text = formatRulesetFile(buildNodeRuleset(build(specs, layout as "1.11" | "current")));
      const parsed = parseIptablesSave(text, "generated");
      assert.deepEqual(parsed.diagnostics, []);
      assert.equal(formatRulesetFile(parsed.value), text);
    }),
    { numRuns: 200 },
  );
});
