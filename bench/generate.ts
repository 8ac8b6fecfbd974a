import { createHash } from "node:crypto";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/**
 * A deterministic generator of an `iptables-save` dump shaped like a kube-proxy node (iptables mode,
 * the 1.28+ layout of /work/shared/docs/kube-proxy.md §5) with many services, for benchmarks.
 *
 * What it models, as kube-proxy writes it and iptables-legacy-save 1.8.9 prints it:
 * - per service port: the `KUBE-SERVICES -d CLUSTERIP/32 ... --dport P -j KUBE-SVC-H` capture rule, a
 *   KUBE-SVC chain with the clusterIP masquerade rule (`! -s CLUSTER_CIDR`) and one balancing rule per
 *   endpoint (`-m statistic --mode random --probability` 1/n, 1/(n-1), ... as the kernel prints it, the
 *   last one without), a KUBE-SEP chain per endpoint (KUBE-MARK-MASQ for hairpin + DNAT);
 * - NodePort services: KUBE-EXT chain + KUBE-NODEPORTS rule; LoadBalancer services additionally a
 *   `loadbalancer IP` capture rule; some with externalTrafficPolicy=Local (KUBE-SVL, health-check
 *   node port ACCEPT in filter KUBE-NODEPORTS, "has no local endpoints" DROPs in filter
 *   KUBE-EXTERNAL-SERVICES) and some with loadBalancerSourceRanges (KUBE-FW + KUBE-PROXY-FIREWALL);
 * - largeClusterMode (more than 1000 endpoints): no per-endpoint comments on KUBE-SVC/SVL balancing
 *   rules and KUBE-SEP rules, exactly as kube-proxy omits them;
 * - the fixed chains (KUBE-POSTROUTING, KUBE-MARK-MASQ, KUBE-FORWARD, KUBE-FIREWALL, canaries), the
 *   AKS wireserver block in FORWARD and the azure ip-masq-agent chain;
 * - chain names from kube-proxy's hash: base32(sha256(servicePortName + proto [+ "IP:port"]))[:16];
 * - legacy iptables-save order: built-in chains first, then user chains sorted by name; services in
 *   KUBE-SERVICES in a shuffled (Go map) order; endpoints in string order of "IP:port".
 *
 * Everything comes from a seeded PRNG: the same options give byte-identical output.
 */

export interface GenerateOptions {
  readonly services?: number;
  readonly endpointsPerService?: number;
  readonly seed?: number;
  /** Share of service ports that are NodePort / LoadBalancer (the rest are ClusterIP). */
  readonly nodePortShare?: number;
  readonly loadBalancerShare?: number;
  /** Keep per-endpoint comments although there are more than 1000 endpoints (kube-proxy drops them). */
  readonly forceEndpointComments?: boolean;
}

export interface GeneratedService {
  readonly namespace: string;
  readonly name: string;
  readonly portName: string;
  readonly proto: "tcp" | "udp";
  readonly clusterIp: number;
  readonly port: number;
  readonly targetPort: number;
  readonly type: "ClusterIP" | "NodePort" | "LoadBalancer";
  readonly nodePort: number | null;
  readonly loadBalancerIp: number | null;
  readonly externalTrafficPolicy: "Cluster" | "Local";
  readonly sourceRanges: readonly string[];
  readonly endpoints: readonly number[];
  readonly svcChain: string;
}

export interface GeneratedRuleset {
  readonly text: string;
  readonly services: readonly GeneratedService[];
  /** `-A` lines in the dump. */
  readonly ruleCount: number;
  readonly rulesByTable: Readonly<Record<string, number>>;
  readonly chainCount: number;
  readonly nodeIp: number;
  readonly clusterCidr: string;
  readonly serviceCidr: string;
}

/** Node 0 of a 16-node cluster; pods of node k live in 10.244.(16k).0/20 (kubenet-style ranges). */
const NODE_IP = ip(10, 224, 0, 4);
const CLUSTER_CIDR = "10.244.0.0/16";
const SERVICE_CIDR = "10.0.0.0/16";
const VNET_CIDR = "10.224.0.0/12";
const NODES = 16;
const MASQ = "0x4000";
const HEADER_DATE = "Mon Jan  6 12:00:00 2025";

