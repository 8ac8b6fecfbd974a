import { formatIpv4, parseIpNet, parseIpv4 } from "../core/ip.ts";
import { serviceHealthApp } from "../dataplane/sim/endpoints/apps/kube-proxy-health.ts";
import { httpDate } from "../dataplane/sim/endpoints/http.ts";
import { text, utf8 } from "../dataplane/sim/endpoints/segment.ts";
import { hashString } from "../dataplane/sim/fabric/flow-hash.ts";
import { PROBE_SOURCE } from "../dataplane/sim/fabric/probes.ts";
import { probeThreshold, type ResolvedRule, resolveTopology } from "../dataplane/sim/fabric/topology.ts";
import type { Netns, NodeState } from "../model/node.ts";
import type { Twin } from "../model/twin.ts";
import { iptablesSave } from "../outputs/emulate/node/iptables-save.ts";
import { type LabRoute, routeArgs, vipRoute } from "./route.ts";

export type { LabRoute } from "./route.ts";

/**
 * The real-kernel lab's plan: the twin as network namespaces, veth pairs, bridges, addresses,
 * routes, static neighbours, sysctls, rulesets and pod servers. Pure: src/lab/run.ts carries it out.
 *
 *   pwl-h<k> (outside host) --eth0 | pwl-h<k>--+
 *                                              pwl-az (VNet, Azure's gateway, the LB's VIPs)
 *   pwl-n<i> (node) ---------eth0 | pwl-n<i>--+
 *     azure0 bridge (bridge mode) or /32 routes (transparent mode) --azvXXXX | eth0-- pwl-n<i>p<j> (pod)
 *
 * Names the lab invents carry the `pwl-` prefix (namespaces, the az side of each veth); inside a
 * node or pod namespace the twin's own names are kept (eth0, azure0, azvXXXX): interface names are
 * per namespace, and those namespaces are ours. No link ever goes to the host's namespace: every
 * veth is created from inside a lab namespace with its peer placed in another lab namespace.
 *
 * The Azure side: pwl-az holds each subnet's gateway address (x.y.z.1) and 169.254.0.1 (the outside
 * hosts' gateway) on its loopback, answers ARP for whatever it routes elsewhere (proxy_arp, as
 * Azure's SDN answers every ARP), routes node and pod IPs to their node (the SDN delivers a NIC's
 * secondary IPs to the NIC) and each LB frontend to its healthy backend nodes, floating IP: the
 * destination stays the VIP. Several backends: a multipath route hashed on the 5-tuple
 * (fib_multipath_hash_policy=3 with the 5-tuple's fields; see sysctls()). Those routes are the probes'
 * static judgement (probeHealth); once the lab is up, the prober (src/lab/prober.ts, from
 * 168.63.129.16, an address of pwl-az) probes kube-proxy's real health check servers and node ports
 * and rewrites them.
 */

export const LAB_PREFIX = "pwl-";
export const AZ_NS = "pwl-az";
/** Outside hosts' default gateway, an address of pwl-az. */
export const HOSTS_GATEWAY = "169.254.0.1";
/** Azure's gateway MAC when the twin names none (what AKS nodes see: 12:34:56:78:9a:bc). */
export const AZURE_GATEWAY_MAC = "12:34:56:78:9a:bc";
/** Marker in every lab server's argv: lab down finds strays by it. */
export const SERVER_MARKER = "pwl-lab-server";

export type LabRole = "node" | "pod" | "host" | "azure";

export interface LabNamespace {
  readonly name: string;
  readonly role: LabRole;
  /** What the twin calls it: the node's name, the pod's `namespace/name`, the host's name, `azure`. */
  readonly twinName: string;
  /** The node a pod runs on (pods only). */
  readonly node?: string;
  /** Its main address (node IP, pod IP, host IP); null for azure. */
  readonly ip: string | null;
}

export type LabLink =
  | {
      readonly kind: "veth";
      readonly ns: string;
      readonly name: string;
      readonly peerNs: string;
      readonly peerName: string;
    }
  | { readonly kind: "bridge"; readonly ns: string; readonly name: string };

