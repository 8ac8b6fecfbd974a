import { intBelow } from "../../core/choose.ts";
import { type Rng, seededRng } from "../../core/rng.ts";

/**
 * Random but valid scenarios for checking the simulator against the real kernel (`lab verify`):
 * from one seed, one YAML file, byte for byte. Each scenario has 2 to 4 nodes, Kubernetes 1.11.5
 * (the seed's, kube-proxy's 1.11 layout) or a current version (the current layout), Azure CNI in
 * bridge or transparent mode, the LB SKU AKS offered with that version, one or two whereami/nginx
 * Deployments spread over the nodes, and four Services: a LoadBalancer with externalTrafficPolicy
 * Cluster, one with Local whose pods leave at least one node without a local endpoint, a ClusterIP
 * service, and one without endpoints; an internet client (RFC 5737) and a VM in the VNet.
 *
 * Placement is by `pins.pods[].node`: the twin's scheduler (controlplane/k8s/pods.ts) reads no
 * nodeName, nodeSelector or affinity from a manifest, it puts each pod on the least-loaded node
 * (AKS's own pods first), so a pin is the only way a scenario says where a pod runs. Pins need
 * the node names, so the node pool id is pinned too. Pure: no I/O, no clock, no Math.random.
 */

export interface GenerateOptions {
  /** Node count, 2 to 4; default: drawn from the seed. */
  readonly nodes?: number;
}

export interface GeneratedScenario {
  /** `gen-<seed>`, also the scenario's `name:`. */
  readonly name: string;
  readonly yaml: string;
}

export const GEN_MIN_NODES = 2;
export const GEN_MAX_NODES = 4;
/** Every pod is a network namespace in the lab: AKS's own pods and ours together stay at or under this. */
export const GEN_MAX_PODS = 12;

/**
 * AKS's own pods with a network namespace of their own (not hostNetwork), per era, as
 * controlplane/k8s/system.ts runs them: 1.11 kube-dns ×2, heapster, dashboard, metrics-server,
 * tunnelfront; today coredns ×2, coredns-autoscaler, metrics-server ×2, konnectivity-agent ×2.
 * The generator test checks these against a built twin.
 */
export const SYSTEM_PODS = { legacy: 6, today: 7 } as const;

/** The seed's version, and current ones (Azure/AKS changelog: the patch AKS serves of each minor). */
const LEGACY_VERSION = "1.11.5";
const CURRENT_VERSIONS = ["1.34.9", "1.35.6", "1.36.2"] as const;
const LOCATIONS = ["westeurope", "northeurope", "eastus", "westus2", "uksouth"] as const;
/** RFC 5737's documentation networks: an internet client that is nobody's real address. */
const TEST_NETS = ["192.0.2", "198.51.100", "203.0.113"] as const;

interface AppKind {
  readonly name: string;
  readonly image: string;
  /** The port the container listens on (the twin's whereami and nginx apps serve it). */
  readonly port: number;
}

function appsFor(legacy: boolean): AppKind[] {
  // nginx-unprivileged listens on 8080, so some scenarios DNAT to a port other than 80.
  return legacy
    ? [
        { name: "whereami", image: "erjosito/whereami:1.3", port: 80 },
        { name: "nginx", image: "nginx:1.15.8", port: 80 },
      ]
    : [
        { name: "whereami", image: "erjosito/whereami:1.3", port: 80 },
        { name: "nginx", image: "nginx:1.27.4", port: 80 },
        { name: "web", image: "nginxinc/nginx-unprivileged:1.27", port: 8080 },
      ];
}

interface Deployment {
  readonly app: AppKind;
  readonly replicas: number;
  /** Node index of each replica, in replica order (the order pins.pods lists them). */
  readonly nodes: readonly number[];
}

type ServiceRole = "cluster" | "local" | "internal" | "empty";

interface Service {
  readonly name: string;
  readonly role: ServiceRole;
  /** The Deployment it selects (for `empty`, the one scaled to zero). */
  readonly target: string;
  readonly port: number;
  /** As written: absent (same as port), a number or the container port's name. */
  readonly targetPort: number | "http" | null;
  /** The container port it reaches. */
  readonly containerPort: number;
}

