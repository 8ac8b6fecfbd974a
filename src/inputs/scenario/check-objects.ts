import type { Diagnostic } from "../../core/diagnostic.ts";
import { parseIpv4 } from "../../core/ip.ts";
import type { Scenario } from "../../model/scenario.ts";
import { contains, net4, type Report } from "./check-network.ts";
import type { DeploymentManifest, PodManifest, ServiceManifest } from "./manifest-schema.ts";
import type { LocatedManifest } from "./manifests.ts";
import type { PathSegment } from "./yaml-source.ts";

/**
 * The Kubernetes objects' semantic checks, as the API server and kube-proxy would see them:
 * duplicate objects, Deployment selectors that do not select their own template, Services that
 * select nothing, node ports out of range or taken twice, and pins that name objects that do not
 * exist. `later` manifests are applied after `manifests`, so they may refer to both.
 */

// kube-apiserver --service-node-port-range default (AKS does not change it).
const NODE_PORT_MIN = 30000;
const NODE_PORT_MAX = 32767;

type Labels = Readonly<Record<string, string>>;
/** Claims a node port for `what` ("nodePort of default/web"), reporting a clash at `path`. */
type TakePort = (port: number, what: string, m: LocatedManifest | null, path: readonly PathSegment[]) => void;
const selects = (selector: Labels, labels: Labels) =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);
const ns = (o: { metadata: { namespace?: string | undefined } }) => o.metadata.namespace ?? "default";
const keyOf = (o: { metadata: { name: string; namespace?: string | undefined } }) =>
  `${ns(o)}/${o.metadata.name}`;

function manifestError(
  m: LocatedManifest,
  path: readonly PathSegment[],
  code: string,
  why: string,
): Diagnostic {
  const full = [...m.root, ...path];
  const pos = m.where.at(full);
  return {
    code,
    severity: "error",
    message: `Cannot use ${m.root.length ? "scenario" : "manifest"} ${m.where.file} at line ${pos.line}: ${why}`,
    source: { file: m.where.file, ...pos },
  };
}

export function checkObjects(
  s: Scenario,
  located: readonly LocatedManifest[],
  report: Report,
  out: Diagnostic[],
): void {
  const seen = new Set<string>();
  const deployments = new Map<string, DeploymentManifest>();
  const templates: { ns: string; labels: Labels }[] = [];
  const services = new Map<string, ServiceManifest>();
  const nodePorts = new Map<number, string>();
  const takePort: TakePort = (port, what, m, path) => {
    const fail = (why: string) =>
      m
        ? out.push(manifestError(m, path, "scenario-node-port", why))
        : report(path, "scenario-node-port", why);
    const [kind, of] = what.split(" of ");
    if (port < NODE_PORT_MIN || port > NODE_PORT_MAX)
      fail(`${kind} ${port} of ${of} is outside the node port range ${NODE_PORT_MIN}-${NODE_PORT_MAX}`);
    else if (nodePorts.has(port)) fail(`${kind} ${port} of ${of} is already the ${nodePorts.get(port)}`);
    else nodePorts.set(port, what);
  };

  for (const m of located) {
    const obj = m.manifest.object as unknown as DeploymentManifest | ServiceManifest | PodManifest;
    const id = `${obj.kind} ${keyOf(obj)}`;
    if (seen.has(id)) {
      out.push(manifestError(m, ["metadata", "name"], "scenario-duplicate", `${id} is defined twice`));
      continue;
    }
    seen.add(id);
    if (obj.kind === "Deployment") {
      const labels = obj.spec.template.metadata.labels;
      const sel = obj.spec.selector?.matchLabels;
      // apps/v1 made spec.selector required; v1beta1/v1beta2 default it to the template's labels.
      if (!sel && obj.apiVersion === "apps/v1")
        out.push(
          manifestError(
            m,
            ["spec"],
            "scenario-selector",
            `Deployment ${keyOf(obj)}: apps/v1 needs spec.selector.matchLabels`,
          ),
        );
      else if (sel && (Object.keys(sel).length === 0 || !selects(sel, labels)))
        out.push(
          manifestError(
            m,
            ["spec", "selector"],
            "scenario-selector",
            `Deployment ${keyOf(obj)}: spec.selector does not match the template's labels (${fmt(labels)})`,
          ),
        );
      deployments.set(keyOf(obj), obj);
      templates.push({ ns: ns(obj), labels });
    } else if (obj.kind === "Pod") templates.push({ ns: ns(obj), labels: obj.metadata.labels ?? {} });
    else services.set(keyOf(obj), obj);
  }

  for (const m of located) {
    const svc = m.manifest.object as unknown as ServiceManifest;
    if (svc.kind !== "Service") continue;
    checkService(s, m, svc, templates, takePort, out);
  }
  checkPins(s, deployments, services, takePort, report);
}

