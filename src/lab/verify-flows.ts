import { parseIpv4 } from "../core/ip.ts";
import type { Place } from "../dataplane/sim/world/types.ts";
import type { Twin } from "../model/twin.ts";
import type { LabPlan } from "./plan.ts";

/**
 * What `lab verify` sends: the targets a user of the cluster reaches (each LoadBalancer frontend from
 * every outside host, each service's ClusterIP from a pod that backs it (hairpin) and from one that
 * does not, from a node, a NodePort from a VNet host, a pod IP directly from a VNet host), and the
 * flows spread over them, each with its own client port so both worlds can follow it. Pure.
 *
 * Only TCP to services of user namespaces whose endpoints are pods: kube-system's pods run no lab
 * server (a DNS pod's TCP 53 would only reset), the lab's pods answer HTTP alone, and
 * default/kubernetes leads to the API server, which neither world has.
 */

export type TargetKind = "frontend" | "cluster-ip" | "hairpin" | "node-port" | "pod-ip";

export interface VerifyTarget {
  /** Short label for the table: `laptop -> 51.144.176.251:80 (default/whereami LB)`. */
  readonly label: string;
  readonly kind: TargetKind;
  /** Where the client runs in the twin, and its address. */
  readonly from: Place;
  readonly fromIp: number;
  readonly fromText: string;
  /** The lab namespace the client's curl runs in. */
  readonly ns: string;
  readonly to: { readonly ip: number; readonly port: number };
  readonly toText: string;
  /** `namespace/name` of the service reached, null for a pod IP. */
  readonly service: string | null;
  /** The LB frontend's VIP when the flow goes through the load balancer (the lab's hash picks a node). */
  readonly vip: string | null;
}

export interface VerifyFlow {
  /** 1-based. */
  readonly n: number;
  readonly target: number;
  /** The client's source port (curl --local-port): unique per flow, so both tuples are the flow's. */
  readonly sport: number;
}

const SYSTEM_NAMESPACES = new Set(["kube-system", "kube-public", "kube-node-lease"]);

