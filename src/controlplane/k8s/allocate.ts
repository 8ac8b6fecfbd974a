import { intBelow } from "../../core/choose.ts";
import type { Rng } from "../../core/rng.ts";
import { type Cidr4, cidr4, contains, nth, offsetOf } from "../azure/addresses.ts";

/**
 * The API server's allocators: service cluster IPs from the service CIDR and node ports from
 * 30000-32767, both chosen at random among the free values (pkg/registry/core/service/ipallocator
 * and portallocator pick a random free offset), pins first so a pinned value is never taken twice.
 */

export const NODE_PORT_MIN = 30000;
export const NODE_PORT_MAX = 32767;

export class ClusterIpAllocator {
  private readonly cidr: Cidr4;
  private readonly used = new Set<number>();

  constructor(serviceCidr: string) {
    this.cidr = cidr4(serviceCidr);
    this.used.add(0); // the network address
    this.used.add(this.cidr.size - 1); // and the broadcast address are never handed out
  }

  /** Takes a specific address (a pin or spec.clusterIP); an error if it is outside or taken. */
  take(ip: string, owner: string): string {
    if (!contains(this.cidr, ip)) throw new Error(`${owner}: cluster IP ${ip} is outside the service CIDR`);
    const off = offsetOf(this.cidr, ip);
    if (this.used.has(off)) throw new Error(`${owner}: cluster IP ${ip} is already allocated`);
    this.used.add(off);
    return ip;
  }

  /** A random free address for service `key` (ns/name), drawn from `rng` (the service's own stream). */
  next(key: string, rng: Rng): string {
    const free = this.cidr.size - this.used.size;
    if (free <= 0) throw new Error(`service ${key}: the service CIDR has no free address`);
    for (;;) {
      const off = intBelow(rng, this.cidr.size);
      if (!this.used.has(off)) {
        this.used.add(off);
        return nth(this.cidr, off);
      }
    }
  }
}

export class NodePortAllocator {
  private readonly used = new Set<number>();

  take(port: number, owner: string): number {
    if (port < NODE_PORT_MIN || port > NODE_PORT_MAX)
      throw new Error(`${owner}: node port ${port} is outside ${NODE_PORT_MIN}-${NODE_PORT_MAX}`);
    if (this.used.has(port)) throw new Error(`${owner}: node port ${port} is already allocated`);
    this.used.add(port);
    return port;
  }

  next(rng: Rng): number {
    if (this.used.size > NODE_PORT_MAX - NODE_PORT_MIN)
      throw new Error("the node port range has no free port");
    for (;;) {
      const port = NODE_PORT_MIN + intBelow(rng, NODE_PORT_MAX - NODE_PORT_MIN + 1);
      if (!this.used.has(port)) {
        this.used.add(port);
        return port;
      }
    }
  }
}
