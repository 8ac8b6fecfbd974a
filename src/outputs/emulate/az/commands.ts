import type { AzureState, LoadBalancer, NetworkInterface } from "../../../model/azure.ts";
import type { Twin } from "../../../model/twin.ts";
import { AKS_TABLE_QUERY, aksJson } from "./aks.ts";
import type { Json } from "./knack.ts";
import {
  type Era,
  frontendJson,
  ipConfigJson,
  lbJson,
  nicJson,
  poolJson,
  probeJson,
  publicIpJson,
  ruleJson,
  vmJson,
} from "./resources.ts";

/**
 * The `az` commands the twin answers: their arguments and what each returns. Lookups follow ARM:
 * resource group and resource names match case-insensitively.
 */

export type Args = Readonly<Record<string, string>>;

/** A failed lookup: the message az prints after `ERROR: `. */
export class NotFound {
  constructor(readonly message: string) {}
}

export interface Command {
  /** Long option names this command takes (besides the global --query/--output). */
  readonly required: readonly string[];
  readonly optional: readonly string[];
  /** A table transformer (a JMESPath), applied for `-o table` when no --query is given. */
  readonly tableQuery?: string;
  readonly run: (twin: Twin, era: Era, args: Args) => Json | NotFound;
}

const same = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();

function requireGroup(az: AzureState, rg: string | undefined): NotFound | null {
  if (rg === undefined) return null;
  const known = [az.resourceGroup, az.nodeResourceGroup];
  return known.some((g) => same(g, rg)) ? null : new NotFound(`Resource group '${rg}' could not be found.`);
}

function findLb(az: AzureState, rg: string, name: string): LoadBalancer | NotFound {
  const missing = requireGroup(az, rg);
  if (missing) return missing;
  const lb = az.loadBalancers.find((l) => same(l.resourceGroup, rg) && same(l.name, name));
  return (
    lb ??
    new NotFound(
      `The Resource 'Microsoft.Network/loadBalancers/${name}' under resource group '${rg}' was not found.`,
    )
  );
}

function findNic(az: AzureState, rg: string, name: string): NetworkInterface | NotFound {
  const missing = requireGroup(az, rg);
  if (missing) return missing;
  const nic = az.nics.find((n) => same(n.resourceGroup, rg) && same(n.name, name));
  return (
    nic ??
    new NotFound(
      `The Resource 'Microsoft.Network/networkInterfaces/${name}' under resource group '${rg}' was not found.`,
    )
  );
}

/** `lb <child> list|show` for one collection of the load balancer. */
function lbChild<T extends { readonly name: string }>(
  label: string,
  items: (lb: LoadBalancer) => readonly T[],
  json: (era: Era, lb: LoadBalancer, item: T) => Json,
): Record<"list" | "show", Command> {
  return {
    list: {
      required: ["resource-group", "lb-name"],
      optional: [],
      run: (t, era, a) => {
        const lb = findLb(t.azure, a["resource-group"]!, a["lb-name"]!);
        return lb instanceof NotFound ? lb : items(lb).map((i) => json(era, lb, i));
      },
    },
    show: {
      required: ["resource-group", "lb-name", "name"],
      optional: [],
      run: (t, era, a) => {
        const lb = findLb(t.azure, a["resource-group"]!, a["lb-name"]!);
        if (lb instanceof NotFound) return lb;
        const item = items(lb).find((i) => same(i.name, a.name!));
        return item
          ? json(era, lb, item)
          : new NotFound(`${label} '${a.name}' not found in load balancer '${lb.name}'.`);
      },
    },
  };
}

function inGroup<T extends { readonly resourceGroup: string }>(
  az: AzureState,
  items: readonly T[],
  rg: string | undefined,
): T[] | NotFound {
  const missing = requireGroup(az, rg);
  if (missing) return missing;
  return items.filter((i) => rg === undefined || same(i.resourceGroup, rg));
}

