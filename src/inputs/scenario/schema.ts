import { z } from "zod";
import { formatIpv4, parseIpNet, parseIpv4 } from "../../core/ip.ts";
import type { HostOs } from "../../model/scenario.ts";

/**
 * The scenario file's shape (zod 4). Every field a user may omit is optional here; defaults.ts fills
 * them in by era. Each check carries the sentence printed after the field's path, so an error
 * reads `cluster.maxPods must be an integer from 10 to 250, found 300`. Unknown keys are errors
 * (strict objects): a misspelt field would otherwise be silently ignored.
 */

export const intIn = (lo: number, hi: number) => {
  const m = `must be an integer from ${lo} to ${hi}`;
  return z.int(m).min(lo, m).max(hi, m);
};

const text = (m: string, re: RegExp) => z.string(m).regex(re, m);

export const ipv4 = z
  .string("must be an IPv4 address like 10.13.76.4")
  .refine((s) => parseIpv4(s) !== null, "must be an IPv4 address like 10.13.76.4");

/** A network in canonical form (Azure rejects `10.13.1.0/16`: the host bits must be zero). */
export const network = z
  .string("must be an IPv4 network like 10.13.0.0/16")
  .refine(
    (s) => /^[\d.]+\/\d{1,2}$/.test(s) && parseIpNet(s, 4) !== null,
    "must be an IPv4 network like 10.13.0.0/16",
  )
  .refine((s) => {
    const n = parseIpNet(s, 4);
    return n === null || s.split("/")[0] === formatIpv4(Number(n.addr));
  }, "must be a network address (host bits zero), e.g. 10.13.0.0/16 rather than 10.13.1.0/16");

/** docker0's `--bip`: an address with its prefix (`172.17.0.1/16`). */
const bridgeCidr = z
  .string("must be an address with a prefix like 172.17.0.1/16, or null")
  .refine(
    (s) => /^[\d.]+\/\d{1,2}$/.test(s) && parseIpNet(s, 4) !== null,
    "must be an address with a prefix like 172.17.0.1/16, or null",
  );

export const uuid = text(
  "must be a UUID like 48b4c0e1-1cfd-11e9-981c-7abfb60d882f",
  /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
);
const mac = text(
  "must be a MAC address like 00:0d:3a:28:bd:02 (lower case)",
  /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/,
);
/** Azure resource names: letters, digits, `-`, `_`, `.` (the strictest of VNet, subnet and cluster rules). */
const azureName = text(
  "must be 1 to 63 letters, digits, '-', '_' or '.', starting with a letter or digit",
  /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/,
);
/** Kubernetes DNS-1123 label (namespaces, node pools are stricter still). */
const dnsLabel = text(
  "must be a DNS label: lower-case letters, digits and '-', at most 63",
  /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/,
);
const objectRef = text(
  "must be NAMESPACE/NAME, e.g. default/whereami",
  /^[a-z0-9]([-a-z0-9]*[a-z0-9])?\/[a-z0-9]([-.a-z0-9]*[a-z0-9])?$/,
);

const subnetSchema = z.strictObject({ name: azureName, prefix: network });

const clusterSchema = z.strictObject({
  name: azureName.optional(),
  nodeCount: intIn(1, 1000).optional(),
  vmSize: text(
    "must be an Azure VM size like Standard_DS2_v2",
    /^(Standard|Basic)_[A-Za-z0-9_]+$/,
  ).optional(),
  kubernetesVersion: text(
    'must be a Kubernetes version like "1.35.6" (in quotes)',
    /^1\.(1[0-9]|[2-9][0-9])(\.\d{1,3})?$/,
  ).optional(),
  networkPlugin: z.literal("azure", 'must be "azure" (the twin models Azure CNI)').optional(),
  // Azure CNI node subnet: 10 to 250 (docs/azure.md §5.1, AKSDOC concepts-network-ip-address-planning).
  maxPods: intIn(10, 250).optional(),
  subnet: azureName.optional(),
  serviceCidr: network.optional(),
  dnsServiceIp: ipv4.optional(),
  dockerBridgeCidr: bridgeCidr.nullable().optional(),
  loadBalancerSku: z.enum(["basic", "standard"], 'must be "basic" or "standard"').optional(),
  cniMode: z.enum(["bridge", "transparent"], 'must be "bridge" or "transparent"').optional(),
  nodePoolName: text(
    "must be 1 to 12 lower-case letters and digits, starting with a letter (AKS node pool rule)",
    /^[a-z][a-z0-9]{0,11}$/,
  ).optional(),
});

export const HOST_OS = [
  "windows-10",
  "windows-10-corpnet",
  "linux-4.x",
  "linux-6.x",
] as const satisfies readonly HostOs[];

