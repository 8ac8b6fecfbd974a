import { type Dyadic, toNumber } from "../../core/dyadic.ts";
import { formatIpv4 } from "../../core/ip.ts";
import type { Hop, SendResult } from "../../dataplane/sim/world/types.ts";
import { placeName } from "../../dataplane/sim/world/types.ts";
import type { WalkPath } from "../../dataplane/sim/world/walk-paths.ts";
import type { Frame } from "../../model/frame.ts";
import { protoName } from "../../model/netfilter/protocols.ts";
import type { Twin } from "../../model/twin.ts";
import { formatConntrackEntry } from "./conntrack-list.ts";

/**
 * `packetwalk walk`'s report, built once and printed as JSON (this module) or text (walk-text.ts):
 * every path with its exact probability, each hop with the rules it hit at their line in the node's
 * `iptables-save`, the conntrack entry made, and the first answer's way back.
 */

export interface RuleRef {
  /** 1-based line in the node's `iptables-save` output; null when the rule is not found there. */
  readonly line: number | null;
  readonly table: string;
  readonly chain: string;
  readonly rule: string;
  readonly effect: string;
}

export interface HopReport {
  readonly at: string;
  readonly iface: string | null;
  readonly action: string;
  readonly before: string;
  readonly after: string;
  readonly rules: readonly RuleRef[];
  readonly conntrack: string | null;
  readonly note: string;
}

export interface PathReport {
  readonly probability: number;
  readonly probabilityExact: string;
  readonly verdict: string;
  readonly endpoint: string | null;
  readonly pod: string | null;
  readonly node: string | null;
  readonly sourceSeenByPod: string | null;
  /** What the Azure LB did with the first packet (its backend is a function of the 5-tuple). */
  readonly balancer: string | null;
  readonly outcome: string;
  readonly hops: readonly HopReport[];
  readonly reply: ReplyReport | null;
}

export interface ReplyReport {
  readonly verdict: string;
  /** The answer's source as the client received it (DSR: the VIP, not the pod). */
  readonly sourceSeenByClient: string | null;
  readonly hops: readonly HopReport[];
}

export interface WalkReport {
  readonly scenario: string;
  readonly from: string;
  readonly to: string;
  readonly proto: string;
  readonly verdict: string;
  readonly truncated: boolean;
  /** The LB rule's health probe for the destination, when it is a frontend. */
  readonly probe: string | null;
  readonly paths: readonly PathReport[];
  readonly reply: ReplyReport | null;
}

/** `iptables-save` text → the line of each rule, keyed by table and the rule as printed. */
export function saveLines(saved: string): Map<string, number> {
  const lines = new Map<string, number>();
  let table = "";
  saved.split("\n").forEach((l, i) => {
    if (l.startsWith("*")) table = l.slice(1);
    // Identical rules in one table: the first is the one the kernel reaches first in that chain.
    else if (l.startsWith("-A ") && !lines.has(`${table}\u0000${l}`)) lines.set(`${table}\u0000${l}`, i + 1);
  });
  return lines;
}

const addr = (f: Frame): [string, string] => {
  const p = f.packet;
  const src = formatIpv4(p.src as number);
  const dst = formatIpv4(p.dst as number);
  return p.sport || p.dport ? [`${src}:${p.sport}`, `${dst}:${p.dport}`] : [src, dst];
};
const flow = (f: Frame): string => addr(f).join(" > ");

export function exactText(p: Dyadic): string {
  return p.exp === 0 ? `${p.num}` : `${p.num}/${2n ** BigInt(p.exp)}`;
}

function hopReport(
  h: Hop,
  lines: ReadonlyMap<string, ReadonlyMap<string, number>>,
  nowMs: number,
): HopReport {
  const saved = h.where.kind === "node" || h.where.kind === "pod" ? lines.get(h.where.node) : undefined;
  const rules = h.hits
    .filter((r) => r.rule.startsWith("-A "))
    .map((r) => ({
      line: saved?.get(`${r.table}\u0000${r.rule}`) ?? null,
      table: r.table,
      chain: r.chain,
      rule: r.rule,
      effect: r.effect,
    }));
  return {
    at: placeName(h.where),
    iface: h.iface,
    action: h.verdict,
    before: flow(h.before),
    after: flow(h.after),
    rules,
    conntrack: h.conntrack ? formatConntrackEntry(h.conntrack, nowMs) : null,
    note: h.note,
  };
}

