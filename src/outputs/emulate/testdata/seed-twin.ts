import type { AzureState, LoadBalancer, LoadBalancingRule, Probe } from "../../../model/azure.ts";
import type { Endpoints, K8sState, ObjectMeta, Pod, Service } from "../../../model/k8s.ts";
import type { Scenario } from "../../../model/scenario.ts";
import type { Twin } from "../../../model/twin.ts";

/**
 * A twin assembled by hand from the seed's facts (seeds/000_4a8e1a6d95c3de0a.txt and the facts
 * list of the brief), for the emulators' tests. Creation times are the timestamps inside the
 * version-1 UUIDs the seed prints (48b4c0e1-1cfd-11e9 → 2019-01-20T21:49:38Z); objects without a
 * seed UUID get times consistent with the seed's AGE columns.
 * Phases: `cluster` (first half, externalTrafficPolicy Cluster), `local` (second half) and
 * `nginx` (after `k apply -f ./nginx-elb.yaml`: two probes Updating).
 */

export type SeedPhase = "cluster" | "local" | "nginx";

const SUB = "e7da9914-9b05-4891-893c-546cb7b0422e";
const RG = "akstest";
const NODE_RG = "MC_akstest_aksPacketWalkAzure_westeurope";
const NODE = "aks-nodepool1-31351229-0";
const NIC = "aks-nodepool1-31351229-nic-0";
const NET = `/subscriptions/${SUB}/resourceGroups/${NODE_RG}/providers/Microsoft.Network`;
const NIC_ID = `${NET}/networkInterfaces/${NIC}`;
const LB_ID = `${NET}/loadBalancers/kubernetes`;
const POOL_ID = `${LB_ID}/backendAddressPools/kubernetes`;
const SUBNET_ID = `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Network/virtualNetworks/aksVnet/subnets/aks`;

/** Unix seconds of a version-1 UUID's timestamp. */
export function uuidTime(uid: string): number {
  const [lo, mid, hi] = uid.split("-") as [string, string, string];
  const ticks = BigInt(`0x${hi.slice(1)}${mid}${lo}`);
  return Number((ticks - 0x01b21dd213814000n) / 10_000_000n);
}

const CLUSTER_CREATED = uuidTime("007d4629-1cfc-11e9-981c-7abfb60d882f") - 240; // kube-proxy pod minus the node boot

function meta(namespace: string, name: string, uid: string, createdAt: number, labels: Record<string, string> = {}): ObjectMeta {
  return { name, namespace, uid, labels, annotations: {}, createdAt, ownerReferences: [] };
}

function clusterIpService(ns: string, name: string, ip: string, ports: [string, "TCP" | "UDP", number][]): Service {
  return {
    meta: meta(ns, name, `00000000-0000-11e9-0000-${name.padEnd(12, "0").slice(0, 12)}`, CLUSTER_CREATED),
    type: "ClusterIP",
    clusterIP: ip,
    ports: ports.map(([pname, protocol, port]) => ({ name: pname, protocol, port, targetPort: port, nodePort: 0 })),
    selector: { "k8s-app": name },
    externalTrafficPolicy: "Cluster",
    internalTrafficPolicy: "Cluster",
    healthCheckNodePort: 0,
    externalIPs: [],
    loadBalancerSourceRanges: [],
    loadBalancerIngress: [],
    sessionAffinity: "None",
    sessionAffinityTimeoutSeconds: 0,
    externalName: "",
  };
}

interface App {
  readonly uid: string;
  readonly clusterIP: string;
  readonly lbIp: string;
  readonly nodePort: number;
  readonly healthCheckNodePort: number;
  readonly pods: readonly { readonly name: string; readonly uid: string; readonly ip: string }[];
}

const WHEREAMI_CLUSTER: App = {
  uid: "48b4c0e1-1cfd-11e9-981c-7abfb60d882f",
  clusterIP: "10.0.159.58",
  lbIp: "51.144.176.251",
  nodePort: 30064,
  healthCheckNodePort: 0,
  pods: [
    { name: "whereami-564765b89-j7bpw", uid: "48a73a70-1cfd-11e9-981c-7abfb60d882f", ip: "10.13.76.7" },
    { name: "whereami-564765b89-qfq2k", uid: "48a93ac3-1cfd-11e9-981c-7abfb60d882f", ip: "10.13.76.26" },
  ],
};

