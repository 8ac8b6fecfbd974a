import type { Packet } from "./packet.ts";

/**
 * A frame as it crosses one interface: Ethernet addresses, the IPv4 header fields a capture shows,
 * the packet (the evaluator's fixed-shape headers), and for TCP the sequence numbers, window and
 * options, plus the payload bytes. What the data plane records at every interface and what pcap
 * files and `tcpdump` print. Times are microseconds on the twin's virtual clock (Unix epoch).
 */

export type TcpOption =
  | { readonly kind: "mss"; readonly value: number }
  | { readonly kind: "nop" }
  | { readonly kind: "wscale"; readonly value: number }
  | { readonly kind: "sackOK" }
  | { readonly kind: "timestamp"; readonly value: number; readonly echo: number };

export interface TcpDetails {
  readonly seq: number;
  /** 0 unless the ACK flag is set. */
  readonly ack: number;
  /** As on the wire (before window scaling). */
  readonly window: number;
  readonly options: readonly TcpOption[];
}

export interface Frame {
  /** Microseconds since the Unix epoch on the virtual clock. */
  readonly time: number;
  readonly srcMac: string;
  readonly dstMac: string;
  readonly ipId: number;
  readonly ttl: number;
  /** The IPv4 don't-fragment bit. */
  readonly dontFragment: boolean;
  /**
   * The IPv4 TOS byte (DSCP and ECN); absent means 0. The kernel's own ICMP errors carry 0xc0
   * (icmp_send: IPTOS_PREC_INTERNETCONTROL, net/ipv4/icmp.c).
   */
  readonly tos?: number;
  readonly packet: Packet;
  /** Present for TCP. */
  readonly tcp: TcpDetails | null;
  /** ICMP echo request/reply sequence number (the identifier is `packet.icmpId`); absent otherwise. */
  readonly icmpSeq?: number;
  readonly payload: Uint8Array;
}

/** The frames one interface carried, in order (what `tcpdump -i IFACE` would have seen). */
export interface Capture {
  /** `node/iface`, e.g. `aks-nodepool1-31351229-0/eth0`, or `host/iface` for outside hosts. */
  readonly where: string;
  readonly iface: string;
  readonly frames: readonly Frame[];
}
