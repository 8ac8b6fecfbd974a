import {
  type Family,
  parseIpNet,
  parseIpv4,
  parseIpv6,
  prefixToMask4,
  prefixToMask6,
} from "../../core/ip.ts";
import { type IpSetElement, type IpSetMember, ipSetDimensions } from "../../model/ipset.ts";
import { parseProto } from "../../model/netfilter/protocols.ts";
import { PROTO } from "../../model/packet.ts";
import { ICMP_NAMES, ICMPV6_NAMES } from "./write.ts";

/**
 * The ENTRY word of an `add` line (`10.0.0.1,tcp:80,10.244.1.5`) parsed per dimension of the set
 * type into numbers. Only the forms `ipset save` prints are taken: single addresses and ports, not
 * the ranges and service names `ipset add` expands (save lists what the kernel stored, one by one).
 * The options after the entry (timeout, nomatch, comment, ...) are read here too.
 */

/** What the kernel applies to an entry before storing it, from the set's create options. */
export interface EntryRules {
  readonly type: string;
  readonly family: Family | null;
  /** `netmask` (hash:ip, hash:ip,port, bitmap:ip): the first address is stored masked. */
  readonly netmask: number | null;
  /** `bitmask` (hash:ip, hash:ip,port): like netmask, any mask. */
  readonly bitmask: number | bigint | null;
  /** hash:ip,mark `markmask`: the mark is stored ANDed with it. */
  readonly markmask: number;
  /** bitmap types: the inclusive bounds of `range`. */
  readonly range: readonly [number, number] | null;
}

export interface EntryError {
  readonly code: "ipset.bad-member" | "ipset.unknown-set";
  readonly detail: string;
}

export const U32 = /^\d{1,10}$/;

const familyWord = (family: Family | null) => (family === 6 ? "IPv6" : "IPv4");

/** A bare address of the family, as a uint32 or a bigint. */
export function parseSetAddress(text: string, family: Family): number | bigint | null {
  return family === 4 ? parseIpv4(text) : parseIpv6(text);
}

/** The mask the kernel applies to the first address of hash:ip and hash:ip,port (netmask or bitmask). */
function storeMask(rules: EntryRules): number | bigint | null {
  if (rules.netmask !== null)
    return rules.family === 6 ? prefixToMask6(rules.netmask) : prefixToMask4(rules.netmask);
  return rules.bitmask;
}

function and(addr: number | bigint, mask: number | bigint): number | bigint {
  return typeof addr === "bigint" ? addr & BigInt(mask) : (addr & Number(mask)) >>> 0;
}

function parseIp(text: string, rules: EntryRules, first: boolean): IpSetElement | string {
  const family = rules.family ?? 4;
  let addr = parseSetAddress(text, family);
  if (addr === null) return `"${text}" is not an ${familyWord(family)} address`;
  if (first && (rules.type === "hash:ip" || rules.type === "hash:ip,port" || rules.type === "bitmap:ip")) {
    const mask = storeMask(rules);
    if (mask !== null) addr = and(addr, mask);
    // hash types cannot store a zero address (ipset(8) GENERAL RESTRICTIONS); the kernel refuses it.
    if (rules.type !== "bitmap:ip" && (addr === 0 || addr === 0n))
      return `"${text}" stores as zero, which a hash set cannot hold`;
  }
  if (rules.range !== null && typeof addr === "number" && (addr < rules.range[0] || addr > rules.range[1])) {
    return `"${text}" is outside the set's range`;
  }
  return { kind: "ip", addr };
}

/** `addr[/prefix]`; a missing prefix means a host. Zero prefixes only where ipset allows them. */
function parseNet(text: string, rules: EntryRules): IpSetElement | string {
  const family = rules.family ?? 4;
  const m = /^([^/]+)(?:\/(\d{1,3}))?$/.exec(text);
  const host = family === 6 ? 128 : 32;
  const prefix = m?.[2] === undefined ? host : Number(m[2]);
  const net = m ? parseIpNet(`${m[1]}/${prefix}`, family) : null;
  if (net === null || prefix > host) return `"${text}" is not an ${familyWord(family)} network`;
  // hash:net,port,net alone takes /0 ("Either subnet is permitted to be a /0", ipset(8)).
  if (prefix === 0 && rules.type !== "hash:net,port,net")
    return `"${text}" has a zero prefix, which ${rules.type} cannot hold`;
  return { kind: "net", net };
}

