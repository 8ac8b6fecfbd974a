import type { Container, Protocol } from "../../model/k8s.ts";
import { appFor, type DesiredService, type DesiredWorkload } from "./desired.ts";

/**
 * What AKS runs on its own, by era. For 1.11 (the seed): the `kubernetes` service, kube-dns (two
 * replicas, ports 53/UDP and 53/TCP), heapster, kubernetes-dashboard, metrics-server and the
 * tunnelfront pod, which with the seed's two whereami pods make the 8 pod veths of its
 * `brctl show` and the 19 KUBE-MARK-MASQ references of its `iptables -t nat -L` (seed lines
 * 176-178, 235-248, 465-472). kube-proxy is a hostNetwork DaemonSet (no veth). Today: CoreDNS
 * (behind the same `kube-dns` service), coredns-autoscaler, metrics-server and konnectivity-agent
 * (two replicas each), and the hostNetwork DaemonSets.
 */

export interface SystemInput {
  readonly layout: "2019" | "today";
  readonly dnsServiceIp: string;
  /** The first address of the service CIDR, the `kubernetes` service's cluster IP. */
  readonly kubernetesServiceIp: string;
  /** When the cluster (and so its add-ons) was created, Unix seconds. */
  readonly createdAt: number;
}

function container(name: string, image: string, ports: [number, Protocol, string][] = []): Container {
  return {
    name,
    image,
    ports: ports.map(([containerPort, protocol, portName]) => ({ containerPort, protocol, name: portName })),
  };
}

function deployment(
  name: string,
  labels: Record<string, string>,
  replicas: number,
  containers: Container[],
  hostNetwork = false,
): DesiredWorkload {
  return {
    kind: "Deployment",
    apiVersion: "apps/v1",
    namespace: "kube-system",
    name,
    labels,
    replicas,
    selector: labels,
    templateLabels: labels,
    containers,
    hostNetwork,
    app: appFor(containers),
    createdAt: 0,
  };
}

function daemonSet(name: string, labels: Record<string, string>, image: string): DesiredWorkload {
  return { ...deployment(name, labels, 1, [container(name, image)], true), kind: "DaemonSet" };
}

function service(
  namespace: string,
  name: string,
  clusterIP: string,
  selector: Record<string, string> | null,
  ports: [string, Protocol, number, number][],
): DesiredService {
  return {
    namespace,
    name,
    labels: selector ?? { component: "apiserver", provider: "kubernetes" },
    annotations: {},
    type: "ClusterIP",
    clusterIP,
    ports: ports.map(([portName, protocol, port, targetPort]) => ({
      name: portName,
      protocol,
      port,
      targetPort,
      nodePort: 0,
    })),
    selector,
    externalTrafficPolicy: "Cluster",
    internalTrafficPolicy: "Cluster",
    healthCheckNodePort: 0,
    externalIPs: [],
    loadBalancerIP: "",
    loadBalancerSourceRanges: [],
    sessionAffinity: "None",
    sessionAffinityTimeoutSeconds: 10800,
    externalName: "",
    createdAt: 0,
  };
}

export function systemServices(input: SystemInput): DesiredService[] {
  return servicesOf(input).map((s) => ({ ...s, createdAt: input.createdAt }));
}

function servicesOf(input: SystemInput): DesiredService[] {
  const dns: [string, Protocol, number, number][] = [
    ["dns", "UDP", 53, 53],
    ["dns-tcp", "TCP", 53, 53],
  ];
  const common = [
    service("default", "kubernetes", input.kubernetesServiceIp, null, [["https", "TCP", 443, 443]]),
    service("kube-system", "kube-dns", input.dnsServiceIp, { "k8s-app": "kube-dns" }, dns),
  ];
  if (input.layout === "2019") {
    return [
      ...common,
      service("kube-system", "heapster", "", { "k8s-app": "heapster" }, [["", "TCP", 80, 8082]]),
      service("kube-system", "kubernetes-dashboard", "", { "k8s-app": "kubernetes-dashboard" }, [
        ["", "TCP", 80, 9090],
      ]),
      service("kube-system", "metrics-server", "", { "k8s-app": "metrics-server" }, [["", "TCP", 443, 443]]),
    ];
  }
  return [
    ...common,
    service("kube-system", "metrics-server", "", { "k8s-app": "metrics-server" }, [
      ["https", "TCP", 443, 4443],
    ]),
  ];
}

