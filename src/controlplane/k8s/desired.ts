import type { Container, PodApp, Protocol, ServiceType } from "../../model/k8s.ts";

/**
 * What was asked for, before the controllers run: the user's manifests and AKS's own add-ons,
 * normalised (API defaults applied) but with nothing allocated yet (no IPs, ports, names, UIDs).
 */

export interface DesiredServicePort {
  readonly name: string;
  readonly protocol: Protocol;
  readonly port: number;
  readonly targetPort: number | string;
  /** Asked for in the manifest (or pinned); 0 lets the allocator choose. */
  readonly nodePort: number;
}

export interface DesiredService {
  readonly namespace: string;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  readonly type: ServiceType;
  /** spec.clusterIP as written ("" to allocate, "None" for headless). */
  readonly clusterIP: string;
  readonly ports: readonly DesiredServicePort[];
  readonly selector: Readonly<Record<string, string>> | null;
  readonly externalTrafficPolicy: "Cluster" | "Local";
  readonly internalTrafficPolicy: "Cluster" | "Local";
  readonly healthCheckNodePort: number;
  readonly externalIPs: readonly string[];
  readonly loadBalancerIP: string;
  readonly loadBalancerSourceRanges: readonly string[];
  readonly sessionAffinity: "None" | "ClientIP";
  readonly sessionAffinityTimeoutSeconds: number;
  readonly externalName: string;
  /** Virtual-clock second the object was applied. */
  readonly createdAt: number;
}

export interface DesiredWorkload {
  readonly kind: "Deployment" | "DaemonSet" | "Pod";
  readonly apiVersion: string;
  readonly namespace: string;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  /** Deployment replicas; 1 for a Pod; ignored for a DaemonSet (one per node). */
  readonly replicas: number;
  readonly selector: Readonly<Record<string, string>>;
  readonly templateLabels: Readonly<Record<string, string>>;
  readonly containers: readonly Container[];
  readonly hostNetwork: boolean;
  readonly app: PodApp;
  readonly createdAt: number;
}

export interface Desired {
  readonly services: readonly DesiredService[];
  readonly workloads: readonly DesiredWorkload[];
}

/** The app the twin runs for a container image: whereami answers with what it saw, others as named. */
export function appFor(containers: readonly Container[]): PodApp {
  for (const c of containers) {
    const port = c.ports[0]?.containerPort ?? 80;
    if (c.image.includes("whereami")) return { kind: "whereami", port };
    if (/kube-dns|k8s-dns|coredns/.test(c.image)) return { kind: "dns", port: 53 };
  }
  const first = containers.find((c) => c.ports.length > 0);
  if (first) return { kind: "http", port: (first.ports[0] as { containerPort: number }).containerPort };
  return { kind: "none" };
}
