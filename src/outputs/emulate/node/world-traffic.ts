import { formatIpv4, parseIpv4 } from "../../../core/ip.ts";
import { type Rng, seededRng } from "../../../core/rng.ts";
import type { ExchangeResult } from "../../../dataplane/sim/endpoints/exchange.ts";
import { curlRequest, parseResponse } from "../../../dataplane/sim/endpoints/http.ts";
import { echoReply, echoRequest } from "../../../dataplane/sim/endpoints/icmp.ts";
import { hostProfile, type OsProfile } from "../../../dataplane/sim/endpoints/os-profile.ts";
import { browse } from "../../../dataplane/sim/world/browser.ts";
import { openConnection } from "../../../dataplane/sim/world/connect.ts";
import { probeAnswerer } from "../../../dataplane/sim/world/probe-answer.ts";
import { type Place, placeName } from "../../../dataplane/sim/world/types.ts";
import { AZURE_SDN_MAC, World } from "../../../dataplane/sim/world/world.ts";
import type { Twin } from "../../../model/twin.ts";
import type { CommandResult } from "../types.ts";

/**
 * curl, ping and a browser sent for real through a World: the client is a place of the twin (an
 * outside host, a node, a pod), every frame crosses the LB, the nodes' netfilter and conntrack, and
 * the output is what the tool prints. Pure: the World is changed (conntrack, captures), the time
 * comes in (µs on the virtual clock) and the randomness from `seed`; `end` says when the last frame
 * arrived (for a browser: when the page had loaded; its connections stay open on the World's
 * timeline). The World's own clock runs up to the start first, so what was under way (the guest
 * agents, connections left open) happens in between, and alongside.
 */

export interface TrafficRun {
  readonly result: CommandResult;
  /** µs of the last event (the caller starts the next traffic after it). */
  readonly end: number;
}

/** A World over the twin whose LB probes are answered by the twin itself, starting at `startUs`. */
export function trafficWorld(twin: Twin, seed: number, startUs: number): World {
  return new World(twin, { seed, start: startUs, probe: probeAnswerer(seed) });
}

/** A place named by an outside host's name or address, a node's name or address, or a pod's name or address. */
export function findPlace(world: World, from: string): Place | null {
  const host = world.twin.hosts.find((h) => h.name === from || h.ip === from);
  if (host) return { kind: "host", name: host.name };
  const node = world.twin.nodes.find((n) => n.name === from);
  if (node) return { kind: "node", node: node.name };
  for (const [name, stack] of world.nodes)
    for (const id of stack.pods.keys())
      if (id === from || id.endsWith(`/${from}`)) return { kind: "pod", node: name, pod: id };
  const ip = parseIpv4(from);
  return ip === null ? null : world.placeOf(ip);
}

function placeIp(world: World, p: Place): number | null {
  if (p.kind === "host") return parseIpv4(world.twin.hosts.find((h) => h.name === p.name)?.ip ?? "");
  if (p.kind === "node") return parseIpv4(world.nodes.get(p.node)?.node.ip ?? "");
  if (p.kind === "pod")
    return (
      world.nodes
        .get(p.node)
        ?.pods.get(p.pod)
        ?.addresses()
        .find((a) => a >>> 24 !== 127) ?? null
    );
  return null;
}

/** The client's stack: an outside host's own (`hosts[].os`), the era's Linux on nodes and pods. */
function profileOf(world: World, p: Place): OsProfile {
  const host = p.kind === "host" ? world.twin.hosts.find((h) => h.name === p.name) : null;
  return hostProfile(host, world.twin.k8s.version.startsWith("1.11"));
}

/** An ephemeral source port: Windows' dynamic range 49152-65535, Linux's ip_local_port_range 32768-60999. */
function ephemeralPort(profile: OsProfile, rng: Rng): number {
  return profile.layout === "windows" ? 49152 + (rng.nextU32() % 16384) : 32768 + (rng.nextU32() % 28232);
}

const fail = (stderr: string, exitCode: number, end: number): TrafficRun => ({
  result: { stdout: "", stderr, exitCode },
  end,
});

/** `http://HOST[:PORT][/PATH]` (or without the scheme); HOST must be an address (the twin has no DNS). */
export function parseUrl(url: string): { host: string; ip: number; port: number; path: string } | null {
  const m = /^(?:http:\/\/)?([^/:]+)(?::(\d+))?(\/.*)?$/.exec(url);
  if (!m) return null;
  const ip = parseIpv4(m[1]!);
  const port = m[2] === undefined ? 80 : Number(m[2]);
  if (ip === null || port < 1 || port > 65535) return null;
  return { host: m[1]!, ip, port, path: m[3] ?? "/" };
}

