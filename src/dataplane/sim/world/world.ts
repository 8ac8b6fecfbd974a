import { parseIpv4 } from "../../../core/ip.ts";
import { seededRng } from "../../../core/rng.ts";
import type { Frame } from "../../../model/frame.ts";
import { type Packet, PROTO } from "../../../model/packet.ts";
import type { OutsideHost } from "../../../model/scenario.ts";
import type { Twin } from "../../../model/twin.ts";
import { AzureLbFabric } from "../fabric/load-balancer.ts";
import { PROBE_SOURCE, type ProbeFn } from "../fabric/probes.ts";
import { closedPortAnswer } from "./answers.ts";
import { CaptureLog } from "./captures.ts";
import { fabricIn } from "./fabric-hops.ts";
import { guestAgent } from "./guest-agent.ts";
import { nodeOutput } from "./node-hops.ts";
import { NodeStack } from "./node-stack.ts";
import { podOutput } from "./pod-hops.ts";
import { type TwinSockets, twinSockets } from "./sockets.ts";
import { Timeline } from "./timeline.ts";
import { type Place, placeName, type SendResult } from "./types.ts";
import {
  AZURE_SDN_MAC,
  hop,
  type NodePlace,
  newWalk,
  type PodPlace,
  type WorldCore,
  walkResult,
} from "./walk.ts";

export { AZURE_SDN_MAC };

/**
 * The twin's data plane: frames moved hop by hop between outside hosts, Azure's fabric (the load
 * balancer and the VNet's SDN), the nodes' bridges and IP stacks (netfilter with one persistent
 * conntrack table per node) and the pods' namespaces. What a kernel answers on its own (a REJECT's
 * RST or ICMP error, a closed UDP port's ICMP port unreachable) is walked back through the twin too
 * (answers.ts). Pure and deterministic given the twin, the seed and the frames' times; every frame
 * is recorded at every interface it crosses. What happens by itself as time passes (connections
 * left open, each node's guest agent polling the wire server) is on `timeline` and runs only as far
 * as the caller advances it.
 */

export interface WorldOptions {
  readonly seed: number;
  /** Virtual time (µs) at which the world starts; the LB's probe schedule starts here. */
  readonly start: number;
  /** Answers the LB's probes (connect.ts runs them through the world); without it every backend is up. */
  readonly probe?: (world: World) => ProbeFn;
  /** New LB flows go to this backend node (its IP) instead of the flow hash's (load-balancer.ts). */
  readonly pinBackend?: (p: Packet) => number | null;
}

export class World implements WorldCore {
  readonly fabric: AzureLbFabric;
  readonly captures = new CaptureLog();
  readonly nodes = new Map<string, NodeStack>();
  /** Who owns an address: a node's host namespace or a pod's. */
  readonly owners = new Map<number, NodePlace | PodPlace>();
  readonly hosts = new Map<number, OutsideHost>();
  /** The namespaces' bound sockets (UDP answers; connect.ts builds its own for TCP's apps). */
  readonly sockets: TwinSockets;
  readonly timeline: Timeline;
  private depth = 0;

  constructor(
    readonly twin: Twin,
    options: WorldOptions,
  ) {
    const rng = seededRng(options.seed);
    for (const n of twin.nodes) {
      const stack = new NodeStack(n, rng);
      this.nodes.set(n.name, stack);
      for (const ip of stack.host.addresses()) {
        if (ip >>> 24 !== 127 && !this.owners.has(ip)) this.owners.set(ip, { kind: "node", node: n.name });
      }
      for (const [id, l3] of stack.pods) {
        for (const ip of l3.addresses()) {
          if (ip >>> 24 !== 127) this.owners.set(ip, { kind: "pod", node: n.name, pod: id });
        }
      }
    }
    for (const h of twin.hosts) {
      const ip = parseIpv4(h.ip);
      if (ip !== null) this.hosts.set(ip, h);
    }
    this.sockets = twinSockets(twin, options.start);
    const answer = options.probe?.(this);
    // A probe's frames go through send(): it must not start the probes again, whoever advanced them.
    const probe: ProbeFn | undefined =
      answer &&
      ((target, now) => {
        this.depth++;
        try {
          return answer(target, now);
        } finally {
          this.depth--;
        }
      });
    this.fabric = new AzureLbFabric(twin.azure, {
      seed: options.seed,
      start: Math.floor(options.start / 1000),
      ...(probe ? { probe } : {}),
      ...(options.pinBackend ? { pinBackend: options.pinBackend } : {}),
    });
    this.timeline = new Timeline(options.start);
    for (const n of twin.nodes)
      this.timeline.add(guestAgent(this, this.timeline, n.name, options.start, options.seed));
  }

