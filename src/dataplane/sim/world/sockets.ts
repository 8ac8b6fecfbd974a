import { parseIpv4 } from "../../../core/ip.ts";
import type { Twin } from "../../../model/twin.ts";
import type { TcpApp } from "../endpoints/app.ts";
import { proxyHealthzApp, serviceHealthApp } from "../endpoints/apps/kube-proxy-health.ts";
import { nginxApp } from "../endpoints/apps/nginx.ts";
import { whereamiApp } from "../endpoints/apps/whereami.ts";

/**
 * The twin's listening TCP sockets and the process behind each: the pods' apps (PodApp) and, on
 * every node, kube-proxy's health servers (node.healthChecks, kube-proxy.md §6) and its healthz.
 * Keyed by `ip:port`; node sockets bound to 0.0.0.0 are listed under each of the node's addresses.
 */

/** Ubuntu 16.04's Azure kernel on the seed's node (its `uname -a`), and a current AKS Ubuntu 22.04 one. */
const KERNEL_2019 = { release: "4.15.0-1036-azure", version: "#38~16.04.1-Ubuntu SMP" };
const KERNEL_TODAY = { release: "5.15.0-1079-azure", version: "#88-Ubuntu SMP" };

export function twinSockets(twin: Twin, startUs: number): Map<string, TcpApp> {
  const out = new Map<string, TcpApp>();
  const era2019 = twin.k8s.version.startsWith("1.11");
  const kernel = era2019 ? KERNEL_2019 : KERNEL_TODAY;
  // What `curl ifconfig.co` in a pod returns: the egress public IP, the cluster LB's frontend.
  const publicIp = twin.azure.loadBalancers[0]?.frontendIpConfigurations[0]?.ipAddress ?? "";
  for (const pod of twin.k8s.pods) {
    if (pod.hostNetwork || pod.app.kind === "none" || pod.app.kind === "dns") continue;
    const ip = parseIpv4(pod.podIP);
    if (ip === null) continue;
    const app =
      pod.app.kind === "whereami"
        ? whereamiApp({
            name: pod.meta.name,
            ip,
            kernelRelease: kernel.release,
            kernelVersion: kernel.version,
            publicIp,
          })
        : nginxApp(); // a generic HTTP server stands in for the add-ons' own (heapster, dashboard...)
    out.set(`${ip}:${pod.app.port}`, app);
  }
  for (const node of twin.nodes) {
    const layout = node.kubeProxy.layout;
    const addrs: number[] = [0x7f000001];
    for (const i of node.netns[0]?.interfaces ?? [])
      for (const a of i.addresses) {
        const ip = a.family === 4 ? parseIpv4(a.address) : null;
        if (ip !== null && !addrs.includes(ip)) addrs.push(ip);
      }
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
        () => ({
          lastUpdatedUs: startUs,
          startedUs: startUs,
          healthTimeoutUs: 120_000_000,
          nodeEligible: true,
        }),
        layout,
      ),
    );
    for (const [port, app] of apps) for (const ip of addrs) out.set(`${ip}:${port}`, app);
  }
  return out;
}
