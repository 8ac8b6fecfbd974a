import { toNumber } from "../../src/core/dyadic.ts";
import { parseIp } from "../../src/core/ip.ts";
import { compileRuleset } from "../../src/dataplane/sim/netfilter/compile.ts";
import type { HostInput } from "../../src/dataplane/sim/netfilter/host.ts";
import { staticHost } from "../../src/dataplane/sim/netfilter/static-host.ts";
import { type TraceOutcome, traceExact } from "../../src/dataplane/sim/netfilter/trace.ts";
import { parseIpsetSave } from "../../src/inputs/ipset/parse.ts";
import { parseIptablesSave } from "../../src/inputs/iptables/parse-save.ts";
import { makePacket, type Packet } from "../../src/model/packet.ts";

/** Test shorthand: a ruleset from text, a packet from a few fields, every path with its probability. */

export function ip(text: string): number | bigint {
  const a = parseIp(text);
  if (!a) throw new Error(`bad address ${text}`);
  return a.addr;
}

export function pkt(fields: Partial<Omit<Packet, "src" | "dst">> & { src: string; dst: string }): Packet {
  const family = fields.src.includes(":") ? 6 : 4;
  const { src, dst, ...rest } = fields;
  return makePacket({
    family,
    proto: 6,
    tcpFlags: 2,
    sport: 40000,
    dport: 80,
    ...rest,
    src: ip(src),
    dst: ip(dst),
  });
}

export interface Traced {
  outcomes: TraceOutcome[];
  /** The enumeration stopped at its cap before covering every path. */
  truncated: boolean;
  /** Probability of each outcome as a number, in order. */
  probabilities: number[];
}

export function trace(
  rulesText: string,
  packet: Packet,
  opts: {
    in?: string | null;
    out?: string;
    localIps?: string[];
    ifaceAddrs?: Record<string, string>;
    physIn?: string;
    physOut?: string;
    ipsets?: string;
    now?: number;
  } = {},
): Traced {
  const parsed = parseIptablesSave(rulesText, "test.rules");
  const errors = parsed.diagnostics.filter((d) => d.severity === "error" && d.code !== "iptables.bad-rule");
  if (errors.length) throw new Error(errors.map((d) => d.message).join("\n"));
  const ipsets = opts.ipsets ? parseIpsetSave(opts.ipsets, "sets").value : null;
  const rules = compileRuleset(parsed.value, { family: packet.family, ipsets });
  const host = staticHost({
    localIps: (opts.localIps ?? []).map((t) => ({ family: t.includes(":") ? 6 : 4, addr: ip(t) })),
    ifaceAddrs: new Map(
      Object.entries(opts.ifaceAddrs ?? {}).map(([k, v]) => [
        k,
        { family: v.includes(":") ? 6 : 4, addr: ip(v) },
      ]),
    ),
  });
  const inIface = opts.in === undefined ? "eth0" : opts.in;
  const input: HostInput = {
    packet,
    inIface,
    outIface: opts.out ?? inIface ?? "eth0",
    physIn: opts.physIn ?? null,
    physOut: opts.physOut ?? null,
  };
  const { outcomes, truncated } = traceExact(rules, input, {
    host,
    ...(opts.now === undefined ? {} : { now: opts.now }),
  });
  return { outcomes, truncated, probabilities: outcomes.map((o) => toNumber(o.probability)) };
}

/** A filter table around some INPUT rules, default policy given. */
export function filterInput(rules: string, policy = "ACCEPT", extraChains: string[] = []): string {
  return [
    "*filter",
    `:INPUT ${policy} [0:0]`,
    ":FORWARD ACCEPT [0:0]",
    ":OUTPUT ACCEPT [0:0]",
    ...extraChains.map((c) => `:${c} - [0:0]`),
    rules,
    "COMMIT",
    "",
  ].join("\n");
}

/** The single outcome's verdict (throws if there are several). */
export function verdictOf(t: Traced): string {
  if (t.outcomes.length !== 1) throw new Error(`expected one path, got ${t.outcomes.length}`);
  return (t.outcomes[0] as TraceOutcome).traversal.verdict;
}
