import type { Frame } from "../../../model/frame.ts";
import type { Packet } from "../../../model/packet.ts";
import type { RouteDecision } from "../netfilter/host.ts";
import { bridgeDecide } from "./bridge.ts";
import { fabricOut } from "./fabric-hops.ts";
import { forwardOut, innerOf, natted, stackIn } from "./node-hops.ts";
import { podIn } from "./pod-hops.ts";
import type { Place } from "./types.ts";
import { AZURE_SDN_MAC, exhausted, hop, netfilterHop, type Walk, type WorldCore } from "./walk.ts";

/** A node's layer 2 in a walk: the bridge, the ports (NIC and veths), neighbour resolution. */

export function bridgeIn(
  x: WorldCore,
  w: Walk,
  node: string,
  bridgeName: string,
  port: string,
  frame: Frame,
): void {
  if (exhausted(w, frame)) return;
  const s = x.stack(node);
  const at: Place = { kind: "node", node };
  const br = s.node.bridges.find((b) => b.name === bridgeName);
  const dev = s.iface("host", bridgeName);
  if (!br || !dev) {
    hop(
      w,
      { where: at, iface: port, direction: "in", before: frame, after: frame, verdict: "dropped" },
      `bridge ${bridgeName} not found`,
    );
    return;
  }
  const d = bridgeDecide(br, port, frame.dstMac, dev.mac);
  if (d.kind === "local") {
    // Up to the host's stack on the bridge device (tcpdump -i azure0 sees it), physdev-in the port.
    x.record(at, bridgeName, frame);
    hop(
      w,
      { where: at, iface: bridgeName, direction: "in", before: frame, after: frame, verdict: "received" },
      `${bridgeName}: ${frame.dstMac} is the bridge's own: up to the host`,
    );
    stackIn(x, w, node, bridgeName, frame, port);
    return;
  }
  if (d.kind !== "forward") {
    const why =
      d.kind === "flood"
        ? "unknown destination MAC (flooding is not modelled)"
        : "destination MAC is behind the port it came from";
    hop(
      w,
      {
        where: at,
        iface: bridgeName,
        direction: "within",
        before: frame,
        after: frame,
        verdict: "dropped",
      },
      why,
    );
    return;
  }
  // br_netfilter (bridge-nf-call-iptables=1, which kube-proxy needs): bridged IPv4 frames walk
  // PREROUTING, FORWARD and POSTROUTING with in = out = the bridge and physdev the ports. A DNAT
  // makes br_nf_pre_routing_finish route the new destination (host.ts asks nodeRouter): back out of
  // this bridge, the frame is bridged again to the new next hop's MAC
  // (br_nf_pre_routing_finish_bridge); any other route takes the routed path.
  const tr = s.traverse(
    {
      packet: frame.packet,
      inIface: bridgeName,
      outIface: bridgeName,
      physIn: port,
      physOut: d.port,
      bridged: true,
      ...innerOf(frame),
    },
    Math.floor(frame.time / 1000),
    nodeRouter(x, node),
  );
  const after = natted(frame, tr);
  if (tr.disposition === "local") {
    // DNATed to the node itself: br_nf_pre_routing_finish hands it up to the host's stack.
    netfilterHop(w, at, bridgeName, frame, after, tr, "to a local socket", "delivered");
    w.delivered = { frame: after, at };
    return;
  }
  if (tr.verdict !== "ACCEPT") {
    // Still bridged unless a DNAT routed it elsewhere: then ip_forward has decremented the TTL.
    const dst = after.packet.dst as number;
    const stays = dst === frame.packet.dst || s.host.route(dst)?.dev === bridgeName;
    forwardOut(x, w, node, bridgeName, frame, after, tr, { physIn: port, bridged: stays });
    return;
  }
  if (tr.outIface !== bridgeName) {
    forwardOut(x, w, node, bridgeName, frame, after, tr, { physIn: port });
    return;
  }
  if (after.packet.dst === frame.packet.dst) {
    if (!netfilterHop(w, at, bridgeName, frame, after, tr, `bridged ${port} -> ${d.port}`, "bridged")) return;
    portOut(x, w, node, d.port, after);
    return;
  }
  const route = s.host.route(after.packet.dst as number);
  const mac = resolve(x, node, "host", bridgeName, route?.nextHop ?? (after.packet.dst as number));
  const out = { ...after, dstMac: mac };
  const target = tr.physOut;
  const hairpin = target === port ? " (hairpin: back out of the port it came in on)" : "";
  const note = `DNAT while bridged: re-bridged to ${mac}${target ? ` on ${target}` : ""}${hairpin}`;
  if (!netfilterHop(w, at, bridgeName, frame, out, tr, note, "bridged")) return;
  if (target === null) {
    hop(
      w,
      { where: at, iface: bridgeName, direction: "within", before: out, after: out, verdict: "dropped" },
      `${bridgeName}: no port for ${mac}`,
    );
    return;
  }
  portOut(x, w, node, target, out);
}

