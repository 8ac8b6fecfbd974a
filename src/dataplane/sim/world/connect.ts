import { parseIpv4 } from "../../../core/ip.ts";
import type { Rng } from "../../../core/rng.ts";
import type { Frame } from "../../../model/frame.ts";
import { WIRESERVER_IP } from "../endpoints/apps/wireserver.ts";
import {
  type Delivery,
  type ExchangeResult,
  type ExchangeRun,
  type ServerSpec,
  startExchange,
  type Toward,
} from "../endpoints/exchange.ts";
import { AZURE_WIRESERVER, LINUX_2019, LINUX_CURRENT, type OsProfile } from "../endpoints/os-profile.ts";
import type { SockAddr } from "../endpoints/segment.ts";
import { PROBE_SOURCE } from "../fabric/probes.ts";
import { twinSockets, WIRESERVER_NS } from "./sockets.ts";
import type { Timed } from "./timeline.ts";
import { type Place, placeName, type SendResult } from "./types.ts";
import type { World } from "./world.ts";

/**
 * A TCP conversation (endpoints/exchange.ts) whose every frame crosses the world: the client is a
 * place of the twin; the server side is every namespace of the twin at once, since which pod
 * answers is only known once the node's NAT has chosen. A segment reaches the socket listening on
 * its address and port in the namespace that owns the address (sockets.ts); a SYN to a port closed
 * there is reset by that namespace's kernel. Each server frame is sent from the place that owns its
 * source address; what the network answers a frame with (a REJECT's RST or ICMP error) reaches the
 * socket that sent it. Azure's wire server (168.63.129.16:80, a Windows stack) answers there too.
 * A node's NIC merges what arrives through it in one burst (Linux GRO, endpoints/gro.ts).
 */

export interface ConnectOptions {
  readonly from: Place;
  /** The client's address; default: the place's own (an outside host's, a node's, a pod's). */
  readonly ip?: number;
  readonly sport: number;
  readonly to: SockAddr;
  readonly request: Uint8Array | string;
  /** µs on the virtual clock. */
  readonly now: number;
  readonly rng: Rng;
  readonly profile?: OsProfile;
  readonly until?: number;
  /** The client keeps its connection open after the response (a browser); default: curl closes it. */
  readonly closeAfterResponse?: boolean;
  /** The client answers the server's FIN with its own; false leaves it in CLOSE_WAIT. */
  readonly closeOnPeerFin?: boolean;
  /** Told each time a whole response is in, at that moment (µs). */
  readonly onResponse?: (bytes: Uint8Array, at: number) => void;
}

export interface Connection {
  readonly result: ExchangeResult;
  /** Every frame's walk, in the order they were sent. */
  readonly sends: readonly SendResult[];
}

/** A connection run to its end (or to `o.until`). */
export function connect(world: World, o: ConnectOptions): Connection {
  const c = openConnection(world, o);
  c.run.runUntil(o.until);
  return { result: c.run.result(), sends: c.sends };
}

/**
 * A connection under way, moved forward by its caller or by the world's timeline (it is a Timed);
 * done once nothing is pending and the client's socket is closed (a kept-open one never is).
 */
export interface OpenConnection extends Timed {
  readonly run: ExchangeRun;
  /** Every frame's walk so far, in the order they were sent. */
  readonly sends: readonly SendResult[];
}

const OPEN_STATES = new Set(["SYN_SENT", "ESTABLISHED", "CLOSE_WAIT"]);

