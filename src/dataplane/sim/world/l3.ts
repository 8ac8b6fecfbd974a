import { formatIpv4, parseIpNet, parseIpv4 } from "../../../core/ip.ts";
import type { Netns, Route } from "../../../model/node.ts";
import type { HostAddresses } from "../netfilter/env.ts";

/** IPv4 routing and addressing of one network namespace, as the kernel's FIB and neighbour table hold it. */

export interface RouteChoice {
  readonly dev: string;
  /** The next hop: the gateway, or the destination itself for on-link routes. */
  readonly nextHop: number;
  readonly route: Route;
}

interface CompiledRoute {
  readonly addr: number;
  readonly mask: number;
  readonly prefix: number;
  readonly gateway: number | null;
  readonly route: Route;
}

export class NetnsL3 {
  private readonly routes: CompiledRoute[] = [];
  private readonly byIface = new Map<string, number>();
  private readonly local = new Set<number>();
  /** The first address not of host scope: what inet_select_addr falls back to for a device without one. */
  private readonly primary: number | null = null;

  constructor(readonly ns: Netns) {
    for (const r of ns.routes) {
      const text = r.dst === "default" ? "0.0.0.0/0" : r.dst.includes("/") ? r.dst : `${r.dst}/32`;
      const net = parseIpNet(text, 4);
      if (net?.family !== 4) continue;
      const gw = r.gateway === null ? null : parseIpv4(r.gateway);
      this.routes.push({ addr: net.addr, mask: net.mask, prefix: prefixOf(net.mask), gateway: gw, route: r });
    }
    // Longest prefix first, then the lowest metric (fib_table_lookup picks the most specific route).
    this.routes.sort((a, b) => b.prefix - a.prefix || (a.route.metric ?? 0) - (b.route.metric ?? 0));
    for (const i of ns.interfaces) {
      for (const a of i.addresses) {
        if (a.family !== 4) continue;
        const ip = parseIpv4(a.address);
        if (ip === null) continue;
        this.local.add(ip);
        if (!this.byIface.has(i.name)) this.byIface.set(i.name, ip);
        if (this.primary === null && a.scope !== "host") this.primary = ip;
      }
    }
  }

  /** The namespace's IPv4 addresses. */
  addresses(): number[] {
    return [...this.local];
  }

  isLocal(ip: number): boolean {
    return ip >>> 24 === 127 || this.local.has(ip);
  }

  addressOf(iface: string | null): number | null {
    if (iface === "lo") return 0x7f000001;
    // A device without an address (a transparent-mode veth) borrows the first one of wider scope
    // (inet_select_addr); 127.0.0.1 has host scope and never qualifies.
    return (iface ? this.byIface.get(iface) : undefined) ?? this.primary;
  }

  /** The route to `dst`, or null (no route to host). */
  route(dst: number): RouteChoice | null {
    for (const r of this.routes) {
      if ((dst & r.mask) >>> 0 === r.addr >>> 0)
        return { dev: r.route.dev, nextHop: r.gateway ?? dst, route: r.route };
    }
    return null;
  }

  /** The source address the kernel picks for a new connection: the route's `src`, else the device's. */
  sourceFor(dst: number): number | null {
    if (this.isLocal(dst)) return dst;
    const r = this.route(dst);
    if (!r) return null;
    const src = r.route.src === null ? null : parseIpv4(r.route.src);
    return src ?? this.addressOf(r.dev);
  }

  /** The neighbour table's MAC for an address on a device (PERMANENT/REACHABLE/STALE entries). */
  neighbour(ip: number, dev: string): string | null {
    const text = formatIpv4(ip);
    const n = this.ns.neighbours.find(
      (x) => x.ip === text && x.dev === dev && x.mac !== null && x.state !== "FAILED",
    );
    return n?.mac ?? null;
  }

  /** The netfilter engine's view of this namespace's addresses. */
  hostAddresses(): HostAddresses {
    return {
      isLocal: (family, addr, iface) => {
        if (family !== 4) return false;
        const a = Number(addr);
        if (iface) return iface === "lo" ? a >>> 24 === 127 : this.byIface.get(iface) === a;
        return this.isLocal(a);
      },
      addressOf: (family, iface) => (family === 4 ? this.addressOf(iface) : null),
    };
  }
}

/** Set bits of a contiguous netmask. */
function prefixOf(mask: number): number {
  let n = 0;
  for (let m = mask >>> 0; m !== 0; m = (m << 1) >>> 0) n++;
  return n;
}
