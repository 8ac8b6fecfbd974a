import { type Family, formatIpNet, formatIpv4, formatIpv6 } from "../../core/ip.ts";
import type { IpSet, IpSetElement, IpSetMember, IpSetRegistry } from "../../model/ipset.ts";
import { protoName } from "../../model/netfilter/protocols.ts";
import { PROTO } from "../../model/packet.ts";

/**
 * Writes sets back in the text of `ipset save` (ipset 7.x, lib/session.c list_create/list_adt and
 * lib/print.c), so a parsed dump is written back byte for byte.
 */

/**
 * ICMP names as ipset knows them (ipset lib/icmp.c `icmp_typecodes`), in its order: printing takes
 * the first name of a type/code (`echo-reply`, not `pong`), parsing accepts all of them.
 */
export const ICMP_NAMES: readonly (readonly [name: string, type: number, code: number])[] = [
  ["echo-reply", 0, 0],
  ["pong", 0, 0],
  ["network-unreachable", 3, 0],
  ["host-unreachable", 3, 1],
  ["protocol-unreachable", 3, 2],
  ["port-unreachable", 3, 3],
  ["fragmentation-needed", 3, 4],
  ["source-route-failed", 3, 5],
  ["network-unknown", 3, 6],
  ["host-unknown", 3, 7],
  ["network-prohibited", 3, 9],
  ["host-prohibited", 3, 10],
  ["TOS-network-unreachable", 3, 11],
  ["TOS-host-unreachable", 3, 12],
  ["communication-prohibited", 3, 13],
  ["host-precedence-violation", 3, 14],
  ["precedence-cutoff", 3, 15],
  ["source-quench", 4, 0],
  ["network-redirect", 5, 0],
  ["host-redirect", 5, 1],
  ["TOS-network-redirect", 5, 2],
  ["TOS-host-redirect", 5, 3],
  ["echo-request", 8, 0],
  ["ping", 8, 0],
  ["router-advertisement", 9, 0],
  ["router-solicitation", 10, 0],
  ["ttl-zero-during-transit", 11, 0],
  ["ttl-zero-during-reassembly", 11, 1],
  ["ip-header-bad", 12, 0],
  ["required-option-missing", 12, 1],
  ["timestamp-request", 13, 0],
  ["timestamp-reply", 14, 0],
  ["address-mask-request", 17, 0],
  ["address-mask-reply", 18, 0],
];

/** ICMPv6 names (ipset lib/icmpv6.c `icmpv6_typecodes`, misspellings included: they parse). */
export const ICMPV6_NAMES: readonly (readonly [name: string, type: number, code: number])[] = [
  ["no-route", 1, 0],
  ["communication-prohibited", 1, 1],
  ["address-unreachable", 1, 3],
  ["port-unreachable", 1, 4],
  ["packet-too-big", 2, 0],
  ["ttl-zero-during-transit", 3, 0],
  ["ttl-zero-during-reassembly", 3, 1],
  ["bad-header", 4, 0],
  ["unknown-header-type", 4, 1],
  ["unknown-option", 4, 2],
  ["echo-request", 128, 0],
  ["ping", 128, 0],
  ["echo-reply", 129, 0],
  ["pong", 129, 0],
  ["router-solicitation", 133, 0],
  ["router-advertisement", 134, 0],
  ["neighbour-solicitation", 135, 0],
  ["neigbour-solicitation", 135, 0],
  ["neighbour-advertisement", 136, 0],
  ["neigbour-advertisement", 136, 0],
  ["redirect", 137, 0],
];

/** ipset_print_icmp(v6): the first known name of the type/code, else `type/code`. */
function formatIcmp(proto: number, typecode: number): string {
  const type = typecode >> 8;
  const code = typecode & 0xff;
  const table = proto === PROTO.icmp ? ICMP_NAMES : ICMPV6_NAMES;
  const named = table.find(([, t, c]) => t === type && c === code);
  return named ? named[0] : `${type}/${code}`;
}

/**
 * ipset_print_proto_port: the protocol as getprotobynumber() names it (netbase's /etc/protocols,
 * so 58 is `ipv6-icmp`), then the port, or the ICMP type/code for ICMP and ICMPv6.
 */