/** The client's place and target, or the failure curl (or packetwalk) prints. */
function client(
  world: World,
  from: string,
  url: string,
  timeUs: number,
): { place: Place; u: NonNullable<ReturnType<typeof parseUrl>> } | TrafficRun {
  const place = findPlace(world, from);
  if (!place) return fail(`packetwalk: no host, node or pod "${from}" in this twin\n`, 2, timeUs);
  const u = parseUrl(url);
  if (!u)
    return fail(
      `curl: (6) Could not resolve host: ${url} (packetwalk: use http://ADDRESS[:PORT]/PATH)\n`,
      6,
      timeUs,
    );
  return { place, u };
}

/** strerror() of the errnos a connect can fail with (glibc's texts, which curl prints). */
const STRERROR: Readonly<Record<string, string>> = {
  ECONNREFUSED: "Connection refused",
  ETIMEDOUT: "Connection timed out",
  EHOSTUNREACH: "No route to host",
  ENETUNREACH: "Network is unreachable",
  EHOSTDOWN: "Host is down",
  ENONET: "Machine is not on the network",
  ENOPROTOOPT: "Protocol not available",
  EOPNOTSUPP: "Operation not supported",
};

/**
 * What curl prints for a transfer that ended with `r`: the body, or curl 7.47's messages for
 * CURLE_COULDNT_CONNECT (7: "Failed to connect to HOST port N: " and the connect's strerror, a
 * refusal, a timeout or an ICMP unreachable's EHOSTUNREACH/ENETUNREACH), CURLE_RECV_ERROR (56),
 * CURLE_OPERATION_TIMEDOUT (28).
 */
function curlOutcome(
  r: ExchangeResult,
  response: Uint8Array,
  target: string,
  timeUs: number,
  end: number,
): TrafficRun {
  switch (r.outcome) {
    case "completed": {
      const res = parseResponse(response);
      if (!res) return fail("curl: (52) Empty reply from server\n", 52, end);
      return { result: { stdout: res.body, stderr: "", exitCode: 0 }, end };
    }
    case "refused":
    case "timeout":
    case "unreachable": {
      const why = STRERROR[r.error ?? ""] ?? r.error ?? "Connection timed out";
      return fail(`curl: (7) Failed to connect to ${target}: ${why}\n`, 7, end);
    }
    case "reset":
      return fail("curl: (56) Recv failure: Connection reset by peer\n", 56, end);
    default: {
      const ms = Math.floor((end - timeUs) / 1000);
      return fail(`curl: (28) Operation timed out after ${ms} milliseconds with 0 bytes received\n`, 28, end);
    }
  }
}

/** A client about to connect at `timeUs`: its place and URL, the World run up to then, its stack and port. */
function startClient(world: World, from: string, url: string, timeUs: number, seed: number) {
  const who = client(world, from, url, timeUs);
  if ("result" in who) return who;
  world.advance(timeUs);
  const rng = seededRng(seed);
  const profile = profileOf(world, who.place);
  return { ...who, rng, profile, sport: ephemeralPort(profile, rng) };
}

/** `curl URL` from a place: the response body on stdout, curl's own error lines and exit codes otherwise. */
export function curlThrough(
  world: World,
  from: string,
  url: string,
  timeUs: number,
  seed: number,
): TrafficRun {
  const who = startClient(world, from, url, timeUs, seed);
  if ("result" in who) return who;
  const { place, u, rng, profile, sport } = who;
  const c = openConnection(world, {
    from: place,
    sport,
    to: { ip: u.ip, port: u.port },
    request: curlRequest(u.host, u.port, u.path),
    now: timeUs,
    rng,
    profile,
  });
  world.timeline.add(c);
  world.timeline.settle(c);
  const r = c.run.result();
  return curlOutcome(r, r.client.received, `${u.host} port ${u.port}`, timeUs, Math.max(timeUs, r.end));
}

/**
 * A desktop browser opening URL from a place (world/browser.ts): its connections stay open on the
 * World's timeline, for the server to close when its keep-alive timeout says so. Prints the page as
 * curl would print it; `end` is when the page (and what it links) had loaded.
 */
export function browseThrough(
  world: World,
  from: string,
  url: string,
  timeUs: number,
  seed: number,
): TrafficRun {
  const who = startClient(world, from, url, timeUs, seed);
  if ("result" in who) return who;
  const { place, u, rng, profile, sport } = who;
  const b = browse(world, {
    from: place,
    sport,
    to: { ip: u.ip, port: u.port },
    host: u.host,
    path: u.path,
    now: timeUs,
    rng,
    profile,
  });
  for (const c of b.connections) world.timeline.add(c);
  const [page] = b.connections;
  if (!page) throw new Error("a browser opens its page's connection");
  // Until the page has loaded, or nothing more happens on its connections (it failed).
  for (;;) {
    if (b.loadedAt() !== null) break;
    const times = b.connections.map((c) => c.nextTime()).filter((t): t is number => t !== null);
    if (times.length === 0) break;
    world.advance(Math.min(...times));
  }
  const r = page.run.result();
  const end = b.loadedAt() ?? Math.max(timeUs, r.end);
  return curlOutcome(r, r.responses[0]?.bytes ?? r.client.received, `${u.host} port ${u.port}`, timeUs, end);
}