/** Every target of the twin, in a stable order (frontends, cluster IPs, node ports, pod IPs). */
export function verifyTargets(twin: Twin, plan: LabPlan): VerifyTarget[] {
  const nsOf = (twinName: string): string | null =>
    plan.namespaces.find((n) => n.twinName === twinName)?.name ?? null;
  const served = new Set(plan.servers.map((s) => s.pod));
  const targets: VerifyTarget[] = [];
  const add = (t: Omit<VerifyTarget, "label">, what: string) =>
    targets.push({ ...t, label: `${t.fromText} -> ${t.toText} (${what})` });
  const dest = (ip: string, port: number) => ({
    to: { ip: parseIpv4(ip) as number, port },
    toText: `${ip}:${port}`,
  });
  const pods = twin.k8s.pods.filter(
    (p) =>
      !SYSTEM_NAMESPACES.has(p.meta.namespace) &&
      !p.hostNetwork &&
      served.has(`${p.meta.namespace}/${p.meta.name}`),
  );
  const podPlace = (p: (typeof pods)[number]) => ({
    place: { kind: "pod", node: p.nodeName, pod: `${p.meta.namespace}/${p.meta.name}` } as Place,
    ip: parseIpv4(p.podIP) as number,
    ns: nsOf(`${p.meta.namespace}/${p.meta.name}`),
    text: p.meta.name,
  });
  const endpointsOf = (ns: string, name: string) =>
    twin.k8s.endpoints.find((e) => e.meta.namespace === ns && e.meta.name === name);
  // default/kubernetes's endpoint is the API server, outside the twin (an address without a pod).
  const outside = (ns: string, name: string) =>
    (endpointsOf(ns, name)?.subsets ?? []).some((ss) => ss.addresses.some((a) => a.targetRef === null));
  const services = twin.k8s.services.filter(
    (s) =>
      !SYSTEM_NAMESPACES.has(s.meta.namespace) &&
      s.clusterIP !== "None" &&
      s.clusterIP !== "" &&
      !outside(s.meta.namespace, s.meta.name),
  );

  for (const s of services) {
    if (s.type !== "LoadBalancer") continue;
    const id = `${s.meta.namespace}/${s.meta.name}`;
    for (const vip of s.loadBalancerIngress)
      for (const port of s.ports.filter((p) => p.protocol === "TCP"))
        for (const h of twin.hosts) {
          const ns = nsOf(h.name);
          const ip = parseIpv4(vip);
          if (!ns || ip === null) continue;
          add(
            {
              kind: "frontend",
              from: { kind: "host", name: h.name },
              fromIp: parseIpv4(h.ip) as number,
              fromText: h.name,
              ns,
              to: { ip, port: port.port },
              toText: `${vip}:${port.port}`,
              service: id,
              vip,
            },
            `${id} LB, externalTrafficPolicy ${s.externalTrafficPolicy}`,
          );
        }
  }
  for (const s of services) {
    const id = `${s.meta.namespace}/${s.meta.name}`;
    const ip = parseIpv4(s.clusterIP);
    if (ip === null) continue;
    const ep = endpointsOf(s.meta.namespace, s.meta.name);
    const backing = new Set(
      (ep?.subsets ?? []).flatMap((ss) =>
        ss.addresses.flatMap((a) => (a.targetRef ? [`${a.targetRef.namespace}/${a.targetRef.name}`] : [])),
      ),
    );
    for (const port of s.ports.filter((p) => p.protocol === "TCP")) {
      const own = pods.find((p) => backing.has(`${p.meta.namespace}/${p.meta.name}`));
      const other = pods.find((p) => !backing.has(`${p.meta.namespace}/${p.meta.name}`));
      for (const [p, kind] of [
        [own, "hairpin"],
        [other, "cluster-ip"],
      ] as const) {
        if (!p) continue;
        const c = podPlace(p);
        if (!c.ns) continue;
        add(
          {
            kind,
            from: c.place,
            fromIp: c.ip,
            fromText: c.text,
            ns: c.ns,
            to: { ip, port: port.port },
            toText: `${s.clusterIP}:${port.port}`,
            service: id,
            vip: null,
          },
          kind === "hairpin" ? `${id}, a pod of its own service` : `${id} ClusterIP`,
        );
      }
      const node = twin.nodes[0];
      const nodeNs = node ? nsOf(node.name) : null;
      if (node && nodeNs)
        add(
          {
            kind: "cluster-ip",
            from: { kind: "node", node: node.name },
            fromIp: parseIpv4(node.ip) as number,
            fromText: node.name,
            ns: nodeNs,
            to: { ip, port: port.port },
            toText: `${s.clusterIP}:${port.port}`,
            service: id,
            vip: null,
          },
          `${id} ClusterIP from the node`,
        );
    }
  }
  const vm = twin.hosts.find((h) => h.kind === "vnet");
  const vmNs = vm ? nsOf(vm.name) : null;
  if (vm && vmNs) {
    const vmClient = {
      from: { kind: "host", name: vm.name } as Place,
      fromIp: parseIpv4(vm.ip) as number,
      fromText: vm.name,
      ns: vmNs,
    };
    for (const s of services) {
      const id = `${s.meta.namespace}/${s.meta.name}`;
      for (const port of s.ports.filter((p) => p.protocol === "TCP" && p.nodePort > 0))
        for (const node of twin.nodes)
          add(
            { kind: "node-port", ...vmClient, ...dest(node.ip, port.nodePort), service: id, vip: null },
            `${id} NodePort on ${node.name}`,
          );
    }
    for (const p of pods) {
      const server = plan.servers.find((x) => x.pod === `${p.meta.namespace}/${p.meta.name}`);
      if (!server) continue;
      add(
        { kind: "pod-ip", ...vmClient, ...dest(p.podIP, server.port), service: null, vip: null },
        `pod ${p.meta.name} directly`,
      );
    }
  }
  return targets;
}

/** The first client port; flows count up from a base the caller picks inside [FIRST, LAST]. */
export const SPORT_FIRST = 20000;
export const SPORT_LAST = 29999;

/**
 * `count` flows dealt round-robin over the targets (each gets at least one when count allows),
 * client ports counting up from `base`.
 */
export function verifyFlows(targets: readonly VerifyTarget[], count: number, base: number): VerifyFlow[] {
  if (targets.length === 0) return [];
  if (base < SPORT_FIRST || base + count - 1 > SPORT_LAST)
    throw new RangeError(`client ports ${base}..${base + count - 1} leave ${SPORT_FIRST}..${SPORT_LAST}`);
  return Array.from({ length: count }, (_, i) => ({ n: i + 1, target: i % targets.length, sport: base + i }));
}
