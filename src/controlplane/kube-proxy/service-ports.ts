import { endpointChainName, portProtoHash } from "../../core/kube-hash.ts";
import { sortInPlace } from "../../core/sort.ts";
import type { Endpoints, Service, ServicePort } from "../../model/k8s.ts";
import type { Proto } from "./ir.ts";

/**
 * kube-proxy's view of the cluster: one entry per service port (its `ServicePortName`, chain
 * hash and endpoints), as `serviceMap`/`svcPortMap` and `endpointsMap` hold them.
 */

export type Layout = "1.11" | "current";

export interface EndpointInfo {
  readonly ip: string;
  readonly port: number;
  /** `IP:port`, as hashed into the KUBE-SEP name and printed in DNAT and comments. */
  readonly endpoint: string;
  /** The node the address is on ("" when none, as for the API server). */
  readonly nodeName: string;
  /** On this node (kube-proxy's `IsLocal`: the address's nodeName is this node). */
  readonly isLocal: boolean;
  readonly chain: string;
}

export interface ServicePortInfo {
  readonly service: Service;
  readonly port: ServicePort;
  /** `ServicePortName.String()`: `ns/name:port` in 1.11 (colon even when unnamed), `ns/name[:port]` from 1.19. */
  readonly name: string;
  readonly proto: Proto;
  readonly hash: string;
  readonly endpoints: readonly EndpointInfo[];
}

/**
 * The service port name kube-proxy prints and hashes. 1.11: `fmt.Sprintf("%s:%s", ns/name, port)`;
 * 1.19+ (`fmtPortName`, pkg/proxy/types.go): the `:port` only for named ports (docs/kube-proxy.md §2).
 * Our `1.11` layout covers 1.11 to 1.23, so the version decides the spelling.
 */
export function servicePortName(ns: string, name: string, port: string, colonAlways: boolean): string {
  return colonAlways || port !== "" ? `${ns}/${name}:${port}` : `${ns}/${name}`;
}

/** Versions before 1.19 spell an unnamed port `ns/name:`. */
export function colonAlways(kubernetesVersion: string): boolean {
  const m = /^v?(\d+)\.(\d+)/.exec(kubernetesVersion);
  return m ? Number(m[1]) === 1 && Number(m[2]) < 19 : false;
}

/** kube-proxy's ShouldSkipService: headless and ExternalName services get no rules. */
function skipped(s: Service): boolean {
  return s.type === "ExternalName" || s.clusterIP === "None" || s.clusterIP === "";
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const byEndpoint = (a: EndpointInfo, b: EndpointInfo): number => cmp(a.endpoint, b.endpoint);

export interface ServicePortOptions {
  readonly layout: Layout;
  readonly kubernetesVersion: string;
  /** The node whose view this is; null for a view with no local endpoints (see `onNode`). */
  readonly nodeName: string | null;
  /**
   * kube-proxy ranges over a Go map, so its service order is random per sync (docs/kube-proxy.md
   * §1.3). `sorted` (default): by namespace, name, port name, protocol. `as-given`: the input's order.
   */
  readonly serviceOrder?: "sorted" | "as-given";
}

export function servicePorts(
  services: readonly Service[],
  endpoints: readonly Endpoints[],
  o: ServicePortOptions,
): ServicePortInfo[] {
  const colon = colonAlways(o.kubernetesVersion);
  const byName = new Map(endpoints.map((e) => [`${e.meta.namespace}/${e.meta.name}`, e]));
  const out: ServicePortInfo[] = [];
  for (const service of services) {
    if (skipped(service)) continue;
    const ep = byName.get(`${service.meta.namespace}/${service.meta.name}`);
    for (const port of service.ports) {
      const name = servicePortName(service.meta.namespace, service.meta.name, port.name, colon);
      const proto = port.protocol.toLowerCase() as Proto;
      const list: EndpointInfo[] = [];
      for (const subset of ep?.subsets ?? []) {
        // Endpoints ports are matched by name (ServicePortName), and from 1.20 by protocol too.
        const epPort = subset.ports.find((p) => p.name === port.name && p.protocol === port.protocol);
        if (!epPort) continue;
        for (const a of subset.addresses) {
          const endpoint = `${a.ip}:${epPort.port}`;
          if (list.some((e) => e.endpoint === endpoint)) continue;
          list.push({
            ip: a.ip,
            port: epPort.port,
            endpoint,
            nodeName: a.nodeName,
            isLocal: a.nodeName === o.nodeName,
            chain: endpointChainName(name, proto, endpoint),
          });
        }
      }
      // 1.28's endpointslicecache sorts endpoints by the string "IP:port"; 1.11 keeps the
      // Endpoints object's order (the endpoints controller already sorts addresses by IP string).
      if (o.layout === "current") sortInPlace(list, byEndpoint);
      out.push({ service, port, name, proto, hash: portProtoHash(name, proto), endpoints: list });
    }
  }
  if (o.serviceOrder !== "as-given") return sortedByKey(out);
  return out;
}

/** By namespace, name, port name, protocol, port number (as 5-digit text: numeric order). */
function sortedByKey(ports: ServicePortInfo[]): ServicePortInfo[] {
  return ports.sort((a, b) => {
    const x = a.service.meta;
    const y = b.service.meta;
    return (
      cmp(x.namespace, y.namespace) ||
      cmp(x.name, y.name) ||
      cmp(a.port.name, b.port.name) ||
      cmp(a.port.protocol, b.port.protocol) ||
      a.port.port - b.port.port
    );
  });
}

/** A service port as one node sees it: the same endpoints, with `isLocal` set for that node. */
export function onNode(sp: ServicePortInfo, nodeName: string): ServicePortInfo {
  return { ...sp, endpoints: sp.endpoints.map((e) => ({ ...e, isLocal: e.nodeName === nodeName })) };
}

/** kube-proxy's precomputed probabilities: `%0.5f` in 1.11, `%0.10f` from 1.17 (PR kubernetes#83599). */
export function probabilityText(layout: Layout, kubernetesVersion: string, n: number): string {
  const m = /^v?(\d+)\.(\d+)/.exec(kubernetesVersion);
  const minor = m && Number(m[1]) === 1 ? Number(m[2]) : 99;
  const digits = layout === "1.11" && minor < 17 ? 5 : 10;
  return goFixed(1 / n, digits);
}

/**
 * Go's `%0.<digits>f` for a positive double: the exact binary value rounded half to even
 * (strconv's bigFtoa). JS toFixed rounds exact ties up instead (1/64 → 0.01563, Go 0.01562).
 */
export function goFixed(x: number, digits: number): string {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const hi = view.getUint32(0);
  const lo = view.getUint32(4);
  const biased = (hi >>> 20) & 0x7ff;
  let mant = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  if (biased !== 0) mant |= 1n << 52n;
  const exp = (biased === 0 ? 1 : biased) - 1075;
  let num = mant * 10n ** BigInt(digits);
  let den = 1n;
  if (exp >= 0) num <<= BigInt(exp);
  else den <<= BigInt(-exp);
  let q = num / den;
  const twice = (num % den) * 2n;
  if (twice > den || (twice === den && (q & 1n) === 1n)) q += 1n;
  const text = q.toString().padStart(digits + 1, "0");
  return digits === 0 ? text : `${text.slice(0, -digits)}.${text.slice(-digits)}`;
}
