import type { Twin } from "../../../model/twin.ts";
import type { Json } from "./knack.ts";
import type { Era } from "./resources.ts";

/**
 * `az aks show`: the managed cluster as the AKS resource provider returns it, limited to what the
 * scenario says (`az aks create` parameters) and what the twin built (the node resource group).
 * AKS ids spell `resourcegroups` in lower case (observed in AKS output of the time; the CLI's
 * resourceGroup transform parses it either way). The default dnsPrefix is the CLI's
 * `<name[:10]>-<rg[:16]>-<sub[:6]>` (azure-cli acs/custom.py _get_default_dns_prefix).
 */
export function aksJson(era: Era, twin: Twin): Json {
  const s = twin.scenario;
  const c = s.cluster;
  const az = twin.azure;
  const subnetId = az.vnet.subnets.find((x) => x.name === c.subnet)?.id ?? null;
  const dnsPrefix =
    `${c.name.slice(0, 10)}-${s.resourceGroup.slice(0, 16)}-${s.subscriptionId.slice(0, 6)}`.replace(
      /[^A-Za-z0-9-]/g,
      "",
    );
  const pool: { [k: string]: Json } = {
    count: c.nodeCount,
    maxPods: c.maxPods,
    name: c.nodePoolName,
    osDiskSizeGb: 30,
    osType: "Linux",
    vmSize: c.vmSize,
    vnetSubnetId: subnetId,
  };
  if (era === "today") pool.type = "VirtualMachineScaleSets";
  return {
    agentPoolProfiles: [pool],
    dnsPrefix,
    id: `/subscriptions/${s.subscriptionId}/resourcegroups/${s.resourceGroup}/providers/Microsoft.ContainerService/managedClusters/${c.name}`,
    kubernetesVersion: c.kubernetesVersion,
    location: s.location,
    name: c.name,
    networkProfile: {
      dnsServiceIp: c.dnsServiceIp,
      dockerBridgeCidr: c.dockerBridgeCidr,
      loadBalancerSku: c.loadBalancerSku,
      networkPlugin: c.networkPlugin,
      serviceCidr: c.serviceCidr,
    },
    nodeResourceGroup: az.nodeResourceGroup,
    provisioningState: "Succeeded",
    type: "Microsoft.ContainerService/ManagedClusters",
  };
}

/** The CLI's table transformer for `az aks show` (azure-cli acs/_format.py aks_show_table_format). */
export const AKS_TABLE_QUERY =
  "{name: name, location: location, resourceGroup: resourceGroup, kubernetesVersion: kubernetesVersion, provisioningState: provisioningState, fqdn: fqdn}";
