/**
 * A lab route and its `ip route` words. Its own small module: the plan writes the routes `lab up`
 * adds, and the prober (src/lab/prober.ts) rewrites the VIP routes with the very same words, without
 * loading the plan's imports.
 */

export interface LabRoute {
  readonly ns: string;
  /** `default`, a CIDR or a host address. */
  readonly dst: string;
  readonly via: string | null;
  readonly dev: string | null;
  readonly scope: "link" | null;
  readonly src: string | null;
  readonly metric: number | null;
  /** Multipath: one next hop per backend (then via/dev are null). */
  readonly nexthops: readonly { readonly via: string; readonly dev: string }[];
  /** Dropped without an answer (a VIP with no healthy backend: Azure drops silently). */
  readonly blackhole: boolean;
}

/** The words after `ip route add|replace`. */
export function routeArgs(r: LabRoute): string[] {
  if (r.blackhole) return ["blackhole", r.dst];
  if (r.nexthops.length > 0)
    return [r.dst, ...r.nexthops.flatMap((h) => ["nexthop", "via", h.via, "dev", h.dev])];
  const parts = [r.dst];
  if (r.via) parts.push("via", r.via);
  if (r.dev) parts.push("dev", r.dev);
  if (r.scope) parts.push("scope", r.scope);
  if (r.src) parts.push("src", r.src);
  if (r.metric !== null) parts.push("metric", String(r.metric));
  return parts;
}

/** A frontend's route in pwl-az: one next hop, several (multipath, the 5-tuple hash), or a blackhole. */
export function vipRoute(
  ns: string,
  vip: string,
  hops: readonly { readonly via: string; readonly dev: string }[],
): LabRoute {
  const base = { ns, dst: `${vip}/32`, scope: null, src: null, metric: null };
  const [only] = hops;
  if (hops.length === 0) return { ...base, via: null, dev: null, nexthops: [], blackhole: true };
  if (hops.length === 1 && only)
    return { ...base, via: only.via, dev: only.dev, nexthops: [], blackhole: false };
  return { ...base, via: null, dev: null, nexthops: hops, blackhole: false };
}
