import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { buildTwin } from "../controlplane/build-twin.ts";
import { serviceHealthBody } from "../dataplane/sim/endpoints/apps/kube-proxy-health.ts";
import type { Twin } from "../model/twin.ts";
import { loadScenario } from "../outputs/cli/commands/scenario.ts";
import { processIo } from "../outputs/cli/io.ts";
import {
  AZ_NS,
  configBatch,
  HEALTH_DATE,
  LAB_PREFIX,
  type LabPlan,
  labPlan,
  linkBatch,
  resolveHost,
} from "./plan.ts";

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
  for (const h of plan.healthServers) assert.ok(names.has(h.ns));
  if (plan.prober) assert.equal(plan.prober.ns, AZ_NS);
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

  it("seed-local: kube-proxy's health check server and an Http probe of it on 32364 /healthz", () => {
    const t = twin("seed-local");
    const plan = labPlan(t);
    const body = serviceHealthBody({ namespace: "default", name: "whereami", localEndpoints: 2 }, "1.11");
    assert.deepEqual(plan.healthServers, [
      {
        ns: "pwl-n0",
        node: "aks-nodepool1-31351229-0",
        service: "default/whereami",
        port: 32364,
        localEndpoints: 2,
        status: 200,
        responses: {
          keepAlive: `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nDate: ${HEALTH_DATE}\r\nContent-Length: 89\r\n\r\n${body}`,
          close: `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\nDate: ${HEALTH_DATE}\r\nContent-Length: 89\r\n\r\n${body}`,
        },
      },
    ]);
    const prober = plan.prober;
    assert.ok(prober);
    assert.equal(prober.ns, AZ_NS);
    assert.equal(prober.source, "168.63.129.16");
    assert.ok(configBatch(plan, AZ_NS).includes("addr add 168.63.129.16/32 dev lo"));
    assert.deepEqual(
      prober.targets.map((x) => [
        x.protocol,
        x.nodeIp,
        x.port,
        x.path,
        x.intervalMs,
        x.threshold,
        x.initiallyUp,
      ]),
      [["Http", "10.13.76.4", 32364, "/healthz", 5000, 2, true]],
    );
    const [target] = prober.targets;
    assert.ok(target && target.offsetMs >= 0 && target.offsetMs < 5000);
    assert.deepEqual(prober.frontends, [
      { vip: "13.93.66.174", backends: [{ nodeIp: "10.13.76.4", dev: "pwl-n0", target: target.key }] },
    ]);
  });

  it("seed-cluster: a Tcp probe of the node port, no health check server; aks-today: current layout's fields", () => {
    const plan = labPlan(twin("seed-cluster"));
    assert.deepEqual(plan.healthServers, []);
    assert.deepEqual(
      plan.prober?.targets.map((x) => [x.protocol, x.nodeIp, x.port, x.path, x.threshold]),
      [["Tcp", "10.13.76.4", 30064, null, 2]],
    );
    const today = labPlan(twin("aks-today"));
    assert.deepEqual(
      today.healthServers.map((h) => [h.ns, h.service, h.port, h.status]),
      [
        ["pwl-n0", "default/web-local", 32005, 200],
        ["pwl-n1", "default/web-local", 32005, 200],
        ["pwl-n2", "default/web-local", 32005, 200],
      ],
    );
    assert.match(
      today.healthServers[0]?.responses.keepAlive ?? "",
      /^HTTP\/1\.1 200 OK\r\nContent-Type: application\/json\r\nX-Content-Type-Options: nosniff\r\nX-Load-Balancing-Endpoint-Weight: 1\r\nDate: @DATE@\r\nContent-Length: 120\r\n\r\n\{\n\t"service"/,
    );
  });

  it("a frontend without a healthy backend gets a blackhole route (Azure drops silently)", () => {
    const t = twin("seed-local");
    const hollow = {
      ...t,
      nodes: t.nodes.map((n) => ({
        ...n,
        healthChecks: n.healthChecks.map((h) => ({ ...h, localEndpoints: 0 })),
      })),
    };
    const plan = labPlan(hollow);
    assert.ok(configBatch(plan, AZ_NS).includes("route add blackhole 13.93.66.174/32"));
    assert.equal(plan.healthServers[0]?.status, 503);
    assert.equal(plan.prober?.targets[0]?.initiallyUp, false);
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
