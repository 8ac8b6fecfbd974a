import { parseIpv4 } from "../../../core/ip.ts";
import type { Pod } from "../../../model/k8s.ts";
import type { NodeState } from "../../../model/node.ts";
import type { Twin } from "../../../model/twin.ts";
import type { TcpApp } from "../endpoints/app.ts";
import { proxyHealthzApp, serviceHealthApp } from "../endpoints/apps/kube-proxy-health.ts";
import { nginxApp } from "../endpoints/apps/nginx.ts";
import { whereamiApp } from "../endpoints/apps/whereami.ts";
import { WIRESERVER_IP, wireServerApp } from "../endpoints/apps/wireserver.ts";

/**
 * The twin's bound sockets, per network namespace, and the process behind each TCP listener. A
 * node's host namespace has what NodeState.listeners says (sshd, the kubelet, kube-proxy's healthz,
 * health check servers and, in 1.11, the node ports it holds open) and its hostNetwork pods' ports;
 * a pod's namespace has its containers' ports. Only some processes are modelled (a pod's app,
 * kube-proxy's health servers): any other listener completes the handshake and never answers, as
 * a server that waits for more would. A port nothing is bound to is closed: the namespace's kernel
 * answers a SYN with a RST and a datagram with ICMP port unreachable.
 *
 * Namespaces are named as placeName() names places: the node, or `node/namespace/pod`; Azure's wire
 * server (168.63.129.16:80, which every VM's guest agent polls) is `wireserver`.
 */

export const WIRESERVER_NS = "wireserver";

/** Ubuntu 16.04's Azure kernel on the seed's node (its `uname -a`), and a current AKS Ubuntu 22.04 one. */
const KERNEL_2019 = { release: "4.15.0-1036-azure", version: "#38~16.04.1-Ubuntu SMP" };
const KERNEL_TODAY = { release: "5.15.0-1079-azure", version: "#88-Ubuntu SMP" };

/** A socket bound to one address, or to every address of its namespace (0.0.0.0, and :: with bindv6only=0). */
interface Bound<T> {
  readonly addr: number | null;
  readonly value: T;
}

class NsSockets {
  readonly tcp = new Map<number, Bound<TcpApp>[]>();
  readonly udp = new Map<number, Bound<true>[]>();

  add<T>(table: Map<number, Bound<T>[]>, port: number, addr: number | null, value: T): void {
    const list = table.get(port) ?? [];
    // The first bind of an address wins (a second would get EADDRINUSE).
    if (!list.some((b) => b.addr === addr)) list.push({ addr, value });
    table.set(port, list);
  }
}

/** inet_lookup_listener: a socket bound to the exact address beats a wildcard one. */
function lookup<T>(list: readonly Bound<T>[] | undefined, ip: number): T | null {
  if (!list) return null;
  return (list.find((b) => b.addr === ip) ?? list.find((b) => b.addr === null))?.value ?? null;
}

export class TwinSockets {
  private readonly byNs = new Map<string, NsSockets>();

  /** The app listening on TCP `ip:port` in namespace `ns`, or null: the port is closed there. */
  tcp(ns: string, ip: number, port: number): TcpApp | null {
    return lookup(this.byNs.get(ns)?.tcp.get(port), ip);
  }

  /** Whether a UDP socket is bound to `ip:port` in namespace `ns`. */
  udp(ns: string, ip: number, port: number): boolean {
    return lookup(this.byNs.get(ns)?.udp.get(port), ip) !== null;
  }

  /** Binds a UDP socket (a client's ephemeral one, bound by its first send). */
  bindUdp(ns: string, ip: number, port: number): void {
    this.ns(ns).add(this.ns(ns).udp, port, ip, true);
  }

  ns(name: string): NsSockets {
    let s = this.byNs.get(name);
    if (!s) {
      s = new NsSockets();
      this.byNs.set(name, s);
    }
    return s;
  }
}

