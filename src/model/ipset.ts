import type { Family, IpNet } from "../core/ip.ts";

/**
 * IP sets as `ipset save` shows them (ipset(8); the kernel's net/netfilter/ipset/). Members are
 * parsed into numbers once, so `-m set --match-set` can be compiled into lookups; everything else
 * a dump carries (create options, per-member timeout, counters, comment, skbinfo) is kept so a
 * set can be written back as `ipset save` printed it.
 */

/** The set types of ipset 7.x, by their names in `ipset save`. */
export const IPSET_TYPES = [
  "bitmap:ip",
  "bitmap:ip,mac",
  "bitmap:port",
  "hash:ip",
  "hash:ip,mac",
  "hash:ip,mark",
  "hash:ip,port",
  "hash:ip,port,ip",
  "hash:ip,port,net",
  "hash:mac",
  "hash:net",
  "hash:net,iface",
  "hash:net,net",
  "hash:net,port",
  "hash:net,port,net",
  "list:set",
] as const;

export type IpSetType = (typeof IPSET_TYPES)[number];

/**
 * A type name as found in a dump. Sets of a type this model does not know are kept (members as raw
 * text); the `NonNullable<unknown>` intersection keeps the known names visible to editors.
 */
export type IpSetTypeName = IpSetType | (string & NonNullable<unknown>);

export function isKnownIpSetType(type: string): type is IpSetType {
  return (IPSET_TYPES as readonly string[]).includes(type);
}

/** One create option (`hashsize 1024`) or flag (`counters`: value null), in the order of the dump. */
export type IpSetOption = readonly [key: string, value: string | null];

/** An address of the set's family: uint32 number for IPv4, bigint for IPv6 (as in `Packet`). */
export interface IpSetIp {
  readonly kind: "ip";
  readonly addr: number | bigint;
}

/** A network of hash:*net* types; its prefix is always contiguous (ipset takes only `/cidr`). */
export interface IpSetNet {
  readonly kind: "net";
  readonly net: IpNet;
}

/**
 * `[proto:]port` of hash types. For ICMP and ICMPv6 `port` holds `type << 8 | code`, and for other
 * protocols (`gre:0`) it is 0, exactly as the kernel keys the element (ip_set_getport.c).
 */
export interface IpSetProtoPort {
  readonly kind: "proto-port";
  readonly proto: number;
  readonly port: number;
}

/** A port of bitmap:port: the protocol is not stored, the match takes TCP or UDP. */
export interface IpSetPort {
  readonly kind: "port";
  readonly port: number;
}

/** A MAC address as a 48-bit number. */
export interface IpSetMac {
  readonly kind: "mac";
  readonly mac: number;
}

/** An interface of hash:net,iface; `physdev` means the bridge port (`physdev:eth0`). */
export interface IpSetIface {
  readonly kind: "iface";
  readonly name: string;
  readonly physdev: boolean;
}

/** The packet mark of hash:ip,mark (already ANDed with the set's markmask, as the kernel stores it). */
export interface IpSetMark {
  readonly kind: "mark";
  readonly mark: number;
}

/** A member set of list:set. */
export interface IpSetName {
  readonly kind: "set";
  readonly name: string;
}

/** The entry of a set whose type is unknown, as written. */
export interface IpSetRaw {
  readonly kind: "raw";
  readonly text: string;
}

export type IpSetElement =
  | IpSetIp
  | IpSetNet
  | IpSetProtoPort
  | IpSetPort
  | IpSetMac
  | IpSetIface
  | IpSetMark
  | IpSetName
  | IpSetRaw;

/**
 * One `add` line. `elements` has one entry per dimension of the type, in order (bitmap:ip,mac may
 * leave out the MAC). The optional fields are the per-entry extensions `ipset save` prints.
 */
export interface IpSetMember {
  readonly elements: readonly IpSetElement[];
  /** hash:*net* only: the entry excludes what it covers (the most specific entry wins). */
  readonly nomatch: boolean;
  /** hash:net,iface only: the interface name matches as a prefix. */
  readonly wildcard: boolean;
  /** Seconds left when the dump was taken; 0 means permanent. */
  readonly timeout?: number;
  /** u64 counters, hence bigint. */
  readonly packets?: bigint;
  readonly bytes?: bigint;
  readonly comment?: string;
  readonly skbmark?: { readonly mark: number; readonly mask: number };
  readonly skbprio?: { readonly major: number; readonly minor: number };
  readonly skbqueue?: number;
}

export interface IpSet {
  readonly name: string;
  readonly type: IpSetTypeName;
  /**
   * The address family. null for the types the kernel registers as family-independent
   * (bitmap:port, hash:mac, list:set): they are consulted for IPv4 and IPv6 packets alike.
   */
  readonly family: Family | null;
  /** Create options after the type, except `family` (printed first for hash types, see `family`). */
  readonly options: readonly IpSetOption[];
  readonly members: readonly IpSetMember[];
}

/** Sets by name, in dump order (ipset save lists list:set sets last, after the sets they name). */
export type IpSetRegistry = ReadonlyMap<string, IpSet>;

/** The dimensions of a type (`hash:ip,port,net` -> ip, port, net); what `--match-set` flags index. */
export function ipSetDimensions(type: string): readonly string[] {
  const colon = type.indexOf(":");
  return colon < 0 ? [] : type.slice(colon + 1).split(",");
}

/** The value of a create option, or undefined when absent (a flag's value is null). */
export function ipSetOption(set: IpSet, key: string): string | null | undefined {
  for (const [k, v] of set.options) if (k === key) return v;
  return undefined;
}