export interface LinkSetting {
  readonly ns: string;
  readonly dev: string;
  readonly mac: string | null;
  readonly master: string | null;
  readonly up: boolean;
}

export interface LabAddress {
  readonly ns: string;
  readonly dev: string;
  /** `10.13.76.4/24`. */
  readonly cidr: string;
  readonly broadcast: string | null;
  /** The twin has no prefix route for it (transparent-mode pods): `noprefixroute`. */
  readonly noPrefixRoute: boolean;
}

export interface LabNeighbour {
  readonly ns: string;
  readonly ip: string;
  readonly mac: string;
  readonly dev: string;
}

export interface LabSysctl {
  readonly ns: string;
  readonly key: string;
  readonly value: string;
  /** Set only where the key exists (br_netfilter's keys exist only with the module loaded). */
  readonly optional: boolean;
}

export interface LabServer {
  readonly ns: string;
  /** `namespace/name`. */
  readonly pod: string;
  readonly podIp: string;
  readonly node: string;
  readonly port: number;
}

export interface LabFrontend {
  readonly vip: string;
  /** Healthy backends' node IPs, in pool order. */
  readonly backends: readonly string[];
  /** Every backend with why it is in or out. */
  readonly probes: readonly { readonly nodeIp: string; readonly healthy: boolean; readonly why: string }[];
}

/** kube-proxy's health check server of one Local service on one node. */
export interface LabHealthServer {
  readonly ns: string;
  readonly node: string;
  /** The service's `namespace/name`. */
  readonly service: string;
  /** Its healthCheckNodePort. */
  readonly port: number;
  readonly localEndpoints: number;
  /** 200 with local endpoints, else 503. */
  readonly status: number;
  /**
   * The simulator's answer (serviceHealthApp), whole, to any request that keeps the connection
   * open and to one that closes it; HEALTH_DATE stands for the Date field's value.
   */
  readonly responses: { readonly keepAlive: string; readonly close: string };
}

/** Stands for the answer's Date in LabHealthServer.responses (the server puts the real date in). */
export const HEALTH_DATE = "@DATE@";

/** One Azure probe of one backend node, as the simulator's probe scheduler (fabric/probes.ts) has it. */
export interface LabProbeTarget {
  /** `<probe id, lower case>|<node IP>`. */
  readonly key: string;
  readonly lb: string;
  readonly probe: string;
  readonly protocol: "Tcp" | "Http" | "Https";
  readonly nodeIp: string;
  readonly port: number;
  /** Http(s): the request path (`/` when the probe has none); Tcp: null. */
  readonly path: string | null;
  readonly intervalMs: number;
  /** Consecutive equal results that flip the backend (probeThreshold, 2019: numberOfProbes). */
  readonly threshold: number;
  /** The first probe comes this long after the prober starts: the simulator's offset, from the seed. */
  readonly offsetMs: number;
  /** Unanswered this long: a failure (the simulator waits 5 s; never beyond the interval). */
  readonly timeoutMs: number;
  /** The static judgement (probeHealth): the backend's state until the prober's first verdicts. */
  readonly initiallyUp: boolean;
}

export interface LabProbedFrontend {
  readonly vip: string;
  /** The lab nodes behind the VIP, in pool order, each with the target judging it (null: no probe, always up). */
  readonly backends: readonly {
    readonly nodeIp: string;
    readonly dev: string;
    readonly target: string | null;
  }[];
}

export interface LabProber {
  readonly ns: string;
  /** 168.63.129.16, an address of pwl-az's loopback. */
  readonly source: string;
  readonly targets: readonly LabProbeTarget[];
  readonly frontends: readonly LabProbedFrontend[];
}

