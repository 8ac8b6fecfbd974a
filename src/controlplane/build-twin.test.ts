import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SEED_TEXT } from "../../test/support/seed.ts";
import type { Scenario } from "../model/scenario.ts";
import type { Twin } from "../model/twin.ts";
import { buildTwin } from "./build-twin.ts";
import { seedCluster, seedLocal } from "./testdata/seed-scenario.ts";

const SEED = SEED_TEXT.split("\n");

/** The line printed right after the seed line that contains `command`. */
function seedOutput(command: string, lineAfter = 1): string {
  const at = SEED.findIndex((l) => l.includes(command));
  assert.ok(at >= 0, `seed has no line with ${command}`);
  // The blog pads its tables with no-break spaces.
  return (SEED[at + lineAfter] as string).replaceAll("\u00a0", " ").trim();
}

const host = (t: Twin) => t.nodes[0]?.netns[0] as Twin["nodes"][number]["netns"][number];

describe("control plane: the seed's Cluster twin", () => {
  const twin = buildTwin(seedCluster);

  it("names the node resource group, VM, NIC and node IP as the seed shows", () => {
    assert.equal(twin.azure.nodeResourceGroup, "MC_akstest_aksPacketWalkAzure_westeurope");
    assert.equal(twin.azure.vms[0]?.name, "aks-nodepool1-31351229-0");
    const nic = twin.azure.nics[0];
    assert.equal(nic?.name, "aks-nodepool1-31351229-nic-0");
    assert.equal(nic?.ipConfigurations[0]?.privateIpAddress, seedOutput("nic ip-config show"));
    assert.equal(nic?.ipConfigurations.length, 31, "ipconfig1 plus 30 Azure CNI pod addresses");
  });

  it("builds the load balancer rule, probe and backend pool of the seed", () => {
    const lb = twin.azure.loadBalancers[0];
    assert.equal(lb?.name, "kubernetes");
    const rule = lb?.loadBalancingRules[0];
    assert.equal(rule?.name, "a48b4c0e11cfd11e9981c7abfb60d882-TCP-80");
    assert.deepEqual(
      [
        rule?.frontendPort,
        rule?.backendPort,
        rule?.enableFloatingIp,
        rule?.idleTimeoutInMinutes,
        rule?.protocol,
      ],
      [80, 80, true, 4, "Tcp"],
    );
    const probe = lb?.probes[0];
    assert.deepEqual(
      [probe?.name, probe?.protocol, probe?.port, probe?.intervalInSeconds, probe?.numberOfProbes],
      [rule?.name, "Tcp", 30064, 5, 2],
    );
    assert.deepEqual(lb?.backendAddressPools[0]?.backendIpConfigurationIds, [
      seedOutput("backendIpConfigurations[].id"),
    ]);
    assert.deepEqual(
      twin.azure.publicIps.map((p) => p.ipAddress),
      ["51.144.176.251"],
    );
  });

  it("runs the seed's services, pods and endpoints", () => {
    const svc = twin.k8s.services.find((s) => s.meta.name === "whereami");
    assert.equal(svc?.clusterIP, "10.0.159.58");
    assert.equal(svc?.ports[0]?.nodePort, 30064);
    assert.deepEqual(svc?.loadBalancerIngress, ["51.144.176.251"]);
    const ep = twin.k8s.endpoints.find((e) => e.meta.name === "whereami");
    const shown = ep?.subsets[0]?.addresses.map((a) => `${a.ip}:${ep.subsets[0]?.ports[0]?.port}`).join(",");
    assert.equal(shown, seedOutput("k get ep whereami", 2).split(/\s+/)[1]);
    const whereami = twin.k8s.pods.filter((p) => p.meta.name.startsWith("whereami-"));
    assert.deepEqual(
      whereami.map((p) => [p.meta.name, p.podIP, p.nodeName]),
      [
        ["whereami-564765b89-j7bpw", "10.13.76.7", "aks-nodepool1-31351229-0"],
        ["whereami-564765b89-qfq2k", "10.13.76.26", "aks-nodepool1-31351229-0"],
      ],
    );
    assert.equal(twin.k8s.services.find((s) => s.meta.name === "kube-dns")?.clusterIP, "10.0.0.10");
    assert.equal(twin.k8s.services.find((s) => s.meta.name === "kubernetes")?.clusterIP, "10.0.0.1");
  });

  it("wires the pod's veth pair, the azure0 bridge and the ARP entry as the seed shows", () => {
    const ifs = host(twin).interfaces;
    const veth = ifs.find((i) => i.name === "azva4124965a9b");
    assert.deepEqual([veth?.index, veth?.peer?.index, veth?.master], [20, 19, "azure0"]);
    const podNs = twin.nodes[0]?.netns.find((n) => n.id === "default/whereami-564765b89-qfq2k");
    const eth0 = podNs?.interfaces.find((i) => i.name === "eth0");
    assert.deepEqual([eth0?.index, eth0?.peer?.index, eth0?.mac], [19, 20, "ee:af:f8:66:59:bd"]);
    const azure0 = twin.nodes[0]?.bridges.find((b) => b.name === "azure0");
    assert.equal(azure0?.bridgeId, "8000.000d3a28bd02");
    assert.equal(azure0?.ports.length, 9, "eth0 and the 8 pod veths of the seed's brctl show");
    assert.equal(azure0?.ports.find((p) => p.name === "azva4124965a9b")?.portNo, 9);
    assert.equal(twin.nodes[0]?.bridges.find((b) => b.name === "docker0")?.bridgeId, "8000.0242406081ac");
    const arp = host(twin).neighbours.find((n) => n.ip === "10.13.76.26");
    assert.deepEqual([arp?.mac, arp?.state, arp?.dev], ["ee:af:f8:66:59:bd", "PERMANENT", "azure0"]);
    const azure0If = ifs.find((i) => i.name === "azure0");
    assert.deepEqual(
      azure0If?.addresses.map((a) => `${a.address}/${a.prefixLength}`),
      ["10.13.76.4/24"],
    );
  });

  it("is deterministic, and the seed decides every unpinned choice", () => {
    assert.deepEqual(buildTwin(seedCluster), twin);
    const other = buildTwin({ ...seedCluster, seed: 2 });
    const heapster = (t: Twin) => t.k8s.services.find((s) => s.meta.name === "heapster")?.clusterIP;
    assert.notEqual(heapster(other), heapster(twin));
    assert.equal(other.k8s.services.find((s) => s.meta.name === "whereami")?.clusterIP, "10.0.159.58");
  });
});

