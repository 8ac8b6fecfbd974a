import type {
  Container,
  Deployment,
  Endpoints,
  K8sState,
  Node,
  ObjectMeta,
  Pod,
  Service,
} from "../../../model/k8s.ts";
import type { Kind } from "./columns.ts";
import { deploymentPods } from "./columns.ts";

/**
 * The objects as the API server returns them for `kubectl get -o json|yaml`: the fields the twin
 * models, with the defaults the API server fills in (core/v1 and apps SetDefaults_*). Fields it
 * does not model (service-account volumes, conditions, container statuses) are left out rather
 * than invented. resourceVersion is a deterministic placeholder (position in the state).
 */

type Json = null | boolean | number | string | readonly Json[] | { readonly [k: string]: Json };

/** `2019-01-20T21:49:38Z` from twin seconds (taken as Unix seconds). */
export function rfc3339(seconds: number): string {
  return new Date(Math.trunc(seconds) * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
}

function nonEmpty<T extends object>(o: T): boolean {
  return Object.keys(o).length > 0;
}

function meta(m: ObjectMeta, selfLink: string | null, rv: number, namespaced: boolean): Json {
  return {
    ...(nonEmpty(m.annotations) ? { annotations: m.annotations } : {}),
    creationTimestamp: rfc3339(m.createdAt),
    ...(nonEmpty(m.labels) ? { labels: m.labels } : {}),
    name: m.name,
    ...(namespaced ? { namespace: m.namespace } : {}),
    ...(m.ownerReferences.length > 0
      ? {
          ownerReferences: m.ownerReferences.map((o) => ({
            apiVersion: o.kind === "ReplicaSet" ? "apps/v1" : "v1",
            blockOwnerDeletion: true,
            controller: true,
            kind: o.kind,
            name: o.name,
            uid: o.uid,
          })),
        }
      : {}),
    resourceVersion: String(rv),
    ...(selfLink !== null ? { selfLink } : {}),
    uid: m.uid,
  };
}

function container(c: Container): Json {
  return {
    image: c.image,
    imagePullPolicy: c.image.endsWith(":latest") || !c.image.includes(":") ? "Always" : "IfNotPresent",
    name: c.name,
    ...(c.ports.length > 0
      ? {
          ports: c.ports.map((p) => ({
            ...(p.name ? { name: p.name } : {}),
            containerPort: p.containerPort,
            protocol: p.protocol,
          })),
        }
      : {}),
    resources: {},
    terminationMessagePath: "/dev/termination-log",
    terminationMessagePolicy: "File",
  };
}

export interface ObjectContext {
  readonly minor: number;
  readonly k8s: K8sState;
}

function link(c: ObjectContext, path: string): string | null {
  return c.minor < 20 ? path : null;
}

function service(s: Service, c: ObjectContext, rv: number): Json {
  const m = s.meta;
  const lb = s.type === "LoadBalancer" || s.type === "NodePort";
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: meta(m, link(c, `/api/v1/namespaces/${m.namespace}/services/${m.name}`), rv, true),
    spec: {
      ...(s.type !== "ExternalName" ? { clusterIP: s.clusterIP } : {}),
      ...(s.externalIPs.length > 0 ? { externalIPs: s.externalIPs } : {}),
      ...(s.type === "ExternalName" ? { externalName: s.externalName } : {}),
      ...(lb ? { externalTrafficPolicy: s.externalTrafficPolicy } : {}),
      ...(s.healthCheckNodePort > 0 ? { healthCheckNodePort: s.healthCheckNodePort } : {}),
      ...(s.loadBalancerSourceRanges.length > 0
        ? { loadBalancerSourceRanges: s.loadBalancerSourceRanges }
        : {}),
      ports: s.ports.map((p) => ({
        ...(p.name ? { name: p.name } : {}),
        ...(p.nodePort > 0 ? { nodePort: p.nodePort } : {}),
        port: p.port,
        protocol: p.protocol,
        targetPort: p.targetPort,
      })),
      ...(s.selector !== null ? { selector: s.selector } : {}),
      sessionAffinity: s.sessionAffinity,
      ...(s.sessionAffinity === "ClientIP"
        ? { sessionAffinityConfig: { clientIP: { timeoutSeconds: s.sessionAffinityTimeoutSeconds } } }
        : {}),
      type: s.type,
    },
    status: {
      loadBalancer:
        s.loadBalancerIngress.length > 0 ? { ingress: s.loadBalancerIngress.map((ip) => ({ ip })) } : {},
    },
  };
}