const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[intBelow(rng, xs.length)] as T;
/** An integer in [lo, hi]. */
const between = (rng: Rng, lo: number, hi: number): number => lo + intBelow(rng, hi - lo + 1);

function shuffled<T>(rng: Rng, xs: readonly T[]): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = intBelow(rng, i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/** `replicas` pods over exactly `spread` distinct nodes, chosen at random among `nodeCount`. */
function place(rng: Rng, nodeCount: number, replicas: number, spread: number): number[] {
  const chosen = shuffled(
    rng,
    Array.from({ length: nodeCount }, (_, i) => i),
  ).slice(0, spread);
  // The first `spread` replicas take one chosen node each, so every chosen node is used.
  const nodes = Array.from({ length: replicas }, (_, r) =>
    r < spread ? (chosen[r] as number) : pick(rng, chosen),
  );
  return shuffled(rng, nodes);
}

/** The node names the control plane gives (controlplane/azure/nodes.ts): availability set or VMSS. */
function nodeName(poolId: string, legacy: boolean, i: number): string {
  const prefix = `aks-nodepool1-${poolId}`;
  return legacy ? `${prefix}-${i}` : `${prefix}-vmss${i.toString(36).padStart(6, "0")}`;
}

function checkOptions(seed: number, options: GenerateOptions): void {
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff)
    throw new RangeError(`seed must be an integer from 0 to 4294967295, not ${seed}`);
  const n = options.nodes;
  if (n !== undefined && (!Number.isInteger(n) || n < GEN_MIN_NODES || n > GEN_MAX_NODES))
    throw new RangeError(`nodes must be an integer from ${GEN_MIN_NODES} to ${GEN_MAX_NODES}, not ${n}`);
}

export function generateScenario(seed: number, options: GenerateOptions = {}): GeneratedScenario {
  checkOptions(seed, options);
  const rng = seededRng(seed);
  const name = `gen-${seed}`;

  // The cluster. The node count is drawn even when given, so the cluster's other values stay
  // those of the seed; the workloads depend on the node count.
  const drawnNodes = between(rng, GEN_MIN_NODES, GEN_MAX_NODES);
  const nodeCount = options.nodes ?? drawnNodes;
  const legacy = intBelow(rng, 2) === 0;
  const version = legacy ? LEGACY_VERSION : pick(rng, CURRENT_VERSIONS);
  // AKS gave 2019's clusters the Basic LB; Basic is retired for new clusters today (Standard only).
  const sku = legacy ? "basic" : "standard";
  // Both modes in both eras: AKS shipped bridge in 2019 and transparent today, and the twin
  // models either with either kube-proxy layout, which is what the lab should check.
  const cniMode = intBelow(rng, 2) === 0 ? "bridge" : "transparent";
  const maxPods = pick(rng, [20, 30, 40]);
  const location = pick(rng, LOCATIONS);
  const poolId = String(10000000 + intBelow(rng, 90000000));
  const vnetOctet = between(rng, 10, 250); // 10.0.0.0/16 is the service CIDR
  const [aksOctet, vmOctet] = shuffled(
    rng,
    Array.from({ length: 256 }, (_, i) => i),
  ) as [number, number];
  const testNet = pick(rng, TEST_NETS);
  const laptopIp = `${testNet}.${between(rng, 1, 254)}`;
  const laptopOs = pick(rng, ["windows-10", "windows-10-corpnet", legacy ? "linux-4.x" : "linux-6.x"]);
  const vmIp = `10.${vnetOctet}.${vmOctet}.${between(rng, 4, 100)}`;

  // The workloads. Two nodes need two Deployments: one spread over both, and one on a single node
  // for the Local service, which must leave a node without endpoint. Otherwise one or two.
  const budget = GEN_MAX_PODS - (legacy ? SYSTEM_PODS.legacy : SYSTEM_PODS.today);
  const count = nodeCount === 2 ? 2 : between(rng, 1, 2);
  const apps = shuffled(rng, appsFor(legacy)).slice(0, count);
  const deployments: Deployment[] = [];
  {
    const a = apps[0] as AppKind;
    const rA = between(rng, 2, Math.min(4, budget - (count - 1)));
    // Alone, it must leave a node free for the Local service; with a second one, it may cover all.
    const spreadA = between(rng, 2, Math.min(rA, count === 1 ? nodeCount - 1 : nodeCount));
    deployments.push({ app: a, replicas: rA, nodes: place(rng, nodeCount, rA, spreadA) });
    if (count === 2) {
      const rB = between(rng, 1, Math.min(4, budget - rA));
      const spreadB = between(rng, 1, Math.min(rB, nodeCount - 1));
      deployments.push({ app: apps[1] as AppKind, replicas: rB, nodes: place(rng, nodeCount, rB, spreadB) });
    }
  }
  const covers = (d: Deployment) => new Set(d.nodes).size;
  const localCandidates = deployments.filter((d) => covers(d) < nodeCount);
  const localTarget = pick(rng, localCandidates);
  const clusterTarget = pick(rng, deployments);
  const internalTarget = pick(rng, deployments);
  // A Deployment scaled to zero: its Service's selector matches a template but no pod. (A
  // selector no template carries is an error of the scenario reader, scenario-selector.)
  const emptyApp = pick(rng, deployments).app;
  const empty = { name: "canary", app: emptyApp };

  const targetPortFor = (port: number, containerPort: number): number | "http" | null => {
    const form = intBelow(rng, 3);
    if (form === 0 && port === containerPort) return null;
    return form === 2 ? "http" : containerPort;
  };
  const service = (
    role: ServiceRole,
    target: AppKind,
    svcName: string,
    ports: readonly number[],
  ): Service => {
    const port = pick(rng, ports);
    return {
      name: svcName,
      role,
      target: role === "empty" ? empty.name : target.name,
      port,
      targetPort: targetPortFor(port, target.port),
      containerPort: target.port,
    };
  };
  const services: Service[] = [
    service("cluster", clusterTarget.app, `${clusterTarget.app.name}-lb`, [80, 8080]),
    service("local", localTarget.app, `${localTarget.app.name}-local`, [80, 8000]),
    service("internal", internalTarget.app, `${internalTarget.app.name}-internal`, [80, 8080, 9000]),
    service("empty", emptyApp, empty.name, [80, 8080]),
  ];

  const nodes = Array.from({ length: nodeCount }, (_, i) => nodeName(poolId, legacy, i));
  const apiVersion = legacy && intBelow(rng, 2) === 0 ? "apps/v1beta1" : "apps/v1";
  const g: Generated = {
    seed,
    nodesOption: options.nodes,
    name,
    legacy,
    version,
    sku,
    cniMode,
    maxPods,
    location,
    poolId,
    vnetOctet,
    aksOctet,
    vmOctet,
    laptopIp,
    laptopOs,
    vmIp,
    nodes,
    deployments,
    empty,
    services,
    apiVersion,
  };
  return { name, yaml: render(g) };
}