export interface LabPlan {
  readonly scenario: string;
  readonly cniMode: "bridge" | "transparent";
  readonly namespaces: readonly LabNamespace[];
  /** In creation order: bridges and veths. */
  readonly links: readonly LabLink[];
  readonly sysctls: readonly LabSysctl[];
  readonly linkSettings: readonly LinkSetting[];
  readonly addresses: readonly LabAddress[];
  readonly routes: readonly LabRoute[];
  readonly neighbours: readonly LabNeighbour[];
  /** Per node, the ruleset as iptables-save prints it: input for iptables-restore. */
  readonly iptables: readonly { readonly ns: string; readonly node: string; readonly text: string }[];
  readonly servers: readonly LabServer[];
  /** kube-proxy's health check servers, one per node and Local service. */
  readonly healthServers: readonly LabHealthServer[];
  readonly frontends: readonly LabFrontend[];
  /** The LB's probe loop; null when no frontend has a probed backend. */
  readonly prober: LabProber | null;
}

export class LabPlanError extends Error {}

/** Linux's IFNAMSIZ is 16 with the NUL: 15 characters, no slash, no whitespace. */
export function checkIfName(name: string): void {
  if (name.length === 0 || name.length > 15 || /[\s/:]/.test(name) || name === "." || name === "..")
    throw new LabPlanError(
      `Interface name "${name}" does not fit Linux (at most 15 characters, no / : or space)`,
    );
}

function checkMac(mac: string): string {
  if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(mac)) throw new LabPlanError(`Bad MAC address "${mac}"`);
  return mac;
}

/** The first address of a subnet (Azure's gateway: x.y.z.1 of a /24). */
function gatewayOf(prefix: string): string | null {
  const net = parseIpNet(prefix, 4);
  if (net?.family !== 4) return null;
  return formatIpv4((net.addr + 1) >>> 0);
}

const SYSCTLS_ALL: readonly (readonly [string, string])[] = [
  ["net.ipv6.conf.all.disable_ipv6", "1"],
  ["net.ipv6.conf.default.disable_ipv6", "1"],
  ["net.ipv4.conf.all.rp_filter", "0"],
  ["net.ipv4.conf.default.rp_filter", "0"],
];

function sysctls(ns: string, role: LabRole): LabSysctl[] {
  const list: [string, string, boolean][] = SYSCTLS_ALL.map(([k, v]) => [k, v, false]);
  if (role === "node") {
    list.push(
      ["net.ipv4.ip_forward", "1", false],
      ["net.ipv4.icmp_ratemask", "0", false],
      ["net.ipv4.conf.all.send_redirects", "0", false],
      ["net.ipv4.conf.default.send_redirects", "0", false],
      // kube-proxy needs bridged frames to cross iptables (replies un-DNATed on azure0): AKS sets it.
      ["net.bridge.bridge-nf-call-iptables", "1", true],
    );
  } else if (role === "azure") {
    list.push(
      ["net.ipv4.ip_forward", "1", false],
      ["net.ipv4.icmp_ratemask", "0", false],
      ["net.ipv4.conf.all.proxy_arp", "1", false],
      ["net.ipv4.conf.all.send_redirects", "0", false],
      ["net.ipv4.conf.default.send_redirects", "0", false],
      // The LB's 5-tuple hash. Policy 3 (custom fields: addresses, protocol, ports), not 1: policy 1
      // reuses the sender's socket hash when the packet carries one, and TCP re-draws that hash when
      // it retransmits a SYN, so a flow's retransmitted SYN could land on another node.
      ["net.ipv4.fib_multipath_hash_policy", "3", false],
      ["net.ipv4.fib_multipath_hash_fields", "0x0037", false],
    );
  } else {
    list.push(["net.ipv4.conf.all.accept_redirects", "0", false]);
  }
  return list.map(([key, value, optional]) => ({ ns, key, value, optional }));
}

interface Builder {
  namespaces: LabNamespace[];
  links: LabLink[];
  sysctls: LabSysctl[];
  linkSettings: LinkSetting[];
  addresses: LabAddress[];
  routes: LabRoute[];
  neighbours: LabNeighbour[];
}

