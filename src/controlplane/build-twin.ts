import { intBelow, uuidV4 } from "../core/choose.ts";
import { type Rng, streamsOf } from "../core/rng.ts";
import type { AzureState, NetworkInterface } from "../model/azure.ts";
import type { Node } from "../model/k8s.ts";
import type { HealthCheckServer, Listener, NodeState } from "../model/node.ts";
import type { PodPin, Scenario } from "../model/scenario.ts";
import type { Twin } from "../model/twin.ts";
import { cidr4 } from "./azure/addresses.ts";
import { networkId, nodeResourceGroupName } from "./azure/ids.ts";
import { buildNodePool } from "./azure/nodes.ts";
import { buildLoadBalancers } from "./cloud-lb/load-balancer.ts";
import { buildNodeNetwork } from "./cni/node-network.ts";
import { eraOf } from "./era.ts";
import { buildEndpoints } from "./k8s/endpoints.ts";
import { desiredFromManifests } from "./k8s/manifests.ts";
import { buildPods } from "./k8s/pods.ts";
import { allocateServices, withIngress } from "./k8s/services.ts";
import { systemServices, systemWorkloads } from "./k8s/system.ts";
import { clusterRules, nodeRuleset } from "./kube-proxy/index.ts";
import { buildRuntime } from "./node/runtime.ts";

/**
 * The control plane: from a scenario to everything Azure, AKS, Azure CNI, the Kubernetes
 * controllers and kube-proxy create, in the order they create it (VMs and NICs, system add-ons,
 * the user's objects, the load balancer, each node's network and iptables). Pure: the same
 * scenario (and seed) always gives the same twin.
 */

/**
 * The virtual clock, in Unix seconds: the twin is observed at a fixed moment of its era (the seed's
 * captures were taken on 2019-01-22 around 23:40 UTC, seed line 280; today's twins on 2026-12-01),
 * the cluster created 24 minutes before and the user's manifests applied 11 minutes before, the
 * ages the seed's first `kubectl get svc` shows (line 90).
 */
export function timeline(era: "2019" | "today"): { created: number; applied: number; observed: number } {
  const observed = era === "2019" ? 1548200400 : 1796126400;
  return { created: observed - 1440, applied: observed - 660, observed };
}

