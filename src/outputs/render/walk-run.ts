import { formatIpv4, parseIpv4 } from "../../core/ip.ts";
import { isIcmpError, parseQuote } from "../../dataplane/sim/endpoints/quote.ts";
import { PROBE_SOURCE } from "../../dataplane/sim/fabric/probes.ts";
import { placeName } from "../../dataplane/sim/world/types.ts";
import { placeFor, type WalkPath, walkPaths } from "../../dataplane/sim/world/walk-paths.ts";
import type { Frame } from "../../model/frame.ts";
import type { Twin } from "../../model/twin.ts";
import { iptablesSave } from "../emulate/node/iptables-save.ts";
import { writePcap } from "../pcap/write-pcap.ts";
import { type WalkReport, walkReport } from "./walk-json.ts";

/**
 * Running one walk (`packetwalk walk` and the web view's API share it): resolve the client and the
 * destination, enumerate the paths, build the report; and the captures of the client's flow.
 */

/** A mistake in what the user asked for; its message is meant for them (the CLI and the API map it). */
export class WalkError extends Error {
  override readonly name = "WalkError";
}

export interface WalkOptions {
  /** `HOST|IP[:PORT]`; default: the scenario's internet host, port DEFAULT_SPORT. */
  readonly from?: string;
  /** `IP:PORT`, `IP` or `http://IP[:PORT][/path]`; default: the first LoadBalancer service. */
  readonly to?: string;
  readonly proto: "tcp" | "udp";
  /** Default: the scenario's seed. */
  readonly seed?: number;
  /** How the messages name the two inputs (`--from` on the command line, `from` in the API). */
  readonly names?: { readonly from: string; readonly to: string };
}

export interface WalkRun {
  readonly report: WalkReport;
  readonly paths: readonly WalkPath[];
  readonly sport: number;
}

/** The client's source port when `from` gives none: the seed's first conntrack entry (line 197). */
export const DEFAULT_SPORT = 51535;

interface Target {
  readonly ip: number;
  readonly port: number;
  readonly path: string;
}

/** `IP:PORT`, `IP` (port 80) or `http://IP[:PORT][/path]`. */
function parseTo(text: string): Target | null {
  const m = /^(?:http:\/\/)?(\d{1,3}(?:\.\d{1,3}){3})(?::(\d+))?(\/\S*)?$/.exec(text);
  if (!m) return null;
  const ip = parseIpv4(m[1] as string);
  const port = m[2] === undefined ? 80 : Number(m[2]);
  if (ip === null || !Number.isInteger(port) || port < 1 || port > 65535) return null;
  return { ip, port, path: m[3] ?? "/" };
}

/** The default destination: the first LoadBalancer service's VIP and first port. */
function defaultTo(twin: Twin): Target | null {
  for (const s of twin.k8s.services) {
    if (s.type !== "LoadBalancer") continue;
    const vip = s.loadBalancerIngress[0];
    const port = s.ports[0];
    const ip = vip === undefined ? null : parseIpv4(vip);
    if (ip !== null && port) return { ip, port: port.port, path: "/" };
  }
  return null;
}

function resolveFrom(
  twin: Twin,
  text: string | undefined,
  flag: string,
): { place: NonNullable<ReturnType<typeof placeFor>>; sport: number } {
  let name = text ?? twin.hosts.find((h) => h.kind === "internet")?.name;
  let sport = DEFAULT_SPORT;
  if (name === undefined)
    throw new WalkError(`The scenario has no internet host: give ${flag} HOST|IP[:PORT]`);
  const m = /^(.*):(\d+)$/.exec(name);
  if (m) {
    name = m[1] as string;
    sport = Number(m[2]);
    if (sport < 1 || sport > 65535) throw new WalkError(`${flag} ${text}: bad port`);
  }
  const place = placeFor(twin, name);
  if (!place) throw new WalkError(`${flag} ${text}: no host, node, pod or address of the twin`);
  return { place, sport };
}

export function runWalk(twin: Twin, label: string, o: WalkOptions): WalkRun {
  const names = o.names ?? { from: "--from", to: "--to" };
  const { place, sport } = resolveFrom(twin, o.from, names.from);
  const to = o.to === undefined ? defaultTo(twin) : parseTo(o.to);
  if (!to)
    throw new WalkError(
      o.to === undefined
        ? `The scenario has no LoadBalancer service with an address: give ${names.to} IP:PORT`
        : `${names.to} ${o.to}: expected IP:PORT or http://IP[:PORT]/path`,
    );
  const { paths, truncated } = walkPaths(twin, {
    from: place.place,
    ip: place.ip,
    sport,
    to: { ip: to.ip, port: to.port },
    proto: o.proto,
    path: to.path,
    seed: o.seed ?? twin.scenario.seed,
  });
  const saved = new Map(twin.nodes.map((n) => [n.name, iptablesSave(n, [], twin.now).stdout] as const));
  const from = `${placeName(place.place)} ${formatIpv4(place.ip)}:${sport}`;
  const report = walkReport({ twin, scenario: label, from, to, proto: o.proto, paths, truncated, saved });
  return { report, paths, sport };
}

/** Whether a frame belongs to the client's flow: its own ports, or for an ICMP error those it quotes. */
function ofFlow(f: Frame, sport: number): boolean {
  const p = isIcmpError(f.packet) ? parseQuote(f.payload)?.packet : f.packet;
  return !!p && (p.sport === sport || p.dport === sport);
}

export interface CaptureFile {
  /** 1-based path of the walk, as `path-N/` names it. */
  readonly path: number;
  readonly where: string;
  readonly iface: string;
  readonly frames: number;
  /** The pcap file's bytes. */
  readonly bytes: Uint8Array;
  /** Where `walk --pcap DIR` writes it under DIR: `NAME.pcap`, or `path-N/NAME.pcap` when there are several paths. */
  readonly file: string;
}

/** One pcap per interface the client's flow crossed (the LB's probes left out), per path. */
export function captureFiles(run: WalkRun): CaptureFile[] {
  const probe = parseIpv4(PROBE_SOURCE);
  const files: CaptureFile[] = [];
  run.paths.forEach((p, i) => {
    for (const c of p.world.captures.all()) {
      const frames = c.frames.filter(
        (f) => f.packet.src !== probe && f.packet.dst !== probe && ofFlow(f, run.sport),
      );
      if (frames.length === 0) continue;
      const name = `${`${c.where}_${c.iface}`.replace(/[^A-Za-z0-9._-]/g, "_")}.pcap`;
      files.push({
        path: i + 1,
        where: c.where,
        iface: c.iface,
        frames: frames.length,
        bytes: writePcap(frames),
        file: run.paths.length === 1 ? name : `path-${i + 1}/${name}`,
      });
    }
  });
  return files;
}
