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
  const first = Object.entries(selector)[0];
  if (!first) return [];
  const candidates = index.get(labelKey(namespace, first[0], first[1])) ?? [];
  return candidates.filter((p) => selectorMatches(selector, p.meta.labels));
}

export function buildEndpoints(
  services: readonly Service[],
  pods: readonly Pod[],
  apiServer: { readonly ip: string; readonly port: number },
): Endpoints[] {
  const index = podIndex(pods);
  return services
    .filter((s) => s.type !== "ExternalName")
    .map((s): Endpoints => {
      const meta = { ...s.meta, ownerReferences: [] };
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
      const ready = matching
        .filter((p) => p.ready && p.phase === "Running")
        .map(address)
        .sort(byIp);
      const notReady = matching
        .filter((p) => p.podIP !== "" && !(p.ready && p.phase === "Running"))
        .map(address)
        .sort(byIp);
      if (ready.length + notReady.length === 0) return { meta, subsets: [] };
      const sample = matching[0] as Pod;
      const ports = s.ports.flatMap((p): EndpointPort[] => {
        const port = resolvePort(p.targetPort, sample);
        return port === null ? [] : [{ name: p.name, port, protocol: p.protocol }];
      });
      return { meta, subsets: [{ addresses: ready, notReadyAddresses: notReady, ports }] };
    });
}
