import type { Container, ContainerPort, Protocol, ServiceType } from "../../model/k8s.ts";
import type { Manifest } from "../../model/scenario.ts";
import { appFor, type DesiredService, type DesiredServicePort, type DesiredWorkload } from "./desired.ts";

/**
 * Turns the user's manifests (already validated by inputs/scenario) into desired objects, applying
 * the API server's defaults: namespace `default`, protocol TCP, targetPort = port, type ClusterIP,
 * externalTrafficPolicy Cluster, a Deployment's selector = its template labels (apps/v1beta1
 * defaulting), replicas 1, sessionAffinity None with a 10800 s ClientIP timeout.
 */

type Obj = Readonly<Record<string, unknown>>;

function obj(v: unknown): Obj {
  return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Obj) : {};
}
function arr(v: unknown): readonly unknown[] {
  return Array.isArray(v) ? v : [];
}
function str(v: unknown, dflt = ""): string {
  return typeof v === "string" ? v : typeof v === "number" ? String(v) : dflt;
}
function num(v: unknown, dflt = 0): number {
  return typeof v === "number" ? v : typeof v === "string" && /^\d+$/.test(v) ? Number(v) : dflt;
}
function strMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(obj(v))) out[k] = str(x);
  return out;
}
function protocol(v: unknown): Protocol {
  return v === "UDP" || v === "SCTP" ? v : "TCP";
}

function containers(spec: Obj): Container[] {
  return arr(spec.containers).map((c): Container => {
    const o = obj(c);
    return {
      name: str(o.name),
      image: str(o.image),
      ports: arr(o.ports).map(
        (p): ContainerPort => ({
          name: str(obj(p).name),
          containerPort: num(obj(p).containerPort),
          protocol: protocol(obj(p).protocol),
        }),
      ),
    };
  });
}

export function desiredService(m: Obj, createdAt: number): DesiredService {
  const meta = obj(m.metadata);
  const spec = obj(m.spec);
  const type = (str(spec.type) || "ClusterIP") as ServiceType;
  const ports = arr(spec.ports).map((p): DesiredServicePort => {
    const o = obj(p);
    const port = num(o.port);
    return {
      name: str(o.name),
      protocol: protocol(o.protocol),
      port,
      targetPort:
        o.targetPort === undefined
          ? port
          : typeof o.targetPort === "number"
            ? o.targetPort
            : str(o.targetPort),
      nodePort: num(o.nodePort),
    };
  });
  const external = type === "NodePort" || type === "LoadBalancer";
  const affinity = obj(obj(spec.sessionAffinityConfig).clientIP);
  return {
    namespace: str(meta.namespace, "default") || "default",
    name: str(meta.name),
    labels: strMap(meta.labels),
    annotations: strMap(meta.annotations),
    type,
    clusterIP: str(spec.clusterIP),
    ports,
    selector: spec.selector === undefined ? null : strMap(spec.selector),
    externalTrafficPolicy: external && str(spec.externalTrafficPolicy) === "Local" ? "Local" : "Cluster",
    internalTrafficPolicy: str(spec.internalTrafficPolicy) === "Local" ? "Local" : "Cluster",
    healthCheckNodePort: num(spec.healthCheckNodePort),
    externalIPs: arr(spec.externalIPs).map((x) => str(x)),
    loadBalancerIP: str(spec.loadBalancerIP),
    loadBalancerSourceRanges: arr(spec.loadBalancerSourceRanges).map((x) => str(x).trim()),
    sessionAffinity: str(spec.sessionAffinity) === "ClientIP" ? "ClientIP" : "None",
    sessionAffinityTimeoutSeconds: num(affinity.timeoutSeconds, 10800),
    externalName: str(spec.externalName),
    createdAt,
  };
}

export function desiredWorkload(m: Obj, createdAt: number): DesiredWorkload {
  const kind = str(m.kind) as DesiredWorkload["kind"];
  const meta = obj(m.metadata);
  const spec = obj(m.spec);
  const podSpec = kind === "Pod" ? spec : obj(obj(spec.template).spec);
  const templateLabels =
    kind === "Pod" ? strMap(meta.labels) : strMap(obj(obj(spec.template).metadata).labels);
  const selectorLabels = obj(spec.selector).matchLabels;
  const cs = containers(podSpec);
  return {
    kind,
    apiVersion: str(m.apiVersion),
    namespace: str(meta.namespace, "default") || "default",
    name: str(meta.name),
    labels: strMap(meta.labels),
    replicas: kind === "Pod" ? 1 : num(spec.replicas, 1),
    selector: selectorLabels === undefined ? templateLabels : strMap(selectorLabels),
    templateLabels,
    containers: cs,
    hostNetwork: podSpec.hostNetwork === true,
    app: appFor(cs),
    createdAt,
  };
}

/** Splits the manifests into services and workloads; kinds were checked by the scenario parser. */
export function desiredFromManifests(
  manifests: readonly Manifest[],
  createdAt: number,
): { services: DesiredService[]; workloads: DesiredWorkload[] } {
  const services: DesiredService[] = [];
  const workloads: DesiredWorkload[] = [];
  for (const m of manifests) {
    const kind = str(m.object.kind);
    if (kind === "Service") services.push(desiredService(m.object, createdAt));
    else if (kind === "Deployment" || kind === "Pod" || kind === "DaemonSet")
      workloads.push(desiredWorkload(m.object, createdAt));
    else
      throw new Error(
        `${m.source.file}:${m.source.line}: kind "${kind}" is not supported by the control plane`,
      );
  }
  return { services, workloads };
}
