import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { buildTwin } from "../controlplane/build-twin.ts";
import type { Twin } from "../model/twin.ts";
import { loadScenario } from "../outputs/cli/commands/scenario.ts";
import { processIo } from "../outputs/cli/io.ts";
import { AZ_NS, configBatch, LAB_PREFIX, type LabPlan, labPlan, linkBatch, resolveHost } from "./plan.ts";

const twins = new Map<string, Twin>();
function twin(name: string): Twin {
  let t = twins.get(name);
  if (!t) {
    t = buildTwin(loadScenario(processIo, name).scenario);
    twins.set(name, t);
  }
  return t;
}

function checkSafe(plan: LabPlan): void {
  const names = new Set(plan.namespaces.map((n) => n.name));
  for (const n of names) assert.ok(n.startsWith(LAB_PREFIX), n);
  for (const l of plan.links) {
    assert.ok(names.has(l.ns), `link ${l.name} made in ${l.ns}, a lab namespace`);
    assert.ok(l.name.length <= 15);
    if (l.kind === "veth") {
      assert.ok(names.has(l.peerNs), `peer of ${l.name} in ${l.peerNs}, a lab namespace`);
      assert.ok(l.peerName.length <= 15);
      // What the lab invents carries the prefix: every link in pwl-az is one of ours.
      if (l.peerNs === AZ_NS) assert.ok(l.peerName.startsWith(LAB_PREFIX));
    }
  }
  for (const x of [...plan.sysctls, ...plan.addresses, ...plan.routes, ...plan.neighbours, ...plan.iptables])
    assert.ok(names.has(x.ns), `${JSON.stringify(x).slice(0, 60)} in a lab namespace`);
  for (const s of plan.servers) assert.ok(names.has(s.ns));
  // Every namespace's links are created once, from one side.
  const made = plan.links.flatMap((l) =>
    l.kind === "veth" ? [`${l.ns}/${l.name}`, `${l.peerNs}/${l.peerName}`] : [`${l.ns}/${l.name}`],
  );
  assert.equal(new Set(made).size, made.length);
}

