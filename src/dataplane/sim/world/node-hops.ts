import { formatIpv4 } from "../../../core/ip.ts";
import type { Frame } from "../../../model/frame.ts";
import type { Packet } from "../../../model/packet.ts";
import { isIcmpError, parseQuote, rewriteQuote } from "../endpoints/quote.ts";
import type { HostInput, HostTraversal } from "../netfilter/host.ts";
import { rejectAnswer } from "./answers.ts";
import { bridgeIn, egress, nodeRouter } from "./link-hops.ts";
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

/** An ICMP error's quoted packet, which conntrack relates the error by and NAT translates. */
export function innerOf(frame: Frame): Pick<HostInput, "inner"> {
  const q = isIcmpError(frame.packet) ? parseQuote(frame.payload) : null;
  return q ? { inner: q.packet } : {};
}

/** The frame after a netfilter walk: its NATed headers, and an ICMP error's quote translated with them. */
export function natted(frame: Frame, tr: HostTraversal): Frame {
  const inner = tr.inner;
  const payload = inner && quoteChanged(frame, inner) ? rewriteQuote(frame.payload, inner) : frame.payload;
  return { ...frame, packet: tr.packet, payload };
}

function quoteChanged(frame: Frame, inner: Packet): boolean {
  const q = parseQuote(frame.payload)?.packet;
  return (
    !!q && (q.src !== inner.src || q.dst !== inner.dst || q.sport !== inner.sport || q.dport !== inner.dport)
  );
}

/**
 * A frame for the host's IP stack: PREROUTING, then the route of the destination PREROUTING's DNAT
 * left (ip_rcv_finish), INPUT or FORWARD/POSTROUTING.
 */
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
  const tr = s.traverse(
    { packet: frame.packet, inIface, outIface: null, physIn, physOut: null, ...innerOf(frame) },
    Math.floor(frame.time / 1000),
    nodeRouter(x, node),
  );
  const after = natted(frame, tr);
  if (tr.disposition === "local") {
    netfilterHop(w, at, inIface, frame, after, tr, "to a local socket", "delivered");
    w.delivered = { frame: after, at };
    return;
  }
  forwardOut(x, w, node, inIface, frame, after, tr, { physIn });
}

/** After a forward or output walk: a refused packet is answered; an accepted one routed and put on the wire. */
export function forwardOut(
  x: WorldCore,
  w: Walk,
  node: string,
  inIface: string | null,
  before: Frame,
  after: Frame,
  tr: HostTraversal,
  o: { readonly physIn?: string | null; readonly bridged?: boolean } = {},
): void {
  const s = x.stack(node);
  const at: Place = { kind: "node", node };
  const forwarded = inIface !== null;
  const dst = after.packet.dst as number;
  const route = s.host.route(dst);
  if (tr.verdict !== "ACCEPT") {
    // A packet of the node's own refused after it looped back was last seen on lo.
    const hook = tr.stoppedAt?.hook;
    const looped = !forwarded && (hook === "PREROUTING" || hook === "INPUT");
    if (looped) x.record(at, "lo", after);
    const iface = inIface ?? (looped ? "lo" : (route?.dev ?? "-"));
    netfilterHop(w, at, iface, before, after, tr, "", forwarded ? "forwarded" : "sent");
    // ip_forward decrements the TTL before the FORWARD hook (a bridge does not): a refusal quotes it so.
    const ttl = tr.stoppedAt?.hook === "FORWARD" && !o.bridged ? after.ttl - 1 : after.ttl;
    if (tr.verdict === "REJECT")
      rejectAnswer(x, w, node, { frame: after, tr, physIn: o.physIn ?? null, ttl });
    return;
  }
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
  if (!route) {
    hop(
      w,
      { where: at, iface: null, direction: "within", before, after: out, verdict: "dropped" },
      `no route to ${formatIpv4(dst)}`,
    );
    return;
  }
  const note = `route ${route.route.dst}${route.route.gateway ? ` via ${route.route.gateway}` : ""} dev ${route.dev}`;
  if (!netfilterHop(w, at, inIface ?? route.dev, before, out, tr, note, forwarded ? "forwarded" : "sent"))
    return;
  egress(x, w, node, route.dev, route.nextHop, out);
}

/**
 * The node's own sockets (and its kernel's answers, with the entry nf_ct_attach gave them) send:
 * OUTPUT, routing again if NAT moved the destination, POSTROUTING (or back in on lo).
 */
export function nodeOutput(
  x: WorldCore,
  w: Walk,
  node: string,
  frame: Frame,
  extra: Pick<HostInput, "attached"> = {},
): void {
  const s = x.stack(node);
  const dst = frame.packet.dst as number;
  // The route of the destination before NAT (for a local one, the device its subnet is on).
  const dev = s.host.route(dst)?.dev ?? null;
  const tr = s.traverse(
    { packet: frame.packet, inIface: null, outIface: dev, ...innerOf(frame), ...extra },
    Math.floor(frame.time / 1000),
    nodeRouter(x, node),
  );
  const after = natted(frame, tr);
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