export function systemWorkloads(input: SystemInput): DesiredWorkload[] {
  return workloadsOf(input).map((w) => ({ ...w, createdAt: input.createdAt }));
}

function workloadsOf(input: SystemInput): DesiredWorkload[] {
  if (input.layout === "2019") {
    return [
      deployment("kube-dns-v20", { "k8s-app": "kube-dns" }, 2, [
        container("kubedns", "k8s.gcr.io/k8s-dns-kube-dns-amd64:1.14.13", [
          [53, "UDP", "dns"],
          [53, "TCP", "dns-tcp"],
        ]),
      ]),
      deployment("heapster", { "k8s-app": "heapster" }, 1, [
        container("heapster", "k8s.gcr.io/heapster-amd64:v1.5.3", [[8082, "TCP", ""]]),
      ]),
      deployment("kubernetes-dashboard", { "k8s-app": "kubernetes-dashboard" }, 1, [
        container("main", "k8s.gcr.io/kubernetes-dashboard-amd64:v1.10.1", [[9090, "TCP", ""]]),
      ]),
      deployment("metrics-server", { "k8s-app": "metrics-server" }, 1, [
        container("metrics-server", "k8s.gcr.io/metrics-server-amd64:v0.2.1", [[443, "TCP", ""]]),
      ]),
      deployment("tunnelfront", { component: "tunnel" }, 1, [
        container("tunnel-front", "dockerio.azureedge.net/deis/hcp-tunnel-front:v1.9.2-v4.0.7"),
      ]),
      daemonSet(
        "kube-proxy",
        { component: "kube-proxy", tier: "node" },
        "k8s.gcr.io/hyperkube-amd64:v1.11.5",
      ),
    ];
  }
  return [
    deployment("coredns", { "k8s-app": "kube-dns" }, 2, [
      container("coredns", "mcr.microsoft.com/oss/v2/kubernetes/coredns:v1.12.1", [
        [53, "UDP", "dns"],
        [53, "TCP", "dns-tcp"],
      ]),
    ]),
    deployment("coredns-autoscaler", { "k8s-app": "coredns-autoscaler" }, 1, [
      container(
        "autoscaler",
        "mcr.microsoft.com/oss/v2/kubernetes/autoscaler/cluster-proportional-autoscaler:v1.9.0",
      ),
    ]),
    deployment("metrics-server", { "k8s-app": "metrics-server" }, 2, [
      container("metrics-server", "mcr.microsoft.com/oss/v2/kubernetes/metrics-server:v0.7.2", [
        [4443, "TCP", "https"],
      ]),
    ]),
    deployment("konnectivity-agent", { app: "konnectivity-agent" }, 2, [
      container(
        "konnectivity-agent",
        "mcr.microsoft.com/oss/v2/kubernetes/apiserver-network-proxy/agent:v0.31.4",
      ),
    ]),
    daemonSet(
      "kube-proxy",
      { component: "kube-proxy", tier: "node" },
      "mcr.microsoft.com/oss/kubernetes/kube-proxy",
    ),
    daemonSet(
      "azure-ip-masq-agent",
      { "k8s-app": "azure-ip-masq-agent" },
      "mcr.microsoft.com/aks/ip-masq-agent-v2",
    ),
    daemonSet(
      "cloud-node-manager",
      { "k8s-app": "cloud-node-manager" },
      "mcr.microsoft.com/oss/kubernetes/azure-cloud-node-manager",
    ),
  ];
}
