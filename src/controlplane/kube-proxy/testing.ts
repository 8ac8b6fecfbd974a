import type { Endpoints, Protocol, Service, ServicePort } from "../../model/k8s.ts";
import type { NodeRulesInput } from "./input.ts";

/**
 * Test fixtures: the seed's node (aks-nodepool1-31351229-0, AKS 1.11.5, Azure CNI) with the AKS
 * system services and the whereami service in either half of the seed, built by hand from the
 * seed's facts. Used by this folder's tests only.
 */

export const NODE = "aks-nodepool1-31351229-0";

const meta = (namespace: string, name: string, uid = `${namespace}-${name}-uid`) => ({
  name,
  namespace,
  uid,
  labels: {},
  annotations: {},
  createdAt: 0,
  ownerReferences: [],
});

export function port(name: string, p: number, protocol: Protocol = "TCP", nodePort = 0): ServicePort {
  return { name, protocol, port: p, targetPort: p, nodePort };
}

export function service(
  ns: string,
  name: string,
  clusterIP: string,
  ports: ServicePort[],
  extra: Partial<Service> = {},
): Service {
  return {
    meta: meta(ns, name),
    type: "ClusterIP",
    clusterIP,
    ports,
    selector: {},
    externalTrafficPolicy: "Cluster",
    internalTrafficPolicy: "Cluster",
    healthCheckNodePort: 0,
    externalIPs: [],
    loadBalancerSourceRanges: [],
    loadBalancerIngress: [],
    sessionAffinity: "None",
    sessionAffinityTimeoutSeconds: 10800,
    externalName: "",
    ...extra,
  };
}

/** Endpoints with one subset; `ips` are on this node unless listed in `remote`. */
export function endpoints(
  ns: string,
  name: string,
  ips: string[],
  ports: { name: string; port: number; protocol: Protocol }[],
  remote: string[] = [],
): Endpoints {
  return {
    meta: meta(ns, name),
    subsets: [
      {
        addresses: ips.map((ip) => ({
          ip,
          nodeName: remote.includes(ip) ? "elsewhere" : NODE,
          targetRef: { kind: "Pod" as const, namespace: ns, name: `${name}-${ip}`, uid: `uid-${ip}` },
        })),
        notReadyAddresses: [],
        ports,
      },
    ],
  };
}

/**
 * AKS 1.11's system services (the seed's `k get svc --all-namespaces`); pod IPs are ours (the seed
 * does not print them). default/kubernetes' endpoint is the API server, outside the VNet
 * (placeholder address).
 */
export function systemServices(): { services: Service[]; endpoints: Endpoints[] } {
  return {
    services: [
      service("default", "kubernetes", "10.0.0.1", [port("https", 443)]),
      service("kube-system", "kube-dns", "10.0.0.10", [port("dns", 53, "UDP"), port("dns-tcp", 53, "TCP")]),
      service("kube-system", "heapster", "10.0.187.18", [port("", 80)]),
      service("kube-system", "kubernetes-dashboard", "10.0.103.10", [port("", 80)]),
      service("kube-system", "metrics-server", "10.0.95.138", [port("", 443)]),
    ],
    endpoints: [
      endpoints(
        "default",
        "kubernetes",
        ["52.174.41.10"],
        [{ name: "https", port: 443, protocol: "TCP" }],
        ["52.174.41.10"],
      ),
      endpoints(
        "kube-system",
        "kube-dns",
        ["10.13.76.12", "10.13.76.33"],
        [
          { name: "dns", port: 53, protocol: "UDP" },
          { name: "dns-tcp", port: 53, protocol: "TCP" },
        ],
      ),
      endpoints("kube-system", "heapster", ["10.13.76.21"], [{ name: "", port: 8082, protocol: "TCP" }]),
      endpoints(
        "kube-system",
        "kubernetes-dashboard",
        ["10.13.76.18"],
        [{ name: "", port: 9090, protocol: "TCP" }],
      ),
      endpoints("kube-system", "metrics-server", ["10.13.76.9"], [{ name: "", port: 443, protocol: "TCP" }]),
    ],
  };
}

/** The seed's node with whereami as in its first (Cluster) or second (Local) half. */
export function seedInput(half: "cluster" | "local"): NodeRulesInput {
  const sys = systemServices();
  const whereami =
    half === "cluster"
      ? service("default", "whereami", "10.0.159.58", [port("", 80, "TCP", 30064)], {
          type: "LoadBalancer",
          loadBalancerIngress: ["51.144.176.251"],
        })
      : service("default", "whereami", "10.0.12.96", [port("", 80, "TCP", 32663)], {
          type: "LoadBalancer",
          externalTrafficPolicy: "Local",
          healthCheckNodePort: 32364,
          loadBalancerIngress: ["13.93.66.174"],
        });
  // `k get ep whereami` order (the endpoints controller sorts addresses by IP string).
  const ips = half === "cluster" ? ["10.13.76.26", "10.13.76.7"] : ["10.13.76.15", "10.13.76.30"];
  return {
    layout: "1.11",
    kubernetesVersion: "1.11.5",
    nodeName: NODE,
    nodeIP: "10.13.76.4",
    clusterCidr: "10.13.76.0/24",
    services: [...sys.services, whereami],
    endpoints: [
      ...sys.endpoints,
      endpoints("default", "whereami", ips, [{ name: "", port: 80, protocol: "TCP" }]),
    ],
    dockerBridgeCidr: "172.17.0.0/16",
    masqueradeExcept: "10.0.0.0/8",
    ipMasqAgentCidrs: null,
  };
}
