import type { Dyadic } from "../../../core/dyadic.ts";
import { formatIpv4, parseIpv4 } from "../../../core/ip.ts";
import { seededRng } from "../../../core/rng.ts";
import { PROTO } from "../../../model/packet.ts";
import type { Twin } from "../../../model/twin.ts";
import { curlRequest } from "../endpoints/http.ts";
import { hostProfile } from "../endpoints/os-profile.ts";
import { type SockAddr, udpFrame, utf8 } from "../endpoints/segment.ts";
import { type Choice, enumerateBranches } from "../netfilter/branches.ts";
import { connect } from "./connect.ts";
import { probeAnswerer } from "./probe-answer.ts";
import type { Place, SendResult } from "./types.ts";
import { World } from "./world.ts";

/**
 * Every path one client's first packet can take through the twin, each with its exact probability.
 * The random part is kube-proxy's `statistic --mode random` coins on the node the LB picked; the LB
 * itself hashes the 5-tuple, so for one 5-tuple its backend is fixed. Exact mode (branches.ts) is
 * run over the whole world: each branch is a fresh World whose nodes take the forced coin outcomes
 * for the client's flow (NodeStack.chooser) and draw as usual for everything else (the LB's probes),
 * so every branch is a concrete run, deterministic, with its own hops, conntrack and captures.
 */

export interface WalkRequest {
  readonly from: Place;
  /** The client's address (default: the place's own). */
  readonly ip: number;
  readonly sport: number;
  readonly to: SockAddr;
  readonly proto: "tcp" | "udp";
  /** HTTP path for TCP. */
  readonly path?: string;
  readonly seed: number;
  /** The LB backend (node IP) of the client's flow, instead of the flow hash's. */
  readonly backend?: number;
  /** Run the LB's health probes (default); false: every backend is up and no probe traffic is made. */
  readonly probes?: boolean;
}

export interface WalkPath {
  readonly probability: Dyadic;
  /** The coins of the client's flow, in the order the rules tossed them. */
  readonly choices: readonly Choice[];
  /** The first packet's walk (TCP: the SYN; UDP: the datagram). */
  readonly request: SendResult;
  /** The first answer's walk (TCP: the SYN-ACK, or a REJECT's answer; UDP: an ICMP error), null when none came. */
  readonly reply: SendResult | null;
  /** TCP: the exchange's outcome (completed, refused, timeout...); UDP: the request's fate. */
  readonly outcome: string;
  /** The world after the run: captures, conntrack tables. */
  readonly world: World;
  /** µs on the virtual clock at which the client sent. */
  readonly time: number;
}

/** Virtual time after the twin's `now` at which the client sends: the LB's probes have run by then. */
export const WALK_DELAY_US = 10_000_000;

export function walkPaths(twin: Twin, req: WalkRequest): { paths: WalkPath[]; truncated: boolean } {
  const start = twin.now * 1_000_000;
  const time = start + WALK_DELAY_US;
  const proto = req.proto === "tcp" ? PROTO.tcp : PROTO.udp;
  const { branches, truncated } = enumerateBranches((choose) => {
    const world = new World(twin, {
      seed: req.seed,
      start,
      ...(req.probes === false ? {} : { probe: probeAnswerer(req.seed) }),
      ...(req.backend === undefined
        ? {}
        : {
            pinBackend: (p) =>
              p.proto === proto && p.src === req.ip && p.sport === req.sport ? (req.backend as number) : null,
          }),
    });
    // A hop's conntrack entry is the table's live one, which later packets change (SYN_SENT, then
    // ESTABLISHED...): keep each as it was when its packet had passed.
    const send = world.send.bind(world);
    world.send = (frame, from) => snapshot(send(frame, from));
    for (const s of world.nodes.values()) {
      s.chooser = (stored, rule, p) =>
        p.proto === proto && p.src === req.ip && p.sport === req.sport ? choose(stored, rule) : null;
    }
    return { world, ...runOnce(world, twin, req, time) };
  }, 256);
  const paths = branches.map((b) => ({ probability: b.probability, choices: b.choices, time, ...b.result }));
  return { paths, truncated };
}

function runOnce(
  world: World,
  twin: Twin,
  req: WalkRequest,
  time: number,
): Pick<WalkPath, "request" | "reply" | "outcome"> {
  if (req.proto === "udp") {
    const f = udpFrame(
      {
        time,
        srcMac: world.macOf(req.from),
        dstMac: "12:34:56:78:9a:bc",
        ipId: 1,
        ttl: 64,
        dontFragment: true,
      },
      { ip: req.ip, port: req.sport },
      req.to,
      utf8("packetwalk\n"),
    );
    const r = world.send(f, req.from);
    // UDP has no answer of its own; what the network sent back (ICMP port unreachable...) is the reply.
    return { request: r, reply: r.answers[0] ?? null, outcome: r.fate };
  }
  const host =
    req.from.kind === "host" ? twin.hosts.find((h) => h.name === (req.from as { name: string }).name) : null;
  const c = connect(world, {
    from: req.from,
    ip: req.ip,
    sport: req.sport,
    to: req.to,
    request: curlRequest(formatIpv4(req.to.ip), req.to.port, req.path ?? "/"),
    now: time,
    rng: seededRng(req.sport ^ req.seed),
    // The host's own stack (hosts[].os); nodes and pods run the era's Linux.
    profile: hostProfile(host, twin.k8s.version.startsWith("1.11")),
  });
  const request = c.sends[0] as SendResult;
  // The first frame sent back toward the client: the walk that starts at the server's place.
  const reply = c.sends.find((s, i) => i > 0 && !sameStart(s, request)) ?? null;
  return { request, reply, outcome: c.result.outcome };
}

function snapshot(r: SendResult): SendResult {
  return {
    ...r,
    hops: r.hops.map((h) => (h.conntrack ? { ...h, conntrack: structuredClone(h.conntrack) } : h)),
    answers: r.answers.map(snapshot),
  };
}

function sameStart(a: SendResult, b: SendResult): boolean {
  const x = a.hops[0]?.before.packet;
  const y = b.hops[0]?.before.packet;
  return !!x && !!y && x.src === y.src && x.sport === y.sport;
}

/**
 * A place of the twin named by the user: an outside host, a node or a pod (by name), or any address
 * one of them owns. The client's address comes with it.
 */
export function placeFor(twin: Twin, text: string): { place: Place; ip: number } | null {
  const host = twin.hosts.find((h) => h.name === text || h.ip === text);
  if (host) return { place: { kind: "host", name: host.name }, ip: parseIpv4(host.ip) as number };
  const node = twin.nodes.find((n) => n.name === text || n.ip === text);
  if (node) return { place: { kind: "node", node: node.name }, ip: parseIpv4(node.ip) as number };
  // A pod by name stands for its address (placeOf tells its namespace from the node's).
  const pod = twin.k8s.pods.find(
    (p) => p.meta.name === text || `${p.meta.namespace}/${p.meta.name}` === text,
  );
  const ip = parseIpv4(pod ? pod.podIP : text);
  if (ip === null) return null;
  const world = new World(twin, { seed: 1, start: twin.now * 1_000_000 });
  const place = world.placeOf(ip);
  return place ? { place, ip } : null;
}
