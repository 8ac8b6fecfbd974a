import type { Frame } from "../../../model/frame.ts";
import { PROTO } from "../../../model/packet.ts";
import { frameDst, frameSrc, udpFrame } from "./segment.ts";

/**
 * DNS over UDP (RFC 1035 §4): the query a resolver sends and the answer kube-dns gives for cluster
 * names. Only A records and NXDOMAIN; names compressed the way servers do (answers point at the
 * question, offset 12).
 */

export const DNS_TYPE = { A: 1, AAAA: 28, SRV: 33, PTR: 12 } as const;

export interface DnsQuestion {
  readonly id: number;
  /** Recursion desired (glibc's resolver sets it). */
  readonly rd: boolean;
  readonly name: string;
  readonly qtype: number;
  readonly qclass: number;
}

function encodeName(name: string): number[] {
  const out: number[] = [];
  for (const label of name.replace(/\.$/, "").split(".")) {
    if (label === "") continue;
    const bytes = new TextEncoder().encode(label);
    out.push(bytes.length, ...bytes);
  }
  out.push(0);
  return out;
}

const u16 = (n: number): number[] => [(n >>> 8) & 0xff, n & 0xff];
const u32 = (n: number): number[] => [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];

/** A standard query for one name (what `nslookup`/getaddrinfo send). */
export function dnsQuery(id: number, name: string, qtype: number = DNS_TYPE.A): Uint8Array {
  return Uint8Array.from([
    ...u16(id),
    0x01,
    0x00,
    ...u16(1),
    ...u16(0),
    ...u16(0),
    ...u16(0),
    ...encodeName(name),
    ...u16(qtype),
    ...u16(1),
  ]);
}

/** The question of a query, or null if it is not a one-question standard query. */
export function parseDnsQuery(b: Uint8Array): DnsQuestion | null {
  if (b.length < 17) return null;
  const flags = (b[2]! << 8) | b[3]!;
  if (flags & 0x8000 || ((flags >>> 11) & 0xf) !== 0) return null; // a response, or not QUERY
  if (((b[4]! << 8) | b[5]!) !== 1) return null;
  const labels: string[] = [];
  let at = 12;
  while (at < b.length && b[at] !== 0) {
    const len = b[at]!;
    if (len > 63 || at + 1 + len > b.length) return null;
    labels.push(new TextDecoder().decode(b.subarray(at + 1, at + 1 + len)));
    at += 1 + len;
  }
  if (at + 5 > b.length) return null;
  at += 1;
  return {
    id: (b[0]! << 8) | b[1]!,
    rd: (flags & 0x0100) !== 0,
    name: labels.join(".").toLowerCase(),
    qtype: (b[at]! << 8) | b[at + 1]!,
    qclass: (b[at + 2]! << 8) | b[at + 3]!,
  };
}

export interface DnsAnswer {
  /** IPv4 addresses (uint32) for an A question; empty: the name exists without records of that type. */
  readonly addresses: readonly number[];
  readonly ttl: number;
}

/**
 * The response bytes: QR, AA (the server is authoritative for cluster.local), RD copied, RA set;
 * NXDOMAIN (rcode 3) when `answer` is null. kube-dns answers with TTL 30, CoreDNS's kubernetes
 * plugin with 5. (Real servers add the zone's SOA to negative answers; left out here.)
 */
export function dnsResponse(q: DnsQuestion, answer: DnsAnswer | null): Uint8Array {
  const rcode = answer ? 0 : 3;
  const flags = 0x8000 | 0x0400 | (q.rd ? 0x0100 : 0) | 0x0080 | rcode;
  const records = answer && q.qtype === DNS_TYPE.A ? answer.addresses : [];
  const out = [...u16(q.id), ...u16(flags), ...u16(1), ...u16(records.length), ...u16(0), ...u16(0)];
  out.push(...encodeName(q.name), ...u16(q.qtype), ...u16(q.qclass));
  for (const a of records)
    out.push(0xc0, 0x0c, ...u16(DNS_TYPE.A), ...u16(1), ...u32(answer!.ttl), ...u16(4), ...u32(a));
  return Uint8Array.from(out);
}

/** A record lookup: the addresses of a name, or null for NXDOMAIN. */
export type Zone = (name: string, qtype: number) => DnsAnswer | null;

/**
 * A DNS server process on UDP 53 answering one datagram: the reply frame (source and destination
 * swapped: what the server's socket sees is what it answers), or null for anything that is not a query.
 */
export function dnsServe(
  query: Frame,
  zone: Zone,
  host: { mac: string; ttl: number; ipId: number; delayUs: number },
): Frame | null {
  if (query.packet.proto !== PROTO.udp) return null;
  const q = parseDnsQuery(query.payload);
  if (!q) return null;
  const reply = dnsResponse(q, zone(q.name, q.qtype));
  return udpFrame(
    {
      time: query.time + host.delayUs,
      srcMac: host.mac,
      dstMac: query.srcMac,
      ipId: host.ipId,
      ttl: host.ttl,
      // Linux UDP sockets default to IP_PMTUDISC_WANT: DF on datagrams that fit the path MTU.
      dontFragment: true,
    },
    frameDst(query),
    frameSrc(query),
    reply,
  );
}

/** Addresses in an answer (for tests and narration). */
export function answerAddresses(b: Uint8Array): { rcode: number; addresses: number[] } {
  const rcode = b[3]! & 0xf;
  const count = (b[6]! << 8) | b[7]!;
  let at = 12;
  while (b[at] !== 0) at += 1 + b[at]!;
  at += 5;
  const addresses: number[] = [];
  for (let i = 0; i < count; i++) {
    at += 2; // compressed name
    const type = (b[at]! << 8) | b[at + 1]!;
    const len = (b[at + 8]! << 8) | b[at + 9]!;
    if (type === DNS_TYPE.A && len === 4)
      addresses.push(((b[at + 10]! << 24) | (b[at + 11]! << 16) | (b[at + 12]! << 8) | b[at + 13]!) >>> 0);
    at += 10 + len;
  }
  return { rcode, addresses };
}