function replyReport(r: SendResult, lines: ReadonlyMap<string, ReadonlyMap<string, number>>, ms: number) {
  return {
    verdict: r.fate,
    sourceSeenByClient: r.delivered ? addr(r.delivered.frame)[0] : null,
    hops: r.hops.map((h) => hopReport(h, lines, ms)),
  };
}

export interface ReportInput {
  readonly twin: Twin;
  readonly scenario: string;
  readonly from: string;
  readonly to: { readonly ip: number; readonly port: number };
  readonly proto: "tcp" | "udp";
  readonly paths: readonly WalkPath[];
  readonly truncated: boolean;
  /** Each node's `iptables-save` output, by node name. */
  readonly saved: ReadonlyMap<string, string>;
}

export function walkReport(i: ReportInput): WalkReport {
  const lines = new Map([...i.saved].map(([n, t]) => [n, saveLines(t)] as const));
  const paths = i.paths.map((p): PathReport => {
    const ms = Math.floor(p.time / 1000);
    const d = p.request.delivered;
    const inPod = d?.at.kind === "pod" ? d.at : null;
    const lb = p.request.hops.find((h) => h.where.kind === "fabric" && h.where.name === "azure-lb");
    const [seen, endpoint] = d ? addr(d.frame) : [null, null];
    return {
      probability: toNumber(p.probability),
      probabilityExact: exactText(p.probability),
      verdict: p.request.fate,
      endpoint: inPod ? endpoint : null,
      pod: inPod ? inPod.pod : null,
      node: d && (d.at.kind === "pod" || d.at.kind === "node") ? d.at.node : null,
      sourceSeenByPod: inPod && seen ? (seen.split(":")[0] as string) : null,
      balancer: lb ? lb.note : null,
      outcome: p.outcome,
      hops: p.request.hops.map((h) => hopReport(h, lines, ms)),
      reply: p.reply ? replyReport(p.reply, lines, ms) : null,
    };
  });
  const failed = paths.find((p) => p.verdict !== "delivered");
  return {
    scenario: i.scenario,
    from: i.from,
    to: `${formatIpv4(i.to.ip)}:${i.to.port}`,
    proto: protoName(i.proto === "tcp" ? 6 : 17),
    verdict: failed ? failed.verdict : "delivered",
    truncated: i.truncated,
    probe: probeOf(i.twin, i.to),
    paths,
    reply: paths[0]?.reply ?? null,
  };
}

/** The health probe of the LB rule serving a frontend address and port (azure.md §3). */
export function probeOf(twin: Twin, to: { readonly ip: number; readonly port: number }): string | null {
  const ip = formatIpv4(to.ip);
  for (const lb of twin.azure.loadBalancers) {
    const fe = lb.frontendIpConfigurations.filter((f) => f.ipAddress === ip).map((f) => f.id);
    const rule = lb.loadBalancingRules.find(
      (r) => fe.includes(r.frontendIpConfigurationId) && r.frontendPort === to.port,
    );
    if (!rule) continue;
    const probe = lb.probes.find((p) => p.id === rule.probeId);
    if (!probe) return `rule ${rule.name}: no probe`;
    const path = probe.protocol === "Tcp" ? "" : ` ${probe.requestPath ?? "/"}`;
    return `${probe.protocol} ${probe.port}${path} every ${probe.intervalInSeconds}s`;
  }
  return null;
}

/** The JSON of `packetwalk walk -o json`: keys in a fixed order. */
export function walkJson(r: WalkReport): string {
  return `${JSON.stringify(r, null, 2)}\n`;
}