function route(ns: string, r: Partial<Omit<LabRoute, "ns" | "dst">> & { dst: string }): LabRoute {
  return {
    ns,
    dst: r.dst,
    via: r.via ?? null,
    dev: r.dev ?? null,
    scope: r.scope ?? null,
    src: r.src ?? null,
    metric: r.metric ?? null,
    nexthops: r.nexthops ?? [],
    blackhole: r.blackhole ?? false,
  };
}

/** Interface settings, addresses, routes (not the kernel's own) and static neighbours of one netns. */
function configure(b: Builder, ns: string, netns: Netns): void {
  for (const i of netns.interfaces) {
    if (i.kind === "loopback") continue;
    b.linkSettings.push({
      ns,
      dev: i.name,
      mac: checkMac(i.mac),
      master: i.master,
      up: i.flags.includes("UP"),
    });
    for (const a of i.addresses) {
      if (a.family !== 4) continue;
      const net = parseIpNet(`${a.address}/${a.prefixLength}`, 4);
      const prefix = net?.family === 4 ? `${formatIpv4(net.addr)}/${a.prefixLength}` : null;
      // The kernel adds the subnet's route with the address; the twin says whether there is one.
      const noPrefixRoute =
        a.prefixLength < 32 &&
        !netns.routes.some((r) => r.proto === "kernel" && r.dev === i.name && r.dst === prefix);
      b.addresses.push({
        ns,
        dev: i.name,
        cidr: `${a.address}/${a.prefixLength}`,
        broadcast: a.broadcast,
        noPrefixRoute,
      });
    }
  }
  // Routes without a gateway first: a gateway must be reachable when its route is added.
  const own = netns.routes.filter((r) => r.proto !== "kernel");
  const ordered = [...own.filter((r) => r.gateway === null), ...own.filter((r) => r.gateway !== null)];
  for (const r of ordered)
    b.routes.push(
      route(ns, {
        dst: r.dst,
        via: r.gateway,
        dev: r.dev,
        scope: r.scope === "link" ? "link" : null,
        src: r.src,
        metric: r.metric,
      }),
    );
  for (const n of netns.neighbours)
    if (n.state === "PERMANENT" && n.mac !== null)
      b.neighbours.push({ ns, ip: n.ip, mac: checkMac(n.mac), dev: n.dev });
}

/** Whether the LB's probe of a backend passes, judged from the twin (no probe traffic yet). */
function probeHealth(rule: ResolvedRule, node: NodeState | undefined): { healthy: boolean; why: string } {
  const probe = rule.probe;
  if (!probe) return { healthy: true, why: "no probe" };
  if (!node) return { healthy: false, why: "not a node of the twin" };
  if (probe.protocol === "Tcp") return { healthy: true, why: `TCP ${probe.port}: kube-proxy's node port` };
  const hc = node.healthChecks.find((h) => h.port === probe.port);
  if (!hc) return { healthy: false, why: `${probe.protocol} ${probe.port}: nothing listens` };
  return hc.localEndpoints > 0
    ? { healthy: true, why: `${probe.protocol} ${probe.port}: ${hc.localEndpoints} local endpoint(s)` }
    : { healthy: false, why: `${probe.protocol} ${probe.port}: 503, no local endpoint` };
}

/** kube-proxy's answers, from the simulator's own app (one request keeping the connection, one closing it). */
function healthServer(
  ns: string,
  node: NodeState,
  hc: NodeState["healthChecks"][number],
  now: number,
): LabHealthServer {
  const app = serviceHealthApp(() => hc, node.kubeProxy.layout);
  const nowUs = now * 1_000_000;
  const answer = (fields: string): string => {
    const request = `GET / HTTP/1.1\r\nHost: ${node.ip}:${hc.port}\r\n${fields}\r\n`;
    const reply = app.respond({
      bytes: utf8(request),
      local: { ip: parseIpv4(node.ip) ?? 0, port: hc.port },
      remote: { ip: parseIpv4(PROBE_SOURCE) ?? 0, port: 49152 },
      now: nowUs,
    });
    const date = `\r\nDate: ${httpDate(nowUs)}\r\n`;
    const response = reply ? text(reply.bytes) : "";
    if (!response.includes(date))
      throw new LabPlanError(`kube-proxy's health check answer for ${hc.namespace}/${hc.name} has no Date`);
    return response.replace(date, `\r\nDate: ${HEALTH_DATE}\r\n`);
  };
  const keepAlive = answer("");
  return {
    ns,
    node: node.name,
    service: `${hc.namespace}/${hc.name}`,
    port: hc.port,
    localEndpoints: hc.localEndpoints,
    status: Number(keepAlive.split(" ")[1]),
    responses: { keepAlive, close: answer("Connection: close\r\n") },
  };
}