/** Starts a connection whose SYN leaves at `o.now`; nothing is sent until it is moved forward. */
export function openConnection(world: World, o: ConnectOptions): OpenConnection {
  const sockets = twinSockets(world.twin, o.now);
  const era2019 = world.twin.k8s.version.startsWith("1.11");
  const serverProfile = era2019 ? LINUX_2019 : LINUX_CURRENT;
  const clientIp = o.ip ?? ipOf(world, o.from, o.to.ip);
  if (clientIp === null) throw new Error(`no address for ${placeName(o.from)}`);
  const client = placeName(o.from);
  const wire = parseIpv4(WIRESERVER_IP) as number;
  // The namespace a local address is in: loopback is the client's own, any other its owner's.
  const nsOf = (ip: number): string | null => {
    if (ip >>> 24 === 127) return o.from.kind === "node" || o.from.kind === "pod" ? client : null;
    if (ip === wire) return WIRESERVER_NS;
    const at = world.owners.get(ip);
    return at ? placeName(at) : null;
  };
  const server: ServerSpec = {
    // Every namespace's kernel answers for its own addresses: a closed port gets a RST.
    addresses: [...world.owners.keys(), 0x7f000001, wire],
    mac: "00:00:00:00:00:00",
    profile: serverProfile,
    listeners: new Map(),
    listenerAt: (local) => {
      const ns = nsOf(local.ip);
      return ns === null ? null : sockets.tcp(ns, local.ip, local.port);
    },
    profileAt: (local) => (local.ip === wire ? AZURE_WIRESERVER : null),
  };
  // A node's answers come in through its NIC unless they come from its own namespaces.
  const ownerOfTarget = world.owners.get(o.to.ip);
  const throughNic =
    o.from.kind === "node" &&
    o.to.ip >>> 24 !== 127 &&
    !(ownerOfTarget && ownerOfTarget.node === placeName(o.from));
  const sends: SendResult[] = [];
  // Each frame is sent from the place that owns its source address (loopback: the client's own).
  const originOf = (frame: Frame, toward: Toward): Place | null => {
    if (toward === "server") return o.from;
    const src = frame.packet.src as number;
    return src >>> 24 === 127 ? o.from : world.placeOf(src);
  };
  const run = startExchange(
    {
      ip: clientIp,
      port: o.sport,
      mac: world.macOf(o.from),
      profile: o.profile ?? serverProfile,
      ...(o.closeAfterResponse === undefined ? {} : { closeAfterResponse: o.closeAfterResponse }),
      ...(o.closeOnPeerFin === undefined ? {} : { closeOnPeerFin: o.closeOnPeerFin }),
      ...(throughNic ? { gro: true } : {}),
    },
    server,
    o.request,
    {
      to: o.to,
      now: o.now,
      rng: o.rng,
      ...(o.onResponse ? { onResponse: o.onResponse } : {}),
      deliver: (frame: Frame, toward): Delivery | null => {
        const origin = originOf(frame, toward);
        if (!origin) return null;
        const sent = toward === "server" ? frame : { ...frame, srcMac: world.macOf(origin) };
        const r = world.send(sent, origin);
        sends.push(r, ...r.answers);
        // What came back to the sender's own place: a REJECT's answer, an ICMP error.
        const answered = r.answers.flatMap((a) =>
          a.delivered && placeName(a.delivered.at) === placeName(origin) ? [a.delivered.frame] : [],
        );
        let arrived = r.delivered?.frame ?? null;
        if (toward === "client" && r.delivered && placeName(r.delivered.at) !== client) arrived = null;
        return { arrived, answered };
      },
    },
  );
  return {
    run,
    sends,
    nextTime: () => run.nextTime(),
    step: () => run.step(),
    done: () => run.nextTime() === null && !OPEN_STATES.has(run.clientState()),
  };
}

/** The source address the place's kernel picks to reach `dst` (a node's or pod's route; 127.0.0.1 for loopback). */
function ipOf(world: World, p: Place, dst: number): number | null {
  if (p.kind === "host") {
    const h = world.twin.hosts.find((x) => x.name === p.name);
    return h ? parseIpv4(h.ip) : null;
  }
  if (p.kind === "node") return world.nodes.get(p.node)?.host.sourceFor(dst) ?? null;
  if (p.kind === "pod") return world.nodes.get(p.node)?.pods.get(p.pod)?.sourceFor(dst) ?? null;
  return p.name === "wireserver" ? parseIpv4(PROBE_SOURCE) : null;
}
