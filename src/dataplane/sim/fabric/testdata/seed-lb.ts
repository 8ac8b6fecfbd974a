import type { AzureState, LoadBalancer, NetworkInterface } from "../../../../model/azure.ts";

/**
 * An AzureState written by hand from the seed's `az` outputs (seed lines 107-128): the `kubernetes`
 * LB with frontend 51.144.176.251, rule a48b4c0e11cfd11e9981c7abfb60d882-TCP-80 (Tcp 80 → 80,
 * floating IP, idle 4 min, Default distribution), its Tcp probe on node port 30064 every 5 s with
 * NumberOfProbes 2, and the pool of node NIC ipconfig1s (the seed has one node, 10.13.76.4).
 * `nodes` adds more nodes (their NICs `...-nic-1`, ...) for the multi-node tests.
 */

const SUB = "e7da9914-9b05-4891-893c-546cb7b0422e";
const RG = "MC_akstest_aksPacketWalkAzure_westeurope";
const NET = `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Network`;
const LB = `${NET}/loadBalancers/kubernetes`;
const UID = "a48b4c0e11cfd11e9981c7abfb60d882";

export const SEED_VIP = "51.144.176.251";
export const SEED_RULE_ID = `${LB}/loadBalancingRules/${UID}-TCP-80`;
export const SEED_PROBE_ID = `${LB}/probes/${UID}-TCP-80`;

export interface SeedLbOptions {
  readonly nodes?: readonly string[];
  readonly sku?: "Basic" | "Standard";
  readonly floatingIp?: boolean;
  readonly protocol?: "Tcp" | "Udp";
  readonly loadDistribution?: "Default" | "SourceIP" | "SourceIPProtocol";
  readonly backendPort?: number;
  readonly withProbe?: boolean;
}

export function seedAzureState(o: SeedLbOptions = {}): AzureState {
  const nodes = o.nodes ?? ["10.13.76.4"];
  const sku = o.sku ?? "Basic";
  const nics: NetworkInterface[] = nodes.map((ip, i) => {
    const id = `${NET}/networkInterfaces/aks-nodepool1-31351229-nic-${i}`;
    return {
      id,
      name: `aks-nodepool1-31351229-nic-${i}`,
      resourceGroup: RG,
      location: "westeurope",
      macAddress: `00-0D-3A-28-BD-0${i}`,
      enableIpForwarding: true,
      virtualMachineId: `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Compute/virtualMachines/aks-nodepool1-31351229-${i}`,
      ipConfigurations: [
        {
          id: `${id}/ipConfigurations/ipconfig1`,
          name: "ipconfig1",
          primary: true,
          privateIpAddress: ip,
          privateIpAllocationMethod: "Dynamic",
          subnetId: `${NET}/virtualNetworks/aks-vnet/subnets/aks-subnet`,
          loadBalancerBackendAddressPoolIds: [`${LB}/backendAddressPools/kubernetes`],
        },
      ],
    };
  });
  const withProbe = o.withProbe ?? true;
  const lb: LoadBalancer = {
    id: LB,
    name: "kubernetes",
    resourceGroup: RG,
    location: "westeurope",
    sku,
    frontendIpConfigurations: [
      {
        id: `${LB}/frontendIPConfigurations/${UID}`,
        name: UID,
        publicIpAddressId: `${NET}/publicIPAddresses/kubernetes-${UID}`,
        privateIpAddress: null,
        ipAddress: SEED_VIP,
      },
    ],
    backendAddressPools: [
      {
        id: `${LB}/backendAddressPools/kubernetes`,
        name: "kubernetes",
        // ARM ids are case-insensitive; the pool spells the NIC path in lower case on purpose.
        backendIpConfigurationIds: nics.map((n) => `${n.id}/ipConfigurations/ipconfig1`.toLowerCase()),
      },
    ],
    loadBalancingRules: [
      {
        id: SEED_RULE_ID,
        name: `${UID}-TCP-80`,
        protocol: o.protocol ?? "Tcp",
        frontendPort: 80,
        backendPort: o.backendPort ?? 80,
        enableFloatingIp: o.floatingIp ?? true,
        enableTcpReset: sku === "Standard" ? true : false,
        disableOutboundSnat: null,
        idleTimeoutInMinutes: 4,
        loadDistribution: o.loadDistribution ?? "Default",
        frontendIpConfigurationId: `${LB}/frontendIPConfigurations/${UID}`,
        backendAddressPoolId: `${LB}/backendAddressPools/kubernetes`,
        probeId: withProbe ? SEED_PROBE_ID : null,
        service: "default/whereami",
      },
    ],
    probes: withProbe
      ? [
          {
            id: SEED_PROBE_ID,
            name: `${UID}-TCP-80`,
            protocol: "Tcp",
            port: 30064,
            intervalInSeconds: 5,
            numberOfProbes: 2,
            probeThreshold: null,
            requestPath: null,
            loadBalancingRuleIds: [SEED_RULE_ID],
          },
        ]
      : [],
  };
  return {
    subscriptionId: SUB,
    resourceGroup: "akstest",
    nodeResourceGroup: RG,
    location: "westeurope",
    apiEra: "2019",
    vnet: {
      id: `${NET}/virtualNetworks/aks-vnet`,
      name: "aks-vnet",
      resourceGroup: "akstest",
      addressPrefixes: ["10.13.0.0/16"],
      subnets: [{ id: `${NET}/virtualNetworks/aks-vnet/subnets/aks-subnet`, name: "aks-subnet", addressPrefix: "10.13.76.0/24" }],
    },
    vms: [],
    nics,
    publicIps: [],
    loadBalancers: [lb],
  };
}