const hostSchema = z.strictObject({
  name: dnsLabel,
  ip: ipv4,
  kind: z.enum(["internet", "vnet"], 'must be "internet" or "vnet"').optional(),
  subnet: azureName.nullable().optional(),
  os: z.enum(HOST_OS, `must be one of ${HOST_OS.map((o) => `"${o}"`).join(", ")}`).optional(),
});

const ifindex = intIn(1, 2147483647);
const podPinSchema = z.strictObject({
  owner: objectRef,
  name: dnsLabel.optional(),
  uid: uuid.optional(),
  ip: ipv4.optional(),
  node: dnsLabel.optional(),
  mac: mac.optional(),
  veth: text("must be azv followed by 11 hex digits, like azva4124965a9b", /^azv[0-9a-f]{11}$/).optional(),
  ifindex: ifindex.optional(),
  vethIndex: ifindex.optional(),
  vethMac: mac.optional(),
  bridgePort: intIn(1, 1023).optional(),
  // docker ps shows 12 hex digits; the rest of the 64 are drawn from the seed.
  containerId: text("must be 12 to 64 hex digits of a container id", /^[0-9a-f]{12,64}$/).optional(),
  pid: intIn(2, 4194304).optional(),
  // docker ps shows 12 hex digits of an image ID, docker inspect all 64 after `sha256:`.
  imageId: text(
    "must be an image ID: 12 to 64 lower-case hex digits, with or without sha256: (docker ps shows 12, like c8e4ff7df026)",
    /^(sha256:)?[0-9a-f]{12,64}$/,
  ).optional(),
});

const nodePinSchema = z.strictObject({
  ip: ipv4.optional(),
  mac: mac.optional(),
  docker0Mac: mac.optional(),
  kubeProxyPod: dnsLabel.optional(),
  kubeProxyUid: uuid.optional(),
  kubeProxyPid: intIn(2, 4194304).optional(),
  kubeProxyContainerId: text("must be 64 hex digits", /^[0-9a-f]{64}$/).optional(),
});

const portNumber = z.int("must be an integer port number");
export const pinsSchema = z.strictObject({
  nodePoolId: text('must be 8 digits in quotes, like "31351229"', /^\d{8}$/).optional(),
  nodes: z.array(nodePinSchema, "must be a list of node pins").optional(),
  uids: z
    .record(
      text(
        "must be KIND/NAMESPACE/NAME, e.g. Service/default/whereami",
        /^[A-Z][A-Za-z]+\/[a-z0-9-]+\/[a-z0-9.-]+$/,
      ),
      uuid,
      "must be a map of KIND/NAMESPACE/NAME to UID",
    )
    .optional(),
  pods: z.array(podPinSchema, "must be a list of pod pins").optional(),
  clusterIps: z.record(objectRef, ipv4, "must be a map of NAMESPACE/NAME to an IP").optional(),
  nodePorts: z
    .record(
      text("must be NAMESPACE/NAME:PORT, e.g. default/whereami:80", /^[a-z0-9-]+\/[a-z0-9.-]+:\d{1,5}$/),
      portNumber,
      "must be a map of NAMESPACE/NAME:PORT to a node port",
    )
    .optional(),
  healthCheckNodePorts: z
    .record(objectRef, portNumber, "must be a map of NAMESPACE/NAME to a port")
    .optional(),
  publicIps: z.record(objectRef, ipv4, "must be a map of NAMESPACE/NAME to an IP").optional(),
});

export const scenarioSchema = z.strictObject(
  {
    name: text("must be a lower-case name like seed-cluster", /^[a-z0-9][a-z0-9._-]{0,62}$/).optional(),
    description: z.string("must be text").optional(),
    seed: intIn(0, 4294967295).optional(),
    subscriptionId: uuid.optional(),
    resourceGroup: text(
      "must be 1 to 90 letters, digits, '-', '_', '.', '(' or ')'",
      /^[-\w.()]{0,89}[-\w()]$/,
    ).optional(),
    location: text("must be an Azure region name like westeurope", /^[a-z0-9]+$/).optional(),
    vnet: z
      .strictObject({
        name: azureName,
        addressPrefixes: z
          .array(network, "must be a list of networks")
          .min(1, "must list at least one network"),
        subnets: z.array(subnetSchema, "must be a list of subnets").min(1, "must list at least one subnet"),
      })
      .optional(),
    cluster: clusterSchema.optional(),
    // Manifests are read by manifests.ts: a list, a multi-document string or `file:` entries.
    manifests: z.unknown().optional(),
    later: z.unknown().optional(),
    hosts: z.array(hostSchema, "must be a list of hosts").optional(),
    pins: pinsSchema.optional(),
  },
  "must be a map of scenario fields (name, cluster, vnet, manifests, hosts, pins...)",
);

export type ScenarioFile = z.infer<typeof scenarioSchema>;