/** iputils' time: `%ld.%03ld` below 1 ms, fewer decimals as it grows (ping_common.c, gather_statistics). */
function tripTime(us: number): string {
  const whole = Math.floor(us / 1000);
  const rest = us % 1000;
  if (us >= 100_000) return `${whole}`;
  if (us >= 10_000) return `${whole}.${Math.floor(rest / 100)}`;
  if (us >= 1000) return `${whole}.${String(Math.floor(rest / 10)).padStart(2, "0")}`;
  return `${whole}.${String(rest).padStart(3, "0")}`;
}

/**
 * ping's output as a terminal shows it when ^C stops it: the tty echoes `^C` on the line after the
 * last reply, and the newline ping's finish() prints before the statistics ends that line (iputils
 * ping_common.c: `putchar('\n')`), where an exhausted -c leaves an empty line.
 */
export function interruptedPing(stdout: string): string {
  return stdout.replace(/\n\n--- /, "\n^C\n--- ");
}

const ms3 = (us: number): string => `${Math.floor(us / 1000)}.${String(us % 1000).padStart(3, "0")}`;

/**
 * `ping -c N DST` from a place, one echo a second (iputils' default interval). Whatever owns the
 * destination answers if it is a node or a pod (Linux's icmp_echo, TTL 64); the statistics are
 * iputils' finish(): loss as an integer percentage, `time` from the first send to the last event,
 * rtt avg and mdev in integer µs (tsum/n, llsqrt(tsum2/n - avg²)).
 */
export function pingThrough(
  world: World,
  from: string,
  dst: string,
  count: number,
  timeUs: number,
  seed: number,
): TrafficRun {
  const place = findPlace(world, from);
  if (!place) return fail(`packetwalk: no host, node or pod "${from}" in this twin\n`, 2, timeUs);
  const dstIp = parseIpv4(dst);
  if (dstIp === null) return fail(`ping: unknown host ${dst}\n`, 2, timeUs);
  const srcIp = placeIp(world, place);
  if (srcIp === null) return fail(`packetwalk: no address for ${placeName(place)}\n`, 2, timeUs);
  const rng = seededRng(seed);
  const profile = profileOf(world, place);
  const id = rng.nextU32() & 0xffff; // getpid() & 0xffff
  let ipId = rng.nextU32() & 0xffff;
  const lines = [`PING ${dst} (${dst}) 56(84) bytes of data.`];
  const rtts: number[] = [];
  let last = timeUs;
  for (let seq = 1; seq <= count; seq++) {
    const sent = timeUs + (seq - 1) * 1_000_000;
    last = Math.max(last, sent);
    world.advance(sent);
    const req = echoRequest(
      { mac: world.macOf(place), nextHopMac: AZURE_SDN_MAC, ttl: profile.ttl },
      srcIp,
      dstIp,
      id,
      seq,
      sent,
      ipId++ & 0xffff,
    );
    const out = world.send(req, place);
    const at = out.delivered?.at;
    if (!out.delivered || !at || (at.kind !== "node" && at.kind !== "pod")) continue;
    const reply = echoReply(out.delivered.frame, {
      mac: world.macOf(at),
      ttl: 64,
      ipId: rng.nextU32() & 0xffff,
      delayUs: 5 + (rng.nextU32() % 20),
    });
    if (!reply) continue;
    const back = world.send(reply, at);
    if (!back.delivered || placeName(back.delivered.at) !== placeName(place)) continue;
    const got = back.delivered.frame;
    const rtt = Math.max(1, got.time - sent);
    last = Math.max(last, got.time);
    rtts.push(rtt);
    lines.push(
      `${got.packet.length - 20} bytes from ${formatIpv4(got.packet.src as number)}: icmp_seq=${seq} ttl=${got.ttl} time=${tripTime(rtt)} ms`,
    );
  }
  const received = rtts.length;
  const loss = Math.floor(((count - received) * 100) / count);
  lines.push(
    "",
    `--- ${dst} ping statistics ---`,
    `${count} packets transmitted, ${received} received, ${loss}% packet loss, time ${Math.floor((last - timeUs) / 1000)}ms`,
  );
  if (received > 0) {
    const sum = rtts.reduce((a, b) => a + b, 0);
    const avg = Math.floor(sum / received);
    const sum2 = Math.floor(rtts.reduce((a, b) => a + b * b, 0) / received);
    const mdev = Math.floor(Math.sqrt(Math.max(0, sum2 - avg * avg)));
    lines.push(
      `rtt min/avg/max/mdev = ${ms3(Math.min(...rtts))}/${ms3(avg)}/${ms3(Math.max(...rtts))}/${ms3(mdev)} ms`,
    );
  }
  return {
    result: { stdout: lines.map((l) => `${l}\n`).join(""), stderr: "", exitCode: received > 0 ? 0 : 1 },
    end: last,
  };
}
