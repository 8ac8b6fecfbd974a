/**
 * The Azure resources of the twin, as Azure Resource Manager would return them: the VNet, the node
 * VMs and NICs (with Azure CNI's secondary IP configurations), public IPs and the load balancer
 * cloud-provider-azure keeps for Services of type LoadBalancer. IDs in ARM's format
 * (`/subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.Network/...`).
 */

export interface Subnet {
  readonly id: string;
  readonly name: string;
  readonly addressPrefix: string;
}

export interface VirtualNetwork {
  readonly id: string;
  readonly name: string;
  readonly resourceGroup: string;
  readonly addressPrefixes: readonly string[];
  readonly subnets: readonly Subnet[];
}

export interface NicIpConfiguration {
  readonly id: string;
  /** `ipconfig1` (primary, the node IP), `ipconfig2`... (Azure CNI pod IPs). */
  readonly name: string;
  readonly primary: boolean;
  readonly privateIpAddress: string;
  readonly privateIpAllocationMethod: "Dynamic" | "Static";
  readonly subnetId: string;
  /** IDs of the backend pools this IP configuration is in. */
  readonly loadBalancerBackendAddressPoolIds: readonly string[];
}

export interface NetworkInterface {
  readonly id: string;
  readonly name: string;
  readonly resourceGroup: string;
  readonly location: string;
  /** ARM spelling: `00-0D-3A-28-BD-02`. */
  readonly macAddress: string;
  readonly enableIpForwarding: boolean;
  readonly virtualMachineId: string;
  readonly ipConfigurations: readonly NicIpConfiguration[];
}

export interface VirtualMachine {
  readonly id: string;
  readonly name: string;
  readonly resourceGroup: string;
  readonly location: string;
  readonly vmSize: string;
  readonly nicIds: readonly string[];
}

export interface PublicIpAddress {
  readonly id: string;
  readonly name: string;
  readonly resourceGroup: string;
  readonly location: string;
  readonly ipAddress: string;
  readonly sku: "Basic" | "Standard";
  readonly allocationMethod: "Dynamic" | "Static";
  readonly tags: Readonly<Record<string, string>>;
}

export interface FrontendIpConfiguration {
  readonly id: string;
  readonly name: string;
  /** Public frontend: the public IP's id; internal: null. */
  readonly publicIpAddressId: string | null;
  readonly privateIpAddress: string | null;
  /** The address itself (public or private), for the data plane. */
  readonly ipAddress: string;
}

export interface BackendAddressPool {
  readonly id: string;
  readonly name: string;
  /** NIC IP configuration IDs, in the order ARM lists them. */
  readonly backendIpConfigurationIds: readonly string[];
}

export interface LoadBalancingRule {
  readonly id: string;
  readonly name: string;
  readonly protocol: "Tcp" | "Udp" | "All";
  readonly frontendPort: number;
  readonly backendPort: number;
  readonly enableFloatingIp: boolean;
  /** null where the era's API does not return the property. */
  readonly enableTcpReset: boolean | null;
  readonly disableOutboundSnat: boolean | null;
  readonly idleTimeoutInMinutes: number;
  readonly loadDistribution: "Default" | "SourceIP" | "SourceIPProtocol";
  readonly frontendIpConfigurationId: string;
  readonly backendAddressPoolId: string;
  readonly probeId: string | null;
  /** The Service (`namespace/name`) and port it serves, for the data plane and the walk. */
  readonly service: string;
  /** ARM's provisioningState while an update is in flight (`Updating`); absent means `Succeeded`. */
  readonly provisioningState?: "Succeeded" | "Updating";
}

export interface Probe {
  readonly id: string;
  readonly name: string;
  readonly protocol: "Tcp" | "Http" | "Https";
  readonly port: number;
  readonly intervalInSeconds: number;
  /** 2019 API: numberOfProbes; today: probeThreshold (the other is null). */
  readonly numberOfProbes: number | null;
  readonly probeThreshold: number | null;
  readonly requestPath: string | null;
  readonly loadBalancingRuleIds: readonly string[];
  /** As on LoadBalancingRule: the seed sees two probes `Updating` right after a service is applied. */
  readonly provisioningState?: "Succeeded" | "Updating";
}

export interface LoadBalancer {
  readonly id: string;
  readonly name: string;
  readonly resourceGroup: string;
  readonly location: string;
  readonly sku: "Basic" | "Standard";
  readonly frontendIpConfigurations: readonly FrontendIpConfiguration[];
  readonly backendAddressPools: readonly BackendAddressPool[];
  readonly loadBalancingRules: readonly LoadBalancingRule[];
  readonly probes: readonly Probe[];
}

export interface AzureState {
  readonly subscriptionId: string;
  readonly resourceGroup: string;
  /** `MC_<rg>_<cluster>_<location>`. */
  readonly nodeResourceGroup: string;
  readonly location: string;
  /** Which API/CLI generation the twin imitates: key spellings and properties differ (docs/azure.md §8). */
  readonly apiEra: "2019" | "today";
  readonly vnet: VirtualNetwork;
  readonly vms: readonly VirtualMachine[];
  readonly nics: readonly NetworkInterface[];
  readonly publicIps: readonly PublicIpAddress[];
  readonly loadBalancers: readonly LoadBalancer[];
}
