import type { Deployment, Endpoints, K8sState, Node, Pod, Service } from "../../../model/k8s.ts";
import { age } from "./duration.ts";

/**
 * The columns `kubectl get` prints for each kind, per version. Sources: kubernetes
 * pkg/printers/internalversion/printers.go (1.11: AddHandlers, printService, printEndpoints,
 * printPod, printDeployment, printNode, formatEndpoints, makePortString,
 * loadBalancerStatusStringer) and its successors; READINESS GATES in -o wide from PR #70775 (1.13);
 * the Deployment READY column replaced DESIRED/CURRENT with PR #70466 (1.13).
 */

export type Kind = "service" | "endpoints" | "pod" | "deployment" | "node";

export interface Table {
  readonly headers: readonly string[];
  readonly rows: readonly (readonly string[])[];
}

export interface Context {
  readonly minor: number;
  readonly now: number;
  readonly wide: boolean;
}

/** `k=v,k2=v2` sorted by key, as labels.FormatLabels prints a selector; `<none>` when empty. */
function formatLabels(labels: Readonly<Record<string, string>> | null): string {
  const keys = Object.keys(labels ?? {}).sort();
  return keys.length === 0 ? "<none>" : keys.map((k) => `${k}=${labels![k]}`).join(",");
}

/** `80:30064/TCP,443/TCP` (makePortString). */
function portString(svc: Service): string {
  if (svc.ports.length === 0) return "<none>";
  return svc.ports
    .map((p) => (p.nodePort > 0 ? `${p.port}:${p.nodePort}` : `${p.port}`) + `/${p.protocol}`)
    .join(",");
}

/** Load balancer ingress IPs, sorted and de-duplicated (a sets.String), cut to 16 characters unless wide. */
function loadBalancerIps(svc: Service, wide: boolean): string {
  const ips = [...new Set(svc.loadBalancerIngress)].sort().join(",");
  return !wide && ips.length > 16 ? ips.slice(0, 13) + "..." : ips;
}

function externalIp(svc: Service, wide: boolean): string {
  switch (svc.type) {
    case "ClusterIP":
    case "NodePort":
      return svc.externalIPs.length > 0 ? svc.externalIPs.join(",") : "<none>";
    case "LoadBalancer": {
      const lb = loadBalancerIps(svc, wide);
      if (svc.externalIPs.length > 0) return [...(lb ? lb.split(",") : []), ...svc.externalIPs].join(",");
      return lb || "<pending>";
    }
    case "ExternalName":
      return svc.externalName;
  }
}

/** `10.13.76.26:80,10.13.76.7:80`, at most 3 then ` + N more...` (formatEndpoints). */
export function formatEndpoints(ep: Endpoints): string {
  if (ep.subsets.length === 0) return "<none>";
  const max = 3;
  const list: string[] = [];
  let count = 0;
  const add = (text: string): void => {
    if (list.length < max) list.push(text);
    count++;
  };
  for (const ss of ep.subsets) {
    if (ss.ports.length === 0) for (const a of ss.addresses) add(a.ip);
    else
      for (const p of ss.ports)
        for (const a of ss.addresses) add(`${a.ip.includes(":") ? `[${a.ip}]` : a.ip}:${p.port}`);
  }
  const text = list.join(",");
  return count > max ? `${text} + ${count - max} more...` : text;
}

function roles(node: Node): string {
  const found = new Set<string>();
  for (const [k, v] of Object.entries(node.labels)) {
    if (k.startsWith("node-role.kubernetes.io/")) found.add(k.slice("node-role.kubernetes.io/".length));
    else if (k === "kubernetes.io/role" && v !== "") found.add(v);
  }
  return found.size === 0 ? "<none>" : [...found].sort().join(",");
}

/** Pods a Deployment owns: their names are `<deployment>-<pod-template-hash>-<suffix>`. */
export function deploymentPods(k8s: K8sState, d: Deployment): readonly Pod[] {
  const prefix = `${d.meta.name}-${d.podTemplateHash}-`;
  return k8s.pods.filter((p) => p.meta.namespace === d.meta.namespace && p.meta.name.startsWith(prefix));
}

export function headers(kind: Kind, c: Context): string[] {
  switch (kind) {
    case "service":
      return ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE", ...(c.wide ? ["SELECTOR"] : [])];
    case "endpoints":
      return ["NAME", "ENDPOINTS", "AGE"];
    case "pod": {
      const wide = [
        "IP",
        "NODE",
        ...(c.minor >= 11 ? ["NOMINATED NODE"] : []),
        ...(c.minor >= 13 ? ["READINESS GATES"] : []),
      ];
      return ["NAME", "READY", "STATUS", "RESTARTS", "AGE", ...(c.wide ? wide : [])];
    }
    case "deployment": {
      const base =
        c.minor >= 13
          ? ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
          : ["NAME", "DESIRED", "CURRENT", "UP-TO-DATE", "AVAILABLE", "AGE"];
      return [...base, ...(c.wide ? ["CONTAINERS", "IMAGES", "SELECTOR"] : [])];
    }
    case "node": {
      const wide = ["INTERNAL-IP", "EXTERNAL-IP", "OS-IMAGE", "KERNEL-VERSION", "CONTAINER-RUNTIME"];
      return ["NAME", "STATUS", "ROLES", "AGE", "VERSION", ...(c.wide ? wide : [])];
    }
  }
}

export function serviceRow(s: Service, c: Context): string[] {
  const row = [
    s.meta.name,
    s.type,
    s.clusterIP || "<none>",
    externalIp(s, c.wide),
    portString(s),
    age(c.minor, c.now - s.meta.createdAt),
  ];
  return c.wide ? [...row, formatLabels(s.selector)] : row;
}

export function endpointsRow(e: Endpoints, c: Context): string[] {
  return [e.meta.name, formatEndpoints(e), age(c.minor, c.now - e.meta.createdAt)];
}

export function podRow(p: Pod, c: Context): string[] {
  const ready = p.ready ? p.containers.length : 0;
  const row = [
    p.meta.name,
    `${ready}/${p.containers.length}`,
    p.phase,
    String(p.restarts),
    age(c.minor, c.now - p.meta.createdAt),
  ];
  if (!c.wide) return row;
  row.push(p.podIP || "<none>", p.nodeName || "<none>");
  if (c.minor >= 11) row.push("<none>");
  if (c.minor >= 13) row.push("<none>");
  return row;
}

export function deploymentRow(k8s: K8sState, d: Deployment, c: Context): string[] {
  const pods = deploymentPods(k8s, d);
  const ready = pods.filter((p) => p.ready).length;
  const n = String(pods.length);
  const a = age(c.minor, c.now - d.meta.createdAt);
  const row =
    c.minor >= 13
      ? [d.meta.name, `${ready}/${d.replicas}`, n, String(ready), a]
      : [d.meta.name, String(d.replicas), n, n, String(ready), a];
  if (!c.wide) return row;
  const containers = d.template.containers;
  return [
    ...row,
    containers.map((x) => x.name).join(","),
    containers.map((x) => x.image).join(","),
    formatLabels(d.selector),
  ];
}

export function nodeRow(n: Node, c: Context): string[] {
  const row = [n.name, "Ready", roles(n), age(c.minor, c.now - n.createdAt), n.kubeletVersion];
  // The twin does not model the OS image, kernel or runtime: kubectl prints `<unknown>` for empty ones.
  return c.wide ? [...row, n.internalIP, "<none>", "<unknown>", "<unknown>", "<unknown>"] : row;
}