/**
 * The node's routing decision for host.ts (HostContext.route): the device of the route to the
 * packet's destination, and for a bridge the port its next hop's MAC is learned on.
 */
export function nodeRouter(x: WorldCore, node: string): (p: Packet) => RouteDecision | null {
  return (p) => {
    const s = x.stack(node);
    if (p.family !== 4) return null;
    const r = s.host.route(p.dst as number);
    if (!r) return null;
    const dev = s.iface("host", r.dev);
    const br = dev?.kind === "bridge" ? s.node.bridges.find((b) => b.name === r.dev) : undefined;
    if (!dev || !br) return { out: r.dev };
    const d = bridgeDecide(br, null, resolve(x, node, "host", r.dev, r.nextHop), dev.mac);
    return { out: r.dev, physOut: d.kind === "forward" ? d.port : null };
  };
}

/** Puts a routed frame on a host-namespace device: a bridge, a veth (transparent mode) or the NIC. */
export function egress(
  x: WorldCore,
  w: Walk,
  node: string,
  dev: string,
  nextHop: number,
  frame: Frame,
): void {
  const s = x.stack(node);
  const at: Place = { kind: "node", node };
  const iface = s.iface("host", dev);
  if (!iface) {
    hop(
      w,
      { where: at, iface: dev, direction: "out", before: frame, after: frame, verdict: "dropped" },
      `no device ${dev}`,
    );
    return;
  }
  const mac = resolve(x, node, "host", dev, nextHop);
  const f = { ...frame, srcMac: iface.mac, dstMac: mac };
  if (iface.kind === "bridge") {
    x.record(at, dev, f);
    const br = s.node.bridges.find((b) => b.name === dev);
    const d = br ? bridgeDecide(br, null, mac, iface.mac) : null;
    if (d?.kind !== "forward") {
      hop(
        w,
        { where: at, iface: dev, direction: "out", before: frame, after: f, verdict: "dropped" },
        `${dev}: no port for ${mac}`,
      );
      return;
    }
    portOut(x, w, node, d.port, f);
    return;
  }
  portOut(x, w, node, dev, f);
}

/** A frame leaving by a host-namespace port: the NIC to Azure, or a veth to its pod. */
export function portOut(x: WorldCore, w: Walk, node: string, port: string, out: Frame): void {
  // The skb mark is the host's own: it does not cross a wire or a veth into another namespace
  // (skb_scrub_packet, net/core/skbuff.c), so KUBE-MARK-MASQ on one node never masquerades on the next.
  const frame = out.packet.mark === 0 ? out : { ...out, packet: { ...out.packet, mark: 0 } };
  const s = x.stack(node);
  const at: Place = { kind: "node", node };
  const iface = s.iface("host", port);
  x.record(at, port, frame);
  hop(w, { where: at, iface: port, direction: "out", before: frame, after: frame, verdict: "sent" }, "");
  if (iface?.kind === "veth") {
    const peer = s.peerOf("host", port);
    if (!peer) {
      hop(
        w,
        { where: at, iface: port, direction: "out", before: frame, after: frame, verdict: "dropped" },
        "veth without a peer",
      );
      return;
    }
    podIn(x, w, node, peer.nsId, peer.iface.name, frame);
    return;
  }
  if (iface?.kind === "ether") {
    fabricOut(x, w, frame);
    return;
  }
  hop(
    w,
    { where: at, iface: port, direction: "out", before: frame, after: frame, verdict: "dropped" },
    `nothing beyond ${port}`,
  );
}

/**
 * The MAC of a next hop: the namespace's neighbour entry, else what ARP would find: an address of
 * this node's host or pods on the same segment, else Azure's SDN, which answers for every address.
 */
export function resolve(x: WorldCore, node: string, nsId: string, dev: string, ip: number): string {
  const s = x.stack(node);
  const l3 = nsId === "host" ? s.host : s.pods.get(nsId);
  const known = l3?.neighbour(ip, dev);
  if (known) return known;
  const o = x.owners.get(ip);
  if (o && (o.kind === "pod" || o.kind === "node") && o.node === node) {
    if (o.kind === "pod") return s.iface(o.pod, "eth0")?.mac ?? AZURE_SDN_MAC;
    const hostDev = s.host.route(ip)?.dev;
    const hostIface = hostDev ? s.iface("host", hostDev) : null;
    if (hostIface) return hostIface.mac;
  }
  return AZURE_SDN_MAC;
}