export function buildTwin(scenario: Scenario): Twin {
  // Every object draws from its own stream (core/rng.ts streamRng), so applying one more object to
  // a kept twin changes no other object's random values.
  const streams = streamsOf(scenario.seed);
  const { cluster, pins } = scenario;
  const era = eraOf(cluster.kubernetesVersion);
  const nodeRg = nodeResourceGroupName(scenario.resourceGroup, cluster.name, scenario.location);
  const sub = scenario.subscriptionId;
  const vnetId = networkId(sub, scenario.resourceGroup, "virtualNetworks", scenario.vnet.name);
  const subnetSpec = scenario.vnet.subnets.find((s) => s.name === cluster.subnet);
  if (!subnetSpec)
    throw new Error(`cluster.subnet "${cluster.subnet}" is not a subnet of VNet ${scenario.vnet.name}`);
  const subnet = cidr4(subnetSpec.prefix);
  const pool = buildNodePool({
    scenario,
    nodeResourceGroup: nodeRg,
    subnetId: `${vnetId}/subnets/${cluster.subnet}`,
    era: era.azureApi,
    streams,
  });

  // Kubernetes: AKS's add-ons first, then what the user applied.
  const serviceCidr = cidr4(cluster.serviceCidr);
  const clock = timeline(era.azureApi);
  const system = {
    layout: era.azureApi,
    dnsServiceIp: cluster.dnsServiceIp,
    kubernetesServiceIp: nthIp(serviceCidr.base + 1),
    createdAt: clock.created,
  };
  const user = desiredFromManifests(scenario.manifests, clock.applied);
  const podPins: PodPin[] = [...(pins.pods ?? [])];
  pool.forEach((n, i) => {
    const np = pins.nodes?.[i];
    if (np?.kubeProxyPod || np?.kubeProxyPid || np?.kubeProxyContainerId || np?.kubeProxyUid) {
      podPins.push({
        owner: "kube-system/kube-proxy",
        node: n.name,
        ...(np.kubeProxyPod ? { name: np.kubeProxyPod } : {}),
        ...(np.kubeProxyUid ? { uid: np.kubeProxyUid } : {}),
        ...(np.kubeProxyPid ? { pid: np.kubeProxyPid } : {}),
        ...(np.kubeProxyContainerId ? { containerId: np.kubeProxyContainerId } : {}),
      });
    }
  });
  const {
    deployments,
    pods,
    podPins: pinOf,
  } = buildPods({
    workloads: [...systemWorkloads(system), ...user.workloads],
    nodes: pool,
    pins: podPins,
    uidPins: pins.uids ?? {},
    kubeletVersion: `v${cluster.kubernetesVersion}`,
    streams,
  });
  const allocated = allocateServices({
    desired: [...systemServices(system), ...user.services],
    serviceCidr: cluster.serviceCidr,
    pins,
    streams,
  });
  const lb = buildLoadBalancers({
    services: allocated,
    subscriptionId: sub,
    nodeResourceGroup: nodeRg,
    location: scenario.location,
    sku: cluster.loadBalancerSku,
    era: era.azureApi,
    nodeIpConfigIds: pool.map((n) => (n.nic.ipConfigurations[0] as { id: string }).id),
    publicIpPins: pins.publicIps ?? {},
    streams,
  });
  const services = withIngress(allocated, lb.ingress);
  const apiRng = streams("ApiServer");
  const apiServer = {
    ip: `${20 + intBelow(apiRng, 30)}.${intBelow(apiRng, 256)}.${intBelow(apiRng, 256)}.${1 + intBelow(apiRng, 254)}`,
    port: 443,
  };
  const endpoints = buildEndpoints(services, pods, apiServer);
  const nics: NetworkInterface[] = pool.map((n) => ({
    ...n.nic,
    ipConfigurations: n.nic.ipConfigurations.map((c) => ({
      ...c,
      loadBalancerBackendAddressPoolIds: lb.poolsOfIpConfig.get(c.id) ?? [],
    })),
  }));
  const azure: AzureState = {
    subscriptionId: sub,
    resourceGroup: scenario.resourceGroup,
    nodeResourceGroup: nodeRg,
    location: scenario.location,
    apiEra: era.azureApi,
    vnet: {
      id: vnetId,
      name: scenario.vnet.name,
      resourceGroup: scenario.resourceGroup,
      addressPrefixes: scenario.vnet.addressPrefixes,
      subnets: scenario.vnet.subnets.map((s) => ({
        id: `${vnetId}/subnets/${s.name}`,
        name: s.name,
        addressPrefix: s.prefix,
      })),
    },
    vms: pool.map((n) => n.vm),
    nics,
    publicIps: lb.publicIps,
    loadBalancers: lb.loadBalancers,
  };
  const nodes: Node[] = pool.map((n) => ({
    name: n.name,
    uid: pins.uids?.[`Node/${n.name}`] ?? uuidV4(streams(`Node/${n.name}`)),
    internalIP: n.ip,
    labels: {
      agentpool: cluster.nodePoolName,
      "kubernetes.io/hostname": n.name,
      "kubernetes.io/role": "agent",
    },
    kubeletVersion: `v${cluster.kubernetesVersion}`,
    createdAt: clock.created,
  }));

  // Everything kube-proxy and the other writers put on a node that is the same on every node is
  // built once here; each node then adds only what depends on it (kube-proxy/cluster-rules.ts).
  const rules = clusterRules({
    layout: era.layout,
    kubernetesVersion: cluster.kubernetesVersion,
    clusterCidr: subnetSpec.prefix,
    services,
    endpoints,
    dockerBridgeCidr: era.docker && cluster.dockerBridgeCidr ? networkOf(cluster.dockerBridgeCidr) : null,
    masqueradeExcept: era.azureApi === "2019" ? "10.0.0.0/8" : null,
    ipMasqAgentCidrs: era.azureApi === "2019" ? null : scenario.vnet.addressPrefixes,
  });
  const podsOf = groupBy(pods, (p) => p.nodeName);
  const healthChecksOn = healthChecks(services, endpoints);
  const nodeStates = pool.map((n, i): NodeState => {
    const onNode = podsOf.get(n.name) ?? [];
    const runtime = buildRuntime(onNode, pinOf, new Map(), streams);
    const hostRng = streams(`Host/${n.name}`);
    const network = buildNodeNetwork({
      nodeIp: n.ip,
      nodeMac: n.mac,
      subnet,
      mode: cluster.cniMode,
      dockerBridge: era.docker ? cluster.dockerBridgeCidr : null,
      docker0Mac: pins.nodes?.[i]?.docker0Mac ?? null,
      pods: runtime.filter((r) => !r.pod.hostNetwork),
      pins: pinOf,
      nodeName: n.name,
      streams,
    });
    const kubeProxy = runtime.find((r) => r.pod.meta.name.startsWith("kube-proxy-"));
    const kubeProxyPid = kubeProxy?.containers[0]?.pid ?? 1000 + intBelow(hostRng, 31000);
    const healthChecks = healthChecksOn(n.name);
    const ruleset = nodeRuleset(rules, { nodeName: n.name, nodeIP: n.ip });
    return {
      name: n.name,
      ip: n.ip,
      netns: network.netns,
      bridges: network.bridges,
      ruleset,
      containers: runtime.flatMap((r) => [r.sandbox, ...r.containers]),
      listeners: listenersOn(era.layout, services, healthChecks, kubeProxyPid, hostRng),
      healthChecks,
      kubeProxy: { healthzPort: 10256, layout: era.layout, pid: kubeProxyPid },
    };
  });

  return {
    scenario,
    azure,
    k8s: { version: cluster.kubernetesVersion, nodes, deployments, pods, services, endpoints },
    nodes: nodeStates,
    hosts: scenario.hosts,
    now: clock.observed,
  };
}

