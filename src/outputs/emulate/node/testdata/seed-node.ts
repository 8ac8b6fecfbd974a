import type { HealthCheckServer, Neighbour, NetInterface, Netns, NodeState } from "../../../../model/node.ts";
import type { RulesetFile } from "../../../../model/netfilter/ruleset.ts";
import type { Twin } from "../../../../model/twin.ts";

/**
 * The seed's node aks-nodepool1-31351229-0 built by hand from the blog's printed facts
 * (/work/shared/seeds/000_4a8e1a6d95c3de0a.txt): lo, eth0 (2, enslaved to azure0), docker0 (3),
 * azure0 (4, 10.13.76.4/24), eight pod veths with the names `brctl show` prints, the whereami pod
 * qfq2k (eth0 19 ↔ azva4124965a9b 20, bridge port 9) and its PERM ARP entry and FDB rows.
 * Values the seed does not print (other veths' MACs and indexes, system pod IPs, routes) are
 * placeholders, marked as such.
 */

const NODE_MAC = "00:0d:3a:28:bd:02";
const POD_MAC = "ee:af:f8:66:59:bd";
const VETH_MAC = "8a:4b:a8:d0:5c:24";

/** Host-side veths in the order the pods were created; the last is the seed's whereami qfq2k. */
const VETHS: readonly { name: string; pod: string; ip: string; mac: string; podMac: string }[] = [
  // Placeholders except the last: the seed prints only the names (brctl show) of the first seven.
  { name: "azv022045195f6", pod: "kube-system/kube-dns-v20-0", ip: "10.13.76.9", mac: "f2:00:00:00:00:01", podMac: "a2:00:00:00:00:01" },
  { name: "azv1a68ecb6fb1", pod: "kube-system/kube-dns-v20-1", ip: "10.13.76.10", mac: "f2:00:00:00:00:02", podMac: "a2:00:00:00:00:02" },
  { name: "azv3cd1b2db354", pod: "kube-system/heapster-0", ip: "10.13.76.11", mac: "f2:00:00:00:00:03", podMac: "a2:00:00:00:00:03" },
  { name: "azv4abdd7fa2da", pod: "kube-system/kubernetes-dashboard-0", ip: "10.13.76.12", mac: "f2:00:00:00:00:04", podMac: "a2:00:00:00:00:04" },
  { name: "azv686acbd5570", pod: "kube-system/metrics-server-0", ip: "10.13.76.13", mac: "f2:00:00:00:00:05", podMac: "a2:00:00:00:00:05" },
  { name: "azv8d9152d33d2", pod: "kube-system/tunnelfront-0", ip: "10.13.76.14", mac: "f2:00:00:00:00:06", podMac: "a2:00:00:00:00:06" },
  { name: "azvc03d8409c59", pod: "default/whereami-564765b89-j7bpw", ip: "10.13.76.7", mac: "f2:00:00:00:00:07", podMac: "a2:00:00:00:00:07" },
  { name: "azva4124965a9b", pod: "default/whereami-564765b89-qfq2k", ip: "10.13.76.26", mac: VETH_MAC, podMac: POD_MAC },
];

const lo: NetInterface = {
  index: 1,
  name: "lo",
  kind: "loopback",
  mac: "00:00:00:00:00:00",
  mtu: 65536,
  qdisc: "noqueue",
  flags: ["LOOPBACK", "UP", "LOWER_UP"],
  operState: "UNKNOWN",
  master: null,
  peer: null,
  qlen: 1000,
  addresses: [{ family: 4, address: "127.0.0.1", prefixLength: 8, broadcast: null, scope: "host" }],
};

const ether = (over: Partial<NetInterface> & Pick<NetInterface, "index" | "name" | "mac">): NetInterface => ({
  kind: "ether",
  mtu: 1500,
  qdisc: "noqueue",
  flags: ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"],
  operState: "UP",
  master: null,
  peer: null,
  qlen: 1000,
  addresses: [],
  ...over,
});

/** The host veth of pod i has ifindex 6 + 2i and its peer 5 + 2i (qfq2k: 20 and 19, as the seed prints). */
const hostIndex = (i: number): number => 6 + 2 * i;

const hostInterfaces: NetInterface[] = [
  lo,
  ether({ index: 2, name: "eth0", mac: NODE_MAC, qdisc: "mq", master: "azure0" }),
  ether({
    index: 3,
    name: "docker0",
    kind: "bridge",
    mac: "02:42:40:60:81:ac",
    flags: ["NO-CARRIER", "BROADCAST", "MULTICAST", "UP"],
    operState: "DOWN",
    qlen: 0,
    addresses: [{ family: 4, address: "172.17.0.1", prefixLength: 16, broadcast: "172.17.255.255", scope: "global" }],
  }),
  ether({
    index: 4,
    name: "azure0",
    kind: "bridge",
    mac: NODE_MAC,
    addresses: [{ family: 4, address: "10.13.76.4", prefixLength: 24, broadcast: "10.13.76.255", scope: "global" }],
  }),
  ...VETHS.map((v, i) =>
    ether({
      index: hostIndex(i),
      name: v.name,
      kind: "veth",
      mac: v.mac,
      flags: ["BROADCAST", "UP", "LOWER_UP"],
      master: "azure0",
      peer: { index: hostIndex(i) - 1, netnsId: i },
    }),
  ),
];

