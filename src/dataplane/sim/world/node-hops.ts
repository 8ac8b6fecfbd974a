import { formatIpv4 } from "../../../core/ip.ts";
import type { Frame } from "../../../model/frame.ts";
import type { HostTraversal } from "../netfilter/host.ts";
import { bridgeIn, egress } from "./link-hops.ts";
import type { Place } from "./types.ts";
import { AZURE_SDN_MAC, hop, netfilterHop, type Walk, type WorldCore } from "./walk.ts";

/** A node's IP stack in a walk: in from its NIC, PREROUTING to INPUT or FORWARD, its own sockets' OUTPUT. */

export function nodeEth0In(x: WorldCore, w: Walk, node: string, frame: Frame): void {
  const s = x.stack(node);
  const eth0 = s.iface("host", "eth0");
  const f = { ...frame, srcMac: AZURE_SDN_MAC, dstMac: eth0?.mac ?? frame.dstMac };
  const at: Place = { kind: "node", node };
  x.record(at, "eth0", f);
  hop(w, { where: at, iface: "eth0", direction: "in", before: f, after: f, verdict: "received" }, "");
  if (eth0?.master) bridgeIn(x, w, node, eth0.master, "eth0", f);
  else stackIn(x, w, node, "eth0", f, null);
}

/** A frame for the host's IP stack: PREROUTING, routing, INPUT or FORWARD/POSTROUTING. */
export function stackIn(
  x: WorldCore,
  w: Walk,
  node: string,
  inIface: string,
  frame: Frame,
  physIn: string | null,
): void {
  const s = x.stack(node);
  const at: Place = { kind: "node", node };
  const ms = Math.floor(frame.time / 1000);
  // host.ts takes the out interface from its caller; the route is decided after PREROUTING's DNAT.
  // Known connections: the entry says where NAT sends them; new ones: the route of the destination.
  const target = s.natTarget(frame.packet, ms) ?? (frame.packet.dst as number);
  const guess = s.host.isLocal(target) ? null : s.host.route(target);
  const tr = s.traverse(
    { packet: frame.packet, inIface, outIface: guess?.dev ?? null, physIn, physOut: null },
    ms,
  );
  const after = { ...frame, packet: tr.packet };
  if (tr.disposition === "local") {
    netfilterHop(w, at, inIface, frame, after, tr, "to a local socket", "delivered");
    w.delivered = { frame: after, at };
    return;
  }
  forwardOut(x, w, node, inIface, frame, after, tr);
}

/** After a forward or output walk: route the (NATed) packet and put it on the wire. */
export function forwardOut(
  x: WorldCore,
  w: Walk,
  node: string,
  inIface: string | null,
  before: Frame,
  after: Frame,
  tr: HostTraversal,
): void {
  const s = x.stack(node);
  const at: Place = { kind: "node", node };
  const dst = after.packet.dst as number;
  const route = s.host.route(dst);
  const forwarded = inIface !== null;
  let out = after;
  if (forwarded) {
    if (after.ttl <= 1) {
      netfilterHop(
        w,
        at,
        inIface,
        before,
        after,
        tr,
        "TTL exceeded (ICMP time exceeded not modelled)",
        "dropped",
      );
      return;
    }
    out = { ...after, ttl: after.ttl - 1 };
  }
  if (tr.verdict !== "ACCEPT") {
    netfilterHop(w, at, inIface ?? "-", before, out, tr, "", forwarded ? "forwarded" : "sent");
    return;
  }
  if (!route) {
    hop(
      w,
      { where: at, iface: null, direction: "within", before, after: out, verdict: "dropped" },
      `no route to ${formatIpv4(dst)}`,
    );
    return;
  }
  let note = `route ${route.route.dst}${route.route.gateway ? ` via ${route.route.gateway}` : ""} dev ${route.dev}`;
  if (tr.outIface !== null && tr.outIface !== route.dev)
    note += ` (the rules were walked with out ${tr.outIface}: host.ts is given the out interface before NAT)`;
  if (!netfilterHop(w, at, inIface ?? route.dev, before, out, tr, note, forwarded ? "forwarded" : "sent"))
    return;
  egress(x, w, node, route.dev, route.nextHop, out);
}

/** The node's own socket sends: OUTPUT, routing, POSTROUTING (or back in on lo). */
export function nodeOutput(x: WorldCore, w: Walk, node: string, frame: Frame): void {
  const s = x.stack(node);
  const dst = frame.packet.dst as number;
  // The route of the destination before NAT (for a local one, the device its subnet is on).
  const dev = s.host.route(dst)?.dev ?? null;
  const tr = s.traverse(
    { packet: frame.packet, inIface: null, outIface: dev },
    Math.floor(frame.time / 1000),
  );
  const after = { ...frame, packet: tr.packet };
  if (tr.disposition === "local") {
    x.record({ kind: "node", node }, "lo", after);
    netfilterHop(
      w,
      { kind: "node", node },
      "lo",
      frame,
      after,
      tr,
      "looped back to a local socket",
      "delivered",
    );
    w.delivered = { frame: after, at: { kind: "node", node } };
    return;
  }
  forwardOut(x, w, node, null, frame, after, tr);
}