function nthIp(value: number): string {
  return `${value >>> 24}.${(value >>> 16) & 255}.${(value >>> 8) & 255}.${value & 255}`;
}

/** `172.17.0.1/16` → `172.17.0.0/16` (the rule matches the network, the bridge holds .1). */
function networkOf(cidr: string): string {
  const c = cidr4(cidr);
  return `${nthIp(c.base)}/${c.prefix}`;
}

/** Items grouped by key, each group in the items' order. */
function groupBy<T>(items: readonly T[], keyOf: (item: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) {
    const k = keyOf(item);
    const list = out.get(k);
    if (list) list.push(item);
    else out.set(k, [item]);
  }
  return out;
}

/**
 * kube-proxy serves a health check on every node for each Local LoadBalancer service, reporting
 * the endpoints on that node. The services and their endpoints are looked up once for all nodes.
 */
function healthChecks(
  services: Twin["k8s"]["services"],
  endpoints: Twin["k8s"]["endpoints"],
): (nodeName: string) => HealthCheckServer[] {
  const epByName = new Map(endpoints.map((e) => [`${e.meta.namespace}/${e.meta.name}`, e]));
  const checked = services
    .filter((s) => s.healthCheckNodePort !== 0)
    .map((s) => {
      const ep = epByName.get(`${s.meta.namespace}/${s.meta.name}`);
      return { service: s, addresses: ep?.subsets.flatMap((ss) => ss.addresses) ?? [] };
    });
  return (nodeName) =>
    checked.map(({ service: s, addresses }) => ({
      namespace: s.meta.namespace,
      name: s.meta.name,
      port: s.healthCheckNodePort,
      localEndpoints: addresses.filter((a) => a.nodeName === nodeName).length,
    }));
}

/**
 * Listening sockets `netstat -l -p` shows: kube-proxy's health checks, healthz and metrics (and,
 * up to 1.11's layout, the node ports it holds open), the kubelet, sshd. The seed (line 477)
 * shows kube-proxy as `hyperkube` on `[::]:32364`.
 */
function listenersOn(
  layout: "1.11" | "current",
  services: Twin["k8s"]["services"],
  healthChecks: readonly HealthCheckServer[],
  kubeProxyPid: number,
  rng: Rng,
): Listener[] {
  const program = layout === "1.11" ? "hyperkube" : "kube-proxy";
  const kp = (port: number, proto: Listener["proto"] = "tcp6", address = "::"): Listener => ({
    proto,
    address,
    port,
    pid: kubeProxyPid,
    program,
  });
  const kubeletPid = 1000 + intBelow(rng, 31000);
  const sshdPid = 1000 + intBelow(rng, 31000);
  const out: Listener[] = [
    { proto: "tcp", address: "0.0.0.0", port: 22, pid: sshdPid, program: "sshd" },
    {
      proto: "tcp",
      address: "127.0.0.1",
      port: 10248,
      pid: kubeletPid,
      program: program === "hyperkube" ? "hyperkube" : "kubelet",
    },
    kp(10249, "tcp", "127.0.0.1"),
    { proto: "tcp6", address: "::", port: 22, pid: sshdPid, program: "sshd" },
    {
      proto: "tcp6",
      address: "::",
      port: 10250,
      pid: kubeletPid,
      program: program === "hyperkube" ? "hyperkube" : "kubelet",
    },
    kp(10256),
    ...healthChecks.map((h) => kp(h.port)),
  ];
  if (layout === "1.11") {
    for (const s of services)
      for (const p of s.ports)
        if (p.nodePort) out.push(kp(p.nodePort, p.protocol === "UDP" ? "udp6" : "tcp6"));
  }
  return out;
}
