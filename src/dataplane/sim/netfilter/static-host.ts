import type { Family } from "../../../core/ip.ts";
import type { HostAddresses } from "./env.ts";

/**
 * A host's addresses given as lists (what `iptables trace --local-ip/--iface-addr` says):
 * local addresses for routing and addrtype, and each interface's primary address for MASQUERADE.
 */
export interface StaticHostSpec {
  readonly localIps: readonly { family: Family; addr: number | bigint }[];
  readonly ifaceAddrs: ReadonlyMap<string, { family: Family; addr: number | bigint }>;
}

export function staticHost(spec: StaticHostSpec): HostAddresses {
  const v4 = new Set<number>();
  const v6 = new Set<bigint>();
  for (const a of spec.localIps) a.family === 4 ? v4.add(Number(a.addr)) : v6.add(BigInt(a.addr));
  for (const a of spec.ifaceAddrs.values()) a.family === 4 ? v4.add(Number(a.addr)) : v6.add(BigInt(a.addr));
  const byIface = new Map<string, Set<string>>();
  for (const [iface, a] of spec.ifaceAddrs) byIface.set(iface, new Set([String(a.addr)]));
  return {
    isLocal(family, addr, iface) {
      if (iface) {
        // addrtype --limit-iface-*: only addresses on that interface (and loopback's on lo) count.
        if (iface === "lo") return family === 4 ? Number(addr) >>> 24 === 127 : BigInt(addr) === 1n;
        return byIface.get(iface)?.has(String(addr)) ?? false;
      }
      if (family === 4) return Number(addr) >>> 24 === 127 || v4.has(Number(addr));
      return BigInt(addr) === 1n || v6.has(BigInt(addr));
    },
    addressOf(family, iface) {
      if (iface === "lo") return family === 4 ? 0x7f000001 : 1n;
      const a = iface ? spec.ifaceAddrs.get(iface) : undefined;
      if (a && a.family === family) return a.addr;
      const first = spec.localIps.find((x) => x.family === family);
      return first ? first.addr : null;
    },
  };
}
