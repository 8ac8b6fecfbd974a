import { hash } from "node:crypto";
import { intBelow, randomMac } from "../../core/choose.ts";
import type { Streams } from "../../core/rng.ts";
import type { Bridge, FdbEntry, Neighbour, NetInterface, Netns, Route } from "../../model/node.ts";
import type { CniMode, PodPin } from "../../model/scenario.ts";
import { broadcastOf, type Cidr4, cidr4, nth } from "../azure/addresses.ts";
import type { PodRuntime } from "../node/runtime.ts";

/**
 * What Azure CNI (azure-vnet) builds on a node (docs/azure.md §5, Azure/azure-container-networking
 * network/*_linux.go). Bridge mode (2019): the `azure0` bridge takes eth0 as a port and the node
 * IP moves to it; each pod gets a veth pair, host side `azv<11 hex>` on azure0 (port numbers in
 * creation order after eth0), pod side renamed eth0 with the pod IP and the subnet prefix, and a
 * PERMANENT ARP entry for the pod on the host. Transparent mode (today): no bridge, the node IP
 * stays on eth0, each pod has a /32 route to its veth and reaches the host through 169.254.1.1.
 * Interface indexes count up in creation order (a veth pair takes two; the pod's end is the lower),
 * as the seed's `eth0@if20` / `azva4124965a9b@if19` show.
 */

/** The MAC the Azure fabric answers ARP with (ACN virtualMacAddress). */
export const AZURE_VIRTUAL_MAC = "12:34:56:78:9a:bc";
/** Transparent mode's host veth MAC (ACN PR #1524) and the pods' gateway. */
const TRANSPARENT_VETH_MAC = "aa:aa:aa:aa:aa:aa";
const TRANSPARENT_GATEWAY = "169.254.1.1";

export interface NodeNetworkInput {
  readonly nodeIp: string;
  readonly nodeMac: string;
  readonly subnet: Cidr4;
  readonly mode: CniMode;
  /** docker0's gateway address and prefix (`172.17.0.1/16`), or null without docker. */
  readonly dockerBridge: string | null;
  readonly docker0Mac: string | null;
  /** Pods with their own network namespace, in creation order. */
  readonly pods: readonly PodRuntime[];
  readonly pins: ReadonlyMap<string, PodPin>;
  readonly nodeName: string;
  /** The node's own draws and each pod's (`Network/ns/name`) come from their own streams. */
  readonly streams: Streams;
}

export interface NodeNetwork {
  readonly netns: Netns[];
  readonly bridges: Bridge[];
  /** Pod key → its host veth name. */
  readonly vethOf: Map<string, string>;
}

const UP = ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"];
const BRIDGE_VETH_FLAGS = ["BROADCAST", "UP", "LOWER_UP"];

/** Transparent mode: every pod's routes and gateway neighbour (with the default veth MAC) are the same. */
const TRANSPARENT_POD_ROUTES: readonly Route[] = [
  {
    dst: "default",
    gateway: TRANSPARENT_GATEWAY,
    dev: "eth0",
    proto: null,
    scope: null,
    src: null,
    metric: null,
  },
  {
    dst: TRANSPARENT_GATEWAY,
    gateway: null,
    dev: "eth0",
    proto: null,
    scope: "link",
    src: null,
    metric: null,
  },
];
const TRANSPARENT_POD_NEIGHBOURS: readonly Neighbour[] = [
  { ip: TRANSPARENT_GATEWAY, mac: TRANSPARENT_VETH_MAC, dev: "eth0", state: "PERMANENT" },
];

function iface(partial: Partial<NetInterface> & Pick<NetInterface, "index" | "name" | "mac">): NetInterface {
  return {
    kind: "ether",
    mtu: 1500,
    qdisc: "noqueue",
    flags: UP,
    operState: "UP",
    master: null,
    peer: null,
    qlen: 1000,
    addresses: [],
    ...partial,
  };
}

/**
 * A veth end, as `iface` would make it (same fields in the same order), without the spread: a
 * node makes two per pod.
 */
function veth2(
  index: number,
  name: string,
  mac: string,
  flags: readonly string[],
  master: string | null,
  peer: NetInterface["peer"],
  addresses: NetInterface["addresses"],
): NetInterface {
  return {
    kind: "veth",
    mtu: 1500,
    qdisc: "noqueue",
    flags,
    operState: "UP",
    master,
    peer,
    qlen: 1000,
    addresses,
    index,
    name,
    mac,
  };
}

