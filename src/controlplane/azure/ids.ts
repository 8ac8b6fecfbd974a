/**
 * Azure Resource Manager IDs, in the form ARM returns them (cloud-provider-azure's consts
 * `*IDTemplate`; the seed's backend pool member id shows the NIC form).
 */

export function resourceGroupId(sub: string, rg: string): string {
  return `/subscriptions/${sub}/resourceGroups/${rg}`;
}

export function networkId(sub: string, rg: string, type: string, name: string): string {
  return `${resourceGroupId(sub, rg)}/providers/Microsoft.Network/${type}/${name}`;
}

export function computeId(sub: string, rg: string, type: string, name: string): string {
  return `${resourceGroupId(sub, rg)}/providers/Microsoft.Compute/${type}/${name}`;
}

/** The resource group named in an ARM id (what az's `resourceGroup` transform prints). */
export function resourceGroupOf(id: string): string | null {
  const m = /\/resourceGroups\/([^/]+)/i.exec(id);
  return m ? (m[1] as string) : null;
}

/** `MC_<rg>_<cluster>_<location>`: AKS's node resource group (az aks show nodeResourceGroup). */
export function nodeResourceGroupName(rg: string, cluster: string, location: string): string {
  return `MC_${rg}_${cluster}_${location}`;
}
