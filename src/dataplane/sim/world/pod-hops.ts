import { formatIpv4 } from "../../../core/ip.ts";
import type { Frame } from "../../../model/frame.ts";
import { bridgeIn, resolve } from "./link-hops.ts";
import { stackIn } from "./node-hops.ts";
import type { Place } from "./types.ts";
import { hop, type Walk, type WorldCore } from "./walk.ts";

/** A pod's namespace in a walk: no rules of its own; its eth0 is a veth whose peer is on the node. */

export function podOutput(x: WorldCore, w: Walk, node: string, pod: string, frame: Frame): void {
  const s = x.stack(node);
  const l3 = s.pods.get(pod);
  const at: Place = { kind: "pod", node, pod };
  const dst = frame.packet.dst as number;
  if (!l3) {
    hop(
      w,
      { where: at, iface: null, direction: "out", before: frame, after: frame, verdict: "dropped" },
      "no such pod namespace",
    );
    return;
  }
  if (l3.isLocal(dst)) {
    x.record(at, "lo", frame);
    hop(
      w,
      { where: at, iface: "lo", direction: "within", before: frame, after: frame, verdict: "delivered" },
      "",
    );
    w.delivered = { frame, at };
    return;
  }
  const route = l3.route(dst);
  if (!route) {
    hop(
      w,
      { where: at, iface: null, direction: "out", before: frame, after: frame, verdict: "dropped" },
      `no route to ${formatIpv4(dst)}`,
    );
    return;
  }
  const src = s.iface(pod, route.dev);
  const f = {
    ...frame,
    srcMac: src?.mac ?? frame.srcMac,
    dstMac: resolve(x, node, pod, route.dev, route.nextHop),
  };
  x.record(at, route.dev, f);
  hop(
    w,
    { where: at, iface: route.dev, direction: "out", before: frame, after: f, verdict: "sent" },
    `route ${route.route.dst} dev ${route.dev}`,
  );
  const peer = s.peerOf(pod, route.dev);
  if (!peer) {
    hop(
      w,
      { where: at, iface: route.dev, direction: "out", before: f, after: f, verdict: "dropped" },
      "veth without a peer",
    );
    return;
  }
  const host: Place = { kind: "node", node };
  x.record(host, peer.iface.name, f);
  hop(
    w,
    { where: host, iface: peer.iface.name, direction: "in", before: f, after: f, verdict: "received" },
    "",
  );
  if (peer.iface.master) bridgeIn(x, w, node, peer.iface.master, peer.iface.name, f);
  else stackIn(x, w, node, peer.iface.name, f, null);
}

export function podIn(x: WorldCore, w: Walk, node: string, pod: string, iface: string, frame: Frame): void {
  const s = x.stack(node);
  const at: Place = { kind: "pod", node, pod };
  x.record(at, iface, frame);
  const local = s.pods.get(pod)?.isLocal(frame.packet.dst as number) ?? false;
  hop(
    w,
    {
      where: at,
      iface,
      direction: "in",
      before: frame,
      after: frame,
      verdict: local ? "delivered" : "dropped",
    },
    local ? "to a socket in the pod" : "not the pod's address (a pod does not forward)",
  );
  if (local) w.delivered = { frame, at };
}