function endpoints(e: Endpoints, c: ObjectContext, rv: number): Json {
  const m = e.meta;
  const address = (a: Endpoints["subsets"][number]["addresses"][number]): Json => ({
    ip: a.ip,
    ...(a.nodeName ? { nodeName: a.nodeName } : {}),
    ...(a.targetRef !== null
      ? {
          targetRef: {
            kind: a.targetRef.kind,
            name: a.targetRef.name,
            namespace: a.targetRef.namespace,
            uid: a.targetRef.uid,
          },
        }
      : {}),
  });
  return {
    apiVersion: "v1",
    kind: "Endpoints",
    metadata: meta(m, link(c, `/api/v1/namespaces/${m.namespace}/endpoints/${m.name}`), rv, true),
    subsets: e.subsets.map((ss) => ({
      ...(ss.addresses.length > 0 ? { addresses: ss.addresses.map(address) } : {}),
      ...(ss.notReadyAddresses.length > 0 ? { notReadyAddresses: ss.notReadyAddresses.map(address) } : {}),
      ports: ss.ports.map((p) => ({
        ...(p.name ? { name: p.name } : {}),
        port: p.port,
        protocol: p.protocol,
      })),
    })),
  };
}

function pod(p: Pod, c: ObjectContext, rv: number): Json {
  const m = p.meta;
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: meta(m, link(c, `/api/v1/namespaces/${m.namespace}/pods/${m.name}`), rv, true),
    spec: {
      containers: p.containers.map(container),
      dnsPolicy: "ClusterFirst",
      ...(p.hostNetwork ? { hostNetwork: true } : {}),
      nodeName: p.nodeName,
      restartPolicy: "Always",
      schedulerName: "default-scheduler",
      securityContext: {},
      terminationGracePeriodSeconds: 30,
    },
    status: {
      hostIP: p.hostIP,
      phase: p.phase,
      podIP: p.podIP,
      qosClass: "BestEffort",
      startTime: rfc3339(m.createdAt),
    },
  };
}

function deployment(d: Deployment, c: ObjectContext, rv: number): Json {
  const m = d.meta;
  // kubectl 1.11 reads deployments through extensions/v1beta1; apps/v1 from 1.16 (the old groups were removed).
  const group = c.minor < 16 ? "extensions/v1beta1" : "apps/v1";
  const pods = deploymentPods(c.k8s, d);
  const ready = pods.filter((p) => p.ready).length;
  return {
    apiVersion: group,
    kind: "Deployment",
    metadata: meta(m, link(c, `/apis/${group}/namespaces/${m.namespace}/deployments/${m.name}`), rv, true),
    spec: {
      progressDeadlineSeconds: 600,
      replicas: d.replicas,
      revisionHistoryLimit: c.minor < 16 ? 2 : 10,
      selector: { matchLabels: d.selector },
      template: {
        metadata: { creationTimestamp: null, labels: d.template.labels },
        spec: {
          containers: d.template.containers.map(container),
          dnsPolicy: "ClusterFirst",
          restartPolicy: "Always",
          schedulerName: "default-scheduler",
          securityContext: {},
          terminationGracePeriodSeconds: 30,
        },
      },
    },
    status: {
      availableReplicas: ready,
      readyReplicas: ready,
      replicas: pods.length,
      updatedReplicas: pods.length,
    },
  };
}

function node(n: Node, c: ObjectContext, rv: number): Json {
  const m: ObjectMeta = {
    name: n.name,
    namespace: "",
    uid: n.uid,
    labels: n.labels,
    annotations: {},
    createdAt: n.createdAt,
    ownerReferences: [],
  };
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: meta(m, link(c, `/api/v1/nodes/${n.name}`), rv, false),
    spec: {},
    status: {
      addresses: [
        { address: n.name, type: "Hostname" },
        { address: n.internalIP, type: "InternalIP" },
      ],
      nodeInfo: { kubeProxyVersion: n.kubeletVersion, kubeletVersion: n.kubeletVersion },
    },
  };
}

/** One object of `kind` at position `index` of its list in the state. */
export function apiObject(kind: Kind, item: unknown, index: number, c: ObjectContext): Json {
  const rv = 1000 + index;
  switch (kind) {
    case "service":
      return service(item as Service, c, rv);
    case "endpoints":
      return endpoints(item as Endpoints, c, rv);
    case "pod":
      return pod(item as Pod, c, rv);
    case "deployment":
      return deployment(item as Deployment, c, rv);
    case "node":
      return node(item as Node, c, rv);
  }
}

/** The List kubectl wraps several objects in. */
export function apiList(items: readonly Json[], c: ObjectContext): Json {
  return {
    apiVersion: "v1",
    items,
    kind: "List",
    metadata: { resourceVersion: "", ...(c.minor < 20 ? { selfLink: "" } : {}) },
  };
}

export type { Json };
