import { fromAlphabet, intBelow } from "../../core/choose.ts";
import type { Streams } from "../../core/rng.ts";
import type { NetworkInterface, NicIpConfiguration, VirtualMachine } from "../../model/azure.ts";
import type { Scenario } from "../../model/scenario.ts";
import { cidr4, nth } from "./addresses.ts";
import { computeId, networkId } from "./ids.ts";

/**
 * The node pool's VMs and NICs. 2019 AKS built availability-set VMs (`aks-nodepool1-31351229-0`,
 * NIC `aks-nodepool1-31351229-nic-0`); today's are VMSS instances (`aks-nodepool1-12345678-vmss000000`).
 * Azure CNI gives each NIC 1 + maxPods IP configurations: ipconfig1 (primary) is the node IP,
 * the rest are the pool the node's pods take addresses from (docs/azure.md §5.1: consecutive
 * lowest-free addresses, so node i's IP is the subnet's .4 + i × (maxPods + 1)).
 */

export interface PoolNode {
  readonly index: number;
  readonly name: string;
  readonly ip: string;
  /** Secondary addresses, in ipconfig order. */
  readonly podIps: readonly string[];
  /** Lower-case colon form of the NIC's MAC. */
  readonly mac: string;
  readonly vm: VirtualMachine;
  readonly nic: NetworkInterface;
}

export interface NodePoolInput {
  readonly scenario: Scenario;
  readonly nodeResourceGroup: string;
  readonly subnetId: string;
  readonly era: "2019" | "today";
  readonly streams: Streams;
}

/** Microsoft's OUI, which Azure NICs carry (the seed's azure0 bridge id 8000.000d3a28bd02). */
const AZURE_OUI = "00:0d:3a";

export function buildNodePool(input: NodePoolInput): PoolNode[] {
  const { scenario } = input;
  const rng = input.streams("NodePool");
  const { cluster, pins } = scenario;
  const sub = scenario.subscriptionId;
  const rg = input.nodeResourceGroup;
  const subnet = scenario.vnet.subnets.find((s) => s.name === cluster.subnet);
  if (!subnet) throw new Error(`cluster.subnet "${cluster.subnet}" is not a subnet of the VNet`);
  const net = cidr4(subnet.prefix);
  // The pool id is a hash of the cluster in AKS; here a seeded 8-digit number unless pinned.
  const poolId = pins.nodePoolId ?? String(10000000 + intBelow(rng, 90000000));
  const prefix = `aks-${cluster.nodePoolName}-${poolId}`;
  const nodes: PoolNode[] = [];
  for (let i = 0; i < cluster.nodeCount; i++) {
    const pin = pins.nodes?.[i];
    const block = 4 + i * (cluster.maxPods + 1);
    const ip = pin?.ip ?? nth(net, block);
    const podIps = Array.from({ length: cluster.maxPods }, (_, k) => nth(net, block + 1 + k));
    const mac = (
      pin?.mac ?? `${AZURE_OUI}:${fromAlphabet(rng, "0123456789abcdef", 6).replace(/(..)(?!$)/g, "$1:")}`
    ).toLowerCase();
    const vmss = input.era === "today";
    const name = vmss ? `${prefix}-vmss${i.toString(36).padStart(6, "0")}` : `${prefix}-${i}`;
    const vmId = vmss
      ? `${computeId(sub, rg, "virtualMachineScaleSets", `${prefix}-vmss`)}/virtualMachines/${i}`
      : computeId(sub, rg, "virtualMachines", name);
    const nicName = vmss ? `${prefix}-vmss` : `${prefix}-nic-${i}`;
    const nicId = vmss
      ? `${vmId}/networkInterfaces/${nicName}`
      : networkId(sub, rg, "networkInterfaces", nicName);
    const ipConfigurations: NicIpConfiguration[] = [ip, ...podIps].map((addr, k) => ({
      id: `${nicId}/ipConfigurations/ipconfig${k + 1}`,
      name: `ipconfig${k + 1}`,
      primary: k === 0,
      privateIpAddress: addr,
      privateIpAllocationMethod: "Dynamic",
      subnetId: input.subnetId,
      loadBalancerBackendAddressPoolIds: [],
    }));
    const nic: NetworkInterface = {
      id: nicId,
      name: nicName,
      resourceGroup: rg,
      location: scenario.location,
      macAddress: mac.toUpperCase().replaceAll(":", "-"),
      enableIpForwarding: false,
      virtualMachineId: vmId,
      ipConfigurations,
    };
    const vm: VirtualMachine = {
      id: vmId,
      name,
      resourceGroup: rg,
      location: scenario.location,
      vmSize: cluster.vmSize,
      nicIds: [nicId],
    };
    nodes.push({ index: i, name, ip, podIps, mac, vm, nic });
  }
  return nodes;
}
