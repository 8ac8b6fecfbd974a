import type { CtDir } from "../../../model/conntrack.ts";
import type { Frame } from "../../../model/frame.ts";
import { PROTO } from "../../../model/packet.ts";
import { destUnreachable, UNREACH } from "../endpoints/icmp.ts";
import { LINUX_CURRENT } from "../endpoints/os-profile.ts";
import { isIcmpError } from "../endpoints/quote.ts";
import { resetFor } from "../endpoints/tcp-connection.ts";
import type { HostInput, HostTraversal } from "../netfilter/host.ts";
import { portOut } from "./link-hops.ts";
import { nodeOutput } from "./node-hops.ts";
import { podOutput } from "./pod-hops.ts";
import type { Place } from "./types.ts";
import { newWalk, type Walk, type WorldCore, walkResult } from "./walk.ts";

/**
 * What a kernel sends back on its own, walked through the twin like any frame and kept in the
 * offending frame's walk (Walk.answers): the answer of a REJECT rule (ipt_REJECT.c reject_tg →
 * nf_reject_ipv4.c) and the ICMP port unreachable of a UDP datagram no socket wants (__udp4_lib_rcv).
 */

/** sysctl net.ipv4.ip_default_ttl: the TTL of what the kernel sends itself. */
const DEFAULT_TTL = 64;
/** The answer leaves in the softirq that refused the packet: a Linux stack's turnaround. */
const KERNEL_US = LINUX_CURRENT.stackDelayUs;
/** INADDR_DUMMY (192.0.0.8): __icmp_send's source when routing found none. */
const INADDR_DUMMY = 0xc0000008;

/** --reject-with's ICMP codes (reject_tg: ICMP_NET_UNREACH ... ICMP_PKT_FILTERED). */
const REJECT_CODES: ReadonlyMap<string, number> = new Map([
  ["icmp-net-unreachable", UNREACH.NET],
  ["icmp-host-unreachable", UNREACH.HOST],
  ["icmp-proto-unreachable", UNREACH.PROTOCOL],
  ["icmp-port-unreachable", UNREACH.PORT],
  ["icmp-net-prohibited", UNREACH.NET_PROHIBITED],
  ["icmp-host-prohibited", UNREACH.HOST_PROHIBITED],
  ["icmp-admin-prohibited", UNREACH.ADMIN_PROHIBITED],
]);

export interface Refused {
  /** The frame as the rules saw it when REJECT matched (after PREROUTING's DNAT, before SNAT). */
  readonly frame: Frame;
  readonly tr: HostTraversal;
  /** The bridge port it came in by (br_netfilter's physindev), when it came through a bridge. */
  readonly physIn: string | null;
  /** Its TTL at the hook: ip_forward decrements it before FORWARD, a bridge does not. */
  readonly ttl: number;
}

/**
 * REJECT's answer from `node`. tcp-reset: a RST built by nf_reject_ip_tcphdr_put (resetFor: seq =
 * the segment's ack, or ACK of its sequence space), TTL 64, IP id 0, DF; a frame that came through a
 * bridge has it sent straight out of its port with the MACs swapped (nf_send_reset's
 * CONFIG_BRIDGE_NETFILTER branch, no hooks), any other through ip_local_out. The ICMP codes: an
 * error from icmp_send, whose source is the refused packet's destination when that was the node's
 * own (RTCF_LOCAL), else the address routing picks toward the sender. Both carry the refused packet's
 * conntrack entry, RELATED in the other direction (nf_ct_attach; icmp_glue_bits for ICMP).
 */
export function rejectAnswer(x: WorldCore, w: Walk, node: string, r: Refused): void {
  const s = x.stack(node);
  const p = r.frame.packet;
  const how = r.tr.rejectWith ?? "icmp-port-unreachable";
  const time = r.frame.time + KERNEL_US;
  const attached = attach(r.tr);
  if (p.fragment || p.family !== 4) return; // only the first fragment is answered; IPv6 is not modelled
  if (how === "tcp-reset") {
    if (p.proto !== PROTO.tcp || !r.frame.tcp) return;
    const rst = resetFor(r.frame, time, { mac: r.frame.dstMac, ttl: DEFAULT_TTL });
    if (!rst) return; // no RST for a RST
    if (r.physIn) {
      answer(w, (aw) => portOut(x, aw, node, r.physIn as string, rst));
      return;
    }
    answer(w, (aw) => nodeOutput(x, aw, node, rst, attached));
    return;
  }
  const code = REJECT_CODES.get(how);
  if (code === undefined) return; // icmp6 types on IPv4: the kernel refuses such a rule
  if (!mayAnswer(p.dst as number) || isIcmpError(p)) return;
  const hook = r.tr.stoppedAt?.hook;
  const local = hook === "INPUT" || (hook === "OUTPUT" && s.host.isLocal(p.dst as number));
  const src = local ? (p.dst as number) : (s.host.sourceFor(p.src as number) ?? INADDR_DUMMY);
  const icmp = destUnreachable(r.frame, code, { src, ttl: DEFAULT_TTL, ipId: s.ipId(), time }, r.ttl);
  answer(w, (aw) => nodeOutput(x, aw, node, icmp, attached));
}

/**
 * A UDP datagram delivered to a namespace where no socket is bound to its port: that kernel's ICMP
 * port unreachable, from the address the datagram was sent to (__udp4_lib_rcv → icmp_send). A node
 * attaches the datagram's conntrack entry; a pod's namespace has no rules, so none.
 */
export function closedPortAnswer(x: WorldCore, w: Walk): void {
  const d = w.delivered;
  if (!d || d.frame.packet.proto !== PROTO.udp || (d.at.kind !== "node" && d.at.kind !== "pod")) return;
  const p = d.frame.packet;
  const dst = p.dst as number;
  const at = d.at;
  if (!mayAnswer(dst) || x.udpBound(at, dst, p.dport)) return;
  const s = x.stack(at.node);
  const icmp = destUnreachable(d.frame, UNREACH.PORT, {
    src: dst,
    ttl: DEFAULT_TTL,
    ipId: s.ipId(),
    time: d.frame.time + KERNEL_US,
  });
  if (at.kind === "pod") {
    answer(w, (aw) => podOutput(x, aw, at.node, at.pod, icmp));
    return;
  }
  const h = [...w.hops].reverse().find((hp) => hp.conntrack && samePlace(hp.where, at));
  const entry = h?.conntrack ?? null;
  const dir = h?.ctDir ?? null;
  const attached = entry && dir ? { attached: { entry, dir: flip(dir) } } : {};
  answer(w, (aw) => nodeOutput(x, aw, at.node, icmp, attached));
}

function answer(w: Walk, run: (aw: Walk) => void): void {
  const aw = newWalk();
  run(aw);
  w.answers.push(walkResult(aw));
}

function attach(tr: HostTraversal): Pick<HostInput, "attached"> {
  if (!tr.conntrack || !tr.ctDir || tr.ctState === "UNTRACKED") return {};
  return { attached: { entry: tr.conntrack, dir: flip(tr.ctDir) } };
}

/** nf_conntrack_attach: "This ICMP is in reverse direction to the packet which caused it". */
function flip(d: CtDir): CtDir {
  return d === "ORIGINAL" ? "REPLY" : "ORIGINAL";
}

/** icmp_send answers no broadcast or multicast destination (RTCF_BROADCAST | RTCF_MULTICAST). */
function mayAnswer(dst: number): boolean {
  return dst !== 0xffffffff && dst >>> 28 !== 0xe;
}

function samePlace(a: Place, b: Place): boolean {
  return a.kind === "node" && b.kind === "node" && a.node === b.node;
}
