/**
 * The Kubernetes objects of the twin, as the API server would hold them once the controllers have
 * run: what `kubectl get` shows and what kube-proxy reads. Normalised (defaults applied, ports
 * resolved), read-only. Times are Unix seconds on the twin's virtual clock
 * (fixed per scenario, so outputs are byte-stable).
 */

export interface ObjectMeta {
  readonly name: string;
  readonly namespace: string;
  readonly uid: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  /** Unix seconds (virtual clock) when the object was created; kubectl's AGE is now minus this. */
  readonly createdAt: number;
  readonly ownerReferences: readonly { readonly kind: string; readonly name: string; readonly uid: string }[];
}

export type Protocol = "TCP" | "UDP" | "SCTP";

export interface ServicePort {
  /** "" for an unnamed port. */
  readonly name: string;
  readonly protocol: Protocol;
  readonly port: number;
  /** A number, or a container port name. */
  readonly targetPort: number | string;
  /** 0 when the service has none. */
  readonly nodePort: number;
}

export type ServiceType = "ClusterIP" | "NodePort" | "LoadBalancer" | "ExternalName";

export interface Service {
  readonly meta: ObjectMeta;
  readonly type: ServiceType;
  /** "None" for a headless service, "" for ExternalName. */
  readonly clusterIP: string;
  readonly ports: readonly ServicePort[];
  /** null: no selector (endpoints managed by hand). */
  readonly selector: Readonly<Record<string, string>> | null;
  readonly externalTrafficPolicy: "Cluster" | "Local";
  readonly internalTrafficPolicy: "Cluster" | "Local";
  /** 0 unless type LoadBalancer with externalTrafficPolicy Local. */
  readonly healthCheckNodePort: number;
  readonly externalIPs: readonly string[];
  readonly loadBalancerSourceRanges: readonly string[];
  /** status.loadBalancer.ingress[].ip, filled in by the cloud provider. */
  readonly loadBalancerIngress: readonly string[];
  readonly sessionAffinity: "None" | "ClientIP";
  readonly sessionAffinityTimeoutSeconds: number;
  readonly externalName: string;
}

export interface ContainerPort {
  readonly name: string;
  readonly containerPort: number;
  readonly protocol: Protocol;
}

export interface Container {
  readonly name: string;
  readonly image: string;
  readonly ports: readonly ContainerPort[];
}

export interface Pod {
  readonly meta: ObjectMeta;
  readonly nodeName: string;
  readonly hostNetwork: boolean;
  /** The node's IP for hostNetwork pods. */
  readonly podIP: string;
  readonly hostIP: string;
  readonly phase: "Pending" | "Running";
  readonly ready: boolean;
  readonly restarts: number;
  readonly containers: readonly Container[];
  /** The app the twin runs in this pod's containers (what answers its traffic). */
  readonly app: PodApp;
}

/** What a pod's process does with traffic, for the data plane to model. */
export type PodApp =
  | { readonly kind: "whereami"; readonly port: number }
  | { readonly kind: "http"; readonly port: number }
  | { readonly kind: "dns"; readonly port: number }
  | { readonly kind: "none" };

export interface EndpointAddress {
  readonly ip: string;
  readonly nodeName: string;
  /** The pod behind the address; null for addresses written by hand (the API server's own). */
  readonly targetRef: {
    readonly kind: "Pod";
    readonly namespace: string;
    readonly name: string;
    readonly uid: string;
  } | null;
}

export interface EndpointPort {
  readonly name: string;
  readonly port: number;
  readonly protocol: Protocol;
}

export interface EndpointSubset {
  readonly addresses: readonly EndpointAddress[];
  readonly notReadyAddresses: readonly EndpointAddress[];
  readonly ports: readonly EndpointPort[];
}

/** core/v1 Endpoints, addresses in the order the endpoints controller writes them. */
export interface Endpoints {
  readonly meta: ObjectMeta;
  readonly subsets: readonly EndpointSubset[];
}

export interface Deployment {
  readonly meta: ObjectMeta;
  /** As written: `apps/v1beta1`, `apps/v1`. */
  readonly apiVersion: string;
  readonly replicas: number;
  readonly selector: Readonly<Record<string, string>>;
  /** The ReplicaSet's `pod-template-hash` (the middle part of pod names). */
  readonly podTemplateHash: string;
  readonly template: {
    readonly labels: Readonly<Record<string, string>>;
    readonly containers: readonly Container[];
  };
}

export interface Node {
  readonly name: string;
  readonly uid: string;
  readonly internalIP: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly kubeletVersion: string;
  readonly createdAt: number;
}

export interface K8sState {
  readonly version: string;
  readonly nodes: readonly Node[];
  readonly deployments: readonly Deployment[];
  readonly pods: readonly Pod[];
  readonly services: readonly Service[];
  readonly endpoints: readonly Endpoints[];
}
