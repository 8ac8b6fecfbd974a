/**
 * A scenario: what a user types to get a cluster (the `az aks create` parameters, the VNet, the
 * Kubernetes manifests, the hosts outside the cluster) plus optional pins that make the twin
 * reproduce one real cluster byte for byte. Produced by inputs/scenario (validated, defaults
 * applied), consumed by the control plane. Plain read-only data.
 */

/** One YAML document of a manifest, as read, with where it came from (for error messages). */
export interface Manifest {
  readonly object: Readonly<Record<string, unknown>>;
  /** File (or `scenario.yaml#manifests[2]`) and 1-based line of the document's first line. */
  readonly source: { readonly file: string; readonly line: number };
}

export interface SubnetSpec {
  readonly name: string;
  /** CIDR text, e.g. `10.13.76.0/24`. */
  readonly prefix: string;
}

export type CniMode = "bridge" | "transparent";
export type LoadBalancerSku = "basic" | "standard";

/** The cluster as `az aks create` describes it. */
export interface ClusterSpec {
  readonly name: string;
  readonly nodeCount: number;
  /** `-s`, e.g. `Standard_B2ms`. */
  readonly vmSize: string;
  /** `-k`, e.g. `1.11.5`. */
  readonly kubernetesVersion: string;
  readonly networkPlugin: "azure";
  readonly maxPods: number;
  /** Name of the VNet subnet the nodes and (Azure CNI) pods take addresses from. */
  readonly subnet: string;
  readonly serviceCidr: string;
  readonly dnsServiceIp: string;
  /** docker0's address and prefix (`172.17.0.1/16`); null on containerd nodes (Kubernetes 1.19+). */
  readonly dockerBridgeCidr: string | null;
  readonly loadBalancerSku: LoadBalancerSku;
  readonly cniMode: CniMode;
  /** Node pool name, `nodepool1` by default. */
  readonly nodePoolName: string;
}

/**
 * The TCP/IP stack of an outside host (its SYN's MSS, window and options, TTL, timers), named as the
 * simulator's OS profiles are (dataplane/sim/endpoints/os-profile.ts): a Windows 10 laptop at home
 * or on a corporate network that clamps the MSS, or Linux as of 2019 (4.x) or today (6.x).
 */
export type HostOs = "windows-10" | "windows-10-corpnet" | "linux-4.x" | "linux-6.x";

/** A machine outside the cluster that sends or receives traffic (the author's laptop, the jump VM). */
export interface OutsideHost {
  readonly name: string;
  readonly ip: string;
  /** `internet`: reaches the cluster through public IPs; `vnet`: a VM in one of the VNet's subnets. */
  readonly kind: "internet" | "vnet";
  readonly subnet: string | null;
  /** Its stack; a scenario file always has it (inputs/scenario/defaults.ts `defaultHostOs` when omitted). */
  readonly os?: HostOs;
}

/** A pod's fixed values, to reproduce a real cluster (every field optional). */
export interface PodPin {
  /** `namespace/name` of the Deployment (or other owner) whose replica this pins, in replica order. */
  readonly owner: string;
  readonly name?: string;
  readonly uid?: string;
  readonly ip?: string;
  readonly node?: string;
  readonly mac?: string;
  /** Host-side veth name (`azva4124965a9b`). */
  readonly veth?: string;
  /** Interface index of the pod's eth0; the host veth is this + 1 unless `vethIndex` says otherwise. */
  readonly ifindex?: number;
  readonly vethIndex?: number;
  /** MAC of the host-side veth. */
  readonly vethMac?: string;
  /** The host veth's port number on the azure0 bridge (bridge mode; `brctl showstp`). */
  readonly bridgePort?: number;
  /** Docker container id of the app container (64 hex) and its PID. */
  readonly containerId?: string;
  readonly pid?: number;
  /**
   * The app container's image was already on the pod's node, with this ID (12 to 64 hex digits,
   * with or without `sha256:`; the rest drawn from the seed): the kubelet then creates every
   * container of that image on the node from the ID rather than from the digest a pull returns,
   * and `docker ps` shows its 12 digits (seed line 363).
   */
  readonly imageId?: string;
}

/** A node's fixed values. */
export interface NodePin {
  readonly ip?: string;
  /** eth0's (and, in bridge mode, azure0's) MAC. */
  readonly mac?: string;
  readonly docker0Mac?: string;
  readonly kubeProxyPod?: string;
  readonly kubeProxyUid?: string;
  readonly kubeProxyPid?: number;
  readonly kubeProxyContainerId?: string;
}

export interface Pins {
  /** The 8-digit number in node names (`aks-nodepool1-31351229-0`). */
  readonly nodePoolId?: string;
  readonly nodes?: readonly NodePin[];
  /** `Kind/namespace/name` → uid (`Service/default/whereami`). */
  readonly uids?: Readonly<Record<string, string>>;
  readonly pods?: readonly PodPin[];
  /** `namespace/name` → cluster IP. */
  readonly clusterIps?: Readonly<Record<string, string>>;
  /** `namespace/name:port` (port number) → node port. */
  readonly nodePorts?: Readonly<Record<string, number>>;
  /** `namespace/name` → health check node port. */
  readonly healthCheckNodePorts?: Readonly<Record<string, number>>;
  /** `namespace/name` → the load balancer's public IP. */
  readonly publicIps?: Readonly<Record<string, string>>;
}

export interface Scenario {
  readonly name: string;
  readonly description: string;
  /** Seeds every choice not pinned, so one scenario always gives one twin. */
  readonly seed: number;
  readonly subscriptionId: string;
  readonly resourceGroup: string;
  readonly location: string;
  readonly vnet: {
    readonly name: string;
    readonly addressPrefixes: readonly string[];
    readonly subnets: readonly SubnetSpec[];
  };
  readonly cluster: ClusterSpec;
  readonly manifests: readonly Manifest[];
  /**
   * Manifests applied later in the story (the seed's `kubectl apply -f nginx-elb.yaml`): the twin
   * starts without them; a step of the walk-through adds them. Absent means none.
   */
  readonly later?: readonly Manifest[];
  readonly hosts: readonly OutsideHost[];
  readonly pins: Pins;
}
