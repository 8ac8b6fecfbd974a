import type { Manifest, Scenario } from "../src/model/scenario.ts";

/**
 * The control plane's scale scenario (issue 3): 100 nodes, 10,000 services with 5 endpoints each.
 * 2,000 Deployments of 5 replicas (10,000 pods, 100 per node) each sit behind 5 ClusterIP services
 * (ports 80..84), so every service has 5 endpoints spread over the nodes; every 100th service is a
 * LoadBalancer (half of those externalTrafficPolicy Local), so the Azure LB and per-node
 * health checks are exercised too. Today's AKS defaults otherwise (current kube-proxy layout).
 */
export function scaleScenario(nodes = 100, services = 10_000, endpoints = 5): Scenario {
  const manifests: Manifest[] = [];
  const deployments = Math.ceil(services / 5);
  for (let d = 0; d < deployments; d++) {
    manifests.push({
      source: { file: "bench", line: manifests.length + 1 },
      object: {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: `app-${d}`, namespace: `ns-${d % 50}` },
        spec: {
          replicas: endpoints,
          selector: { matchLabels: { app: `app-${d}` } },
          template: {
            metadata: { labels: { app: `app-${d}` } },
            spec: { containers: [{ name: "app", image: "nginx", ports: [{ containerPort: 8080 }] }] },
          },
        },
      },
    });
  }
  for (let s = 0; s < services; s++) {
    const d = Math.floor(s / 5);
    const lb = s % 100 === 0;
    manifests.push({
      source: { file: "bench", line: manifests.length + 1 },
      object: {
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: `svc-${s}`, namespace: `ns-${d % 50}` },
        spec: {
          type: lb ? "LoadBalancer" : "ClusterIP",
          ...(lb && s % 200 === 0 ? { externalTrafficPolicy: "Local" } : {}),
          selector: { app: `app-${d}` },
          ports: [{ name: "http", port: 80 + (s % 5), targetPort: 8080 }],
        },
      },
    });
  }
  return {
    name: "scale",
    description: "100 nodes, 10,000 services x 5 endpoints",
    seed: 7,
    subscriptionId: "00000000-0000-0000-0000-000000000000",
    resourceGroup: "bench",
    location: "westeurope",
    vnet: {
      name: "aks-vnet",
      addressPrefixes: ["10.224.0.0/12"],
      subnets: [{ name: "aks-subnet", prefix: "10.224.0.0/16" }],
    },
    cluster: {
      name: "scale",
      nodeCount: nodes,
      vmSize: "Standard_D4s_v5",
      kubernetesVersion: "1.33.2",
      networkPlugin: "azure",
      maxPods: 110,
      subnet: "aks-subnet",
      serviceCidr: "10.0.0.0/16",
      dnsServiceIp: "10.0.0.10",
      dockerBridgeCidr: null,
      loadBalancerSku: "standard",
      cniMode: "transparent",
      nodePoolName: "nodepool1",
    },
    manifests,
    hosts: [],
    pins: {},
  };
}
