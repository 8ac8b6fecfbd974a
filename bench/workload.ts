import type { CompiledRuleset } from "../src/dataplane/sim/netfilter/compile.ts";
import type { HostAddresses } from "../src/dataplane/sim/netfilter/env.ts";
import type { HostInput } from "../src/dataplane/sim/netfilter/host.ts";
import { makePacket, PROTO, TCP } from "../src/model/packet.ts";
import type { Engine } from "./engine.ts";
import { formatIpv4, type GeneratedRuleset, type GeneratedService } from "./generate.ts";

/**
 * The trace workload: first packets (TCP SYN / UDP) of new connections from clients outside the node
 * (172.16.0.0/12, arriving on eth0, leaving by eth0) to the cluster IP and port of a random service.
 * Packets and options are built before timing, so a timed call is exactly one traceSampled/traceExact.
 */

export interface TracePacket {
  readonly service: GeneratedService;
  readonly input: HostInput;
  readonly seed: number;
}

export function makeWorkload(g: GeneratedRuleset, count: number, seed: number): TracePacket[] {
  let s = seed >>> 0;
  const next = () => {
    // xorshift32: deterministic, independent of the generator's stream.
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
  const out: TracePacket[] = [];
  for (let i = 0; i < count; i++) {
    const service = g.services[next() % g.services.length] as GeneratedService;
    const tcp = service.proto === "tcp";
    const packet = makePacket({
      family: 4,
      proto: tcp ? PROTO.tcp : PROTO.udp,
      src: (0xac100000 | (next() & 0xfffff)) >>> 0,
      dst: service.clusterIp,
      sport: 1024 + (next() % 64512),
      dport: service.port,
      tcpFlags: tcp ? TCP.SYN : 0,
    });
    out.push({
      service,
      input: { packet, inIface: "eth0", outIface: "eth0" },
      seed: 1 + (next() % 0x7fffffff),
    });
  }
  return out;
}

type Tracer = Pick<Engine, "traceSampled" | "traceExact">;

export function nodeHost(engine: Pick<Engine, "staticHost">, g: GeneratedRuleset): HostAddresses {
  return engine.staticHost({
    localIps: [{ family: 4, addr: g.nodeIp }],
    ifaceAddrs: new Map([["eth0", { family: 4 as const, addr: g.nodeIp }]]),
  });
}

export type Mode = "sampled" | "exact";

/** Runs one trace; returns whether the outcome is the expected one (DNAT to an endpoint of the service). */
export function runOne(
  engine: Tracer,
  rules: CompiledRuleset,
  host: HostAddresses,
  t: TracePacket,
  mode: Mode,
): unknown {
  return mode === "sampled"
    ? engine.traceSampled(rules, t.input, { host, seed: t.seed })
    : engine.traceExact(rules, t.input, { host, seed: t.seed });
}

/** Checks a result of runOne (outside the timed region). */
export function isExpected(t: TracePacket, mode: Mode, result: unknown): boolean {
  const eps = new Set(t.service.endpoints.map((e) => formatIpv4(e)));
  const ok = (o: { traversal: { verdict: string; dnat: { to: { addr: string } } | null } }) =>
    o.traversal.verdict === "ACCEPT" && o.traversal.dnat !== null && eps.has(o.traversal.dnat.to.addr);
  if (mode === "sampled") return ok(result as Parameters<typeof ok>[0]);
  const r = result as { outcomes: Parameters<typeof ok>[0][]; truncated: boolean };
  if (r.truncated || r.outcomes.length !== t.service.endpoints.length || !r.outcomes.every(ok)) return false;
  return new Set(r.outcomes.map((o) => o.traversal.dnat?.to.addr)).size === eps.size;
}