const WHEREAMI_LOCAL: App = {
  uid: "96e1c7f9-1d54-11e9-981c-7abfb60d882f",
  clusterIP: "10.0.12.96",
  lbIp: "13.93.66.174",
  nodePort: 32663,
  healthCheckNodePort: 32364,
  pods: [
    { name: "whereami-564765b89-jpkgg", uid: "96d2aa7c-1d54-11e9-981c-7abfb60d882f", ip: "10.13.76.15" },
    { name: "whereami-564765b89-nqgz9", uid: "96d0d44e-1d54-11e9-981c-7abfb60d882f", ip: "10.13.76.30" },
  ],
};

function appService(name: string, app: App): Service {
  return {
    meta: meta("default", name, app.uid, uuidTime(app.uid)),
    type: "LoadBalancer",
    clusterIP: app.clusterIP,
    ports: [{ name: "", protocol: "TCP", port: 80, targetPort: 80, nodePort: app.nodePort }],
    selector: { app: name },
    externalTrafficPolicy: app.healthCheckNodePort > 0 ? "Local" : "Cluster",
    internalTrafficPolicy: "Cluster",
    healthCheckNodePort: app.healthCheckNodePort,
    externalIPs: [],
    loadBalancerSourceRanges: [],
    loadBalancerIngress: [app.lbIp],
    sessionAffinity: "None",
    sessionAffinityTimeoutSeconds: 0,
    externalName: "",
  };
}

function appPod(p: App["pods"][number]): Pod {
  return {
    meta: { ...meta("default", p.name, p.uid, uuidTime(p.uid), { app: "whereami", "pod-template-hash": "564765b89" }) },
    nodeName: NODE,
    hostNetwork: false,
    podIP: p.ip,
    hostIP: "10.13.76.4",
    phase: "Running",
    ready: true,
    restarts: 0,
    containers: [{ name: "whereami", image: "erjosito/whereami:1.3", ports: [{ name: "", containerPort: 80, protocol: "TCP" }] }],
    app: { kind: "whereami", port: 80 },
  };
}

function appEndpoints(name: string, app: App): Endpoints {
  // The endpoints controller sorts addresses by IP text (10.13.76.26 before 10.13.76.7), as the seed shows.
  const pods = [...app.pods].sort((a, b) => (a.ip < b.ip ? -1 : 1));
  return {
    meta: meta("default", name, app.uid.replace(/^./, "e"), uuidTime(app.uid)),
    subsets: [
      {
        addresses: pods.map((p) => ({ ip: p.ip, nodeName: NODE, targetRef: { kind: "Pod" as const, namespace: "default", name: p.name, uid: p.uid } })),
        notReadyAddresses: [],
        ports: [{ name: "", port: 80, protocol: "TCP" as const }],
      },
    ],
  };
}

/** `a` + the UID without dashes, cut to 32 characters (docs/azure.md §1.1). */
const prefix = (uid: string): string => `a${uid.replace(/-/g, "")}`.slice(0, 32);

function lbParts(app: App, service: string, updating: boolean): { rule: LoadBalancingRule; probe: Probe } {
  const name = `${prefix(app.uid)}-TCP-80`;
  const local = app.healthCheckNodePort > 0;
  const rule: LoadBalancingRule = {
    id: `${LB_ID}/loadBalancingRules/${name}`,
    name,
    protocol: "Tcp",
    frontendPort: 80,
    backendPort: 80,
    enableFloatingIp: true,
    enableTcpReset: false,
    disableOutboundSnat: null,
    idleTimeoutInMinutes: 4,
    loadDistribution: "Default",
    frontendIpConfigurationId: `${LB_ID}/frontendIPConfigurations/${prefix(app.uid)}`,
    backendAddressPoolId: POOL_ID,
    probeId: `${LB_ID}/probes/${name}`,
    service,
  };
  const probe: Probe = {
    id: `${LB_ID}/probes/${name}`,
    name,
    protocol: local ? "Http" : "Tcp",
    port: local ? app.healthCheckNodePort : app.nodePort,
    intervalInSeconds: 5,
    numberOfProbes: 2,
    probeThreshold: null,
    requestPath: local ? "/healthz" : null,
    loadBalancingRuleIds: [rule.id],
    ...(updating ? { provisioningState: "Updating" as const } : {}),
  };
  return { rule, probe };
}

