/**
 * IPv4 and IPv6 addresses as numbers. IPv4 is a uint32 in a JS number (hot path: mask compares are
 * ~2 ns); IPv6 is a 128-bit bigint (rare in AKS service paths, kept exact rather than fast).
 */

export type Family = 4 | 6;

/** A network: address plus mask. `prefix` is null when the mask is not contiguous (iptables allows it). */
export type IpNet =
  | { readonly family: 4; readonly addr: number; readonly mask: number; readonly prefix: number | null }
  | { readonly family: 6; readonly addr: bigint; readonly mask: bigint; readonly prefix: number | null };

const V6_ALL = (1n << 128n) - 1n;

/** Parses dotted-quad IPv4; returns null unless it is exactly four decimal octets (of 1-3 digits). */
export function parseIpv4(text: string): number | null {
  // One pass over the characters, no split() or regex: the parser calls this for every address.
  let value = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      if (++digits > 3) return null;
      octet = octet * 10 + (c - 48);
    } else if (c === 46) {
      if (digits === 0 || octet > 255 || ++dots > 3) return null;
      value = value * 256 + octet;
      octet = 0;
      digits = 0;
    } else return null;
  }
  if (dots !== 3 || digits === 0 || octet > 255) return null;
  return (value * 256 + octet) >>> 0;
}

export function formatIpv4(value: number): string {
  return `${value >>> 24}.${(value >>> 16) & 255}.${(value >>> 8) & 255}.${value & 255}`;
}

/** Parses an IPv6 address (with `::` compression and an optional embedded IPv4 tail). */
export function parseIpv6(text: string): bigint | null {
  if (text.length === 0 || text.length > 45) return null;
  let head = text;
  let v4Tail: number | null = null;
  const lastColon = text.lastIndexOf(":");
  if (text.includes(".")) {
    v4Tail = parseIpv4(text.slice(lastColon + 1));
    if (v4Tail === null) return null;
    head = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const halves = head.split("::");
  if (halves.length > 2) return null;
  const parseGroups = (s: string): number[] | null => {
    if (s === "") return [];
    const groups = s.split(":");
    const out: number[] = [];
    for (const g of groups) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
      out.push(Number.parseInt(g, 16));
    }
    return out;
  };
  const left = parseGroups(halves[0] ?? "");
  const right = halves.length === 2 ? parseGroups(halves[1] ?? "") : [];
  if (left === null || right === null) return null;
  let groups: number[];
  if (halves.length === 2) {
    const fill = 8 - left.length - right.length;
    if (fill < 1) return null;
    groups = [...left, ...new Array<number>(fill).fill(0), ...right];
  } else {
    groups = left;
  }
  if (groups.length !== 8) return null;
  let value = 0n;
  for (const g of groups) value = (value << 16n) | BigInt(g);
  if (v4Tail !== null) value = (value & ~0xffffffffn) | BigInt(v4Tail);
  return value;
}

/** Formats IPv6 the way inet_ntop does (RFC 5952: longest zero run of 2+ groups becomes `::`). */
export function formatIpv6(value: bigint): string {
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((value >> BigInt(i * 16)) & 0xffffn));
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  // inet_ntop prints IPv4-mapped (::ffff:a.b.c.d) and IPv4-compatible addresses with a dotted tail.
  if (bestStart === 0 && (bestLen === 6 || (bestLen === 5 && groups[5] === 0xffff))) {
    return `::${bestLen === 5 ? "ffff:" : ""}${formatIpv4(Number(value & 0xffffffffn))}`;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLen).join(":")}`;
}

export function prefixToMask4(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

export function prefixToMask6(prefix: number): bigint {
  return prefix === 0 ? 0n : (V6_ALL << BigInt(128 - prefix)) & V6_ALL;
}

function maskToPrefix4(mask: number): number | null {
  const inverted = ~mask >>> 0;
  if ((inverted & (inverted + 1)) !== 0) return null;
  return Math.clz32(inverted); // an integer op (Math.log2 made a double the IR kept per network)
}

function maskToPrefix6(mask: bigint): number | null {
  const inverted = ~mask & V6_ALL;
  if ((inverted & (inverted + 1n)) !== 0n) return null;
  return 128 - (inverted + 1n).toString(2).length + 1;
}

/**
 * Parses `addr`, `addr/prefix` or `addr/dotted-mask` the way iptables accepts them for -s/-d.
 * The address is masked, as the kernel stores it (iptables-save prints the masked network).
 */
export function parseIpNet(text: string, family?: Family): IpNet | null {
  const slash = text.indexOf("/");
  const addrText = slash < 0 ? text : text.slice(0, slash);
  const maskText = slash < 0 ? null : text.slice(slash + 1);
  if ((family === undefined || family === 4) && !addrText.includes(":")) {
    const addr = parseIpv4(addrText);
    if (addr === null) return null;
    let mask = 0xffffffff;
    if (maskText !== null) {
      if (/^\d{1,2}$/.test(maskText) && Number(maskText) <= 32) mask = prefixToMask4(Number(maskText));
      else {
        const dotted = parseIpv4(maskText);
        if (dotted === null) return null;
        mask = dotted;
      }
    }
    return { family: 4, addr: (addr & mask) >>> 0, mask, prefix: maskToPrefix4(mask) };
  }
  if (family === 4) return null;
  const addr = parseIpv6(addrText);
  if (addr === null) return null;
  let mask = V6_ALL;
  if (maskText !== null) {
    if (/^\d{1,3}$/.test(maskText) && Number(maskText) <= 128) mask = prefixToMask6(Number(maskText));
    else {
      const m = parseIpv6(maskText);
      if (m === null) return null;
      mask = m;
    }
  }
  return { family: 6, addr: addr & mask, mask, prefix: maskToPrefix6(mask) };
}

/** Formats a network as iptables-save does: always with a suffix, a dotted/colon mask if not contiguous. */
export function formatIpNet(net: IpNet): string {
  if (net.family === 4) {
    const suffix = net.prefix === null ? formatIpv4(net.mask) : String(net.prefix);
    return `${formatIpv4(net.addr)}/${suffix}`;
  }
  const suffix = net.prefix === null ? formatIpv6(net.mask) : String(net.prefix);
  return `${formatIpv6(net.addr)}/${suffix}`;
}

/** Parses a bare address of either family into the representation used by packets. */
export function parseIp(text: string): { family: 4; addr: number } | { family: 6; addr: bigint } | null {
  const v4 = parseIpv4(text);
  if (v4 !== null) return { family: 4, addr: v4 };
  const v6 = parseIpv6(text);
  if (v6 !== null) return { family: 6, addr: v6 };
  return null;
}

export function formatIp(family: Family, addr: number | bigint): string {
  return family === 4 ? formatIpv4(Number(addr)) : formatIpv6(BigInt(addr));
}

export function netContains4(net: { addr: number; mask: number }, addr: number): boolean {
  return (addr & net.mask) >>> 0 === net.addr;
}
