import { formatIpv4, parseIpNet } from "../../core/ip.ts";

/** IPv4 arithmetic on CIDR text, for allocators that hand out addresses in order. */

export interface Cidr4 {
  readonly base: number;
  readonly prefix: number;
  readonly size: number;
}

export function cidr4(text: string): Cidr4 {
  const net = parseIpNet(text, 4);
  if (net?.family !== 4 || net.prefix === null) throw new Error(`"${text}" is not an IPv4 CIDR`);
  return { base: net.addr, prefix: net.prefix, size: 2 ** (32 - net.prefix) };
}

/** The address `offset` places after the network address. */
export function nth(c: Cidr4, offset: number): string {
  return formatIpv4((c.base + offset) >>> 0);
}

export function broadcastOf(c: Cidr4): string {
  return nth(c, c.size - 1);
}

export function contains(c: Cidr4, ip: string): boolean {
  const n = parseIpNet(ip, 4);
  return n !== null && n.family === 4 && n.addr >= c.base && n.addr < c.base + c.size;
}

/** Offset of `ip` inside `c` (may be outside the range). */
export function offsetOf(c: Cidr4, ip: string): number {
  const n = parseIpNet(ip, 4);
  if (n?.family !== 4) throw new Error(`"${ip}" is not an IPv4 address`);
  return n.addr - c.base;
}
