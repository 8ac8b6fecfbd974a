import assert from "node:assert/strict";
import { test } from "node:test";
import { formatRulesetFile } from "../../model/netfilter/save.ts";
import type { NodeRulesInput } from "./input.ts";
import { buildNodeRuleset } from "./node-rules.ts";
import { goFixed, probabilityText } from "./service-ports.ts";
import { endpoints, NODE, port, service } from "./testing.ts";

/** Era details: probabilities, port-name spelling, large-cluster comments, the KUBE-EXT/SVL chains. */

const ips = (n: number) =>
  Array.from({ length: n }, (_, i) => `10.13.${76 + Math.floor(i / 250)}.${(i % 250) + 2}`);

function input(layout: "1.11" | "current", version: string, n: number, extra = {}): NodeRulesInput {
  return {
    layout,
    kubernetesVersion: version,
    nodeName: NODE,
    nodeIP: "10.13.76.4",
    clusterCidr: "10.13.0.0/16",
    services: [service("default", "web", "10.0.1.1", [port("", 80)], extra)],
    endpoints: [endpoints("default", "web", ips(n), [{ name: "", port: 8080, protocol: "TCP" }])],
    dockerBridgeCidr: null,
    masqueradeExcept: null,
    ipMasqAgentCidrs: null,
  };
}

const lines = (i: NodeRulesInput) => formatRulesetFile(buildNodeRuleset(i)).split("\n");
const probabilities = (i: NodeRulesInput, chain: string) =>
  lines(i)
    .filter((l) => l.startsWith(`-A ${chain}`))
    .map((l) => / --probability (\S+)/.exec(l)?.[1])
    .filter((p) => p !== undefined);

test("probabilities for 2..7 endpoints as iptables-save prints them (docs/kube-proxy.md §4)", () => {
  // Rule i of 7 has 1/(7-i): 1/7 … 1/2, each stored as lround(2^31 p) and printed %.11f.
  const old = probabilities(input("1.11", "1.11.5", 7), "KUBE-SVC-");
  assert.deepEqual(old, [
    "0.14286000002",
    "0.16667000018",
    "0.20000000019",
    "0.25000000000",
    "0.33332999982",
    "0.50000000000",
  ]);
  const cur = probabilities(input("current", "1.28.3", 7), "KUBE-SVC-");
  assert.deepEqual(cur, [
    "0.14285714272",
    "0.16666666651",
    "0.20000000019",
    "0.25000000000",
    "0.33333333349",
    "0.50000000000",
  ]);
});

test("kube-proxy's probability text is Go's %0.5f / %0.10f (ties to even, not JS toFixed)", () => {
  assert.equal(probabilityText("1.11", "1.11.5", 3), "0.33333");
  assert.equal(probabilityText("1.11", "1.18.0", 3), "0.3333333333", "%0.10f from 1.17");
  assert.equal(probabilityText("current", "1.28.3", 6), "0.1666666667");
  assert.equal(goFixed(1 / 64, 5), "0.01562");
  assert.equal((1 / 64).toFixed(5), "0.01563");
});

test("unnamed ports: `ns/name:` up to 1.18, `ns/name` from 1.19", () => {
  assert.ok(lines(input("1.11", "1.11.5", 1)).some((l) => l.includes('--comment "default/web:"')));
  assert.ok(lines(input("1.11", "1.19.0", 1)).some((l) => l.includes(`--comment "default/web" `)));
  assert.ok(
    lines(input("current", "1.28.3", 1)).some(
      (l) => l.startsWith("-A KUBE-SVC-") && l.includes('"default/web -> 10.13.76.2:8080"'),
    ),
  );
});

test("largeClusterMode above 1000 endpoints drops the SVC and SEP comments (current layout)", () => {
  const small = lines(input("current", "1.28.3", 1000));
  const big = lines(input("current", "1.28.3", 1001));
  assert.ok(small.filter((l) => l.startsWith("-A KUBE-SEP-")).every((l) => l.includes("-m comment")));
  const bigSep = big.filter((l) => l.startsWith("-A KUBE-SEP-"));
  assert.equal(bigSep.length, 2002);
  assert.ok(bigSep.every((l) => !l.includes("-m comment")));
  const bigSvc = big.filter((l) => l.startsWith("-A KUBE-SVC-") && l.includes("KUBE-SEP-"));
  assert.ok(bigSvc.every((l) => !l.includes("-m comment")));
  // The cluster IP rules keep theirs.
  assert.ok(big.some((l) => l.startsWith("-A KUBE-SVC-") && l.includes('"default/web cluster IP"')));
});

test("current layout, Local policy with affinity: EXT short-circuits, SVL balances the local endpoints", () => {
  const i = input("current", "1.28.3", 3, {
    type: "LoadBalancer",
    externalTrafficPolicy: "Local",
    healthCheckNodePort: 32000,
    loadBalancerIngress: ["20.0.0.1"],
    sessionAffinity: "ClientIP",
  });
  const remote = {
    ...i,
    endpoints: [
      endpoints("default", "web", ips(3), [{ name: "", port: 8080, protocol: "TCP" }], ["10.13.76.2"]),
    ],
  };
  const out = lines(remote);
  const ext = out.filter((l) => l.startsWith("-A KUBE-EXT-"));
  assert.equal(ext.length, 4);
  assert.match(
    ext[0] as string,
    /^-A KUBE-EXT-\w+ -s 10\.13\.0\.0\/16 -m comment --comment "pod traffic for default\/web external destinations" -j KUBE-SVC-/,
  );
  assert.match(ext[3] as string, /^-A KUBE-EXT-(\w+) -j KUBE-SVL-\1$/);
  const svl = out.filter((l) => l.startsWith("-A KUBE-SVL-"));
  assert.equal(svl.length, 4, "2 affinity checks + 2 balancing rules over the 2 local endpoints");
  assert.match(
    svl[0] as string,
    / -m recent --rcheck --seconds 10800 --reap --name KUBE-SEP-\w+ --mask 255\.255\.255\.255 --rsource -j KUBE-SEP-/,
  );
  assert.ok(
    out.some((l) =>
      / -m recent --set --name KUBE-SEP-\w+ --mask 255\.255\.255\.255 --rsource -m tcp -j DNAT/.test(l),
    ),
  );
  assert.equal(
    out.filter((l) => l.startsWith("-A KUBE-SEP-")).length,
    6,
    "SEP chains for every endpoint (SVC uses all)",
  );
});
