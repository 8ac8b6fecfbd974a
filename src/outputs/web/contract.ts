/**
 * The web view's contract: the JSON its API answers (server.ts, api.ts) and its page reads (ui/).
 * The walk itself is render/walk-json.ts's WalkReport, the same JSON `packetwalk walk -o json` prints.
 *
 * Box ids are the walk's place names, so a hop finds its box without a table: an outside host
 * `laptop`, the load balancer `azure-lb`, the VNet `vnet`, a node by name, a pod as `NODE/ns/name`;
 * an interface is `PLACE|IFACE` (`aks-nodepool1-31351229-0|azure0`, `NODE/ns/name|eth0`), and the
 * node's kube-proxy `NODE|kube-proxy`. A hop at `at` on `iface` lights `at|iface`, else `at`.
 */

/** What the page draws, read off the twin (topology.ts). Addresses are dotted quads. */
export interface TopologyView {
  readonly scenario: string;
  /** Outside hosts: the internet client(s) and jump VMs. */
  readonly hosts: readonly { readonly name: string; readonly kind: string; readonly ip: string }[];
  readonly loadBalancers: readonly LoadBalancerView[];
  readonly vnet: {
    readonly name: string;
    readonly cidr: string;
    readonly subnets: readonly { readonly name: string; readonly cidr: string }[];
  };
  readonly nodes: readonly NodeView[];
  readonly services: readonly ServiceView[];
}

export interface LoadBalancerView {
  readonly name: string;
  readonly sku: string;
  readonly frontends: readonly { readonly name: string; readonly ip: string }[];
  readonly rules: readonly {
    readonly name: string;
    readonly frontendIp: string;
    readonly protocol: string;
    readonly frontendPort: number;
    readonly backendPort: number;
    readonly floatingIp: boolean;
    readonly probe: string | null;
  }[];
  readonly probes: readonly {
    readonly name: string;
    readonly protocol: string;
    readonly port: number;
    readonly path: string | null;
    readonly intervalSeconds: number;
    readonly unhealthyThreshold: number;
  }[];
  /** Each backend (node) with each probe's state at the twin's now. */
  readonly backends: readonly {
    readonly node: string;
    readonly ip: string;
    readonly probes: readonly { readonly probe: string; readonly up: boolean }[];
  }[];
}

export interface NodeView {
  readonly name: string;
  readonly ip: string;
  /** The host namespace's interfaces of note: eth0, azure0, docker0 (the pods' veths are on the pods). */
  readonly interfaces: readonly InterfaceView[];
  /** kube-proxy's health check node ports (Local services), empty when none. */
  readonly healthCheckPorts: readonly number[];
  readonly pods: readonly PodView[];
}

export interface InterfaceView {
  readonly name: string;
  readonly mac: string;
  readonly ips: readonly string[];
  /** The bridge it is enslaved to (eth0 and the veths on azure0 in bridge mode). */
  readonly master: string | null;
}

export interface PodView {
  /** `NODE/namespace/name`: the walk's place name. */
  readonly id: string;
  readonly namespace: string;
  readonly name: string;
  readonly ip: string;
  /** The host end of the veth pair (`azv...`) and the pod's end (`eth0`). */
  readonly hostVeth: string;
  readonly podIface: string;
  readonly hostNetwork: boolean;
}

export interface ServiceView {
  readonly namespace: string;
  readonly name: string;
  readonly type: string;
  readonly clusterIp: string;
  readonly loadBalancerIps: readonly string[];
  readonly ports: readonly {
    readonly port: number;
    readonly nodePort: number | null;
    readonly protocol: string;
  }[];
  readonly externalTrafficPolicy: string;
  readonly healthCheckNodePort: number | null;
}

export type BoxKind =
  | "host"
  | "lb"
  | "vnet"
  | "subnet"
  | "node"
  | "iface"
  | "kube-proxy"
  | "pod"
  | "pod-iface";

/** A positioned rectangle, in the layout's units (CSS pixels at zoom 1). */
export interface LayoutBox {
  readonly id: string;
  readonly kind: BoxKind;
  readonly label: string;
  /** A second line: an address, a MAC, a probe state. */
  readonly sublabel: string | null;
  readonly x: number;
  readonly y: number;
  readonly w: number;
  readonly h: number;
  /** The box it is drawn inside (a node's interfaces, a subnet's nodes), or null. */
  readonly parent: string | null;
}

export type EdgeKind = "internet" | "lb-backend" | "wire" | "bridge-port" | "veth" | "vnet";

export interface LayoutEdge {
  readonly id: string;
  readonly kind: EdgeKind;
  readonly from: string;
  readonly to: string;
  /** A polyline from the `from` box's border to the `to` box's border. */
  readonly points: readonly { readonly x: number; readonly y: number }[];
}

export interface Layout {
  readonly width: number;
  readonly height: number;
  /** Smallest font size (px) the boxes' labels are drawn at when the layout is shown at zoom 1. */
  readonly fontSize: number;
  readonly boxes: readonly LayoutBox[];
  readonly edges: readonly LayoutEdge[];
}

/** GET /api/twin[?side=compare] */
export interface TwinResponse {
  readonly topology: TopologyView;
  readonly layout: Layout;
}

/** An API error: HTTP 4xx/5xx with this body. `line` when it points into what the user sent. */
export interface ApiError {
  readonly error: string;
  readonly diagnostics?: readonly {
    readonly message: string;
    readonly line: number | null;
    readonly column: number | null;
  }[];
}