interface Generated {
  readonly seed: number;
  readonly nodesOption: number | undefined;
  readonly name: string;
  readonly legacy: boolean;
  readonly version: string;
  readonly sku: "basic" | "standard";
  readonly cniMode: "bridge" | "transparent";
  readonly maxPods: number;
  readonly location: string;
  readonly poolId: string;
  readonly vnetOctet: number;
  readonly aksOctet: number;
  readonly vmOctet: number;
  readonly laptopIp: string;
  readonly laptopOs: string;
  readonly vmIp: string;
  readonly nodes: readonly string[];
  readonly deployments: readonly Deployment[];
  readonly empty: { readonly name: string; readonly app: AppKind };
  readonly services: readonly Service[];
  readonly apiVersion: string;
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
const nodeList = (xs: readonly number[]) => xs.map((i) => `node ${i}`).join(", ");
/** `node 0 (2 pods), node 2`: where a Deployment's pods run, by node. */
function spread(xs: readonly number[]): string {
  const nodes = [...new Set(xs)].sort((a, b) => a - b);
  return nodes
    .map((i) => {
      const n = xs.filter((x) => x === i).length;
      return n === 1 ? `node ${i}` : `node ${i} (${n} pods)`;
    })
    .join(", ");
}

const CONT = `#${" ".repeat(22)}`;

function serviceLine(s: Service, g: Generated): string {
  const to = `${s.target}:${s.targetPort === "http" ? `http (${s.containerPort})` : s.containerPort}`;
  const head = `${s.name.padEnd(18)} `;
  if (s.role === "cluster")
    return `${head}LoadBalancer, externalTrafficPolicy Cluster, port ${s.port} -> ${to}`;
  if (s.role === "local") {
    const d = g.deployments.find((x) => x.app.name === s.target) as Deployment;
    const without = g.nodes.map((_, i) => i).filter((i) => !d.nodes.includes(i));
    return (
      `${head}LoadBalancer, externalTrafficPolicy Local, port ${s.port} -> ${to};\n` +
      `${CONT}no local endpoint on ${nodeList(without)}: the LB's probe fails there`
    );
  }
  if (s.role === "internal") return `${head}ClusterIP, port ${s.port} -> ${to}`;
  const why = g.legacy
    ? // docs/kube-proxy.md: 1.11 jumps to filter KUBE-SERVICES from OUTPUT only.
      `kube-proxy 1.11 REJECTs only the nodes' own connections to it;\n${CONT}a pod's SYN is forwarded, leaves the node and is lost in the VNet`
    : "kube-proxy REJECTs connections to it (ICMP port unreachable)";
  return `${head}ClusterIP, port ${s.port}, selects app=${s.target}: no pod, no endpoints;\n${CONT}${why}`;
}

/** The header: what was generated and what each part is for, so a failing lab run reads on its own. */
function header(g: Generated): string[] {
  const userPods = g.deployments.reduce((n, d) => n + d.replicas, 0);
  const system = g.legacy ? SYSTEM_PODS.legacy : SYSTEM_PODS.today;
  const nodesFlag = g.nodesOption === undefined ? "" : ` --nodes ${g.nodesOption}`;
  const lines = [
    `Generated by \`packetwalk scenario generate --seed ${g.seed}${nodesFlag}\`: a random but valid cluster`,
    "for checking the simulator against the real kernel (lab verify), by src/inputs/scenario/generate.ts.",
    "The same seed always gives this file, byte for byte.",
    "",
    `Cluster: ${plural(g.nodes.length, "node")}, Kubernetes ${g.version} (kube-proxy's ${g.legacy ? "1.11" : "current"} layout), Azure CNI ${g.cniMode} mode,`,
    `${g.sku === "basic" ? "Basic" : "Standard"} LB, max ${g.maxPods} pods per node; nodes:`,
    ...g.nodes.map((n, i) => `  node ${i}  ${n}`),
    ...(g.legacy === (g.cniMode === "bridge")
      ? []
      : [
          `(AKS ${g.legacy ? "ran bridge mode in 2019" : "has run transparent mode since 2021"}; the twin models both modes in both eras.)`,
        ]),
    "Deployments, placed by pins.pods below (the twin's scheduler reads no nodeName, nodeSelector or",
    "affinity: it fills the least-loaded node, AKS's own pods first):",
  ];
  const width = Math.max(...g.deployments.map((d) => d.app.name.length), g.empty.name.length);
  for (const d of g.deployments)
    lines.push(
      `  ${d.app.name.padEnd(width)}  ${plural(d.replicas, "replica").padEnd(10)}  on ${spread(d.nodes)}  (${d.app.image})`,
    );
  lines.push(
    `  ${g.empty.name.padEnd(width)}  ${"0 replicas".padEnd(10)}  scaled to zero  (${g.empty.app.image})`,
  );
  lines.push(
    `  ${plural(userPods, "pod")} of ours and ${system} of AKS's own: ${userPods + system} network namespaces in the lab.`,
  );
  lines.push("Services:");
  for (const s of g.services) lines.push(`  ${serviceLine(s, g)}`);
  lines.push("Hairpin: a pod calling a service that selects it may be sent back to itself:");
  for (const d of g.deployments) {
    const own = g.services.filter((s) => s.role !== "empty" && s.target === d.app.name);
    if (own.length === 0) continue;
    const always = d.replicas === 1 ? " (its only endpoint: always itself)" : "";
    lines.push(
      `  ${d.app.name} ${d.replicas === 1 ? "pod" : "pods"} -> ${own.map((s) => s.name).join(", ")}${always}`,
    );
  }
  lines.push(`Hosts: laptop ${g.laptopIp} on the internet (RFC 5737), jumpbox ${g.vmIp} in vmsubnet.`);
  return lines.flatMap((l) => l.split("\n")).map((l) => (l.startsWith("#") ? l : l ? `# ${l}` : "#"));
}

function deploymentYaml(d: { app: AppKind; replicas: number; name: string }, apiVersion: string): string[] {
  return [
    `apiVersion: ${apiVersion}`,
    "kind: Deployment",
    "metadata:",
    `  name: ${d.name}`,
    "spec:",
    `  replicas: ${d.replicas}`,
    // apps/v1 requires the selector; v1beta1 defaults it to the template's labels (as the seed's).
    ...(apiVersion === "apps/v1" ? ["  selector:", "    matchLabels:", `      app: ${d.name}`] : []),
    "  template:",
    "    metadata:",
    "      labels:",
    `        app: ${d.name}`,
    "    spec:",
    "      containers:",
    `      - name: ${d.name}`,
    `        image: ${d.app.image}`,
    "        ports:",
    "        - name: http",
    `          containerPort: ${d.app.port}`,
  ];
}

function serviceYaml(s: Service): string[] {
  const lb = s.role === "cluster" || s.role === "local";
  return [
    "apiVersion: v1",
    "kind: Service",
    "metadata:",
    `  name: ${s.name}`,
    "spec:",
    ...(lb ? ["  type: LoadBalancer"] : []),
    ...(lb ? [`  externalTrafficPolicy: ${s.role === "local" ? "Local" : "Cluster"}`] : []),
    "  ports:",
    `  - port: ${s.port}`,
    ...(s.targetPort === null ? [] : [`    targetPort: ${s.targetPort}`]),
    "  selector:",
    `    app: ${s.target}`,
  ];
}

function render(g: Generated): string {
  const docs = [
    ...g.deployments.map((d) => deploymentYaml({ ...d, name: d.app.name }, g.apiVersion)),
    deploymentYaml({ app: g.empty.app, replicas: 0, name: g.empty.name }, g.apiVersion),
    ...g.services.map(serviceYaml),
  ];
  const manifests = docs.map((d) => d.map((l) => `    ${l}`).join("\n")).join("\n    ---\n");
  const sku = g.sku;
  const lines = [
    ...header(g),
    `name: ${g.name}`,
    `description: Generated from seed ${g.seed}, ${plural(g.nodes.length, "node")}, Kubernetes ${g.version}, ${g.cniMode} mode, Cluster and Local LoadBalancers, a ClusterIP service and one without endpoints`,
    `seed: ${g.seed}`,
    `resourceGroup: ${g.name}-rg`,
    `location: ${g.location}`,
    "vnet:",
    "  name: aksVnet",
    `  addressPrefixes: [10.${g.vnetOctet}.0.0/16]`,
    "  subnets:",
    "    - name: aks",
    `      prefix: 10.${g.vnetOctet}.${g.aksOctet}.0/24`,
    "    - name: vmsubnet",
    `      prefix: 10.${g.vnetOctet}.${g.vmOctet}.0/24`,
    "cluster:",
    `  name: aks-${g.name}`,
    `  nodeCount: ${g.nodes.length}`,
    `  kubernetesVersion: "${g.version}"`,
    "  networkPlugin: azure",
    `  maxPods: ${g.maxPods}`,
    "  subnet: aks",
    "  serviceCidr: 10.0.0.0/16",
    "  dnsServiceIp: 10.0.0.10",
    `  dockerBridgeCidr: ${g.legacy ? "172.17.0.1/16" : "null"}`,
    `  loadBalancerSku: ${sku}`,
    `  cniMode: ${g.cniMode}`,
    "  nodePoolName: nodepool1",
    "manifests:",
    "  - |",
    manifests,
    "hosts:",
    "  - name: laptop",
    `    ip: ${g.laptopIp}`,
    "    kind: internet",
    `    os: ${g.laptopOs}`,
    "  - name: jumpbox",
    `    ip: ${g.vmIp}`,
    "    kind: vnet",
    "    subnet: vmsubnet",
    "pins:",
    "  # Fixes the node names the pod pins below refer to.",
    `  nodePoolId: "${g.poolId}"`,
    "  pods:",
  ];
  for (const d of g.deployments) {
    lines.push(`    # ${d.app.name}: ${nodeList(d.nodes)}`);
    for (const n of d.nodes) lines.push(`    - owner: default/${d.app.name}`, `      node: ${g.nodes[n]}`);
  }
  return `${lines.join("\n")}\n`;
}
