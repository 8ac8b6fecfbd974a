import { formatIpv4, parseIpNet } from "../../core/ip.ts";
import type {
  ClusterSpec,
  CniMode,
  HostOs,
  LoadBalancerSku,
  OutsideHost,
  SubnetSpec,
} from "../../model/scenario.ts";

/**
 * What `az aks create` picks for everything a scenario leaves out, in two eras: the 2019 AKS of
 * the seed (Kubernetes < 1.19: docker nodes, Basic LB, Azure CNI bridge mode) and today's.
 * Sources: docs/azure.md §5 and §7 (AKSE pkg/api/defaults.go, AKSDOC ip-address planning),
 * Azure/AKS CHANGELOG.md.
 */

/**
 * Today's default version. AKS creates clusters at the N-1 GA minor, latest patch, when `-k` is
 * omitted ("the cluster is always set to the n-1 minor version and latest patch", AKS doc
 * supported-kubernetes-versions). Azure/AKS CHANGELOG, release 2026-07-17: 1.36 GA (since the
 * 2026-06-19 release), patches 1.36.2, 1.35.6, 1.34.9, 1.33.13 (1.33 LTS only) — so N-1 = 1.35.6.
 */
export const TODAY_KUBERNETES_VERSION = "1.35.6";

/**
 * az CLI's `--node-vm-size` default was Standard_DS2_v2 until azure-cli PR #31424 (2025-05)
 * left it empty for the AKS resource provider to pick by quota and capacity. The twin needs a
 * concrete, stable value, so it keeps the last documented one.
 */
export const DEFAULT_VM_SIZE = "Standard_DS2_v2";

/** A placeholder subscription: the twin's ARM ids need one, a user's real one is never needed. */
export const PLACEHOLDER_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000";

export interface EraDefaults {
  readonly loadBalancerSku: LoadBalancerSku;
  readonly cniMode: CniMode;
  readonly dockerBridgeCidr: string | null;
  /** The AKS-managed VNet when the scenario brings none. */
  readonly vnetPrefix: string;
  readonly subnetPrefix: string;
}

/** True for the 2019 era (docker, Basic LB, bridge mode): Kubernetes below 1.19. */
export function isLegacyVersion(version: string): boolean {
  const m = /^1\.(\d+)/.exec(version);
  return m !== null && Number(m[1]) < 19;
}

export function eraDefaults(version: string): EraDefaults {
  return isLegacyVersion(version)
    ? {
        // 2019: Basic LB + availability sets, bridge mode, docker0 172.17.0.1/16, managed VNet 10.0.0.0/8
        // with subnet 10.240.0.0/16 (AKSE DefaultVNETCIDR, DefaultDockerBridgeSubnet).
        loadBalancerSku: "basic",
        cniMode: "bridge",
        dockerBridgeCidr: "172.17.0.1/16",
        vnetPrefix: "10.0.0.0/8",
        subnetPrefix: "10.240.0.0/16",
      }
    : {
        // Today: Standard LB (AKS API 2020-04-01), transparent mode (release 2021-01-04), containerd
        // (no docker0), managed VNet 10.224.0.0/12 with subnet 10.224.0.0/16 (AKS changelog 2022-02-24).
        loadBalancerSku: "standard",
        cniMode: "transparent",
        dockerBridgeCidr: null,
        vnetPrefix: "10.224.0.0/12",
        subnetPrefix: "10.224.0.0/16",
      };
}

export const DEFAULTS = {
  seed: 1,
  resourceGroup: "myResourceGroup",
  location: "westeurope",
  clusterName: "myAKSCluster",
  nodeCount: 3,
  // Azure CNI node subnet (docs/azure.md §5.1: AKSE DefaultKubernetesMaxPodsVNETIntegrated = 30).
  maxPods: 30,
  serviceCidr: "10.0.0.0/16",
  dnsServiceIp: "10.0.0.10",
  nodePoolName: "nodepool1",
  managedVnetName: "aks-vnet",
  managedSubnetName: "aks-subnet",
} as const;

/** kube-dns takes the service CIDR's .10 (10.0.0.10 in 10.0.0.0/16), as AKS documents its default. */
function dnsIpFor(serviceCidr: string | undefined): string {
  const net = serviceCidr === undefined ? null : parseIpNet(serviceCidr, 4);
  return net === null ? DEFAULTS.dnsServiceIp : formatIpv4((Number(net.addr) + 10) >>> 0);
}

/** The cluster spec with every omitted field filled from `era`. */
export function clusterWithDefaults(
  given: Partial<{ -readonly [K in keyof ClusterSpec]: ClusterSpec[K] | undefined }>,
  version: string,
  subnets: readonly SubnetSpec[],
): ClusterSpec {
  const era = eraDefaults(version);
  return {
    name: given.name ?? DEFAULTS.clusterName,
    nodeCount: given.nodeCount ?? DEFAULTS.nodeCount,
    vmSize: given.vmSize ?? DEFAULT_VM_SIZE,
    kubernetesVersion: version,
    networkPlugin: "azure",
    maxPods: given.maxPods ?? DEFAULTS.maxPods,
    subnet: given.subnet ?? subnets[0]?.name ?? DEFAULTS.managedSubnetName,
    serviceCidr: given.serviceCidr ?? DEFAULTS.serviceCidr,
    dnsServiceIp: given.dnsServiceIp ?? dnsIpFor(given.serviceCidr),
    dockerBridgeCidr: given.dockerBridgeCidr === undefined ? era.dockerBridgeCidr : given.dockerBridgeCidr,
    loadBalancerSku: given.loadBalancerSku ?? era.loadBalancerSku,
    cniMode: given.cniMode ?? era.cniMode,
    nodePoolName: given.nodePoolName ?? DEFAULTS.nodePoolName,
  };
}

/**
 * An outside host's stack when the scenario does not say: on the internet, the seed author's
 * Windows 10 laptop (seed line 283); in the VNet, a Linux VM of the cluster's era (the seed's jump
 * VM is `az vm create --image ubuntults`, line 32).
 */
export function defaultHostOs(kind: OutsideHost["kind"], version: string): HostOs {
  if (kind === "internet") return "windows-10";
  return isLegacyVersion(version) ? "linux-4.x" : "linux-6.x";
}