function parsePortNumber(text: string): number | null {
  return /^\d{1,5}$/.test(text) && Number(text) <= 65535 ? Number(text) : null;
}

/** ICMP(v6) `name` or `type/code` into the kernel's `type << 8 | code`. */
function parseIcmp(text: string, table: typeof ICMP_NAMES): number | null {
  const named = table.find(([name]) => name === text);
  if (named) return (named[1] << 8) | named[2];
  const m = /^(\d{1,3})\/(\d{1,3})$/.exec(text);
  if (!m || Number(m[1]) > 255 || Number(m[2]) > 255) return null;
  return (Number(m[1]) << 8) | Number(m[2]);
}

/** `[proto:]port` of hash types, after ipset's ipset_parse_proto_port (lib/parse.c): bare means TCP. */
function parseProtoPort(text: string, family: Family | null): IpSetElement | string {
  const colon = text.indexOf(":");
  if (colon < 0) {
    const port = parsePortNumber(text);
    return port === null ? `"${text}" is not a port number` : { kind: "proto-port", proto: PROTO.tcp, port };
  }
  const protoText = text.slice(0, colon);
  const rest = text.slice(colon + 1);
  const proto = parseProto(protoText);
  if (proto === null || proto === 0) return `"${protoText}" is not a protocol`;
  switch (proto) {
    case PROTO.tcp:
    case PROTO.udp:
    case PROTO.sctp:
    case PROTO.udplite: {
      const port = parsePortNumber(rest);
      return port === null ? `"${rest}" is not a port number` : { kind: "proto-port", proto, port };
    }
    case PROTO.icmp:
    case PROTO.icmpv6: {
      const v6 = proto === PROTO.icmpv6;
      if (family !== (v6 ? 6 : 4))
        return `protocol "${protoText}" needs a set of family ${v6 ? "inet6" : "inet"}`;
      const port = parseIcmp(rest, v6 ? ICMPV6_NAMES : ICMP_NAMES);
      return port === null
        ? `"${rest}" is not an ICMP type name or type/code`
        : { kind: "proto-port", proto, port };
    }
    default:
      return rest === "0"
        ? { kind: "proto-port", proto, port: 0 }
        : `protocol "${protoText}" takes only the port 0`;
  }
}

/** A bitmap:port entry: the protocol is optional and not stored (ipset(8), bitmap:port). */
function parseBitmapPort(text: string, rules: EntryRules): IpSetElement | string {
  const m = /^(?:(tcp|udp):)?(.*)$/.exec(text);
  const port = parsePortNumber(m?.[2] ?? "");
  if (port === null) return `"${text}" is not a port number`;
  if (rules.range !== null && (port < rules.range[0] || port > rules.range[1]))
    return `"${text}" is outside the set's range`;
  return { kind: "port", port };
}

function parseMac(text: string): IpSetElement | string {
  if (!/^[0-9a-fA-F]{1,2}(:[0-9a-fA-F]{1,2}){5}$/.test(text)) return `"${text}" is not a MAC address`;
  // 48 bits exceed the 32 of bit operators; a double holds them exactly.
  const mac = text.split(":").reduce((acc, octet) => acc * 256 + Number.parseInt(octet, 16), 0);
  return { kind: "mac", mac };
}

function parseIface(text: string): IpSetElement | string {
  const physdev = text.startsWith("physdev:");
  const name = physdev ? text.slice("physdev:".length) : text;
  // IFNAMSIZ is 16 with the terminating NUL.
  if (name.length === 0 || name.length > 15) return `"${text}" is not an interface name`;
  return { kind: "iface", name, physdev };
}

function parseMark(text: string, markmask: number): IpSetElement | string {
  if (!/^(0x[0-9a-fA-F]{1,8}|\d{1,10})$/.test(text) || Number(text) > 0xffffffff)
    return `"${text}" is not a mark`;
  return { kind: "mark", mark: (Number(text) & markmask) >>> 0 };
}

function parseDimension(dim: string, text: string, index: number, rules: EntryRules): IpSetElement | string {
  switch (dim) {
    case "ip":
      return parseIp(text, rules, index === 0);
    case "net":
      return parseNet(text, rules);
    case "port":
      return rules.type === "bitmap:port" ? parseBitmapPort(text, rules) : parseProtoPort(text, rules.family);
    case "mac":
      return parseMac(text);
    case "iface":
      return parseIface(text);
    case "mark":
      return parseMark(text, rules.markmask);
    default:
      return `"${text}" is of the unknown dimension "${dim}"`;
  }
}