/**
 * The UID is read back from the seed's probe name a158189b11d5e11e9981c7abfb60d882 (a + 31 hex digits;
 * the brief's a158189b-1d5e-... keeps the "a" prefix); the last hex digit and everything but the
 * health check node port are fixture placeholders.
 */
const NGINX: App = {
  uid: "158189b1-1d5e-11e9-981c-7abfb60d882f",
  clusterIP: "10.0.20.20",
  lbIp: "51.144.0.1",
  nodePort: 31000,
  healthCheckNodePort: 31322,
  pods: [],
};

export function seedTwin(phase: SeedPhase): Twin {
  const app = phase === "cluster" ? WHEREAMI_CLUSTER : WHEREAMI_LOCAL;
  const apps: [string, App][] = phase === "nginx" ? [["default/whereami", app], ["default/nginx", NGINX]] : [["default/whereami", app]];
  const parts = apps.map(([svc, a]) => lbParts(a, svc, phase === "nginx"));
  const lb: LoadBalancer = {
    id: LB_ID,
    name: "kubernetes",
    resourceGroup: NODE_RG,
    location: "westeurope",
    sku: "Basic",
    frontendIpConfigurations: apps.map(([, a]) => ({
      id: `${LB_ID}/frontendIPConfigurations/${prefix(a.uid)}`,
      name: prefix(a.uid),
      publicIpAddressId: `${NET}/publicIPAddresses/kubernetes-${prefix(a.uid)}`,
      privateIpAddress: null,
      ipAddress: a.lbIp,
    })),
    backendAddressPools: [{ id: POOL_ID, name: "kubernetes", backendIpConfigurationIds: [`${NIC_ID}/ipConfigurations/ipconfig1`] }],
    loadBalancingRules: parts.map((p) => p.rule),
    probes: parts.map((p) => p.probe),
  };
  const ipconfig = (n: number, ip: string) => ({
    id: `${NIC_ID}/ipConfigurations/ipconfig${n}`,
    name: `ipconfig${n}`,
    primary: n === 1,
    privateIpAddress: ip,
    privateIpAllocationMethod: "Dynamic" as const,
    subnetId: SUBNET_ID,
    loadBalancerBackendAddressPoolIds: n === 1 ? [POOL_ID] : [],
  });
  const azure: AzureState = {
    subscriptionId: SUB,
    resourceGroup: RG,
    nodeResourceGroup: NODE_RG,
    location: "westeurope",
    apiEra: "2019",
    vnet: {
      id: SUBNET_ID.replace(/\/subnets\/aks$/, ""),
      name: "aksVnet",
      resourceGroup: RG,
      addressPrefixes: ["10.13.0.0/16"],
      subnets: [
        { id: SUBNET_ID, name: "aks", addressPrefix: "10.13.76.0/24" },
        { id: SUBNET_ID.replace(/aks$/, "vmsubnet"), name: "vmsubnet", addressPrefix: "10.13.1.0/24" },
      ],
    },
    vms: [
      {
        id: `/subscriptions/${SUB}/resourceGroups/${NODE_RG}/providers/Microsoft.Compute/virtualMachines/${NODE}`,
        name: NODE,
        resourceGroup: NODE_RG,
        location: "westeurope",
        vmSize: "Standard_B2ms",
        nicIds: [NIC_ID],
      },
    ],
    nics: [
      {
        id: NIC_ID,
        name: NIC,
        resourceGroup: NODE_RG,
        location: "westeurope",
        macAddress: "00-0D-3A-28-BD-02",
        enableIpForwarding: false,
        virtualMachineId: `/subscriptions/${SUB}/resourceGroups/${NODE_RG}/providers/Microsoft.Compute/virtualMachines/${NODE}`,
        ipConfigurations: [ipconfig(1, "10.13.76.4"), ...app.pods.map((p, i) => ipconfig(i + 2, p.ip))],
      },
    ],
    publicIps: apps.map(([svc, a]) => ({
      id: `${NET}/publicIPAddresses/kubernetes-${prefix(a.uid)}`,
      name: `kubernetes-${prefix(a.uid)}`,
      resourceGroup: NODE_RG,
      location: "westeurope",
      ipAddress: a.lbIp,
      sku: "Basic" as const,
      allocationMethod: "Static" as const,
      tags: { service: svc },
    })),
    loadBalancers: [lb],
  };
  const kubernetes: Service = {
    ...clusterIpService("default", "kubernetes", "10.0.0.1", [["https", "TCP", 443]]),
    meta: meta("default", "kubernetes", "f0e1d2c3-1cfb-11e9-981c-7abfb60d882f", CLUSTER_CREATED, { component: "apiserver", provider: "kubernetes" }),
    selector: null,
  };
  const services: Service[] = [
    kubernetes,
    appService("whereami", app),
    clusterIpService("kube-system", "heapster", "10.0.187.18", [["", "TCP", 80]]),
    clusterIpService("kube-system", "kube-dns", "10.0.0.10", [
      ["dns", "UDP", 53],
      ["dns-tcp", "TCP", 53],
    ]),
    clusterIpService("kube-system", "kubernetes-dashboard", "10.0.103.10", [["", "TCP", 80]]),
    clusterIpService("kube-system", "metrics-server", "10.0.95.138", [["", "TCP", 443]]),
  ];
  const k8s: K8sState = {
    version: "1.11.5",
    nodes: [
      {
        name: NODE,
        uid: "0a1b2c3d-1cfc-11e9-981c-7abfb60d882f",
        internalIP: "10.13.76.4",
        labels: { "kubernetes.io/hostname": NODE, "kubernetes.io/role": "agent" },
        kubeletVersion: "v1.11.5",
        createdAt: CLUSTER_CREATED,
      },
    ],
    deployments: [
      {
        meta: meta("default", "whereami", app.uid.replace(/^./, "d"), uuidTime(app.pods[0]!.uid) - 1, { app: "whereami" }),
        apiVersion: "apps/v1beta1",
        replicas: 2,
        selector: { app: "whereami" },
        podTemplateHash: "564765b89",
        template: { labels: { app: "whereami" }, containers: appPod(app.pods[0]!).containers },
      },
    ],
    pods: app.pods.map(appPod),
    services,
    endpoints: [appEndpoints("whereami", app)],
  };
  const scenario: Scenario = {
    name: "seed",
    description: "The seed's AKS cluster",
    seed: 1,
    subscriptionId: SUB,
    resourceGroup: RG,
    location: "westeurope",
    vnet: { name: "aksVnet", addressPrefixes: ["10.13.0.0/16"], subnets: azure.vnet.subnets.map((s) => ({ name: s.name, prefix: s.addressPrefix })) },
    cluster: {
      name: "aksPacketWalkAzure",
      nodeCount: 1,
      vmSize: "Standard_B2ms",
      kubernetesVersion: "1.11.5",
      networkPlugin: "azure",
      maxPods: 30,
      subnet: "aks",
      serviceCidr: "10.0.0.0/16",
      dnsServiceIp: "10.0.0.10",
      dockerBridgeCidr: "172.17.0.1/16",
      loadBalancerSku: "basic",
      cniMode: "bridge",
      nodePoolName: "nodepool1",
    },
    manifests: [],
    hosts: [],
    pins: {},
  };
  // Observed 11 minutes after the whereami service was created (the seed's first `k get svc`).
  return { scenario, azure, k8s, nodes: [], hosts: [], now: uuidTime(app.uid) + 11 * 60 };
}
