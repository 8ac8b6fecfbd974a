import {
  type Family,
  type IpNet,
  parseIpv4,
  parseIpv6,
  prefixToMask4,
  prefixToMask6,
} from "../../../core/ip.ts";
import {
  type IpSet,
  type IpSetElement,
  type IpSetMember,
  type IpSetRegistry,
  ipSetDimensions,
  ipSetOption,
} from "../../../model/ipset.ts";
import { type Packet, PROTO } from "../../../model/packet.ts";

/**
 * `-m set --match-set NAME flags` compiled once per rule into a lookup on numbers. Semantics follow
 * the kernel (net/netfilter/ipset/, checked against ipset 7.17 on Linux 6.18):
 * - ip_set_test: fewer flags than the set has dimensions, or a packet of the other family, never
 *   matches; the k-th flag picks source or destination for the k-th dimension.
 * - ip_set_getport.c: the port of TCP/UDP/SCTP/UDPLITE, `type << 8 | code` for ICMP(v6), 0 for
 *   other protocols; no match for a non-first fragment of a protocol with ports (any IPv6 fragment).
 * - ip_set_hash_gen.h mtype_test_cidrs: net dimensions are tried from the longest prefix down
 *   (the first net before the second); the first entry found decides, so a `nomatch` entry excludes
 *   what it covers unless a more specific entry exists.
 * - list:set (list_set_ktest): any member set matches; members needing more flags are skipped.
 */

export type SetFlag = "src" | "dst";
export type SetLookup = (p: Packet) => boolean;

type Addr = number | bigint;

/** Thrown while compiling when a set cannot be evaluated on a Packet; compileSetLookup returns null. */
class Unevaluable extends Error {}

/**
 * Compiles the match of `set` with the given flags, or returns null for what this model cannot
 * evaluate (MAC and interface types, unknown types, malformed sets): the caller reports the
 * verdict as uncertain. `registry` resolves the members of a list:set (without it, null).
 */
export function compileSetLookup(
  set: IpSet,
  flags: readonly SetFlag[],
  registry?: IpSetRegistry | null,
): SetLookup | null {
  try {
    return compile(set, flags, registry ?? undefined, 0);
  } catch (error) {
    if (error instanceof Unevaluable) return null;
    throw error;
  }
}

function compile(
  set: IpSet,
  flags: readonly SetFlag[],
  registry: IpSetRegistry | undefined,
  depth: number,
): SetLookup {
  if (flags.length < ipSetDimensions(set.type).length) return () => false;
  const lookup = compileType(set, flags, registry, depth);
  const family = set.family;
  // Family-independent types (bitmap:port, list:set) are consulted for both families.
  return family === null ? lookup : (p) => p.family === family && lookup(p);
}