  /** Lets the virtual clock run to `us`: every pending event of the timeline up to then happens. */
  advance(us: number): void {
    this.timeline.advance(us);
  }

  /** The place that owns an address (a node or a pod), or an outside host's. */
  placeOf(ip: number): Place | null {
    const o = this.owners.get(ip);
    if (o) return o;
    const h = this.hosts.get(ip);
    if (h) return { kind: "host", name: h.name };
    if (ip === parseIpv4(PROBE_SOURCE)) return { kind: "fabric", name: "wireserver" };
    return null;
  }

  /** The MAC a place sends from (an outside host's is invented: the twin does not know it). */
  macOf(place: Place): string {
    if (place.kind === "pod") {
      const s = this.stack(place.node);
      return s.iface(place.pod, "eth0")?.mac ?? "00:00:00:00:00:00";
    }
    if (place.kind === "node") {
      const s = this.stack(place.node);
      const dev = s.host.route(0)?.dev ?? "eth0";
      return s.iface("host", dev)?.mac ?? "00:00:00:00:00:00";
    }
    return AZURE_SDN_MAC;
  }

  /** Moves a frame sent by `from` (at `frame.time`) until a socket has it or it is dropped. */
  send(frame: Frame, from: Place): SendResult {
    // Probes due before this frame run first (they go through the world too), so the LB judges
    // backends on what the probes found and nested walks never interleave with this one.
    if (this.depth === 0 && this.fabric.probes) {
      this.depth++;
      try {
        this.fabric.probes.advance(Math.floor(frame.time / 1000));
      } finally {
        this.depth--;
      }
    }
    const w = newWalk();
    // A UDP socket is bound by its first send: answers to it are not a closed port's.
    if (frame.packet.proto === PROTO.udp && (from.kind === "node" || from.kind === "pod"))
      this.sockets.bindUdp(placeName(from), frame.packet.src as number, frame.packet.sport);
    if (from.kind === "host" || from.kind === "fabric") {
      const h = from.kind === "host" ? [...this.hosts.values()].find((x) => x.name === from.name) : undefined;
      this.record(from, "eth0", frame);
      hop(
        w,
        { where: from, iface: "eth0", direction: "out", before: frame, after: frame, verdict: "sent" },
        "",
      );
      fabricIn(this, w, frame, from.kind === "fabric" || h?.kind === "vnet");
    } else if (from.kind === "node") nodeOutput(this, w, from.node, frame);
    else podOutput(this, w, from.node, from.pod, frame);
    closedPortAnswer(this, w);
    return walkResult(w);
  }

  udpBound(at: Place, ip: number, port: number): boolean {
    return this.sockets.udp(placeName(at), ip, port);
  }

  // ---- nodes ----

  // ---- helpers ----

  record(at: Place, iface: string, frame: Frame): void {
    const where = at.kind === "pod" ? `${at.node}/${at.pod}` : placeName(at);
    this.captures.record(where, iface, frame);
  }

  stack(node: string): NodeStack {
    const s = this.nodes.get(node);
    if (!s) throw new Error(`no node ${node} in the twin`);
    return s;
  }
}
