import type { Family } from "../core/ip.ts";

/**
 * The connection tracking model: what `conntrack -L` shows. Words follow the kernel
 * (include/uapi/linux/netfilter/nf_conntrack_common.h, nf_conntrack_tuple_common.h).
 */

/** One direction of a connection. For ICMP, `sport` holds the id and `dport` is 0 (type/code live apart). */
export interface CtTuple {
  readonly family: Family;
  readonly proto: number;
  readonly src: number | bigint;
  readonly dst: number | bigint;
  readonly sport: number;
  readonly dport: number;
  /** ICMP type and code of this direction (echo-request 8/0 vs echo-reply 0/0); -1 otherwise. */
  readonly icmpType: number;
  readonly icmpCode: number;
}

/** TCP conntrack states (enum tcp_conntrack). NONE is the state before the first packet. */
export type TcpState =
  | "NONE"
  | "SYN_SENT"
  | "SYN_RECV"
  | "ESTABLISHED"
  | "FIN_WAIT"
  | "CLOSE_WAIT"
  | "LAST_ACK"
  | "TIME_WAIT"
  | "CLOSE"
  | "SYN_SENT2";

/** The state a packet has for `-m conntrack --ctstate` / `-m state --state`. */
export type CtState = "INVALID" | "NEW" | "RELATED" | "ESTABLISHED" | "UNTRACKED" | "SNAT" | "DNAT";

/** Which way a packet travels relative to the connection's first packet (`--ctdir`). */
export type CtDir = "ORIGINAL" | "REPLY";

export interface CtStatus {
  expected: boolean;
  seenReply: boolean;
  assured: boolean;
  confirmed: boolean;
  srcNat: boolean;
  dstNat: boolean;
}

export interface ConntrackEntry {
  /** Stable id in creation order (the kernel's ct id is a hash; ours is deterministic). */
  readonly id: number;
  readonly orig: CtTuple;
  /** The tuple a reply must carry; NAT rewrites it (DNAT: reply.src; SNAT: reply.dst/dport). */
  reply: CtTuple;
  tcpState: TcpState | null;
  status: CtStatus;
  /** ctmark (`-m connmark`, `-j CONNMARK`), printed as `mark=`. */
  mark: number;
  zone: number;
  /** Virtual time (ms) at which the entry expires; `conntrack -L` prints the seconds left. */
  expiresAt: number;
  use: number;
}