function compileType(
  set: IpSet,
  flags: readonly SetFlag[],
  registry: IpSetRegistry | undefined,
  depth: number,
): SetLookup {
  const [f0 = "src", f1 = "src", f2 = "src"] = flags;
  const addr0 = addrOf(f0);
  const addr1 = addrOf(f1);
  const addr2 = addrOf(f2);
  const family = set.family ?? 4;
  const members = set.members;
  switch (set.type) {
    case "hash:ip": {
      const keys = new Set(members.map((m) => ip(m, 0, family)));
      const store = storeKey(set, family);
      return (p) => keys.has(store(addr0(p)));
    }
    case "hash:ip,port": {
      const byIp = new Map<Addr, Set<number>>();
      for (const m of members) getOr(byIp, ip(m, 0, family), () => new Set()).add(protoPort(m, 1));
      const store = storeKey(set, family);
      const src = f1 === "src";
      return (p) => {
        const pp = packetProtoPort(p, src);
        return pp >= 0 && byIp.get(store(addr0(p)))?.has(pp) === true;
      };
    }
    case "hash:ip,port,ip": {
      const byIp = new Map<Addr, Map<number, Set<Addr>>>();
      for (const m of members) {
        const byPort = getOr(byIp, ip(m, 0, family), () => new Map());
        getOr(byPort, protoPort(m, 1), () => new Set()).add(ip(m, 2, family));
      }
      const src = f1 === "src";
      return (p) => {
        const pp = packetProtoPort(p, src);
        return pp >= 0 && byIp.get(addr0(p))?.get(pp)?.has(addr2(p)) === true;
      };
    }
    case "hash:ip,port,net": {
      const byIp = new Map<Addr, Map<number, NetTable<boolean>>>();
      for (const m of members) {
        const byPort = getOr(byIp, ip(m, 0, family), () => new Map());
        getOr(byPort, protoPort(m, 1), () => new NetTable()).put(net(m, 2, family), m.nomatch);
      }
      const src = f1 === "src";
      return (p) => {
        const pp = packetProtoPort(p, src);
        return pp >= 0 && byIp.get(addr0(p))?.get(pp)?.find(addr2(p), leaf, p) === false;
      };
    }
    case "hash:ip,mark": {
      const byIp = new Map<Addr, Set<number>>();
      for (const m of members) getOr(byIp, ip(m, 0, family), () => new Set()).add(mark(m, 1));
      const markmask = Number(ipSetOption(set, "markmask") ?? 0xffffffff);
      // The mark dimension takes a flag like any other but reads skb->mark either way.
      return (p) => byIp.get(addr0(p))?.has((p.mark & markmask) >>> 0) === true;
    }
    case "hash:net": {
      const table = new NetTable<boolean>();
      for (const m of members) table.put(net(m, 0, family), m.nomatch);
      return (p) => table.find(addr0(p), leaf, p) === false;
    }
    case "hash:net,port": {
      const table = new NetTable<Map<number, boolean>>();
      for (const m of members) table.slot(net(m, 0, family), () => new Map()).set(protoPort(m, 1), m.nomatch);
      const src = f1 === "src";
      const probe = (byPort: Map<number, boolean>, p: Packet) => byPort.get(packetProtoPort(p, src));
      return (p) => packetProtoPort(p, src) >= 0 && table.find(addr0(p), probe, p) === false;
    }
    case "hash:net,net": {
      if (ipSetOption(set, "netmask") !== undefined || ipSetOption(set, "bitmask") !== undefined) {
        throw new Unevaluable("hash:net,net with netmask or bitmask");
      }
      const table = new NetTable<NetTable<boolean>>();
      for (const m of members)
        table.slot(net(m, 0, family), () => new NetTable()).put(net(m, 1, family), m.nomatch);
      const probe = (second: NetTable<boolean>, p: Packet) => second.find(addr1(p), leaf, p);
      return (p) => table.find(addr0(p), probe, p) === false;
    }
    case "hash:net,port,net": {
      const table = new NetTable<Map<number, NetTable<boolean>>>();
      for (const m of members) {
        const byPort = table.slot(net(m, 0, family), () => new Map());
        getOr(byPort, protoPort(m, 1), () => new NetTable()).put(net(m, 2, family), m.nomatch);
      }
      const src = f1 === "src";
      const probe = (byPort: Map<number, NetTable<boolean>>, p: Packet) =>
        byPort.get(packetProtoPort(p, src))?.find(addr2(p), leaf, p);
      return (p) => packetProtoPort(p, src) >= 0 && table.find(addr0(p), probe, p) === false;
    }
    case "bitmap:ip":
      return compileBitmapIp(set, addr0);
    case "bitmap:port": {
      const ports = new Set(members.map((m) => port(m)));
      const src = f0 === "src";
      // ip_set_get_ip_port: bitmap:port reads the port of TCP and UDP packets only.
      return (p) =>
        (p.proto === PROTO.tcp || p.proto === PROTO.udp) && !p.fragment && ports.has(src ? p.sport : p.dport);
    }
    case "list:set":
      return compileList(set, flags, registry, depth);
    default:
      // hash:mac, hash:ip,mac, bitmap:ip,mac need MAC addresses and hash:net,iface interfaces,
      // which a Packet does not carry; unknown types cannot be evaluated at all.
      throw new Unevaluable(set.type);
  }
}

