import { formatIpv4, parseIpv4 } from "../../../core/ip.ts";
import type { Frame } from "../../../model/frame.ts";
import { PROBE_SOURCE } from "../fabric/probes.ts";
import { nodeEth0In } from "./node-hops.ts";
import { type Place, placeName } from "./types.ts";
import { exhausted, hop, type Walk, type WorldCore } from "./walk.ts";

/** Azure's side of a walk: the load balancer for frontends, the VNet's SDN for everything else. */

export function fabricIn(x: WorldCore, w: Walk, frame: Frame, fromVnet: boolean): void {
  if (exhausted(w, frame)) return;
  const p = frame.packet;
  const dst = p.dst as number;
  const ms = Math.floor(frame.time / 1000);
  const lb: Place = { kind: "fabric", name: "azure-lb" };
  if (x.fabric.topology.byFrontend.has(dst)) {
    const r = x.fabric.route(p, ms);
    if (r.verdict === "dropped") {
      hop(
        w,
        { where: lb, iface: null, direction: "within", before: frame, after: frame, verdict: "dropped" },
        r.detail,
      );
      return;
    }
    const after = { ...frame, packet: r.packet };
    const note = `rule ${r.rule.rule.name}: ${r.flow} flow to backend ${r.backend.nodeIpText} (${r.healthy} healthy)`;
    hop(w, { where: lb, iface: null, direction: "within", before: frame, after, verdict: "forwarded" }, note);
    const owner = x.owners.get(r.backend.nodeIp);
    if (owner?.kind !== "node") {
      hop(
        w,
        { where: lb, iface: null, direction: "within", before: after, after, verdict: "dropped" },
        `backend ${r.backend.nodeIpText} is no node of the twin`,
      );
      return;
    }
    nodeEth0In(x, w, owner.node, after);
    return;
  }
  const sdn: Place = { kind: "fabric", name: "vnet" };
  const owner = x.owners.get(dst);
  if (owner) {
    if (!fromVnet) {
      hop(
        w,
        { where: sdn, iface: null, direction: "within", before: frame, after: frame, verdict: "dropped" },
        `${formatIpv4(dst)} is a private VNet address: not routable from the internet`,
      );
      return;
    }
    // Azure CNI: pod IPs are secondary IP configurations of their node's NIC, so the SDN delivers them there.
    hop(
      w,
      { where: sdn, iface: null, direction: "within", before: frame, after: frame, verdict: "forwarded" },
      `to the NIC of ${placeName(owner)}`,
    );
    nodeEth0In(x, w, owner.kind === "pod" || owner.kind === "node" ? owner.node : "", frame);
    return;
  }
  const host = x.hosts.get(dst);
  const wire = dst === parseIpv4(PROBE_SOURCE);
  if (host || wire) {
    const at: Place = host ? { kind: "host", name: host.name } : { kind: "fabric", name: "wireserver" };
    hop(
      w,
      { where: sdn, iface: null, direction: "within", before: frame, after: frame, verdict: "forwarded" },
      `to ${placeName(at)}`,
    );
    x.record(at, "eth0", frame);
    hop(
      w,
      { where: at, iface: "eth0", direction: "in", before: frame, after: frame, verdict: "delivered" },
      "",
    );
    w.delivered = { frame, at };
    return;
  }
  hop(
    w,
    { where: sdn, iface: null, direction: "within", before: frame, after: frame, verdict: "dropped" },
    `nothing in the twin has ${formatIpv4(dst)}`,
  );
}

/** A frame leaving a node's NIC: the host's SDN undoes the LB's rewrite of non-floating-IP replies (DSR). */
export function fabricOut(x: WorldCore, w: Walk, frame: Frame): void {
  const r = x.fabric.reply(frame.packet, Math.floor(frame.time / 1000));
  let f = frame;
  if (r.verdict === "rewritten" && r.packet.src !== frame.packet.src) {
    f = { ...frame, packet: r.packet };
    hop(
      w,
      {
        where: { kind: "fabric", name: "host-sdn" },
        iface: null,
        direction: "within",
        before: frame,
        after: f,
        verdict: "forwarded",
      },
      "reply of a load-balanced flow: source back to the frontend",
    );
  }
  fabricIn(x, w, f, true);
}