const NAMESPACES = [
  "default",
  "payments",
  "checkout",
  "catalog",
  "search",
  "identity",
  "ingress-nginx",
  "monitoring",
  "logging",
  "data",
  "ml-serving",
  "notifications",
  "orders",
  "inventory",
  "shipping",
  "platform",
];
const TCP_PORTS = [80, 80, 80, 443, 443, 8080, 8080, 8443, 9090, 3000, 5000, 5432, 6379, 9200, 27017, 50051];
const UDP_PORTS = [53, 514, 8125, 6831];
const PORT_NAMES = ["http", "https", "grpc", "metrics", "web"];
const TARGET_PORTS = [8080, 8080, 8000, 3000, 5000, 9090, 8443];

/** Small, fast, seedable PRNG (mulberry32); kept here so the dump never depends on src/. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function ip(a: number, b: number, c: number, d: number): number {
  return ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
}

export function formatIpv4(v: number): string {
  return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/** base32 (RFC 4648 standard alphabet) of sha256(text), first 16 characters: kube-proxy's chain hash. */
export function kubeHash(text: string): string {
  const bytes = createHash("sha256").update(text).digest();
  let out = "";
  let bits = 0;
  let acc = 0;
  for (const byte of bytes) {
    acc = ((acc << 8) | byte) & 0xffff;
    bits += 8;
    while (bits >= 5 && out.length < 16) {
      out += BASE32[(acc >>> (bits - 5)) & 31];
      bits -= 5;
    }
    if (out.length >= 16) break;
  }
  return out;
}

/** iptables prints `--probability` as %.11f of round(2^31 p) / 2^31 (libxt_statistic.c). */
export function kernelProbability(p: number): string {
  const stored = Math.round(p * 0x80000000);
  return (stored / 0x80000000).toFixed(11);
}

function q(comment: string): string {
  return /^[A-Za-z0-9_-]+$/.test(comment) ? comment : `"${comment.replace(/(["\\'])/g, "\\$1")}"`;
}

class Chains {
  readonly rules = new Map<string, string[]>();
  declare(name: string): void {
    if (!this.rules.has(name)) this.rules.set(name, []);
  }
  add(chain: string, rest: string): void {
    this.declare(chain);
    (this.rules.get(chain) as string[]).push(`-A ${chain} ${rest}`);
  }
}

function render(
  table: string,
  builtins: readonly string[],
  c: Chains,
  out: string[],
  counts: Record<string, number>,
): number {
  out.push(`# Generated by iptables-save v1.8.9 on ${HEADER_DATE}`, `*${table}`);
  for (const b of builtins) out.push(`:${b} ACCEPT [0:0]`);
  const user = [...c.rules.keys()].filter((n) => !builtins.includes(n)).sort();
  for (const u of user) out.push(`:${u} - [0:0]`);
  let n = 0;
  for (const name of [...builtins, ...user]) {
    const rules = c.rules.get(name) ?? [];
    for (const r of rules) out.push(r);
    n += rules.length;
  }
  out.push("COMMIT", `# Completed on ${HEADER_DATE}`);
  counts[table] = n;
  return builtins.length + user.length;
}