/** The leaf of a net lookup: the entry's nomatch flag (false means a match). */
const leaf = (nomatch: boolean) => nomatch;

function addrOf(flag: SetFlag): (p: Packet) => Addr {
  return flag === "src" ? (p) => p.src : (p) => p.dst;
}

/**
 * ip_set_get_ip4_port / ip_set_get_ip6_port as one key, `proto << 16 | port`, or -1 where the
 * kernel gets no port and the set does not match.
 */
function packetProtoPort(p: Packet, src: boolean): number {
  switch (p.proto) {
    case PROTO.tcp:
    case PROTO.udp:
    case PROTO.sctp:
    case PROTO.udplite:
      return p.fragment ? -1 : (p.proto << 16) | (src ? p.sport : p.dport);
    case PROTO.icmp:
    case PROTO.icmpv6:
      return p.fragment || p.icmpType < 0 ? -1 : (p.proto << 16) | (p.icmpType << 8) | p.icmpCode;
    default:
      // Protocols without ports match with port 0, even as IPv4 fragments; IPv6 fragments never.
      return p.proto <= 0 || (p.fragment && p.family === 6) ? -1 : p.proto << 16;
  }
}

/**
 * The key the kernel looks up for the first address of hash:ip and hash:ip,port: masked by
 * `netmask`/`bitmask`; a zero result never matches (hash_ip4_kadt returns -EINVAL).
 */
function storeKey(set: IpSet, family: Family): (addr: Addr) => Addr {
  const netmask = ipSetOption(set, "netmask");
  const bitmask = ipSetOption(set, "bitmask");
  let mask: Addr | null = null;
  if (typeof netmask === "string")
    mask = family === 4 ? prefixToMask4(Number(netmask)) : prefixToMask6(Number(netmask));
  else if (typeof bitmask === "string") mask = family === 4 ? parseIpv4(bitmask) : parseIpv6(bitmask);
  if (mask === null) {
    if (netmask !== undefined || bitmask !== undefined) throw new Unevaluable("bad netmask or bitmask");
    return (addr) => addr;
  }
  // A zero key becomes -1, which no member has: the kernel refuses to look a zero address up.
  const m = mask;
  return typeof m === "number"
    ? (addr) => ((addr as number) & m) >>> 0 || -1
    : (addr) => (addr as bigint) & m || -1n;
}

function compileBitmapIp(set: IpSet, addr0: (p: Packet) => Addr): SetLookup {
  const range = ipv4Range(ipSetOption(set, "range"));
  const netmask = ipSetOption(set, "netmask");
  const mask = typeof netmask === "string" ? prefixToMask4(Number(netmask)) : 0xffffffff;
  const keys = new Set(set.members.map((m) => ip(m, 0, 4) as number));
  const [from, to] = range;
  // bitmap:ip is IPv4 only, and compile() has already let IPv4 packets alone through.
  return (p) => {
    const a = addr0(p) as number;
    return a >= from && a <= to && keys.has((a & mask) >>> 0);
  };
}

/** bitmap:ip `range`: `from-to` or `net/prefix`. */
function ipv4Range(text: string | null | undefined): readonly [number, number] {
  const [fromText, toText] = (text ?? "").split("-");
  if (toText !== undefined) {
    const from = parseIpv4(fromText ?? "");
    const to = parseIpv4(toText);
    if (from !== null && to !== null) return [from, to];
  }
  const [base, prefix] = (text ?? "").split("/");
  const addr = parseIpv4(base ?? "");
  if (addr === null || prefix === undefined) throw new Unevaluable("bad bitmap:ip range");
  const mask = prefixToMask4(Number(prefix));
  return [(addr & mask) >>> 0, (addr | ~mask) >>> 0];
}