/** The simulator's probe target for a rule's probe and a backend (fabric/probes.ts addTarget). */
function probeTarget(
  twin: Twin,
  rule: ResolvedRule,
  nodeIp: string,
  node: NodeState | undefined,
): LabProbeTarget | null {
  const probe = rule.probe;
  if (!probe) return null;
  const intervalMs = Math.max(1, probe.intervalInSeconds) * 1000;
  const http = probe.protocol !== "Tcp";
  return {
    key: `${probe.id.toLowerCase()}|${nodeIp}`,
    lb: rule.lb.name,
    probe: probe.name,
    protocol: probe.protocol,
    nodeIp,
    port: probe.port,
    path: http ? (probe.requestPath ?? "/") : null,
    intervalMs,
    threshold: probeThreshold(probe),
    // The scheduler keys its offset hash by the node IP as a number.
    offsetMs:
      hashString(twin.scenario.seed >>> 0, `${probe.id.toLowerCase()}|${parseIpv4(nodeIp)}`) % intervalMs,
    timeoutMs: Math.min(5000, intervalMs),
    initiallyUp: probeHealth(rule, node).healthy,
  };
}

export function labPlan(twin: Twin): LabPlan {
  const b: Builder = {
    namespaces: [],
    links: [],
    sysctls: [],
    linkSettings: [],
    addresses: [],
    routes: [],
    neighbours: [],
  };
  const iptables: { ns: string; node: string; text: string }[] = [];
  const servers: LabServer[] = [];
  const healthServers: LabHealthServer[] = [];
  const podByName = new Map(twin.k8s.pods.map((p) => [`${p.meta.namespace}/${p.meta.name}`, p]));

  b.namespaces.push({ name: AZ_NS, role: "azure", twinName: "azure", ip: null });
  b.sysctls.push(...sysctls(AZ_NS, "azure"));
  // pwl-az's own addresses: the gateways, and the probes' source.
  const azGateways = new Set<string>([HOSTS_GATEWAY, PROBE_SOURCE]);
  for (const s of twin.azure.vnet.subnets) {
    const gw = gatewayOf(s.addressPrefix);
    if (gw) azGateways.add(gw);
  }

  twin.nodes.forEach((node, i) => {
    const nodeNs = `${LAB_PREFIX}n${i}`;
    const azSide = `${LAB_PREFIX}n${i}`;
    checkIfName(azSide);
    b.namespaces.push({ name: nodeNs, role: "node", twinName: node.name, ip: node.ip });
    b.sysctls.push(...sysctls(nodeNs, "node"));
    const host = node.netns.find((n) => n.id === "host");
    if (!host) throw new LabPlanError(`Node ${node.name} has no host namespace in the twin`);
    const pods = node.netns.filter((n) => n.id !== "host");
    const podNs = new Map<string, string>();
    pods.forEach((p, j) => {
      const name = `${nodeNs}p${j}`;
      podNs.set(p.id, name);
      const ip =
        p.interfaces
          .filter((x) => x.kind !== "loopback")
          .flatMap((x) => x.addresses)
          .find((a) => a.family === 4)?.address ?? null;
      b.namespaces.push({ name, role: "pod", twinName: p.id, node: node.name, ip });
      b.sysctls.push(...sysctls(name, "pod"));
    });

    // Links, made from inside the node: bridges, the NIC (its peer in pwl-az), the pods' veths, in
    // the twin's ifindex order. The order matters: where the out device has no address (a pod's
    // veth in transparent mode), MASQUERADE takes the first global address of the namespace's
    // devices in that order (inet_select_addr), so eth0 must come before docker0 as on a node.
    const ordered = [...host.interfaces].sort((x, y) => x.index - y.index);
    let gatewayMac = AZURE_GATEWAY_MAC;
    for (const itf of ordered) {
      if (itf.kind === "bridge") {
        checkIfName(itf.name);
        b.links.push({ kind: "bridge", ns: nodeNs, name: itf.name });
      } else if (itf.kind === "ether") {
        checkIfName(itf.name);
        b.links.push({ kind: "veth", ns: nodeNs, name: itf.name, peerNs: AZ_NS, peerName: azSide });
      } else if (itf.kind === "veth") {
        checkIfName(itf.name);
        const pod = pods.find((p) => p.interfaces.some((x) => x.peer?.index === itf.index));
        const podIf = pod?.interfaces.find((x) => x.peer?.index === itf.index);
        if (!pod || !podIf) throw new LabPlanError(`Node ${node.name}: veth ${itf.name} has no pod end`);
        checkIfName(podIf.name);
        b.links.push({
          kind: "veth",
          ns: nodeNs,
          name: itf.name,
          peerNs: podNs.get(pod.id) as string,
          peerName: podIf.name,
        });
      }
    }
    const defaultGw = host.routes.find((r) => r.dst === "default")?.gateway ?? null;
    const gwNeighbour = host.neighbours.find((n) => n.ip === defaultGw && n.mac !== null);
    if (gwNeighbour?.mac) gatewayMac = checkMac(gwNeighbour.mac);
    if (defaultGw) azGateways.add(defaultGw);

    configure(b, nodeNs, host);
    for (const p of pods) configure(b, podNs.get(p.id) as string, p);

    // The VNet side: the gateway's MAC on the node's link, routes to the node and its pods.
    b.linkSettings.push({ ns: AZ_NS, dev: azSide, mac: gatewayMac, master: null, up: true });
    b.routes.push(route(AZ_NS, { dst: `${node.ip}/32`, dev: azSide }));
    // Azure's SDN knows each NIC's MAC. A static entry also keeps the LB's multipath routes stable:
    // the kernel skips a next hop whose neighbour is unresolved, which would move a flow's first
    // packets to another node.
    const nic = host.interfaces.find((x) => x.kind === "ether");
    if (nic) b.neighbours.push({ ns: AZ_NS, ip: node.ip, mac: checkMac(nic.mac), dev: azSide });
    for (const p of pods) {
      const ip = b.namespaces.find((n) => n.name === podNs.get(p.id))?.ip;
      if (ip) b.routes.push(route(AZ_NS, { dst: `${ip}/32`, via: node.ip, dev: azSide }));
      const pod = podByName.get(p.id);
      if (pod && ip && (pod.app.kind === "whereami" || pod.app.kind === "http"))
        servers.push({
          ns: podNs.get(p.id) as string,
          pod: p.id,
          podIp: ip,
          node: node.name,
          port: pod.app.port,
        });
    }

    iptables.push({ ns: nodeNs, node: node.name, text: iptablesSave(node, [], twin.now).stdout });
    for (const hc of node.healthChecks) healthServers.push(healthServer(nodeNs, node, hc, twin.now));
  });

  twin.hosts.forEach((h, k) => {
    const ns = `${LAB_PREFIX}h${k}`;
    const azSide = `${LAB_PREFIX}h${k}`;
    checkIfName(azSide);
    b.namespaces.push({ name: ns, role: "host", twinName: h.name, ip: h.ip });
    b.sysctls.push(...sysctls(ns, "host"));
    b.links.push({ kind: "veth", ns, name: "eth0", peerNs: AZ_NS, peerName: azSide });
    b.linkSettings.push({ ns, dev: "eth0", mac: null, master: null, up: true });
    b.linkSettings.push({ ns: AZ_NS, dev: azSide, mac: null, master: null, up: true });
    const subnet =
      h.kind === "vnet" ? twin.azure.vnet.subnets.find((s) => s.name === h.subnet)?.addressPrefix : undefined;
    const prefix = subnet ? parseIpNet(subnet, 4)?.prefix : null;
    const gw = subnet ? gatewayOf(subnet) : null;
    if (prefix != null && gw) {
      b.addresses.push({ ns, dev: "eth0", cidr: `${h.ip}/${prefix}`, broadcast: null, noPrefixRoute: false });
      b.routes.push(route(ns, { dst: "default", via: gw, dev: "eth0" }));
    } else {
      b.addresses.push({ ns, dev: "eth0", cidr: `${h.ip}/32`, broadcast: null, noPrefixRoute: false });
      b.routes.push(route(ns, { dst: HOSTS_GATEWAY, dev: "eth0", scope: "link" }));
      b.routes.push(route(ns, { dst: "default", via: HOSTS_GATEWAY, dev: "eth0" }));
    }
    b.routes.push(route(AZ_NS, { dst: `${h.ip}/32`, dev: azSide }));
  });

  for (const gw of [...azGateways].sort())
    b.addresses.push({ ns: AZ_NS, dev: "lo", cidr: `${gw}/32`, broadcast: null, noPrefixRoute: false });

  // The load balancer: each frontend to the healthy backends of its floating-IP rules.
  const nodeByIp = new Map(twin.nodes.map((n, i) => [n.ip, { node: n, dev: `${LAB_PREFIX}n${i}` }]));
  const frontends: LabFrontend[] = [];
  const targets = new Map<string, LabProbeTarget>();
  const probed: LabProbedFrontend[] = [];
  const byVip = new Map<string, ResolvedRule[]>();
  for (const r of resolveTopology(twin.azure).rules) {
    if (!r.rule.enableFloatingIp) continue;
    const list = byVip.get(r.frontendIpText) ?? [];
    list.push(r);
    byVip.set(r.frontendIpText, list);
  }
  for (const [vip, rules] of byVip) {
    const probes: { nodeIp: string; healthy: boolean; why: string }[] = [];
    const healthy: string[] = [];
    const backends: { nodeIp: string; dev: string; target: string | null }[] = [];
    // A backend is judged by the probe of the first rule listing it (a route cannot tell ports apart).
    for (const r of rules) {
      for (const be of r.backends) {
        if (probes.some((p) => p.nodeIp === be.nodeIpText)) continue;
        const lab = nodeByIp.get(be.nodeIpText);
        const h = probeHealth(r, lab?.node);
        probes.push({ nodeIp: be.nodeIpText, ...h });
        if (!lab) continue;
        if (h.healthy) healthy.push(be.nodeIpText);
        const t = probeTarget(twin, r, be.nodeIpText, lab.node);
        if (t && !targets.has(t.key)) targets.set(t.key, t);
        backends.push({ nodeIp: be.nodeIpText, dev: lab.dev, target: t?.key ?? null });
      }
    }
    frontends.push({ vip, backends: healthy, probes });
    probed.push({ vip, backends });
    const hops = healthy.map((ip) => ({ via: ip, dev: (nodeByIp.get(ip) as { dev: string }).dev }));
    // No healthy backend: a blackhole, Azure drops the flow without an answer.
    b.routes.push(vipRoute(AZ_NS, vip, hops));
  }
  // Whatever nobody in the VNet owns (a service IP that left a node unNATed, the internet) Azure's
  // SDN drops without an answer, as the twin's fabric does: no ICMP "network unreachable".
  b.routes.push(route(AZ_NS, { dst: "default", blackhole: true }));

  const seen = new Set<string>();
  for (const n of b.namespaces) {
    if (!n.name.startsWith(LAB_PREFIX)) throw new LabPlanError(`Namespace ${n.name} lacks ${LAB_PREFIX}`);
    if (seen.has(n.name)) throw new LabPlanError(`Namespace ${n.name} twice`);
    seen.add(n.name);
  }
  return {
    scenario: twin.scenario.name,
    cniMode: twin.scenario.cluster.cniMode,
    namespaces: b.namespaces,
    links: b.links,
    sysctls: b.sysctls,
    linkSettings: b.linkSettings,
    addresses: b.addresses,
    routes: b.routes,
    neighbours: b.neighbours,
    iptables,
    servers,
    healthServers,
    frontends,
    prober:
      targets.size > 0
        ? { ns: AZ_NS, source: PROBE_SOURCE, targets: [...targets.values()], frontends: probed }
        : null,
  };
}