export function generateKubeRuleset(options: GenerateOptions = {}): GeneratedRuleset {
  const count = options.services ?? 10_000;
  const perService = options.endpointsPerService ?? 5;
  const rand = prng(options.seed ?? 20250106);
  const int = (n: number) => Math.floor(rand() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)] as T;
  const nodePortShare = options.nodePortShare ?? 0.06;
  const lbShare = options.loadBalancerShare ?? 0.04;

  const usedIps = new Set<number>();
  const unique = (make: () => number): number => {
    for (;;) {
      const v = make();
      if (!usedIps.has(v)) {
        usedIps.add(v);
        return v;
      }
    }
  };
  // 10.0.0.1 (kubernetes) and 10.0.0.10 (kube-dns) are taken on every AKS cluster.
  usedIps.add(ip(10, 0, 0, 1));
  usedIps.add(ip(10, 0, 0, 10));
  const usedPorts = new Set<number>();
  const nodePort = () => {
    for (;;) {
      const v = 30000 + int(2768);
      if (!usedPorts.has(v)) {
        usedPorts.add(v);
        return v;
      }
    }
  };

  const services: GeneratedService[] = [];
  const names = new Set<string>();
  for (let i = 0; i < count; i++) {
    const namespace = pick(NAMESPACES);
    const name = `svc-${i}`;
    const portName = rand() < 0.3 ? pick(PORT_NAMES) : "";
    const proto = rand() < 0.03 ? "udp" : "tcp";
    const port = proto === "udp" ? pick(UDP_PORTS) : pick(TCP_PORTS);
    const targetPort = proto === "udp" ? port : rand() < 0.5 ? port : pick(TARGET_PORTS);
    const r = rand();
    const type = r < lbShare ? "LoadBalancer" : r < lbShare + nodePortShare ? "NodePort" : "ClusterIP";
    const lb = type === "LoadBalancer";
    const etpLocal = lb && rand() < 0.25;
    const sourceRanges =
      lb && !etpLocal && rand() < 0.15 ? [`203.0.${int(256)}.0/24`, "198.51.100.0/24"] : [];
    const clusterIp = unique(() => ip(10, 0, int(256), 1 + int(254)));
    const loadBalancerIp = lb ? unique(() => ip(20, 40 + int(8), int(256), 1 + int(254))) : null;
    const endpoints: number[] = [];
    for (let e = 0; e < perService; e++) {
      const node = int(NODES);
      endpoints.push(unique(() => ip(10, 244, node * 16 + int(16), 1 + int(254))));
    }
    const spn = `${namespace}/${name}${portName ? `:${portName}` : ""}`;
    if (names.has(spn)) throw new Error(`duplicate service port name ${spn}`);
    names.add(spn);
    services.push({
      namespace,
      name,
      portName,
      proto,
      clusterIp,
      port,
      targetPort,
      type,
      nodePort: type === "ClusterIP" ? null : nodePort(),
      loadBalancerIp,
      externalTrafficPolicy: etpLocal ? "Local" : "Cluster",
      sourceRanges,
      endpoints,
      svcChain: `KUBE-SVC-${kubeHash(spn + proto)}`,
    });
  }
  // Health-check node ports are allocated after the service node ports.
  const healthCheckPort = new Map<GeneratedService, number>();
  for (const s of services) if (s.externalTrafficPolicy === "Local") healthCheckPort.set(s, nodePort());

  // kube-proxy walks a Go map: the order of services in KUBE-SERVICES is random. Fisher-Yates.
  const order = services.slice();
  for (let i = order.length - 1; i > 0; i--) {
    const j = int(i + 1);
    [order[i], order[j]] = [order[j] as GeneratedService, order[i] as GeneratedService];
  }
  const largeClusterMode = !options.forceEndpointComments && count * perService > 1000;
  const localPodNet = (v: number) => v >>> 20 === ip(10, 244, 0, 0) >>> 20; // node 0: 10.244.0.0/20

  const nat = new Chains();
  const filter = new Chains();
  const mangle = new Chains();
  for (const c of ["KUBE-IPTABLES-HINT", "KUBE-KUBELET-CANARY", "KUBE-PROXY-CANARY"]) mangle.declare(c);

  // filter: jumps from built-ins in the order Prepend leaves them (doc §5.1, §5.5), AKS wireserver block.
  const cNew = "-m conntrack --ctstate NEW";
  filter.add(
    "INPUT",
    `${cNew} -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL`,
  );
  filter.add("INPUT", `-m comment --comment "kubernetes health check service ports" -j KUBE-NODEPORTS`);
  filter.add(
    "INPUT",
    `${cNew} -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES`,
  );
  filter.add("INPUT", "-j KUBE-FIREWALL");
  filter.add(
    "FORWARD",
    `${cNew} -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL`,
  );
  filter.add("FORWARD", `-m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD`);
  filter.add("FORWARD", `${cNew} -m comment --comment "kubernetes service portals" -j KUBE-SERVICES`);
  filter.add(
    "FORWARD",
    `${cNew} -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES`,
  );
  filter.add("FORWARD", "-d 168.63.129.16/32 -p tcp -m tcp --dport 32526 -j DROP");
  filter.add("FORWARD", "-d 168.63.129.16/32 -p tcp -m tcp --dport 80 -j DROP");
  filter.add(
    "OUTPUT",
    `${cNew} -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL`,
  );
  filter.add("OUTPUT", `${cNew} -m comment --comment "kubernetes service portals" -j KUBE-SERVICES`);
  filter.add("OUTPUT", "-j KUBE-FIREWALL");
  filter.add(
    "KUBE-FIREWALL",
    `! -s 127.0.0.0/8 -d 127.0.0.0/8 -m comment --comment "block incoming localnet connections" -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP`,
  );
  filter.add("KUBE-FORWARD", "-m conntrack --ctstate INVALID -j DROP");
  filter.add(
    "KUBE-FORWARD",
    `-m comment --comment "kubernetes forwarding rules" -m mark --mark ${MASQ}/${MASQ} -j ACCEPT`,
  );
  filter.add(
    "KUBE-FORWARD",
    `-m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`,
  );
  for (const c of [
    "KUBE-EXTERNAL-SERVICES",
    "KUBE-KUBELET-CANARY",
    "KUBE-NODEPORTS",
    "KUBE-PROXY-CANARY",
    "KUBE-PROXY-FIREWALL",
    "KUBE-SERVICES",
  ])
    filter.declare(c);

  // nat: fixed chains.
  nat.add("PREROUTING", `-m comment --comment "kubernetes service portals" -j KUBE-SERVICES`);
  nat.add("OUTPUT", `-m comment --comment "kubernetes service portals" -j KUBE-SERVICES`);
  nat.add("POSTROUTING", `-m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING`);
  nat.add(
    "POSTROUTING",
    `-m comment --comment "ip-masq-agent: ensure nat POSTROUTING directs all non-LOCAL destination traffic to our custom IP-MASQ-AGENT chain" -m addrtype ! --dst-type LOCAL -j IP-MASQ-AGENT`,
  );
  for (const cidr of [VNET_CIDR, CLUSTER_CIDR, SERVICE_CIDR]) {
    nat.add(
      "IP-MASQ-AGENT",
      `-d ${cidr} -m comment --comment "ip-masq-agent: local traffic is not subject to MASQUERADE" -j RETURN`,
    );
  }
  nat.add(
    "IP-MASQ-AGENT",
    `-m comment --comment "ip-masq-agent: outbound traffic is subject to MASQUERADE (must be last in chain)" -j MASQUERADE`,
  );
  nat.add("KUBE-MARK-MASQ", `-j MARK --set-xmark ${MASQ}/${MASQ}`);
  nat.add("KUBE-POSTROUTING", `-m mark ! --mark ${MASQ}/${MASQ} -j RETURN`);
  nat.add("KUBE-POSTROUTING", `-j MARK --set-xmark ${MASQ}/0x0`);
  nat.add(
    "KUBE-POSTROUTING",
    `-m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully`,
  );
  for (const c of ["KUBE-KUBELET-CANARY", "KUBE-NODEPORTS", "KUBE-PROXY-CANARY", "KUBE-SERVICES"])
    nat.declare(c);

  const balance = (chain: string, spn: string, s: GeneratedService, eps: readonly number[]) => {
    const sorted = eps.map((e) => `${formatIpv4(e)}:${s.targetPort}`).sort();
    sorted.forEach((ep, i) => {
      const sep = `KUBE-SEP-${kubeHash(spn + s.proto + ep)}`;
      const comment = largeClusterMode ? "" : `-m comment --comment ${q(`${spn} -> ${ep}`)} `;
      const left = sorted.length - i;
      const stat = left > 1 ? `-m statistic --mode random --probability ${kernelProbability(1 / left)} ` : "";
      nat.add(chain, `${comment}${stat}-j ${sep}`);
    });
  };

  for (const s of order) {
    const spn = `${s.namespace}/${s.name}${s.portName ? `:${s.portName}` : ""}`;
    const h = s.svcChain.slice("KUBE-SVC-".length);
    const svc = s.svcChain;
    const ext = `KUBE-EXT-${h}`;
    const fw = `KUBE-FW-${h}`;
    const svl = `KUBE-SVL-${h}`;
    const p = s.proto;
    const l4 = (port: number) => `-m ${p} --dport ${port}`;
    const cip = `${formatIpv4(s.clusterIp)}/32`;
    const external = s.type !== "ClusterIP";
    const local = s.externalTrafficPolicy === "Local";
    const localEps = s.endpoints.filter(localPodNet);

    // 1. cluster IP capture; 3. LB VIP capture; 4. node port; 5. health check node port.
    nat.add(
      "KUBE-SERVICES",
      `-d ${cip} -p ${p} -m comment --comment ${q(`${spn} cluster IP`)} ${l4(s.port)} -j ${svc}`,
    );
    if (s.loadBalancerIp !== null) {
      const vip = `${formatIpv4(s.loadBalancerIp)}/32`;
      const to = s.sourceRanges.length ? fw : ext;
      nat.add(
        "KUBE-SERVICES",
        `-d ${vip} -p ${p} -m comment --comment ${q(`${spn} loadbalancer IP`)} ${l4(s.port)} -j ${to}`,
      );
      if (s.sourceRanges.length) {
        filter.add(
          "KUBE-PROXY-FIREWALL",
          `-d ${vip} -p ${p} -m comment --comment ${q(`${spn} traffic not accepted by ${fw}`)} ${l4(s.port)} -j DROP`,
        );
      }
      if (local && localEps.length === 0) {
        filter.add(
          "KUBE-EXTERNAL-SERVICES",
          `-d ${vip} -p ${p} -m comment --comment ${q(`${spn} has no local endpoints`)} ${l4(s.port)} -j DROP`,
        );
      }
    }
    if (s.nodePort !== null) {
      nat.add("KUBE-NODEPORTS", `-p ${p} -m comment --comment ${q(spn)} ${l4(s.nodePort)} -j ${ext}`);
      if (local && localEps.length === 0) {
        filter.add(
          "KUBE-EXTERNAL-SERVICES",
          `-p ${p} -m comment --comment ${q(`${spn} has no local endpoints`)} -m addrtype --dst-type LOCAL ${l4(s.nodePort)} -j DROP`,
        );
      }
    }
    const hc = healthCheckPort.get(s);
    if (hc !== undefined) {
      filter.add(
        "KUBE-NODEPORTS",
        `-p tcp -m comment --comment ${q(`${spn} health check node port`)} -m tcp --dport ${hc} -j ACCEPT`,
      );
    }
    // 6. internal masquerade; 9. balancing.
    nat.add(
      svc,
      `! -s ${CLUSTER_CIDR} -d ${cip} -p ${p} -m comment --comment ${q(`${spn} cluster IP`)} ${l4(s.port)} -j KUBE-MARK-MASQ`,
    );
    balance(svc, spn, s, s.endpoints);
    // 7. external chain; 8. source-range firewall.
    if (external) {
      if (!local) {
        nat.add(
          ext,
          `-m comment --comment ${q(`masquerade traffic for ${spn} external destinations`)} -j KUBE-MARK-MASQ`,
        );
        nat.add(ext, `-j ${svc}`);
      } else {
        nat.add(
          ext,
          `-s ${CLUSTER_CIDR} -m comment --comment ${q(`pod traffic for ${spn} external destinations`)} -j ${svc}`,
        );
        nat.add(
          ext,
          `-m comment --comment ${q(`masquerade LOCAL traffic for ${spn} external destinations`)} -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ`,
        );
        nat.add(
          ext,
          `-m comment --comment ${q(`route LOCAL traffic for ${spn} external destinations`)} -m addrtype --src-type LOCAL -j ${svc}`,
        );
        if (localEps.length) {
          nat.add(ext, `-j ${svl}`);
          balance(svl, spn, s, localEps);
        }
      }
    }
    if (s.sourceRanges.length) {
      for (const range of s.sourceRanges)
        nat.add(fw, `-s ${range} -m comment --comment ${q(`${spn} loadbalancer IP`)} -j ${ext}`);
      nat.add(
        fw,
        `-m comment --comment ${q(`other traffic to ${spn} will be dropped by KUBE-PROXY-FIREWALL`)}`,
      );
    }
    // 10. endpoint chains.
    for (const e of s.endpoints) {
      const ep = `${formatIpv4(e)}:${s.targetPort}`;
      const sep = `KUBE-SEP-${kubeHash(spn + p + ep)}`;
      const comment = largeClusterMode ? "" : `-m comment --comment ${q(spn)} `;
      nat.add(sep, `-s ${formatIpv4(e)}/32 ${comment}-j KUBE-MARK-MASQ`);
      nat.add(sep, `-p ${p} ${comment}-m ${p} -j DNAT --to-destination ${ep}`);
    }
  }
  nat.add(
    "KUBE-SERVICES",
    `-m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS`,
  );

  const out: string[] = [];
  const rulesByTable: Record<string, number> = {};
  let chainCount = 0;
  chainCount += render(
    "mangle",
    ["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"],
    mangle,
    out,
    rulesByTable,
  );
  chainCount += render("filter", ["INPUT", "FORWARD", "OUTPUT"], filter, out, rulesByTable);
  chainCount += render("nat", ["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"], nat, out, rulesByTable);
  const ruleCount = Object.values(rulesByTable).reduce((a, b) => a + b, 0);
  return {
    text: `${out.join("\n")}\n`,
    services,
    ruleCount,
    rulesByTable,
    chainCount,
    nodeIp: NODE_IP,
    clusterCidr: CLUSTER_CIDR,
    serviceCidr: SERVICE_CIDR,
  };
}