function formatProtoPort(proto: number, port: number): string {
  const tail = proto === PROTO.icmp || proto === PROTO.icmpv6 ? formatIcmp(proto, port) : String(port);
  return `${protoName(proto)}:${tail}`;
}

/** ipset_print_ether: upper-case hex octets. A MAC is 48 bits, past `>>`'s 32, hence the division. */
function formatMac(mac: number): string {
  const octets: string[] = [];
  for (let shift = 40; shift >= 0; shift -= 8) {
    const octet = Math.floor(mac / 2 ** shift) % 256;
    octets.push(octet.toString(16).toUpperCase().padStart(2, "0"));
  }
  return octets.join(":");
}

/** One element of an entry; hosts of hash:*net* print without `/32` (snprintf_ipv4 skips the host cidr). */
export function formatIpSetElement(element: IpSetElement, family: Family | null): string {
  switch (element.kind) {
    case "ip":
      return family === 6 ? formatIpv6(BigInt(element.addr)) : formatIpv4(Number(element.addr));
    case "net": {
      const host = element.net.family === 4 ? 32 : 128;
      if (element.net.prefix === host) {
        return element.net.family === 4 ? formatIpv4(element.net.addr) : formatIpv6(element.net.addr);
      }
      return formatIpNet(element.net);
    }
    case "proto-port":
      return formatProtoPort(element.proto, element.port);
    case "port":
      return String(element.port);
    case "mac":
      return formatMac(element.mac);
    case "iface":
      return `${element.physdev ? "physdev:" : ""}${element.name}`;
    case "mark":
      return `0x${element.mark.toString(16).padStart(8, "0")}`;
    case "set":
      return element.name;
    case "raw":
      return element.text;
  }
}

/**
 * The extensions of an entry, in the order ipset prints them (its ADD argument lists: timeout,
 * nomatch, wildcard, packets, bytes, comment, skbmark, skbprio, skbqueue; checked against 7.17).
 */
function formatMemberOptions(member: IpSetMember): string {
  let out = "";
  if (member.timeout !== undefined) out += ` timeout ${member.timeout}`;
  if (member.nomatch) out += " nomatch";
  if (member.wildcard) out += " wildcard";
  if (member.packets !== undefined) out += ` packets ${member.packets}`;
  if (member.bytes !== undefined) out += ` bytes ${member.bytes}`;
  // ipset_print_comment quotes without escaping: comments cannot hold a double quote.
  if (member.comment !== undefined) out += ` comment "${member.comment}"`;
  if (member.skbmark !== undefined) {
    const { mark, mask } = member.skbmark;
    out += ` skbmark 0x${mark.toString(16)}${mask === 0xffffffff ? "" : `/0x${mask.toString(16)}`}`;
  }
  if (member.skbprio !== undefined) {
    out += ` skbprio ${member.skbprio.major.toString(16)}:${member.skbprio.minor.toString(16)}`;
  }
  if (member.skbqueue !== undefined) out += ` skbqueue ${member.skbqueue}`;
  return out;
}

/** The `add` line of one member, without the newline. */
export function formatIpSetMember(set: IpSet, member: IpSetMember): string {
  const entry = member.elements.map((e) => formatIpSetElement(e, set.family)).join(",");
  return `add ${set.name} ${entry}${formatMemberOptions(member)}`;
}

/**
 * The `create` line, without the newline. list_create prints `family` unless it equals the type's
 * own family: hash types are registered for both families (so it is printed), bitmap:ip is IPv4
 * only and bitmap:port, hash:mac and list:set have none (so it is not).
 */
export function formatIpSetCreate(set: IpSet): string {
  let out = `create ${set.name} ${set.type}`;
  if (set.family !== null && set.type.startsWith("hash:") && set.type !== "hash:mac") {
    out += ` family ${set.family === 4 ? "inet" : "inet6"}`;
  }
  for (const [key, value] of set.options) out += value === null ? ` ${key}` : ` ${key} ${value}`;
  return out;
}

/** The whole dump: each set's create line followed by its members, sets in registry order. */
export function writeIpsetSave(registry: IpSetRegistry): string {
  const lines: string[] = [];
  for (const set of registry.values()) {
    lines.push(formatIpSetCreate(set));
    for (const member of set.members) lines.push(formatIpSetMember(set, member));
  }
  return lines.map((line) => `${line}\n`).join("");
}