/** `ip -n NS -batch -` lines that create the links made from inside `ns`. */
export function linkBatch(plan: LabPlan, ns: string): string[] {
  return plan.links
    .filter((l) => l.ns === ns)
    .map((l) =>
      l.kind === "bridge"
        ? `link add ${l.name} type bridge mcast_snooping 0`
        : `link add ${l.name} type veth peer name ${l.peerName} netns ${l.peerNs}`,
    );
}

function routeLine(r: LabRoute): string {
  return ["route", "add", ...routeArgs(r)].join(" ");
}

/** `ip -n NS -batch -` lines that configure `ns` once every link exists: settings, addresses, routes, ARP. */
export function configBatch(plan: LabPlan, ns: string): string[] {
  const lines = ["link set lo up"];
  const settings = plan.linkSettings.filter((s) => s.ns === ns);
  for (const s of settings) if (s.mac) lines.push(`link set dev ${s.dev} address ${s.mac}`);
  for (const s of settings) if (s.master) lines.push(`link set dev ${s.dev} master ${s.master}`);
  // Azure CNI turns hairpin on for each pod's host veth (azure-container-networking,
  // LinuxBridgeEndpointClient.AddEndpointRules: "Setting hairpin for hostveth"): a pod that reaches
  // its own service through the bridge gets its packet back out of the port it came in on.
  for (const s of settings)
    if (s.master && plan.links.some((l) => l.kind === "bridge" && l.ns === ns && l.name === s.master))
      lines.push(`link set dev ${s.dev} type bridge_slave hairpin on`);
  for (const s of settings) if (s.up) lines.push(`link set dev ${s.dev} up`);
  // Azure's SDN answers ARP at once; Linux delays a proxy ARP reply by up to proxy_delay (0.8 s),
  // long enough for a client's SYN to be retransmitted (lab verify saw the extra packet cross a
  // node's FORWARD chain). Per device: a namespace other than the host's has no `default` to set.
  if (ns === AZ_NS)
    for (const s of settings) lines.push(`ntable change name arp_cache dev ${s.dev} proxy_delay 0`);
  for (const a of plan.addresses.filter((x) => x.ns === ns))
    lines.push(
      `addr add ${a.cidr}${a.broadcast ? ` brd ${a.broadcast}` : ""} dev ${a.dev}${a.noPrefixRoute ? " noprefixroute" : ""}`,
    );
  for (const r of plan.routes.filter((x) => x.ns === ns)) lines.push(routeLine(r));
  for (const n of plan.neighbours.filter((x) => x.ns === ns))
    lines.push(`neigh replace ${n.ip} lladdr ${n.mac} dev ${n.dev} nud permanent`);
  return lines;
}

/** How a user names a lab host: a node, a pod (`name` or `namespace/name`), an outside host, or a namespace. */
export function resolveHost(namespaces: readonly LabNamespace[], name: string): LabNamespace | null {
  const exact =
    namespaces.find((n) => n.name === name) ??
    namespaces.find((n) => n.twinName === name) ??
    namespaces.filter((n) => n.role === "pod" && n.twinName.split("/")[1] === name);
  if (Array.isArray(exact)) return exact.length === 1 ? (exact[0] as LabNamespace) : null;
  return exact;
}