describe("control plane: the seed's Local twin", () => {
  const twin = buildTwin(seedLocal);

  it("probes kube-proxy's health check node port over HTTP", () => {
    const probe = twin.azure.loadBalancers[0]?.probes[0];
    assert.deepEqual(
      [probe?.name, probe?.protocol, probe?.port, probe?.requestPath],
      ["a96e1c7f91d5411e9981c7abfb60d882-TCP-80", "Http", 32364, "/healthz"],
    );
    assert.deepEqual(twin.nodes[0]?.healthChecks, [
      { namespace: "default", name: "whereami", port: 32364, localEndpoints: 2 },
    ]);
    const listener = twin.nodes[0]?.listeners.find((l) => l.port === 32364);
    assert.deepEqual(
      [listener?.proto, listener?.address, listener?.pid, listener?.program],
      ["tcp6", "::", 4372, "hyperkube"],
    );
  });

  it("continues interface indexes after the pinned pair", () => {
    const ifs = host(twin).interfaces;
    assert.deepEqual(
      ifs
        .filter((i) => i.kind === "veth")
        .slice(-2)
        .map((i) => [i.name === "azv47c3ee9d512" ? "pinned" : "other", i.index, i.peer?.index]),
      [
        ["pinned", 22, 21],
        ["other", 24, 23],
      ],
    );
  });
});

describe("control plane: unpinned scenarios", () => {
  const today: Scenario = {
    ...seedCluster,
    name: "today",
    pins: {},
    cluster: {
      ...seedCluster.cluster,
      nodeCount: 3,
      kubernetesVersion: "1.33.2",
      loadBalancerSku: "standard",
      cniMode: "transparent",
      dockerBridgeCidr: null,
    },
  };
  const twin = buildTwin(today);

  it("spreads replicas, gives every pod an address of its own node, and names VMSS nodes", () => {
    assert.deepEqual(
      twin.k8s.nodes.map((n) => n.name.replace(/-\d{8}-/, "-X-")),
      ["aks-nodepool1-X-vmss000000", "aks-nodepool1-X-vmss000001", "aks-nodepool1-X-vmss000002"],
    );
    const ips = twin.k8s.pods.filter((p) => !p.hostNetwork).map((p) => p.podIP);
    assert.equal(new Set(ips).size, ips.length);
    for (const p of twin.k8s.pods.filter((x) => !x.hostNetwork)) {
      const nic = twin.azure.nics.find((n) => n.ipConfigurations[0]?.privateIpAddress === p.hostIP);
      assert.ok(
        nic?.ipConfigurations.slice(1).some((c) => c.privateIpAddress === p.podIP),
        `${p.meta.name} on its node`,
      );
    }
    const perNode = twin.k8s.nodes.map(
      (n) => twin.k8s.pods.filter((p) => p.nodeName === n.name && !p.hostNetwork).length,
    );
    assert.ok(Math.max(...perNode) - Math.min(...perNode) <= 1, `spread ${perNode}`);
  });

  it("uses transparent mode: node IP on eth0, a /32 route per pod, no bridge", () => {
    const ns = host(twin);
    assert.ok(
      ns.interfaces.find((i) => i.name === "eth0")?.addresses.some((a) => a.address === twin.nodes[0]?.ip),
    );
    assert.equal(twin.nodes[0]?.bridges.length, 0);
    const podIps = twin.k8s.pods
      .filter((p) => p.nodeName === twin.nodes[0]?.name && !p.hostNetwork)
      .map((p) => p.podIP);
    for (const ip of podIps)
      assert.ok(
        ns.routes.some((r) => r.dst === ip && r.dev.startsWith("azv")),
        ip,
      );
  });

  it("gives a Standard LB with the outbound pool and TCP reset", () => {
    const lb = twin.azure.loadBalancers[0];
    assert.deepEqual(
      lb?.backendAddressPools.map((p) => p.name),
      ["kubernetes", "aksOutboundBackendPool"],
    );
    assert.equal(lb?.loadBalancingRules[0]?.enableTcpReset, true);
    assert.equal(lb?.probes[0]?.probeThreshold, 2);
  });
});