describe("labPlan", () => {
  it("seed-cluster: a namespace per node, pod and host, and pwl-az; bridge mode", () => {
    const t = twin("seed-cluster");
    const plan = labPlan(t);
    checkSafe(plan);
    const podCount = t.nodes.reduce((n, node) => n + node.netns.length - 1, 0);
    assert.equal(plan.namespaces.length, 1 + t.nodes.length + podCount + t.hosts.length);
    assert.deepEqual(
      plan.namespaces.filter((n) => n.role !== "pod").map((n) => [n.name, n.twinName]),
      [
        ["pwl-az", "azure"],
        ["pwl-n0", "aks-nodepool1-31351229-0"],
        ["pwl-h0", "laptop"],
        ["pwl-h1", "testvm"],
      ],
    );
    assert.equal(plan.cniMode, "bridge");
    const node = linkBatch(plan, "pwl-n0");
    assert.ok(node.includes("link add azure0 type bridge mcast_snooping 0"));
    assert.ok(node.includes("link add eth0 type veth peer name pwl-n0 netns pwl-az"));
    assert.ok(node.some((l) => /^link add azv\w+ type veth peer name eth0 netns pwl-n0p\d$/.test(l)));
    const config = configBatch(plan, "pwl-n0");
    assert.ok(config.includes("link set dev eth0 master azure0"));
    assert.ok(config.includes("addr add 10.13.76.4/24 brd 10.13.76.255 dev azure0"));
    assert.ok(config.includes("route add default via 10.13.76.1 dev azure0"));
    assert.ok(config.includes("neigh replace 10.13.76.26 lladdr ee:af:f8:66:59:bd dev azure0 nud permanent"));
    assert.ok(!config.some((l) => l.includes("10.13.76.0/24")), "kernel routes come with the address");
    // The VIP reaches the node unchanged (floating IP): a route, not a NAT.
    assert.deepEqual(
      plan.frontends.map((f) => [f.vip, f.backends]),
      [["51.144.176.251", ["10.13.76.4"]]],
    );
    assert.ok(configBatch(plan, AZ_NS).includes("route add 51.144.176.251/32 via 10.13.76.4 dev pwl-n0"));
    assert.ok(configBatch(plan, AZ_NS).includes("addr add 10.13.76.1/32 dev lo"));
    assert.ok(
      configBatch(plan, AZ_NS).includes(
        "neigh replace 10.13.76.4 lladdr 00:0d:3a:28:bd:02 dev pwl-n0 nud permanent",
      ),
    );
    assert.ok(configBatch(plan, "pwl-h0").includes("route add default via 169.254.0.1 dev eth0"));
    assert.ok(configBatch(plan, "pwl-h1").includes("addr add 10.13.1.4/24 dev eth0"));
    const rules = plan.iptables[0]?.text ?? "";
    assert.match(rules, /^\*nat$/m);
    assert.match(rules, /^:KUBE-SVC-\w+ - \[0:0\]$/m);
    assert.match(rules, /^-A KUBE-SEP-\w+ .*DNAT/m);
    const whereami = plan.servers.filter((s) => s.pod.startsWith("default/whereami-"));
    assert.deepEqual(whereami.map((s) => [s.podIp, s.port]).sort(), [
      ["10.13.76.26", 80],
      ["10.13.76.7", 80],
    ]);
    const nodeSysctls = plan.sysctls.filter((s) => s.ns === "pwl-n0").map((s) => `${s.key}=${s.value}`);
    assert.ok(nodeSysctls.includes("net.ipv4.ip_forward=1"));
    assert.ok(nodeSysctls.includes("net.ipv4.icmp_ratemask=0"));
  });

  it("seed-local: the Local service's probe passes on the node with endpoints", () => {
    const plan = labPlan(twin("seed-local"));
    checkSafe(plan);
    assert.deepEqual(plan.frontends, [
      {
        vip: "13.93.66.174",
        backends: ["10.13.76.4"],
        probes: [{ nodeIp: "10.13.76.4", healthy: true, why: "Http 32364: 2 local endpoint(s)" }],
      },
    ]);
  });

  it("aks-today: transparent mode, and a multipath route with the layer-4 hash for several backends", () => {
    const t = twin("aks-today");
    const plan = labPlan(t);
    checkSafe(plan);
    assert.equal(plan.cniMode, "transparent");
    assert.ok(!plan.links.some((l) => l.kind === "bridge"));
    assert.ok(configBatch(plan, "pwl-n0p0").includes("route add 169.254.1.1 dev eth0 scope link"));
    assert.ok(
      configBatch(plan, "pwl-n0p0").includes(
        "neigh replace 169.254.1.1 lladdr aa:aa:aa:aa:aa:aa dev eth0 nud permanent",
      ),
    );
    // The twin's pods have no subnet route: only 169.254.1.1 and the default through it.
    assert.ok(configBatch(plan, "pwl-n0p0").some((l) => / dev eth0 noprefixroute$/.test(l)));
    assert.ok(configBatch(plan, "pwl-n0").includes("addr add 10.224.0.4/16 brd 10.224.255.255 dev eth0"));
    const multi = configBatch(plan, AZ_NS).filter((l) => l.includes("nexthop"));
    assert.ok(multi.length > 0);
    for (const l of multi)
      assert.match(
        l,
        /^route add [\d.]+\/32 nexthop via 10\.224\.0\.4 dev pwl-n0 nexthop via [\d.]+ dev pwl-n1/,
      );
    assert.ok(
      plan.sysctls.some(
        (s) => s.ns === AZ_NS && s.key === "net.ipv4.fib_multipath_hash_policy" && s.value === "3",
      ),
    );
    assert.ok(
      plan.sysctls.some(
        (s) => s.ns === AZ_NS && s.key === "net.ipv4.fib_multipath_hash_fields" && s.value === "0x0037",
      ),
    );
  });

  it("resolveHost: node, pod by name or namespace/name, outside host, namespace", () => {
    const plan = labPlan(twin("seed-cluster"));
    const pod = plan.namespaces.find((n) => n.role === "pod" && n.twinName.startsWith("default/whereami-"));
    assert.ok(pod);
    assert.equal(resolveHost(plan.namespaces, "aks-nodepool1-31351229-0")?.name, "pwl-n0");
    assert.equal(resolveHost(plan.namespaces, pod.twinName)?.name, pod.name);
    assert.equal(resolveHost(plan.namespaces, pod.twinName.split("/")[1] as string)?.name, pod.name);
    assert.equal(resolveHost(plan.namespaces, "laptop")?.name, "pwl-h0");
    assert.equal(resolveHost(plan.namespaces, "pwl-az")?.name, "pwl-az");
    assert.equal(resolveHost(plan.namespaces, "nowhere"), null);
  });
});
