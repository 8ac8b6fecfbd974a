import { probeThreshold, resolveTopology } from "../../dataplane/sim/fabric/topology.ts";
import type { LoadBalancer, Probe } from "../../model/azure.ts";
import type { EndpointAddress, Pod } from "../../model/k8s.ts";
import type { Netns, NodeState } from "../../model/node.ts";
import type { Twin } from "../../model/twin.ts";
import type {
  InterfaceView,
  LoadBalancerView,
  NodeView,
  PodView,
  ServiceView,
  TopologyView,
} from "./contract.ts";

/**
 * What the web view draws, read off the twin: the outside hosts, each Azure load balancer with its
 * backends' probe states, the VNet, each node's host interfaces and pods, the services. Pure.
 */
export function topologyOf(twin: Twin, scenario: string): TopologyView {
  return {
    scenario,
    hosts: twin.hosts.map((h) => ({ name: h.name, kind: h.kind, ip: h.ip })),
    loadBalancers: loadBalancersOf(twin),
    vnet: {
      name: twin.azure.vnet.name,
      cidr: twin.azure.vnet.addressPrefixes.join(", "),
      subnets: twin.azure.vnet.subnets.map((s) => ({ name: s.name, cidr: s.addressPrefix })),
    },
    nodes: twin.nodes.map((n) => nodeOf(twin, n)),
    services: twin.k8s.services.map(serviceOf),
  };
}

/** The host namespace's interfaces the page draws, in this order, whichever the node has. */
const HOST_IFACES = ["eth0", "azure0", "docker0"] as const;

function nodeOf(twin: Twin, node: NodeState): NodeView {
  const host = node.netns.find((ns) => ns.id === "host");
  const interfaces: InterfaceView[] = [];
  for (const name of HOST_IFACES) {
    const i = host?.interfaces.find((x) => x.name === name);
    if (!i) continue;
    const ips = i.addresses.filter((a) => a.family === 4).map((a) => a.address);
    interfaces.push({ name: i.name, mac: i.mac, ips, master: i.master });
  }
  return {
    name: node.name,
    ip: node.ip,
    interfaces,
    healthCheckPorts: node.healthChecks.map((h) => h.port),
    pods: twin.k8s.pods.filter((p) => p.nodeName === node.name).map((p) => podOf(node, host, p)),
  };
}

/**
 * A pod with its veth pair: the pod's interface whose peer is in the host namespace, and that peer
 * (matched by ifindex, as `ip link` pairs `eth0@if19` with index 19). Host-network pods have no
 * pair: they are kept, marked, with empty interface names (the layout leaves them out).
 */
function podOf(node: NodeState, host: Netns | undefined, pod: Pod): PodView {
  const id = `${node.name}/${pod.meta.namespace}/${pod.meta.name}`;
  const base = { id, namespace: pod.meta.namespace, name: pod.meta.name, ip: pod.podIP };
  if (pod.hostNetwork) return { ...base, hostVeth: "", podIface: "", hostNetwork: true };
  const ns = node.netns.find((n) => n.id === `${pod.meta.namespace}/${pod.meta.name}`);
  const podIface = ns?.interfaces.find((i) => i.kind === "veth" && i.peer !== null);
  const hostVeth = host?.interfaces.find((i) => i.index === podIface?.peer?.index);
  return { ...base, hostVeth: hostVeth?.name ?? "", podIface: podIface?.name ?? "", hostNetwork: false };
}

function serviceOf(s: Twin["k8s"]["services"][number]): ServiceView {
  return {
    namespace: s.meta.namespace,
    name: s.meta.name,
    type: s.type,
    clusterIp: s.clusterIP,
    loadBalancerIps: s.loadBalancerIngress,
    ports: s.ports.map((p) => ({
      port: p.port,
      nodePort: p.nodePort === 0 ? null : p.nodePort,
      protocol: p.protocol,
    })),
    externalTrafficPolicy: s.externalTrafficPolicy,
    healthCheckNodePort: s.healthCheckNodePort === 0 ? null : s.healthCheckNodePort,
  };
}

const lower = (id: string): string => id.toLowerCase();