describe("control plane: applying more objects to a kept twin", () => {
  const base: Scenario = {
    ...seedCluster,
    name: "stable",
    pins: {},
    cluster: { ...seedCluster.cluster, nodeCount: 2, kubernetesVersion: "1.33.2", dockerBridgeCidr: null },
  };
  const extra: Scenario["manifests"] = [
    {
      source: { file: "extra.yaml", line: 1 },
      object: {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "aaa-extra", namespace: "default" },
        spec: {
          replicas: 2,
          selector: { matchLabels: { app: "aaa-extra" } },
          template: {
            metadata: { labels: { app: "aaa-extra" } },
            spec: { containers: [{ name: "c", image: "nginx", ports: [{ containerPort: 80 }] }] },
          },
        },
      },
    },
    {
      source: { file: "extra.yaml", line: 14 },
      object: {
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: "aaa-extra", namespace: "default" },
        spec: { type: "LoadBalancer", selector: { app: "aaa-extra" }, ports: [{ port: 80 }] },
      },
    },
  ];
  const before = buildTwin(base);
  const after = buildTwin({ ...base, manifests: [...base.manifests, ...extra] });

  it("changes no other object's random values (IPs, ports, names, UIDs, MACs, container ids)", () => {
    // Only the new objects are new: what was there keeps every value, as in a real cluster.
    const svc = (t: Twin) =>
      t.k8s.services
        .filter((s) => s.meta.name !== "aaa-extra")
        .map((s) => [s.meta.uid, s.clusterIP, s.ports.map((p) => p.nodePort), s.loadBalancerIngress]);
    assert.deepEqual(svc(after), svc(before));
    const pods = (t: Twin) =>
      t.k8s.pods
        .filter((p) => !p.meta.name.startsWith("aaa-extra"))
        .map((p) => [p.meta.name, p.meta.uid, p.podIP, p.nodeName]);
    assert.deepEqual(pods(after), pods(before));
    assert.deepEqual(
      after.k8s.nodes.map((n) => n.uid),
      before.k8s.nodes.map((n) => n.uid),
    );
    const containers = (t: Twin) =>
      t.nodes.flatMap((n) =>
        n.containers.filter((c) => !c.name.includes("aaa-extra")).map((c) => [c.id, c.pid]),
      );
    assert.deepEqual(containers(after), containers(before));
    const macs = (t: Twin) =>
      t.nodes.flatMap((n) =>
        n.netns.flatMap((ns) =>
          ns.id.includes("aaa-extra")
            ? []
            : ns.interfaces.map((i) => `${ns.id}/${i.name}=${i.mac}@${i.index}`),
        ),
      );
    const macsAfter = new Set(macs(after));
    for (const m of macs(before))
      if (!m.startsWith("host/")) assert.ok(macsAfter.has(m), `${m} kept its MAC and index`);
    assert.equal(after.k8s.pods.filter((p) => p.meta.name.startsWith("aaa-extra")).length, 2);
  });
});

describe("control plane: more pods than the nodes hold", () => {
  it("leaves the extra pods Pending, without node or address, and out of the endpoints", () => {
    const big: Scenario = {
      ...seedCluster,
      pins: {},
      cluster: { ...seedCluster.cluster, maxPods: 10 },
      manifests: seedCluster.manifests.map((m) =>
        m.object.kind === "Deployment"
          ? { ...m, object: { ...m.object, spec: { ...(m.object.spec as object), replicas: 8 } } }
          : m,
      ),
    };
    const twin = buildTwin(big);
    const whereami = twin.k8s.pods.filter((p) => p.meta.name.startsWith("whereami-"));
    const running = whereami.filter((p) => p.phase === "Running");
    // 10 addresses on the node, 6 taken by AKS's own pods.
    assert.equal(running.length, 4);
    for (const p of whereami.filter((x) => x.phase === "Pending"))
      assert.deepEqual([p.nodeName, p.podIP, p.ready], ["", "", false]);
    const ep = twin.k8s.endpoints.find((e) => e.meta.name === "whereami");
    assert.equal(ep?.subsets[0]?.addresses.length, 4);
    assert.equal(ep?.subsets[0]?.notReadyAddresses.length, 0);
  });
});