/** The repository root: the nearest directory above this file with a package.json (also when bundled). */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(resolve(dir, "package.json")) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

export const DEFAULT_OUT = resolve(repoRoot(), "bench", "out", "kube-10k.rules");

/** Where a dump of this size goes: bench/out/kube-10k.rules for the default 10,000 x 5. */
export function defaultPath(options: GenerateOptions = {}): string {
  const services = options.services ?? 10_000;
  const eps = options.endpointsPerService ?? 5;
  const size = services % 1000 === 0 ? `${services / 1000}k` : `${services}svc`;
  return resolve(dirname(DEFAULT_OUT), `kube-${size}${eps === 5 ? "" : `-${eps}ep`}.rules`);
}

/** Generates a dump (by default the 10,000 x 5 one) and writes it under bench/out/. */
export function writeDefaultRuleset(
  path: string | undefined = undefined,
  options: GenerateOptions = {},
): GeneratedRuleset & { path: string } {
  const g = generateKubeRuleset(options);
  const out = path ?? defaultPath(options);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, g.text);
  return { ...g, path: out };
}

if (
  process.argv[1]?.endsWith("generate.ts") &&
  import.meta.url === pathToFileURL(resolve(process.argv[1])).href
) {
  const t0 = process.hrtime.bigint();
  const g = writeDefaultRuleset();
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const tables = Object.entries(g.rulesByTable)
    .map(([t, n]) => `${t} ${n}`)
    .join(", ");
  console.log(
    `${g.path}: ${g.ruleCount} rules (${tables}), ${g.chainCount} chains, ${g.services.length} services, ` +
      `${(g.text.length / 1e6).toFixed(1)} MB, generated in ${ms.toFixed(0)} ms`,
  );
}
