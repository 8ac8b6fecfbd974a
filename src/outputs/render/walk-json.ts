import { type Dyadic, toNumber } from "../../core/dyadic.ts";
import { formatIpv4 } from "../../core/ip.ts";
import type { Hop, SendResult } from "../../dataplane/sim/world/types.ts";
import { placeName } from "../../dataplane/sim/world/types.ts";
import type { WalkPath } from "../../dataplane/sim/world/walk-paths.ts";
import type { Frame } from "../../model/frame.ts";
import { protoName } from "../../model/netfilter/protocols.ts";
import { PROTO, TCP } from "../../model/packet.ts";
import type { Twin } from "../../model/twin.ts";
import { tcpdumpLine } from "../emulate/tcpdump/text.ts";
import { formatConntrackEntry } from "./conntrack-list.ts";

/**
 * `packetwalk walk`'s report, built once and printed as JSON (this module) or text (walk-text.ts):
 * every path with its exact probability, each hop with the rules it hit at their line in the node's
 * `iptables-save`, the conntrack entry made, and the first answer's way back: a server's reply, or
 * what a kernel answered instead (a REJECT rule's ICMP error or RST, a closed port's).
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
  /**
   * What the kernels did with the packet: `delivered` to a socket, `dropped`, or `rejected`: refused
   * with an answer, by a REJECT rule or by the destination's kernel for a closed port (a UDP
   * datagram no socket is bound to gets ICMP port unreachable, a SYN to a port nobody listens on a RST).
   */
  readonly verdict: string;
  /** Why it was not delivered, where (`NODE: REJECT in filter FORWARD ...`, a closed port); null when it was. */
  readonly reason: string | null;
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
  /**
   * The kernel's own answer instead of a server's reply, named as `--reject-with` names it
   * (`icmp-port-unreachable`, `icmp-host-prohibited`..., `tcp-reset`); null for a server's reply.
   */
  readonly answer: string | null;
  /** Who sent it: the place of its first hop. */
  readonly sentBy: string;
  /** The frame as `tcpdump -n` prints it (without the time) where it arrived, else where it was sent. */
  readonly frame: string;
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

/** ICMP destination unreachable codes by the name iptables' REJECT gives them (--reject-with). */
const UNREACH_NAMES: Readonly<Record<number, string>> = {
  0: "icmp-net-unreachable",
  1: "icmp-host-unreachable",
  2: "icmp-proto-unreachable",
  3: "icmp-port-unreachable",
  9: "icmp-net-prohibited",
  10: "icmp-host-prohibited",
  13: "icmp-admin-prohibited",
};

/** A kernel's refusal: an ICMP destination unreachable or a TCP reset; null for anything else. */
export function answerKind(f: Frame): string | null {
  const p = f.packet;
  if (p.proto === PROTO.icmp && p.icmpType === 3)
    return UNREACH_NAMES[p.icmpCode] ?? `icmp-type-3-code-${p.icmpCode}`;
  if (p.proto === PROTO.tcp && p.tcpFlags & TCP.RST) return "tcp-reset";
  return null;
}

/** `icmp-port-unreachable` → `ICMP port unreachable`, `tcp-reset` → `TCP reset`. */
export function answerWords(kind: string): string {
  const [proto, ...rest] = kind.split("-");
  return [proto!.toUpperCase(), ...rest].join(" ");
}

function replyReport(
  r: SendResult,
  lines: ReadonlyMap<string, ReadonlyMap<string, number>>,
  ms: number,
): ReplyReport {
  const sent = r.hops[0]?.before ?? null;
  const seen = r.delivered?.frame ?? sent;
  return {
    answer: sent ? answerKind(sent) : null,
    sentBy: r.hops[0] ? placeName(r.hops[0].where) : "-",
    frame: seen ? tcpdumpLine(seen, { numeric: true }).replace(/^\S+ /, "") : "-",
    verdict: r.fate,
    sourceSeenByClient: r.delivered ? addr(r.delivered.frame)[0] : null,
    hops: r.hops.map((h) => hopReport(h, lines, ms)),
  };
}

/**
 * A request delivered to a namespace that answered it with an error (a closed port: no UDP socket
 * bound, no TCP listener): the kernel refused it, so the path reads `rejected`, and the hop that
 * handed it to the stack says why.
 */
function closedPort(
  req: SendResult,
  reply: ReplyReport | null,
  proto: "tcp" | "udp",
): { reason: string; hops: (hops: HopReport[]) => HopReport[] } | null {
  const d = req.delivered;
  if (!d || !reply?.answer || (d.at.kind !== "node" && d.at.kind !== "pod")) return null;
  const [, to] = addr(d.frame);
  const reason = proto === "udp" ? `no socket bound to udp ${to}` : `no socket listening on tcp ${to}`;
  const note = `${reason}: the kernel answers with ${answerWords(reply.answer)}`;
  return {
    reason: `${placeName(d.at)}: ${reason}`,
    hops: (hops) =>
      hops.map((h, i) =>
        i === hops.length - 1 && h.action === "delivered" ? { ...h, action: "rejected", note } : h,
      ),
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
    const reply = p.reply ? replyReport(p.reply, lines, ms) : null;
    const hops = p.request.hops.map((h) => hopReport(h, lines, ms));
    const closed = closedPort(p.request, reply, i.proto);
    const last = p.request.hops.at(-1);
    const verdict = closed ? "rejected" : p.request.fate;
    const reason = closed
      ? closed.reason
      : verdict !== "delivered" && last
        ? `${placeName(last.where)}: ${last.note}`
        : null;
    return {
      probability: toNumber(p.probability),
      probabilityExact: exactText(p.probability),
      verdict,
      reason,
      endpoint: inPod ? endpoint : null,
      pod: inPod ? inPod.pod : null,
      node: d && (d.at.kind === "pod" || d.at.kind === "node") ? d.at.node : null,
      sourceSeenByPod: inPod && seen ? (seen.split(":")[0] as string) : null,
      balancer: lb ? lb.note : null,
      // UDP has no exchange of its own: its outcome is what became of the datagram.
      outcome: i.proto === "udp" ? verdict : p.outcome,
      hops: closed ? closed.hops(hops) : hops,
      reply,
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
    probe: probeOf(i.twin, i.to, i.proto),
    paths,
    reply: paths[0]?.reply ?? null,
  };
}

/** The health probe of the LB rule serving a frontend address, port and protocol (azure.md §3). */
export function probeOf(
  twin: Twin,
  to: { readonly ip: number; readonly port: number },
  proto: "tcp" | "udp" = "tcp",
): string | null {
  const ip = formatIpv4(to.ip);
  const wanted = proto === "tcp" ? "Tcp" : "Udp";
  for (const lb of twin.azure.loadBalancers) {
    const fe = lb.frontendIpConfigurations.filter((f) => f.ipAddress === ip).map((f) => f.id);
    const rule = lb.loadBalancingRules.find(
      (r) =>
        fe.includes(r.frontendIpConfigurationId) &&
        r.frontendPort === to.port &&
        (r.protocol === wanted || r.protocol === "All"),
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