/**
 * Parses an entry of a known type. `typeOf` tells the type of an existing set (null if none), for
 * list:set members. Returns the elements, or why the entry is refused.
 */
export function parseEntry(
  text: string,
  rules: EntryRules,
  typeOf: (setName: string) => string | null,
): IpSetElement[] | EntryError {
  if (rules.type === "list:set") {
    const type = typeOf(text);
    if (type === null) return { code: "ipset.unknown-set", detail: `member set "${text}" does not exist` };
    // The kernel refuses nesting (IPSET_ERR_LOOP): a list:set holds no list:set.
    if (type === "list:set")
      return { code: "ipset.bad-member", detail: `member set "${text}" is itself a list:set` };
    return [{ kind: "set", name: text }];
  }
  const dims = ipSetDimensions(rules.type);
  const parts = text.split(",");
  // bitmap:ip,mac may leave out the MAC: the kernel fills it in from the first matching packet.
  const macLeftOut = rules.type === "bitmap:ip,mac" && parts.length === 1;
  if (parts.length !== dims.length && !macLeftOut) {
    return {
      code: "ipset.bad-member",
      detail: `member "${text}" of a ${rules.type} set needs ${dims.length} comma-separated parts`,
    };
  }
  const elements: IpSetElement[] = [];
  for (const [index, part] of parts.entries()) {
    const element = parseDimension(dims[index] ?? "", part, index, rules);
    if (typeof element === "string") {
      return {
        code: "ipset.bad-member",
        detail: parts.length === 1 ? `member ${element}` : `member "${text}": ${element}`,
      };
    }
    elements.push(element);
  }
  return elements;
}

/** Entry options: whether they take a value, and the create flag the set needs for them. */
export const ENTRY_OPTIONS: ReadonlyMap<string, { readonly value: boolean; readonly needs: string | null }> =
  new Map([
    ["timeout", { value: true, needs: "timeout" }],
    ["nomatch", { value: false, needs: null }],
    ["wildcard", { value: false, needs: null }],
    ["packets", { value: true, needs: "counters" }],
    ["bytes", { value: true, needs: "counters" }],
    ["comment", { value: true, needs: "comment" }],
    ["skbmark", { value: true, needs: "skbinfo" }],
    ["skbprio", { value: true, needs: "skbinfo" }],
    ["skbqueue", { value: true, needs: "skbinfo" }],
  ]);

/** The largest timeout ipset accepts (ipset(8): 2147483 seconds). */
export const MAX_TIMEOUT = 2147483;

/** A member while its line is read. */
export type MutableMember = { -readonly [K in keyof IpSetMember]: IpSetMember[K] };

/** Stores one entry option's value; false when the value is malformed. */
export function setEntryOption(member: MutableMember, key: string, value: string): boolean {
  switch (key) {
    case "nomatch":
      member.nomatch = true;
      return true;
    case "wildcard":
      member.wildcard = true;
      return true;
    case "timeout":
      if (!/^\d{1,7}$/.test(value) || Number(value) > MAX_TIMEOUT) return false;
      member.timeout = Number(value);
      return true;
    case "packets":
    case "bytes": {
      if (!/^\d{1,20}$/.test(value) || BigInt(value) >= 1n << 64n) return false;
      member[key] = BigInt(value);
      return true;
    }
    case "comment":
      // ipset_parse_comment refuses more than IPSET_MAX_COMMENT_SIZE characters.
      if (value.length > 255) return false;
      member.comment = value;
      return true;
    case "skbmark": {
      const m = /^0x([0-9a-fA-F]{1,8})(?:\/0x([0-9a-fA-F]{1,8}))?$/.exec(value);
      if (!m) return false;
      member.skbmark = {
        mark: Number.parseInt(m[1] ?? "", 16),
        mask: Number.parseInt(m[2] ?? "ffffffff", 16),
      };
      return true;
    }
    case "skbprio": {
      const m = /^([0-9a-fA-F]{1,4}):([0-9a-fA-F]{1,4})$/.exec(value);
      if (!m) return false;
      member.skbprio = { major: Number.parseInt(m[1] ?? "", 16), minor: Number.parseInt(m[2] ?? "", 16) };
      return true;
    }
    case "skbqueue":
      if (!/^\d{1,5}$/.test(value) || Number(value) > 65535) return false;
      member.skbqueue = Number(value);
      return true;
    default:
      return false;
  }
}