/** Every namespace's `lo` is the same: one shared object (the model is read-only). */
const LOOPBACK: NetInterface = loopback();

function loopback(): NetInterface {
  return iface({
    index: 1,
    name: "lo",
    kind: "loopback",
    mac: "00:00:00:00:00:00",
    mtu: 65536,
    flags: ["LOOPBACK", "UP", "LOWER_UP"],
    operState: "UNKNOWN",
    addresses: [{ family: 4, address: "127.0.0.1", prefixLength: 8, broadcast: null, scope: "host" }],
  });
}

/** `azv` + the first 11 hex digits of SHA-1 of the endpoint key (ACN generateVethName). */
export function vethName(key: string): string {
  return `azv${hash("sha1", key, "hex").slice(0, 11)}`;
}

export function buildNodeNetwork(input: NodeNetworkInput): NodeNetwork {
  const { subnet, mode } = input;
  const rng = input.streams(`Network/${input.nodeName}`);
  const bridgeMode = mode === "bridge";
  const gateway = nth(subnet, 1);
  const prefix = subnet.prefix;
  const hostIfs: NetInterface[] = [LOOPBACK];
  const nodeAddr = {
    family: 4 as const,
    address: input.nodeIp,
    prefixLength: prefix,
    broadcast: broadcastOf(subnet),
    scope: "global" as const,
  };
  hostIfs.push(
    iface({
      index: 2,
      name: "eth0",
      mac: input.nodeMac,
      qdisc: "mq",
      master: bridgeMode ? "azure0" : null,
      addresses: bridgeMode ? [] : [nodeAddr],
    }),
  );
  let next = 3;
  const routes: Route[] = [];
  const dev = bridgeMode ? "azure0" : "eth0";
  if (input.dockerBridge) {
    const [addr, len] = input.dockerBridge.split("/") as [string, string];
    const dockerNet = cidr4(input.dockerBridge);
    hostIfs.push(
      iface({
        index: next++,
        name: "docker0",
        kind: "bridge",
        mac: input.docker0Mac ?? `02:42:${randomMac(rng).slice(6)}`,
        flags: ["NO-CARRIER", "BROADCAST", "MULTICAST", "UP"],
        operState: "DOWN",
        addresses: [
          {
            family: 4,
            address: addr,
            prefixLength: Number(len),
            broadcast: broadcastOf(dockerNet),
            scope: "global",
          },
        ],
      }),
    );
    routes.push({
      dst: `${nth(dockerNet, 0)}/${len}`,
      gateway: null,
      dev: "docker0",
      proto: "kernel",
      scope: "link",
      src: addr,
      metric: null,
    });
  }
  if (bridgeMode) {
    hostIfs.push(
      iface({ index: next++, name: "azure0", kind: "bridge", mac: input.nodeMac, addresses: [nodeAddr] }),
    );
  }
  routes.unshift(
    { dst: "default", gateway, dev, proto: null, scope: null, src: null, metric: null },
    {
      dst: `${nth(subnet, 0)}/${prefix}`,
      gateway: null,
      dev,
      proto: "kernel",
      scope: "link",
      src: input.nodeIp,
      metric: null,
    },
  );
  const neighbours: Neighbour[] = [{ ip: gateway, mac: AZURE_VIRTUAL_MAC, dev, state: "REACHABLE" }];
  const podNetns: Netns[] = [];
  const ports: { name: string; portNo: number }[] = bridgeMode ? [{ name: "eth0", portNo: 1 }] : [];
  const fdb: FdbEntry[] = [];
  const localTwice = (portNo: number, mac: string) => {
    // brctl showmacs lists each port's own address twice (the kernel's per-VLAN local entries).
    fdb.push({ portNo, mac, isLocal: true, ageing: 0 }, { portNo, mac, isLocal: true, ageing: 0 });
  };
  if (bridgeMode) {
    localTwice(1, input.nodeMac);
    fdb.push({ portNo: 1, mac: AZURE_VIRTUAL_MAC, isLocal: false, ageing: intBelow(rng, 300) / 100 });
  }
  // What every pod's namespace has alike is built once and shared.
  const subnetDst = `${nth(subnet, 0)}/${prefix}`;
  const bridgePodDefault: Route = {
    dst: "default",
    gateway,
    dev: "eth0",
    proto: null,
    scope: null,
    src: null,
    metric: null,
  };
  const bridgePodNeighbours: readonly Neighbour[] = [
    { ip: gateway, mac: AZURE_VIRTUAL_MAC, dev: "eth0", state: "REACHABLE" },
  ];
  const podFlags = bridgeMode ? BRIDGE_VETH_FLAGS : UP;
  const vethOf = new Map<string, string>();
  const used = new Set(hostIfs.map((i) => i.index));
  input.pods.forEach((rt, n) => {
    const key = `${rt.pod.meta.namespace}/${rt.pod.meta.name}`;
    const pin = input.pins.get(key);
    let podIndex = pin?.ifindex ?? next;
    while (!pin?.ifindex && (used.has(podIndex) || used.has(podIndex + 1))) podIndex++;
    const hostIndex = pin?.vethIndex ?? podIndex + 1;
    used.add(podIndex);
    used.add(hostIndex);
    next = Math.max(next, podIndex + 1, hostIndex + 1);
    const veth =
      pin?.veth ??
      vethName(bridgeMode ? `azure${rt.sandbox.id}eth0` : `${rt.pod.meta.namespace}.${rt.pod.meta.name}`);
    vethOf.set(key, veth);
    const prng = input.streams(`Network/${key}`);
    const podMac = pin?.mac ?? randomMac(prng);
    const vethMac = pin?.vethMac ?? (bridgeMode ? randomMac(prng) : TRANSPARENT_VETH_MAC);
    hostIfs.push(
      veth2(
        hostIndex,
        veth,
        vethMac,
        podFlags,
        bridgeMode ? "azure0" : null,
        { index: podIndex, netnsId: n },
        [],
      ),
    );
    const podIp = rt.pod.podIP;
    podNetns.push({
      id: key,
      interfaces: [
        LOOPBACK,
        // Azure CNI assigns the pod address with the subnet's prefix and no broadcast (seed line 219).
        veth2(podIndex, "eth0", podMac, podFlags, null, { index: hostIndex, netnsId: 0 }, [
          { family: 4, address: podIp, prefixLength: prefix, broadcast: null, scope: "global" },
        ]),
      ],
      routes: bridgeMode
        ? [
            bridgePodDefault,
            {
              dst: subnetDst,
              gateway: null,
              dev: "eth0",
              proto: "kernel",
              scope: "link",
              src: podIp,
              metric: null,
            },
          ]
        : TRANSPARENT_POD_ROUTES,
      neighbours: bridgeMode
        ? bridgePodNeighbours
        : vethMac === TRANSPARENT_VETH_MAC
          ? TRANSPARENT_POD_NEIGHBOURS
          : [{ ip: TRANSPARENT_GATEWAY, mac: vethMac, dev: "eth0", state: "PERMANENT" }],
    });
    if (bridgeMode) {
      neighbours.push({ ip: podIp, mac: podMac, dev: "azure0", state: "PERMANENT" });
      const portNo = ports.length + 1;
      ports.push({ name: veth, portNo });
      localTwice(portNo, vethMac);
      fdb.push({ portNo, mac: podMac, isLocal: false, ageing: intBelow(prng, 300) / 100 });
    } else {
      routes.push({
        dst: podIp,
        gateway: null,
        dev: veth,
        proto: null,
        scope: "link",
        src: null,
        metric: null,
      });
    }
  });
  const bridges: Bridge[] = [];
  if (bridgeMode) {
    bridges.push({
      name: "azure0",
      bridgeId: `8000.${input.nodeMac.replaceAll(":", "")}`,
      stp: false,
      ports,
      fdb,
    });
  }
  const docker0 = hostIfs.find((i) => i.name === "docker0");
  if (docker0)
    bridges.push({
      name: "docker0",
      bridgeId: `8000.${docker0.mac.replaceAll(":", "")}`,
      stp: false,
      ports: [],
      fdb: [],
    });
  hostIfs.sort((a, b) => a.index - b.index);
  return { netns: [{ id: "host", interfaces: hostIfs, routes, neighbours }, ...podNetns], bridges, vethOf };
}