function listAndShow<T extends { readonly resourceGroup: string; readonly name: string }>(
  type: string,
  items: (az: AzureState) => readonly T[],
  json: (era: Era, twin: Twin, item: T) => Json,
): Record<"list" | "show", Command> {
  return {
    list: {
      required: [],
      optional: ["resource-group"],
      run: (t, era, a) => {
        const found = inGroup(t.azure, items(t.azure), a["resource-group"]);
        return found instanceof NotFound ? found : found.map((i) => json(era, t, i));
      },
    },
    show: {
      required: ["resource-group", "name"],
      optional: [],
      run: (t, era, a) => {
        const found = inGroup(t.azure, items(t.azure), a["resource-group"]);
        if (found instanceof NotFound) return found;
        const item = found.find((i) => same(i.name, a.name!));
        const rg = a["resource-group"];
        return item
          ? json(era, t, item)
          : new NotFound(`The Resource '${type}/${a.name}' under resource group '${rg}' was not found.`);
      },
    },
  };
}

const lb = listAndShow(
  "Microsoft.Network/loadBalancers",
  (az) => az.loadBalancers,
  (era, _t, l) => lbJson(era, l),
);
const nic = listAndShow(
  "Microsoft.Network/networkInterfaces",
  (az) => az.nics,
  (era, _t, n) => nicJson(era, n),
);
const pip = listAndShow(
  "Microsoft.Network/publicIPAddresses",
  (az) => az.publicIps,
  (era, t, p) => publicIpJson(era, t.azure, p),
);
const rule = lbChild(
  "Load balancing rule",
  (l) => l.loadBalancingRules,
  (era, _l, r) => ruleJson(era, r),
);
const probe = lbChild(
  "Probe",
  (l) => l.probes,
  (era, _l, p) => probeJson(era, p),
);
const pool = lbChild("Backend address pool", (l) => l.backendAddressPools, poolJson);
const frontend = lbChild("Frontend IP configuration", (l) => l.frontendIpConfigurations, frontendJson);

const ipConfig: Record<"list" | "show", Command> = {
  list: {
    required: ["resource-group", "nic-name"],
    optional: [],
    run: (t, era, a) => {
      const n = findNic(t.azure, a["resource-group"]!, a["nic-name"]!);
      return n instanceof NotFound ? n : n.ipConfigurations.map((c) => ipConfigJson(era, c));
    },
  },
  show: {
    required: ["resource-group", "nic-name", "name"],
    optional: [],
    run: (t, era, a) => {
      const n = findNic(t.azure, a["resource-group"]!, a["nic-name"]!);
      if (n instanceof NotFound) return n;
      const c = n.ipConfigurations.find((x) => same(x.name, a.name!));
      return c
        ? ipConfigJson(era, c)
        : new NotFound(`IP configuration '${a.name}' not found on network interface '${n.name}'.`);
    },
  },
};

export const COMMANDS: Readonly<Record<string, Command>> = {
  "network lb list": lb.list,
  "network lb show": lb.show,
  "network lb rule list": rule.list,
  "network lb rule show": rule.show,
  "network lb probe list": probe.list,
  "network lb probe show": probe.show,
  "network lb address-pool list": pool.list,
  "network lb address-pool show": pool.show,
  "network lb frontend-ip list": frontend.list,
  "network lb frontend-ip show": frontend.show,
  "network nic list": nic.list,
  "network nic show": nic.show,
  "network nic ip-config list": ipConfig.list,
  "network nic ip-config show": ipConfig.show,
  "network public-ip list": pip.list,
  "network public-ip show": pip.show,
  "vm list": {
    required: [],
    optional: ["resource-group"],
    // azure-cli vm/_format.py transform_vm_list: name, resourceGroup, location (the power state and
    // addresses only with --show-details, which the twin does not offer).
    tableQuery: "[].{name: name, resourceGroup: resourceGroup, location: location}",
    run: (t, era, a) => {
      const found = inGroup(t.azure, t.azure.vms, a["resource-group"]);
      return found instanceof NotFound ? found : found.map((v) => vmJson(era, v));
    },
  },
  "aks show": {
    required: ["resource-group", "name"],
    optional: [],
    tableQuery: AKS_TABLE_QUERY,
    run: (t, era, a) => {
      const s = t.scenario;
      if (!same(a["resource-group"]!, s.resourceGroup) || !same(a.name!, s.cluster.name)) {
        return new NotFound(
          `The Resource 'Microsoft.ContainerService/managedClusters/${a.name}' under resource group '${a["resource-group"]}' was not found.`,
        );
      }
      return aksJson(era, t);
    },
  },
};