function fmt(labels: Labels): string {
  return (
    Object.entries(labels)
      .map(([k, v]) => `${k}=${v}`)
      .join(",") || "none"
  );
}

function checkService(
  s: Scenario,
  m: LocatedManifest,
  svc: ServiceManifest,
  templates: readonly { ns: string; labels: Labels }[],
  takePort: TakePort,
  out: Diagnostic[],
): void {
  const key = keyOf(svc);
  const spec = svc.spec;
  const type = spec.type ?? "ClusterIP";
  const ports = spec.ports ?? [];
  const err = (path: readonly PathSegment[], code: string, why: string) =>
    out.push(manifestError(m, path, code, why));
  if (type !== "ExternalName" && ports.length === 0)
    err(["spec"], "scenario-service", `Service ${key} needs spec.ports`);
  if (ports.length > 1)
    ports.forEach((p, i) => {
      if (!p.name)
        err(
          ["spec", "ports", i],
          "scenario-service",
          `Service ${key}: every port needs a name when there are several`,
        );
    });
  ports.forEach((p, i) => {
    const proto = p.protocol ?? "TCP";
    if (ports.findIndex((q) => q.port === p.port && (q.protocol ?? "TCP") === proto) < i)
      err(
        ["spec", "ports", i, "port"],
        "scenario-duplicate",
        `Service ${key}: port ${p.port}/${proto} is listed twice`,
      );
    if (p.nodePort === undefined) return;
    if (type !== "NodePort" && type !== "LoadBalancer")
      err(
        ["spec", "ports", i, "nodePort"],
        "scenario-node-port",
        `Service ${key}: nodePort needs type NodePort or LoadBalancer, not ${type}`,
      );
    else takePort(p.nodePort, `nodePort of ${key}`, m, ["spec", "ports", i, "nodePort"]);
  });
  const local = type === "LoadBalancer" && spec.externalTrafficPolicy === "Local";
  if (spec.externalTrafficPolicy !== undefined && type !== "LoadBalancer" && type !== "NodePort")
    err(
      ["spec", "externalTrafficPolicy"],
      "scenario-service",
      `Service ${key}: externalTrafficPolicy needs type NodePort or LoadBalancer`,
    );
  if (spec.healthCheckNodePort !== undefined) {
    if (!local)
      err(
        ["spec", "healthCheckNodePort"],
        "scenario-node-port",
        `Service ${key}: healthCheckNodePort needs type LoadBalancer with externalTrafficPolicy Local`,
      );
    else
      takePort(spec.healthCheckNodePort, `healthCheckNodePort of ${key}`, m, ["spec", "healthCheckNodePort"]);
  }
  if (spec.clusterIP !== undefined && spec.clusterIP !== "None") {
    const svcNet = net4(s.cluster.serviceCidr)!;
    const ip = parseIpv4(spec.clusterIP);
    if (ip === null || !contains(svcNet, ip))
      err(
        ["spec", "clusterIP"],
        "scenario-pin-ip",
        `Service ${key}: clusterIP ${spec.clusterIP} is outside cluster.serviceCidr ${s.cluster.serviceCidr}`,
      );
  }
  const selector = spec.selector;
  if (
    selector &&
    Object.keys(selector).length > 0 &&
    !templates.some((t) => t.ns === ns(svc) && selects(selector, t.labels))
  )
    err(
      ["spec", "selector"],
      "scenario-selector",
      `Service ${key} selects ${fmt(selector)}, which no Deployment template or Pod in namespace ${ns(svc)} carries`,
    );
}