function loadBalancersOf(twin: Twin): LoadBalancerView[] {
  // The data plane's own reading of the pools and probes (ARM ids compared case-insensitively).
  const resolved = resolveTopology(twin.azure);
  const nodeByIp = new Map(twin.nodes.map((n) => [n.ip, n] as const));
  return twin.azure.loadBalancers.map((lb) => {
    const frontendIp = new Map(lb.frontendIpConfigurations.map((f) => [lower(f.id), f.ipAddress] as const));
    const probeName = new Map(lb.probes.map((p) => [lower(p.id), p.name] as const));
    // Probes no rule uses are never sent (topology.ts): only those that are, per backend.
    const sent = resolved.probes.filter((rp) => rp.lb === lb);
    return {
      name: lb.name,
      sku: lb.sku,
      frontends: lb.frontendIpConfigurations.map((f) => ({ name: f.name, ip: f.ipAddress })),
      rules: lb.loadBalancingRules.map((r) => ({
        name: r.name,
        frontendIp: frontendIp.get(lower(r.frontendIpConfigurationId)) ?? "",
        protocol: r.protocol,
        frontendPort: r.frontendPort,
        backendPort: r.backendPort,
        floatingIp: r.enableFloatingIp,
        probe: r.probeId === null ? null : (probeName.get(lower(r.probeId)) ?? null),
      })),
      probes: lb.probes.map((p) => ({
        name: p.name,
        protocol: p.protocol,
        port: p.port,
        path: p.requestPath,
        intervalSeconds: p.intervalInSeconds,
        unhealthyThreshold: probeThreshold(p),
      })),
      backends: poolMemberIps(twin, lb).map((ip) => {
        const node = nodeByIp.get(ip);
        const probes = sent
          .filter((rp) => rp.backends.some((b) => b.nodeIpText === ip))
          .map((rp) => ({ probe: rp.probe.name, up: node ? probeUp(twin, node, rp.probe) : false }));
        return { node: node?.name ?? ip, ip, probes };
      }),
    };
  });
}

/** Every address in any of the LB's pools (outbound pools too), in first-seen order. */
function poolMemberIps(twin: Twin, lb: LoadBalancer): string[] {
  const ipOfConfig = new Map<string, string>();
  for (const nic of twin.azure.nics)
    for (const c of nic.ipConfigurations) ipOfConfig.set(lower(c.id), c.privateIpAddress);
  const ips: string[] = [];
  for (const pool of lb.backendAddressPools) {
    for (const id of pool.backendIpConfigurationIds) {
      const ip = ipOfConfig.get(lower(id));
      if (ip !== undefined && !ips.includes(ip)) ips.push(ip);
    }
  }
  return ips;
}

/**
 * Whether the probe finds the node healthy once the LB has converged. The data plane runs the
 * probes through the twin (probe-answer.ts) on a schedule that starts with every backend up at
 * the twin's `now` and marks one down after `unhealthyThreshold` failures, i.e. by the time the
 * walk sends (walk-paths.ts WALK_DELAY_US). Running the fabric here would say "all up" at `now`,
 * which hides what the walk meets, so the converged state is read off the twin instead, by what
 * answers the probe's port (topology.test.ts checks it against the simulated probes):
 * - a service's node port: a ready endpoint (Local: on this node) whose pod's app listens on the
 *   endpoint's port (an Http probe also wants the path `/`, the one page every app serves);
 * - a kube-proxy health check port: Http(s) gets 200 only with local endpoints, Tcp just connects;
 * - any other port the node listens on: up; nothing there: down.
 */
export function probeUp(twin: Twin, node: NodeState, probe: Probe): boolean {
  const svc = twin.k8s.services.find((s) => s.ports.some((p) => p.nodePort === probe.port));
  const port = svc?.ports.find((p) => p.nodePort === probe.port);
  if (svc && port) {
    if (probe.protocol !== "Tcp" && (probe.requestPath ?? "/") !== "/") return false;
    const ep = twin.k8s.endpoints.find(
      (e) => e.meta.namespace === svc.meta.namespace && e.meta.name === svc.meta.name,
    );
    return (ep?.subsets ?? []).some((subset) => {
      const target = subset.ports.find((p) => p.name === port.name && p.protocol === port.protocol);
      return (
        target !== undefined &&
        subset.addresses.some(
          (a) =>
            (svc.externalTrafficPolicy !== "Local" || a.nodeName === node.name) &&
            listensOn(twin, a, target.port),
        )
      );
    });
  }
  const hc = node.healthChecks.find((h) => h.port === probe.port);
  if (hc) return probe.protocol === "Tcp" || hc.localEndpoints > 0;
  return node.listeners.some((l) => (l.proto === "tcp" || l.proto === "tcp6") && l.port === probe.port);
}

/** Whether the endpoint's pod runs an app on `port` (an address written by hand is taken to). */
function listensOn(twin: Twin, a: EndpointAddress, port: number): boolean {
  const ref = a.targetRef;
  if (ref === null) return true;
  const pod = twin.k8s.pods.find((p) => p.meta.namespace === ref.namespace && p.meta.name === ref.name);
  return pod !== undefined && pod.app.kind !== "none" && pod.app.port === port;
}