/** The twin's sockets; `nowUs` is when kube-proxy last synced its rules (its healthz reports it). */
export function twinSockets(twin: Twin, nowUs: number): TwinSockets {
  const out = new TwinSockets();
  const era2019 = twin.k8s.version.startsWith("1.11");
  const kernel = era2019 ? KERNEL_2019 : KERNEL_TODAY;
  // What `curl ifconfig.co` in a pod returns: the egress public IP, the cluster LB's frontend.
  const publicIp = twin.azure.loadBalancers[0]?.frontendIpConfigurations[0]?.ipAddress ?? "";
  for (const pod of twin.k8s.pods) {
    if (pod.hostNetwork) continue;
    const ip = parseIpv4(pod.podIP);
    if (ip === null) continue;
    const ns = out.ns(`${pod.nodeName}/${pod.meta.namespace}/${pod.meta.name}`);
    const app = podApp(pod, ip, kernel, publicIp);
    if (app) ns.add(ns.tcp, app.port, null, app.app);
    if (pod.app.kind === "dns") {
      // CoreDNS and kube-dns serve DNS over UDP and TCP.
      ns.add(ns.udp, pod.app.port, null, true);
      ns.add(ns.tcp, pod.app.port, null, silentApp(pod.containers[0]?.name ?? "dns"));
    }
    addContainerPorts(ns, pod);
  }
  for (const node of twin.nodes) {
    const ns = out.ns(node.name);
    addNodeListeners(ns, node, nowUs);
    for (const pod of twin.k8s.pods)
      if (pod.hostNetwork && pod.nodeName === node.name) addContainerPorts(ns, pod);
  }
  // The wire server tells a caller's VM by its address: the node's, or a pod's (a secondary IP of
  // the node's NIC under Azure CNI).
  const vmByIp = new Map<number, { name: string }>();
  for (const node of twin.nodes) {
    const ip = parseIpv4(node.ip);
    if (ip !== null) vmByIp.set(ip, { name: node.name });
  }
  for (const pod of twin.k8s.pods) {
    const ip = parseIpv4(pod.podIP);
    if (ip !== null && !vmByIp.has(ip)) vmByIp.set(ip, { name: pod.nodeName });
  }
  const wire = out.ns(WIRESERVER_NS);
  wire.add(
    wire.tcp,
    80,
    parseIpv4(WIRESERVER_IP),
    wireServerApp((ip) => vmByIp.get(ip) ?? null),
  );
  return out;
}

function podApp(
  pod: Pod,
  ip: number,
  kernel: { release: string; version: string },
  publicIp: string,
): { port: number; app: TcpApp } | null {
  if (pod.app.kind === "whereami")
    return {
      port: pod.app.port,
      app: whereamiApp({
        name: pod.meta.name,
        ip,
        kernelRelease: kernel.release,
        kernelVersion: kernel.version,
        publicIp,
      }),
    };
  // A generic HTTP server stands in for the add-ons' own (heapster, dashboard, the web app...).
  if (pod.app.kind === "http") return { port: pod.app.port, app: nginxApp() };
  return null;
}

/** What a container declares it listens on (TCP and UDP; SCTP is not modelled). */
function addContainerPorts(ns: NsSockets, pod: Pod): void {
  for (const c of pod.containers)
    for (const p of c.ports) {
      if (p.protocol === "UDP") ns.add(ns.udp, p.containerPort, null, true);
      else if (p.protocol === "TCP") ns.add(ns.tcp, p.containerPort, null, silentApp(c.name));
    }
}

function addNodeListeners(ns: NsSockets, node: NodeState, nowUs: number): void {
  const layout = node.kubeProxy.layout;
  const apps = new Map<number, TcpApp>();
  for (const hc of node.healthChecks) {
    const svc = { namespace: hc.namespace, name: hc.name, localEndpoints: hc.localEndpoints };
    apps.set(
      hc.port,
      serviceHealthApp(() => svc, layout),
    );
  }
  apps.set(
    node.kubeProxy.healthzPort,
    proxyHealthzApp(
      () => ({ lastUpdatedUs: nowUs, startedUs: nowUs, healthTimeoutUs: 120_000_000, nodeEligible: true }),
      layout,
    ),
  );
  for (const l of node.listeners) {
    const addr = l.address === "0.0.0.0" || l.address === "::" ? null : parseIpv4(l.address);
    if (addr === null && l.address !== "0.0.0.0" && l.address !== "::") continue; // an IPv6 address
    if (l.proto === "udp" || l.proto === "udp6") ns.add(ns.udp, l.port, addr, true);
    else ns.add(ns.tcp, l.port, addr, apps.get(l.port) ?? silentApp(l.program));
  }
  // kube-proxy's servers listen whether or not the twin's netstat lists them.
  for (const [port, app] of apps) if (!ns.tcp.has(port)) ns.add(ns.tcp, port, null, app);
}

/** A listener whose process is not modelled: it accepts, reads, and never answers. */
function silentApp(name: string): TcpApp {
  return { name, keepAliveTimeoutUs: null, respond: () => null };
}
