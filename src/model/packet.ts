import type { Family } from "../core/ip.ts";

/** IP protocol numbers used across the model. */
export const PROTO = { icmp: 1, tcp: 6, udp: 17, icmpv6: 58, sctp: 132, udplite: 136 } as const;

/** TCP flag bits as in the TCP header (and as `--tcp-flags` masks them). */
export const TCP = { FIN: 1, SYN: 2, RST: 4, PSH: 8, ACK: 16, URG: 32, ECE: 64, CWR: 128 } as const;

/**
 * One packet's headers. A fixed shape on purpose: the evaluator's hot path reads these fields on every
 * rule, and V8 keeps one hidden class for all packets. IPv4 addresses are uint32 numbers, IPv6 bigints.
 */
export interface Packet {
  family: Family;
  proto: number;
  src: number | bigint;
  dst: number | bigint;
  /** TCP/UDP/SCTP ports; 0 for other protocols. */
  sport: number;
  dport: number;
  /** TCP flag bits (see TCP); 0 for other protocols. */
  tcpFlags: number;
  /** ICMP type/code/identifier; -1 when not ICMP. */
  icmpType: number;
  icmpCode: number;
  icmpId: number;
  /** Bytes on the wire at L3, for rule and chain counters. */
  length: number;
  /** The skb mark (`-m mark`, `-j MARK`). */
  mark: number;
  /** A non-first fragment (`-f`). */
  fragment: boolean;
}

export function makePacket(init: Partial<Packet> & Pick<Packet, "family" | "proto" | "src" | "dst">): Packet {
  return {
    family: init.family,
    proto: init.proto,
    src: init.src,
    dst: init.dst,
    sport: init.sport ?? 0,
    dport: init.dport ?? 0,
    tcpFlags: init.tcpFlags ?? 0,
    icmpType: init.icmpType ?? -1,
    icmpCode: init.icmpCode ?? -1,
    icmpId: init.icmpId ?? -1,
    length: init.length ?? 60,
    mark: init.mark ?? 0,
    fragment: init.fragment ?? false,
  };
}
