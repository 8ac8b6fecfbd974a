import { toNumber } from "../../core/dyadic.ts";
import { formatIp } from "../../core/ip.ts";
import type { TraceOutcome } from "../../dataplane/sim/netfilter/trace.ts";
import { protoName } from "../../model/netfilter/protocols.ts";
import type { Packet } from "../../model/packet.ts";
import { formatConntrackEntry } from "./conntrack-list.ts";

/**
 * The stable JSON of `packetwalk iptables trace -o json`: one outcome per distinct path, keys in a
 * fixed order. Probabilities are exact dyadic fractions (also given as `num/2^exp`).
 */

export function packetJson(p: Packet) {
  return {
    proto: protoName(p.proto),
    src: formatIp(p.family, p.src),
    sport: p.sport,
    dst: formatIp(p.family, p.dst),
    dport: p.dport,
  };
}

export function traceJson(
  outcomes: readonly TraceOutcome[],
  now: number,
  extra: { truncated: boolean; input: Packet },
) {
  return {
    input: packetJson(extra.input),
    truncated: extra.truncated,
    outcomes: outcomes.map((o) => {
      const t = o.traversal;
      return {
        probability: toNumber(o.probability),
        probabilityExact: `${o.probability.num}/2^${o.probability.exp}`,
        verdict: t.verdict,
        disposition: t.disposition,
        outIface: t.outIface,
        rejectWith: t.rejectWith,
        packet: packetJson(t.packet),
        dnat: t.dnat
          ? { from: `${t.dnat.from.addr}:${t.dnat.from.port}`, to: `${t.dnat.to.addr}:${t.dnat.to.port}` }
          : null,
        snat: t.snat
          ? { from: `${t.snat.from.addr}:${t.snat.from.port}`, to: `${t.snat.to.addr}:${t.snat.to.port}` }
          : null,
        mark: `0x${t.packet.mark.toString(16)}`,
        ctstate: t.ctState,
        conntrack: t.conntrack?.status.confirmed ? formatConntrackEntry(t.conntrack, now) : null,
        rules: t.hits.map((h) => ({
          table: h.table,
          chain: h.chain,
          line: h.line,
          rule: h.rule,
          effect: h.effect,
        })),
        choices: o.choices.map((c) => ({
          chain: c.rule.chain,
          line: c.rule.line,
          matched: c.matched,
          probability: toNumber(c.probability),
        })),
        uncertain: t.uncertain.map((u) => ({ line: u.line, chain: u.chain, reason: u.reason })),
      };
    }),
  };
}