function compileList(
  set: IpSet,
  flags: readonly SetFlag[],
  registry: IpSetRegistry | undefined,
  depth: number,
): SetLookup {
  // The kernel forbids a list:set inside a list:set; the depth guard keeps a hand-made loop finite.
  if (registry === undefined || depth > 0) throw new Unevaluable("list:set without its member sets");
  const lookups: SetLookup[] = [];
  for (const member of set.members) {
    const element = member.elements[0];
    const inner = element?.kind === "set" ? registry.get(element.name) : undefined;
    if (inner === undefined) throw new Unevaluable("list:set member missing");
    // ip_set_test refuses sets of more dimensions than flags given: they can never match.
    if (ipSetDimensions(inner.type).length > flags.length) continue;
    lookups.push(compile(inner, flags, registry, depth + 1));
  }
  return (p) => lookups.some((lookup) => lookup(p));
}

/**
 * Entries of one net dimension grouped by prefix length, longest first, which is the order
 * mtype_test_cidrs tries them in. `find` passes the packet through so probes need no closure.
 */
class NetTable<V> {
  private readonly levels: { prefix: number; mask: Addr; entries: Map<Addr, V> }[] = [];

  /** The value stored for `net`, created by `make` on first use. */
  slot(net: IpNet, make: () => V): V {
    const level = this.level(net);
    return getOr(level.entries, net.addr, make);
  }

  put(net: IpNet, value: V): void {
    this.level(net).entries.set(net.addr, value);
  }

  /** The first probe result, from the most specific network containing `addr` down. */
  find<R>(addr: Addr, probe: (value: V, p: Packet) => R | undefined, p: Packet): R | undefined {
    for (const level of this.levels) {
      const key =
        typeof addr === "number" ? (addr & (level.mask as number)) >>> 0 : addr & (level.mask as bigint);
      const value = level.entries.get(key);
      if (value === undefined) continue;
      const result = probe(value, p);
      if (result !== undefined) return result;
    }
    return undefined;
  }

  private level(net: IpNet) {
    if (net.prefix === null) throw new Unevaluable("non-contiguous mask");
    let level = this.levels.find((l) => l.prefix === net.prefix);
    if (level === undefined) {
      level = { prefix: net.prefix, mask: net.mask, entries: new Map() };
      this.levels.push(level);
      this.levels.sort((a, b) => b.prefix - a.prefix);
    }
    return level;
  }
}

function getOr<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  let value = map.get(key);
  if (value === undefined) {
    value = make();
    map.set(key, value);
  }
  return value;
}

/** Element accessors: they check the shape of hand-made sets as the parser checks dumps. */
function element<K extends IpSetElement["kind"]>(
  m: IpSetMember,
  index: number,
  kind: K,
): Extract<IpSetElement, { kind: K }> {
  const e = m.elements[index];
  if (e?.kind !== kind) throw new Unevaluable(`element ${index} is not ${kind}`);
  return e as Extract<IpSetElement, { kind: K }>;
}

function ip(m: IpSetMember, index: number, family: Family): Addr {
  const { addr } = element(m, index, "ip");
  if (typeof addr !== (family === 4 ? "number" : "bigint"))
    throw new Unevaluable("address of the other family");
  return addr;
}

function net(m: IpSetMember, index: number, family: Family): IpNet {
  const { net: value } = element(m, index, "net");
  if (value.family !== family) throw new Unevaluable("network of the other family");
  return value;
}

function protoPort(m: IpSetMember, index: number): number {
  const { proto, port } = element(m, index, "proto-port");
  return (proto << 16) | port;
}

function port(m: IpSetMember): number {
  return element(m, 0, "port").port;
}

function mark(m: IpSetMember, index: number): number {
  return element(m, index, "mark").mark;
}