function checkPins(
  s: Scenario,
  deployments: ReadonlyMap<string, DeploymentManifest>,
  services: ReadonlyMap<string, ServiceManifest>,
  takePort: TakePort,
  report: Report,
): void {
  const p = s.pins;
  // System objects (kube-system/..., default/kubernetes) come from the control plane, not the manifests.
  const system = (key: string) => key.startsWith("kube-system/") || key === "default/kubernetes";
  const service = (key: string, path: readonly PathSegment[]) => {
    const svc = services.get(key);
    if (!svc && !system(key))
      report(
        path,
        "scenario-pin",
        `${key} is not a Service of the manifests (${[...services.keys()].join(", ") || "none"})`,
      );
    return svc;
  };
  const perOwner = new Map<string, number>();
  p.pods?.forEach((pod, i) => {
    if (system(pod.owner)) return;
    const d = deployments.get(pod.owner);
    const n = (perOwner.get(pod.owner) ?? 0) + 1;
    perOwner.set(pod.owner, n);
    if (!d)
      report(
        ["pins", "pods", i, "owner"],
        "scenario-pin",
        `pod pin owner ${pod.owner} is not a Deployment of the manifests`,
      );
    else if (n > (d.spec.replicas ?? 1))
      report(
        ["pins", "pods", i],
        "scenario-pin",
        `${n} pod pins for ${pod.owner}, which has ${d.spec.replicas ?? 1} replica(s)`,
      );
  });
  for (const [key, port] of Object.entries(p.nodePorts ?? {})) {
    const at = ["pins", "nodePorts", key];
    const [ref = "", portText = ""] = key.split(":");
    const svc = service(ref, at);
    if (svc && !(svc.spec.ports ?? []).some((sp) => sp.port === Number(portText)))
      report(at, "scenario-pin", `Service ${ref} has no port ${portText}`);
    else if (svc && svc.spec.type !== "NodePort" && svc.spec.type !== "LoadBalancer")
      report(
        at,
        "scenario-pin",
        `Service ${ref} is of type ${svc.spec.type ?? "ClusterIP"} and has no node port`,
      );
    else takePort(port, `pinned node port of ${key}`, null, at);
  }
  for (const [key, port] of Object.entries(p.healthCheckNodePorts ?? {})) {
    const at = ["pins", "healthCheckNodePorts", key];
    const svc = service(key, at);
    if (svc && !(svc.spec.type === "LoadBalancer" && svc.spec.externalTrafficPolicy === "Local"))
      report(
        at,
        "scenario-pin",
        `Service ${key} has no health check node port: it is not a LoadBalancer with externalTrafficPolicy Local`,
      );
    else takePort(port, `pinned healthCheckNodePort of ${key}`, null, at);
  }
  for (const key of Object.keys(p.publicIps ?? {})) {
    const at = ["pins", "publicIps", key];
    const svc = service(key, at);
    if (svc && svc.spec.type !== "LoadBalancer")
      report(at, "scenario-pin", `Service ${key} is not of type LoadBalancer`);
  }
  for (const key of Object.keys(p.clusterIps ?? {})) service(key, ["pins", "clusterIps", key]);
  for (const key of Object.keys(p.uids ?? {})) {
    const [kind = "", ...rest] = key.split("/");
    const ref = rest.join("/");
    if (system(ref)) continue;
    const known =
      kind === "Service" ? services.has(ref) : kind === "Deployment" ? deployments.has(ref) : false;
    if (!known)
      report(["pins", "uids", key], "scenario-pin", `${key} is not a Service or Deployment of the manifests`);
  }
}
