import { sortInPlace } from "../../core/sort.ts";
import type { EndpointAddress, EndpointPort, Endpoints, Pod, Service } from "../../model/k8s.ts";

/**
 * The endpoints controller: for each service with a selector, the ready pods whose labels match,
 * one subset with the service's ports resolved against the pods' container ports. Addresses are
 * sorted by their IP as a byte string (LessEndpointAddress in pkg/api/v1/endpoints/util.go), so
 * `10.13.76.26` comes before `10.13.76.7`, as the seed's `kubectl get ep` shows (line 94).
 * The `kubernetes` service has no selector: the API server writes its own address there.
 */

export function selectorMatches(
  selector: Readonly<Record<string, string>>,
  labels: Readonly<Record<string, string>>,
): boolean {
  const entries = Object.entries(selector);
  return entries.length > 0 && entries.every(([k, v]) => labels[k] === v);
}

function resolvePort(targetPort: number | string, pod: Pod): number | null {
  if (typeof targetPort === "number") return targetPort;
  for (const c of pod.containers) for (const p of c.ports) if (p.name === targetPort) return p.containerPort;
  return null;
}

function address(pod: Pod): EndpointAddress {
  return {
    ip: pod.podIP,
    nodeName: pod.nodeName,
    targetRef: { kind: "Pod", namespace: pod.meta.namespace, name: pod.meta.name, uid: pod.meta.uid },
  };
}

const NO_OWNERS: Endpoints["meta"]["ownerReferences"] = [];

const byIp = (a: EndpointAddress, b: EndpointAddress) => (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : 0);

/**
 * Pods by namespace and one `key=value` label, each list in the pods' order: a selector's pods are
 * among those of any one of its labels, so a service looks at a few pods instead of all of them.
 */
function podIndex(pods: readonly Pod[]): Map<string, Pod[]> {
  const index = new Map<string, Pod[]>();
  for (const p of pods) {
    for (const [k, v] of Object.entries(p.meta.labels)) {
      const key = labelKey(p.meta.namespace, k, v);
      const list = index.get(key);
      if (list) list.push(p);
      else index.set(key, [p]);
    }
  }
  return index;
}

const labelKey = (namespace: string, k: string, v: string) => `${namespace}\u0000${k}=${v}`;

/** The pods in `namespace` the selector matches, in the pods' order (none for an empty selector). */
function selected(
  index: ReadonlyMap<string, readonly Pod[]>,
  namespace: string,
  selector: Readonly<Record<string, string>>,
): Pod[] {
  const entries = Object.entries(selector);
  const first = entries[0];
  if (!first) return [];
  const candidates = index.get(labelKey(namespace, first[0], first[1])) ?? [];
  // selectorMatches, with the selector's entries taken once rather than per candidate.
  return candidates.filter((p) => {
    const labels = p.meta.labels;
    for (const [k, v] of entries) if (labels[k] !== v) return false;
    return true;
  });
}

export function buildEndpoints(
  services: readonly Service[],
  pods: readonly Pod[],
  apiServer: { readonly ip: string; readonly port: number },
): Endpoints[] {
  const index = podIndex(pods);
  // A pod behind several services is one address object, shared by their Endpoints (read-only).
  const addresses = new Map<Pod, EndpointAddress>();
  const addressOf = (pod: Pod): EndpointAddress => {
    let a = addresses.get(pod);
    if (a === undefined) {
      a = address(pod);
      addresses.set(pod, a);
    }
    return a;
  };
  return services
    .filter((s) => s.type !== "ExternalName")
    .map((s): Endpoints => {
      const meta = { ...s.meta, ownerReferences: NO_OWNERS };
      if (s.selector === null) {
        if (s.meta.namespace === "default" && s.meta.name === "kubernetes") {
          return {
            meta,
            subsets: [
              {
                addresses: [{ ip: apiServer.ip, nodeName: "", targetRef: null }],
                notReadyAddresses: [],
                ports: [{ name: "https", port: apiServer.port, protocol: "TCP" }],
              },
            ],
          };
        }
        return { meta, subsets: [] };
      }
      const matching = selected(index, s.meta.namespace, s.selector);
      const ready: EndpointAddress[] = [];
      const notReady: EndpointAddress[] = [];
      for (const p of matching) {
        if (p.ready && p.phase === "Running") ready.push(addressOf(p));
        else if (p.podIP !== "") notReady.push(addressOf(p));
      }
      sortInPlace(ready, byIp);
      sortInPlace(notReady, byIp);
      if (ready.length + notReady.length === 0) return { meta, subsets: [] };
      const sample = matching[0] as Pod;
      const ports = s.ports.flatMap((p): EndpointPort[] => {
        const port = resolvePort(p.targetPort, sample);
        return port === null ? [] : [{ name: p.name, port, protocol: p.protocol }];
      });
      return { meta, subsets: [{ addresses: ready, notReadyAddresses: notReady, ports }] };
    });
}
