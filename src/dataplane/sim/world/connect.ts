import { parseIpv4 } from "../../../core/ip.ts";
import type { Rng } from "../../../core/rng.ts";
import type { Frame } from "../../../model/frame.ts";
import type { AppContext, TcpApp } from "../endpoints/app.ts";
import { type ExchangeResult, exchange, type ServerSpec } from "../endpoints/exchange.ts";
import { LINUX_2019, LINUX_CURRENT, type OsProfile } from "../endpoints/os-profile.ts";
import type { SockAddr } from "../endpoints/segment.ts";
import { PROBE_SOURCE } from "../fabric/probes.ts";
import { twinSockets } from "./sockets.ts";
import { type Place, placeName, type SendResult } from "./types.ts";
import type { World } from "./world.ts";

/**
 * A TCP conversation (endpoints/exchange.ts) whose every frame crosses the world: the client is a
 * place of the twin; the server side is every listening socket of the twin at once, since which pod
 * answers is only known once the node's NAT has chosen. Each server frame is sent from the place
 * that owns its source address.
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
}

export interface Connection {
  readonly result: ExchangeResult;
  /** Every frame's walk, in the order they were sent. */
  readonly sends: readonly SendResult[];
}

export function connect(world: World, o: ConnectOptions): Connection {
  const sockets = twinSockets(world.twin, o.now);
  const era2019 = world.twin.k8s.version.startsWith("1.11");
  const serverProfile = era2019 ? LINUX_2019 : LINUX_CURRENT;
  const clientIp = o.ip ?? ipOf(world, o.from);
  if (clientIp === null) throw new Error(`no address for ${placeName(o.from)}`);
  const listeners = new Map<number, TcpApp>();
  const addresses = new Set<number>();
  for (const [key, app] of sockets) {
    const [ip, port] = key.split(":").map(Number) as [number, number];
    addresses.add(ip);
    if (!listeners.has(port)) listeners.set(port, dispatcher(port, app, sockets));
  }
  const server: ServerSpec = {
    addresses: [...addresses],
    mac: "00:00:00:00:00:00",
    profile: serverProfile,
    listeners,
  };
  const sends: SendResult[] = [];
  const result = exchange(
    { ip: clientIp, port: o.sport, mac: world.macOf(o.from), profile: o.profile ?? serverProfile },
    server,
    o.request,
    {
      to: o.to,
      now: o.now,
      rng: o.rng,
      ...(o.until === undefined ? {} : { until: o.until }),
      deliver: (frame: Frame, toward) => {
        const origin = toward === "server" ? o.from : world.placeOf(frame.packet.src as number);
        if (!origin) return null;
        const sent = toward === "server" ? frame : { ...frame, srcMac: world.macOf(origin) };
        const r = world.send(sent, origin);
        sends.push(r);
        if (!r.delivered) return null;
        if (toward === "client" && placeName(r.delivered.at) !== placeName(o.from)) return null;
        return r.delivered.frame;
      },
    },
  );
  return { result, sends };
}

function ipOf(world: World, p: Place): number | null {
  if (p.kind === "host") {
    const h = world.twin.hosts.find((x) => x.name === p.name);
    return h ? parseIpv4(h.ip) : null;
  }
  if (p.kind === "node") {
    const n = world.nodes.get(p.node);
    return n ? parseIpv4(n.node.ip) : null;
  }
  if (p.kind === "pod") {
    const n = world.nodes.get(p.node);
    return (
      n?.pods
        .get(p.pod)
        ?.addresses()
        .find((a) => a >>> 24 !== 127) ?? null
    );
  }
  return p.name === "wireserver" ? parseIpv4(PROBE_SOURCE) : null;
}

/**
 * One port of the composite server: the app bound at the connection's local address answers. A port
 * some other address listens on is accepted here too (exchange.ts has one listener table): the
 * handshake completes where a real host would reset, and the request then goes unanswered.
 */
function dispatcher(port: number, first: TcpApp, sockets: ReadonlyMap<string, TcpApp>): TcpApp {
  return {
    name: first.name,
    keepAliveTimeoutUs: first.keepAliveTimeoutUs,
    respond: (ctx: AppContext) => sockets.get(`${ctx.local.ip}:${port}`)?.respond(ctx) ?? null,
  };
}
