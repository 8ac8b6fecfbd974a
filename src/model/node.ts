import type { RulesetFile } from "./netfilter/ruleset.ts";

/**
 * A node's networking as Linux holds it: network namespaces (the host's and one per pod) with
 * their interfaces, addresses, routes and neighbours; bridges with their ports and forwarding
 * tables; the netfilter ruleset; and what runs there (containers, listening sockets, kube-proxy's
 * health check servers). What `ip`, `brctl`, `arp`, `iptables-save`, `docker`, `netstat` show.
 */

export interface InterfaceAddress {
  readonly family: 4 | 6;
  readonly address: string;
  readonly prefixLength: number;
  /** `brd` for IPv4 addresses that have one. */
  readonly broadcast: string | null;
  readonly scope: "global" | "link" | "host";
}

export interface NetInterface {
  readonly index: number;
  readonly name: string;
  readonly kind: "loopback" | "ether" | "bridge" | "veth";
  /** `aa:bb:cc:dd:ee:ff`, lower case. */
  readonly mac: string;
  readonly mtu: number;
  /** `noqueue`, `mq`, `pfifo_fast`. */
  readonly qdisc: string;
  /** As `ip link` prints them inside `<...>`, in its order: `BROADCAST,MULTICAST,UP,LOWER_UP`. */
  readonly flags: readonly string[];
  readonly operState: "UP" | "DOWN" | "UNKNOWN";
  /** The bridge this interface is a port of. */
  readonly master: string | null;
  /** A veth's other end: its index, and the peer namespace's id as seen from here (`link-netnsid`). */
  readonly peer: { readonly index: number; readonly netnsId: number } | null;
  readonly qlen: number;
  readonly addresses: readonly InterfaceAddress[];
}

export interface Route {
  /** `default` or a CIDR (`10.13.76.0/24`), or a host address for /32 routes as ip prints them. */
  readonly dst: string;
  readonly gateway: string | null;
  readonly dev: string;
  readonly proto: "kernel" | "boot" | "static" | "dhcp" | null;
  readonly scope: "link" | "host" | null;
  readonly src: string | null;
  readonly metric: number | null;
}

export interface Neighbour {
  readonly ip: string;
  readonly mac: string | null;
  readonly dev: string;
  readonly state: "PERMANENT" | "REACHABLE" | "STALE" | "DELAY" | "FAILED" | "NOARP";
}

export interface Netns {
  /** The host's namespace is `host`; a pod's is `namespace/name`. */
  readonly id: string;
  readonly interfaces: readonly NetInterface[];
  readonly routes: readonly Route[];
  readonly neighbours: readonly Neighbour[];
}

export interface FdbEntry {
  readonly portNo: number;
  readonly mac: string;
  readonly isLocal: boolean;
  /** Seconds since last seen (`brctl showmacs` ageing timer); 0 for local entries. */
  readonly ageing: number;
}

export interface Bridge {
  readonly name: string;
  /** `8000.000d3a28bd02`: priority and MAC, as brctl prints it. */
  readonly bridgeId: string;
  readonly stp: boolean;
  /** Ports in the order they were added (brctl show sorts by name itself). */
  readonly ports: readonly { readonly name: string; readonly portNo: number }[];
  readonly fdb: readonly FdbEntry[];
}

export interface DockerContainer {
  /** 64 hex characters (`docker ps` shows the first 12). */
  readonly id: string;
  /**
   * Config.Image: the reference the container was created from, as the kubelet gave it to docker
   * (controlplane/node/runtime.ts): the pause image's tag for a sandbox; for the others an image ID
   * (`sha256:…`, the image was already on the node) or a repo digest (`erjosito/whereami@sha256:…`,
   * it was pulled).
   */
  readonly configImage: string;
  /** The image's ID, `sha256:` and 64 hex digits (`docker inspect`'s `.Image`). */
  readonly imageId: string;
  readonly command: string;
  readonly createdAt: number;
  /** `k8s_<container>_<pod>_<namespace>_<uid>_<attempt>` or `k8s_POD_...` for sandboxes. */
  readonly name: string;
  readonly pid: number;
  /** The pod (`namespace/name`) it belongs to, and whether it is the pause sandbox. */
  readonly pod: string | null;
  readonly sandbox: boolean;
}

export interface Listener {
  readonly proto: "tcp" | "tcp6" | "udp" | "udp6";
  /** `0.0.0.0`, `::` or an address. */
  readonly address: string;
  readonly port: number;
  readonly pid: number;
  readonly program: string;
}

/** kube-proxy's HTTP server for one Local service's health check node port. */
export interface HealthCheckServer {
  readonly namespace: string;
  readonly name: string;
  readonly port: number;
  readonly localEndpoints: number;
}

export interface NodeState {
  readonly name: string;
  readonly ip: string;
  /** The host namespace first, then one per pod that has its own network. */
  readonly netns: readonly Netns[];
  readonly bridges: readonly Bridge[];
  /** What `iptables-save` prints on this node. */
  readonly ruleset: RulesetFile;
  /**
   * The iptables userland (`1.6.0` on the 1.11-era Ubuntu 16.04 AKS image, `1.8.x` on current ones):
   * it decides `iptables-save`'s header and a few `iptables -L` details. Absent: derived from
   * kubeProxy.layout.
   */
  readonly iptablesVersion?: string;
  readonly containers: readonly DockerContainer[];
  readonly listeners: readonly Listener[];
  readonly healthChecks: readonly HealthCheckServer[];
  readonly kubeProxy: {
    /** `--healthz-bind-address` port (10256). */
    readonly healthzPort: number;
    /** The rule layout kube-proxy writes: `1.11` (KUBE-XLB) or `current` (KUBE-EXT/KUBE-SVL). */
    readonly layout: "1.11" | "current";
    readonly pid: number;
  };
}