/** Azure CNI writes a permanent ARP entry for each pod on azure0 (the seed's `arp -a 10.13.76.26`). */
const neighbours: Neighbour[] = VETHS.map((v) => ({ ip: v.ip, mac: v.podMac, dev: "azure0", state: "PERMANENT" }));

const podNetns: Netns[] = VETHS.map((v, i) => ({
  id: v.pod,
  interfaces: [
    lo,
    ether({
      index: hostIndex(i) - 1,
      name: "eth0",
      kind: "veth",
      mac: v.podMac,
      flags: ["BROADCAST", "UP", "LOWER_UP"],
      peer: { index: hostIndex(i), netnsId: 0 },
      addresses: [{ family: 4, address: v.ip, prefixLength: 24, broadcast: null, scope: "global" }],
    }),
  ],
  routes: [
    { dst: "default", gateway: "10.13.76.1", dev: "eth0", proto: null, scope: null, src: null, metric: null },
    { dst: "10.13.76.0/24", gateway: null, dev: "eth0", proto: "kernel", scope: "link", src: v.ip, metric: null },
  ],
  neighbours: [],
}));

const hostNetns: Netns = {
  id: "host",
  interfaces: hostInterfaces,
  // Placeholder routes of an Azure Ubuntu 16.04 VM (DHCP default route, wireserver, IMDS, docker0).
  routes: [
    { dst: "default", gateway: "10.13.76.1", dev: "azure0", proto: "dhcp", scope: null, src: "10.13.76.4", metric: 100 },
    { dst: "10.13.76.0/24", gateway: null, dev: "azure0", proto: "kernel", scope: "link", src: "10.13.76.4", metric: null },
    { dst: "172.17.0.0/16", gateway: null, dev: "docker0", proto: "kernel", scope: "link", src: "172.17.0.1", metric: null },
  ],
  neighbours,
};

export type SeedPhase = "cluster" | "local";

/** The node in the seed's first half (externalTrafficPolicy Cluster) or second (Local, plus nginx). */
export function seedNode(ruleset: RulesetFile, phase: SeedPhase): NodeState {
  const healthChecks: HealthCheckServer[] =
    phase === "local"
      ? [
          { namespace: "default", name: "whereami", port: 32364, localEndpoints: 2 },
          { namespace: "default", name: "nginx", port: 31322, localEndpoints: 2 },
        ]
      : [];
  return {
    name: "aks-nodepool1-31351229-0",
    ip: "10.13.76.4",
    netns: [hostNetns, ...podNetns],
    bridges: [
      {
        name: "azure0",
        bridgeId: "8000.000d3a28bd02",
        stp: false,
        ports: [{ name: "eth0", portNo: 1 }, ...VETHS.map((v, i) => ({ name: v.name, portNo: i + 2 }))],
        fdb: [
          { portNo: 1, mac: NODE_MAC, isLocal: true, ageing: 0 },
          ...VETHS.flatMap((v, i) => [
            // Each local address is listed twice (VLAN 0 and the default VLAN 1), as the seed shows.
            { portNo: i + 2, mac: v.mac, isLocal: true, ageing: 0 },
            { portNo: i + 2, mac: v.mac, isLocal: true, ageing: 0 },
            { portNo: i + 2, mac: v.podMac, isLocal: false, ageing: i === VETHS.length - 1 ? 2.56 : 10 },
          ]),
        ],
      },
      { name: "docker0", bridgeId: "8000.0242406081ac", stp: false, ports: [], fdb: [] },
    ],
    ruleset,
    containers: [
      {
        // The seed prints the 12-character prefix; the rest is a placeholder.
        id: "cd299e883674" + "0".repeat(52),
        // Created from the digest a pull returned (seed line 205); the digest and ID are placeholders.
        configImage: `erjosito/whereami@sha256:${"1".repeat(64)}`,
        imageId: `sha256:${"2".repeat(64)}`,
        command: "/bin/sh -c '/usr/sbin/apache2ctl -D FOREGROUND'",
        createdAt: 1548196800,
        name: "k8s_whereami_whereami-564765b89-qfq2k_default_48a93ac3-1cfd-11e9-981c-7abfb60d882f_0",
        pid: 29634,
        pod: "default/whereami-564765b89-qfq2k",
        sandbox: false,
      },
    ],
    listeners: [],
    healthChecks,
    kubeProxy: { healthzPort: 10256, layout: "1.11", pid: 4372 },
  };
}

/** Tue Jan 22 23:40:00 2019 UTC, the date of the seed's example dumps. */
export const SEED_NOW = 1548200400;

/** A twin holding only this node: runOnNode reads nothing but `nodes` and `now`. */
export function seedTwin(node: NodeState): Twin {
  return { nodes: [node], now: SEED_NOW, hosts: [] } as unknown as Twin;
}
