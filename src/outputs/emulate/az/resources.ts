import type {
  AzureState,
  BackendAddressPool,
  FrontendIpConfiguration,
  LoadBalancer,
  LoadBalancingRule,
  NetworkInterface,
  NicIpConfiguration,
  Probe,
  PublicIpAddress,
  VirtualMachine,
} from "../../../model/azure.ts";
import type { Json } from "./knack.ts";

/**
 * The twin's Azure resources as `az` returns them, per CLI generation (docs/azure.md §8.1):
 * [2019] the msrest-based CLI turned SDK attribute names into camelCase (`enableFloatingIp`,
 * `frontendIpConfiguration`, `privateIpAddress`) and kept every SDK attribute, null when ARM did
 * not return it; [today] the AAZ commands use ARM's REST names (`enableFloatingIP`,
 * `frontendIPConfiguration`, `privateIPAddress`), add `type`, and leave absent properties out.
 * resourceGroup is added later by the CLI's global transform. Etags are deterministic placeholders
 * (a hash of the id), as are resourceGuids.
 */

export type Era = "2019" | "today";

/** A deterministic stand-in for ARM's etag GUID: FNV-1a of the id spread over 32 hex digits. */
export function placeholderGuid(seed: string): string {
  let hex = "";
  for (let round = 0; hex.length < 32; round++) {
    let h = 0x811c9dc5 ^ round;
    for (let i = 0; i < seed.length; i++) h = Math.imul(h ^ seed.charCodeAt(i), 0x01000193) >>> 0;
    hex += h.toString(16).padStart(8, "0");
  }
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

const etag = (id: string): string => `W/"${placeholderGuid(id)}"`;
const ref = (id: string): Json => ({ id });

/** Key spelling per era: `Ip` in 2019, `IP` today. */
const k = (era: Era, name: string): string =>
  era === "2019" ? name : name.replace(/Ip(?=[A-Z]|s?$)/g, "IP");

/** Builds an object from [key, value] pairs, dropping nulls today (AAZ) and keeping them in 2019 (msrest todict). */
function obj(era: Era, entries: readonly (readonly [string, Json | undefined])[]): Json {
  const out: { [key: string]: Json } = {};
  for (const [key, value] of entries) {
    if (value === undefined) continue;
    if (value === null && era === "today") continue;
    out[k(era, key)] = value;
  }
  return out;
}

function rulesUsing(lb: LoadBalancer, pred: (r: LoadBalancingRule) => boolean): Json {
  return lb.loadBalancingRules.filter(pred).map((r) => ref(r.id));
}

export function ruleJson(era: Era, r: LoadBalancingRule): Json {
  return obj(era, [
    ["backendAddressPool", ref(r.backendAddressPoolId)],
    ["backendAddressPools", era === "today" ? [ref(r.backendAddressPoolId)] : undefined],
    ["backendPort", r.backendPort],
    ["disableOutboundSnat", r.disableOutboundSnat],
    ["enableFloatingIp", r.enableFloatingIp],
    ["enableTcpReset", r.enableTcpReset],
    ["etag", etag(r.id)],
    ["frontendIpConfiguration", ref(r.frontendIpConfigurationId)],
    ["frontendPort", r.frontendPort],
    ["id", r.id],
    ["idleTimeoutInMinutes", r.idleTimeoutInMinutes],
    ["loadDistribution", r.loadDistribution],
    ["name", r.name],
    ["probe", r.probeId === null ? null : ref(r.probeId)],
    ["protocol", r.protocol],
    ["provisioningState", r.provisioningState ?? "Succeeded"],
    ["type", era === "today" ? "Microsoft.Network/loadBalancers/loadBalancingRules" : undefined],
  ]);
}

export function probeJson(era: Era, p: Probe): Json {
  return obj(era, [
    ["etag", etag(p.id)],
    ["id", p.id],
    ["intervalInSeconds", p.intervalInSeconds],
    ["loadBalancingRules", p.loadBalancingRuleIds.map(ref)],
    ["name", p.name],
    ["numberOfProbes", p.numberOfProbes],
    ["port", p.port],
    ["probeThreshold", era === "today" ? p.probeThreshold : undefined],
    ["protocol", p.protocol],
    ["provisioningState", p.provisioningState ?? "Succeeded"],
    ["requestPath", p.requestPath],
    ["type", era === "today" ? "Microsoft.Network/loadBalancers/probes" : undefined],
  ]);
}

export function poolJson(era: Era, lb: LoadBalancer, pool: BackendAddressPool): Json {
  return obj(era, [
    ["backendIpConfigurations", pool.backendIpConfigurationIds.map(ref)],
    ["etag", etag(pool.id)],
    ["id", pool.id],
    ["loadBalancingRules", rulesUsing(lb, (r) => r.backendAddressPoolId === pool.id)],
    ["name", pool.name],
    ["provisioningState", "Succeeded"],
    ["type", era === "today" ? "Microsoft.Network/loadBalancers/backendAddressPools" : undefined],
  ]);
}

export function frontendJson(era: Era, lb: LoadBalancer, f: FrontendIpConfiguration): Json {
  return obj(era, [
    ["etag", etag(f.id)],
    ["id", f.id],
    ["loadBalancingRules", rulesUsing(lb, (r) => r.frontendIpConfigurationId === f.id)],
    ["name", f.name],
    ["privateIpAddress", f.privateIpAddress],
    ["privateIpAllocationMethod", f.privateIpAddress === null ? null : "Dynamic"],
    ["provisioningState", "Succeeded"],
    ["publicIpAddress", f.publicIpAddressId === null ? null : ref(f.publicIpAddressId)],
    ["type", era === "today" ? "Microsoft.Network/loadBalancers/frontendIPConfigurations" : undefined],
  ]);
}

export function lbJson(era: Era, lb: LoadBalancer): Json {
  return obj(era, [
    ["backendAddressPools", lb.backendAddressPools.map((p) => poolJson(era, lb, p))],
    ["etag", etag(lb.id)],
    ["frontendIpConfigurations", lb.frontendIpConfigurations.map((f) => frontendJson(era, lb, f))],
    ["id", lb.id],
    ["inboundNatPools", []],
    ["inboundNatRules", []],
    ["loadBalancingRules", lb.loadBalancingRules.map((r) => ruleJson(era, r))],
    ["location", lb.location],
    ["name", lb.name],
    ["outboundRules", []],
    ["probes", lb.probes.map((p) => probeJson(era, p))],
    ["provisioningState", "Succeeded"],
    ["resourceGuid", placeholderGuid(`${lb.id}#guid`)],
    ["sku", era === "today" ? { name: lb.sku, tier: "Regional" } : { name: lb.sku }],
    ["type", "Microsoft.Network/loadBalancers"],
  ]);
}

export function ipConfigJson(era: Era, c: NicIpConfiguration): Json {
  return obj(era, [
    ["etag", etag(c.id)],
    ["id", c.id],
    [
      "loadBalancerBackendAddressPools",
      c.loadBalancerBackendAddressPoolIds.length > 0 ? c.loadBalancerBackendAddressPoolIds.map(ref) : null,
    ],
    ["name", c.name],
    ["primary", c.primary],
    ["privateIpAddress", c.privateIpAddress],
    ["privateIpAddressVersion", "IPv4"],
    ["privateIpAllocationMethod", c.privateIpAllocationMethod],
    ["provisioningState", "Succeeded"],
    ["publicIpAddress", null],
    ["subnet", ref(c.subnetId)],
    ["type", era === "today" ? "Microsoft.Network/networkInterfaces/ipConfigurations" : undefined],
  ]);
}

export function nicJson(era: Era, n: NetworkInterface): Json {
  return obj(era, [
    ["enableAcceleratedNetworking", false],
    ["enableIpForwarding", n.enableIpForwarding],
    ["etag", etag(n.id)],
    ["id", n.id],
    ["ipConfigurations", n.ipConfigurations.map((c) => ipConfigJson(era, c))],
    ["location", n.location],
    ["macAddress", n.macAddress],
    ["name", n.name],
    ["primary", true],
    ["provisioningState", "Succeeded"],
    ["resourceGuid", placeholderGuid(`${n.id}#guid`)],
    ["type", "Microsoft.Network/networkInterfaces"],
    ["virtualMachine", ref(n.virtualMachineId)],
  ]);
}

export function publicIpJson(era: Era, az: AzureState, p: PublicIpAddress): Json {
  const frontend = az.loadBalancers
    .flatMap((lb) => lb.frontendIpConfigurations)
    .find((f) => f.publicIpAddressId === p.id);
  return obj(era, [
    ["etag", etag(p.id)],
    ["id", p.id],
    ["idleTimeoutInMinutes", 4],
    ["ipAddress", p.ipAddress],
    ["ipConfiguration", frontend ? ref(frontend.id) : null],
    ["location", p.location],
    ["name", p.name],
    ["provisioningState", "Succeeded"],
    ["publicIpAddressVersion", "IPv4"],
    ["publicIpAllocationMethod", p.allocationMethod],
    ["resourceGuid", placeholderGuid(`${p.id}#guid`)],
    ["sku", era === "today" ? { name: p.sku, tier: "Regional" } : { name: p.sku }],
    ["tags", p.tags],
    ["type", "Microsoft.Network/publicIPAddresses"],
  ]);
}

export function vmJson(era: Era, vm: VirtualMachine): Json {
  return obj(era, [
    ["hardwareProfile", { vmSize: vm.vmSize }],
    ["id", vm.id],
    ["location", vm.location],
    ["name", vm.name],
    ["networkProfile", { networkInterfaces: vm.nicIds.map((id, i) => ({ id, primary: i === 0 })) }],
    ["provisioningState", "Succeeded"],
    ["type", "Microsoft.Compute/virtualMachines"],
  ]);
}
