import { type ChainRules, newChainRules } from "./ir.ts";
import type { ServicePortInfo } from "./service-ports.ts";

/**
 * kube-proxy's iptables-restore input (`syncProxyRules`) in its three parts: what comes before the
 * loop over service ports, one service port, what comes after. Split so that a cluster's shared
 * build can write the service ports that look the same on every node once, and only the few that
 * depend on the node (see `dependsOnNode`) once per node (cluster-rules.ts).
 */
export interface ProxyWriter {
  /** The chains declared up front and the rules written before the service loop. */
  head(out: ChainRules): void;
  /** One service port's rules and chains. */
  servicePort(sp: ServicePortInfo, out: ChainRules): void;
  /** The rules written after the service loop. */
  tail(out: ChainRules): void;
}

/** The whole kube-proxy contribution for one node's view of the service ports. */
export function writeAll(w: ProxyWriter, ports: readonly ServicePortInfo[]): ChainRules {
  const out = newChainRules();
  w.head(out);
  for (const sp of ports) w.servicePort(sp, out);
  w.tail(out);
  return out;
}

/**
 * Whether a service port's rules can differ between nodes, in either layout. Only two inputs are
 * per node: which endpoints are local (read for externalTrafficPolicy or internalTrafficPolicy
 * Local: KUBE-XLB, KUBE-SVL, KUBE-EXT's last jump, "has no local endpoints") and the node's IP
 * (read only to see whether a loadBalancerSourceRanges entry contains it). Everything else a
 * service port writes is the same on every node.
 */
export function dependsOnNode(sp: ServicePortInfo): boolean {
  const s = sp.service;
  return (
    s.externalTrafficPolicy === "Local" ||
    s.internalTrafficPolicy === "Local" ||
    s.loadBalancerSourceRanges.length > 0
  );
}
