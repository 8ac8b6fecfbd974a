import { uuidV4 } from "../../core/choose.ts";
import type { Streams } from "../../core/rng.ts";
import type { Service, ServicePort } from "../../model/k8s.ts";
import type { Pins } from "../../model/scenario.ts";
import { ClusterIpAllocator, NodePortAllocator } from "./allocate.ts";
import type { DesiredService } from "./desired.ts";

/**
 * The service registry's allocations: a cluster IP per service (pins and spec.clusterIP first,
 * then random free addresses), a node port per port of NodePort and LoadBalancer services, and a
 * health check node port for LoadBalancer services with externalTrafficPolicy Local
 * (pkg/registry/core/service/rest.go: allocated from the node port range). Ingress IPs come
 * from the cloud provider (cloud-lb) and are filled in by `withIngress`.
 */

export interface ServicesInput {
  readonly desired: readonly DesiredService[];
  readonly serviceCidr: string;
  readonly pins: Pins;
  /** Each service draws from its own stream (`Service/ns/name`): an applied one shifts no other. */
  readonly streams: Streams;
}

const key = (s: DesiredService) => `${s.namespace}/${s.name}`;

export function allocateServices(input: ServicesInput): Service[] {
  const { pins } = input;
  const ips = new ClusterIpAllocator(input.serviceCidr);
  const ports = new NodePortAllocator();
  const clusterIps = new Map<string, string>();
  // Fixed values first (pins, then what the manifests ask for), so random picks avoid them.
  for (const s of input.desired) {
    const fixed =
      pins.clusterIps?.[key(s)] ?? (s.clusterIP !== "" && s.clusterIP !== "None" ? s.clusterIP : null);
    if (fixed && s.type !== "ExternalName") clusterIps.set(key(s), ips.take(fixed, `service ${key(s)}`));
  }
  const nodePortOf = new Map<string, number>();
  const hcPortOf = new Map<string, number>();
  for (const s of input.desired) {
    for (const p of s.ports) {
      const fixed = pins.nodePorts?.[`${key(s)}:${p.port}`] ?? (p.nodePort || null);
      if (fixed) nodePortOf.set(`${key(s)}:${p.port}`, ports.take(fixed, `service ${key(s)} port ${p.port}`));
    }
    const hc = pins.healthCheckNodePorts?.[key(s)] ?? (s.healthCheckNodePort || null);
    if (hc && needsHealthCheck(s)) hcPortOf.set(key(s), ports.take(hc, `service ${key(s)} health check`));
  }
  return input.desired.map((s): Service => {
    const k = key(s);
    const rng = input.streams(`Service/${k}`);
    let clusterIP = clusterIps.get(k) ?? "";
    if (s.type === "ExternalName") clusterIP = "";
    else if (s.clusterIP === "None" && !clusterIP) clusterIP = "None";
    else if (!clusterIP) clusterIP = ips.next(k, rng);
    const external = s.type === "NodePort" || s.type === "LoadBalancer";
    const servicePorts = s.ports.map((p): ServicePort => {
      const nodePort = external ? (nodePortOf.get(`${k}:${p.port}`) ?? ports.next(rng)) : 0;
      return { name: p.name, protocol: p.protocol, port: p.port, targetPort: p.targetPort, nodePort };
    });
    const healthCheckNodePort = needsHealthCheck(s) ? (hcPortOf.get(k) ?? ports.next(rng)) : 0;
    return {
      meta: {
        name: s.name,
        namespace: s.namespace,
        uid: pins.uids?.[`Service/${k}`] ?? uuidV4(rng),
        labels: s.labels,
        annotations: s.annotations,
        createdAt: s.createdAt,
        ownerReferences: [],
      },
      type: s.type,
      clusterIP,
      ports: servicePorts,
      selector: s.selector,
      externalTrafficPolicy: s.externalTrafficPolicy,
      internalTrafficPolicy: s.internalTrafficPolicy,
      healthCheckNodePort,
      externalIPs: s.externalIPs,
      loadBalancerSourceRanges: s.loadBalancerSourceRanges,
      loadBalancerIngress: [],
      sessionAffinity: s.sessionAffinity,
      sessionAffinityTimeoutSeconds: s.sessionAffinityTimeoutSeconds,
      externalName: s.externalName,
    };
  });
}

function needsHealthCheck(s: DesiredService): boolean {
  return s.type === "LoadBalancer" && s.externalTrafficPolicy === "Local";
}

export function withIngress(services: readonly Service[], ingress: ReadonlyMap<string, string>): Service[] {
  return services.map((s) => {
    const ip = ingress.get(`${s.meta.namespace}/${s.meta.name}`);
    return ip ? { ...s, loadBalancerIngress: [ip] } : s;
  });
}
