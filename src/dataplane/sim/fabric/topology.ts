import { parseIpv4 } from "../../../core/ip.ts";
import type { AzureState, LoadBalancer, LoadBalancingRule, Probe } from "../../../model/azure.ts";
import { PROTO } from "../../../model/packet.ts";

/**
 * The load balancers of a twin resolved for the data plane: each rule with its frontend address,
 * its pool's members as node IPs (pool → NIC IP configuration → privateIpAddress) and its probe.
 * ARM ids are compared case-insensitively, as ARM itself does. IPv4 only: the twin's clusters are
 * single-stack.
 */

export interface Backend {
  /** The NIC IP configuration id, as the pool lists it. */
  readonly ipConfigId: string;
  readonly nodeIp: number;
  readonly nodeIpText: string;
}

export interface ResolvedRule {
  readonly lb: LoadBalancer;
  readonly rule: LoadBalancingRule;
  readonly frontendIp: number;
  readonly frontendIpText: string;
  /** Pool members in the order ARM lists them (the hash indexes into the healthy ones in this order). */
  readonly backends: readonly Backend[];
  readonly probe: Probe | null;
}

export interface ResolvedProbe {
  readonly lb: LoadBalancer;
  readonly probe: Probe;
  /** Every node any rule using this probe balances to, in first-seen order. */
  readonly backends: readonly Backend[];
}

export interface LbTopology {
  readonly rules: readonly ResolvedRule[];
  readonly probes: readonly ResolvedProbe[];
  /** Frontend address → the rules on it. */
  readonly byFrontend: ReadonlyMap<number, readonly ResolvedRule[]>;
}

const key = (id: string): string => id.toLowerCase();

export function resolveTopology(azure: AzureState): LbTopology {
  const ipOfConfig = new Map<string, string>();
  for (const nic of azure.nics) {
    for (const c of nic.ipConfigurations) ipOfConfig.set(key(c.id), c.privateIpAddress);
  }
  const rules: ResolvedRule[] = [];
  const probes: ResolvedProbe[] = [];
  const byFrontend = new Map<number, ResolvedRule[]>();
  for (const lb of azure.loadBalancers) {
    const frontends = new Map(lb.frontendIpConfigurations.map((f) => [key(f.id), f]));
    const pools = new Map(lb.backendAddressPools.map((p) => [key(p.id), p]));
    const probeById = new Map(lb.probes.map((p) => [key(p.id), p]));
    const probeBackends = new Map<string, Map<string, Backend>>();
    for (const rule of lb.loadBalancingRules) {
      const frontend = frontends.get(key(rule.frontendIpConfigurationId));
      const frontendIp = frontend ? parseIpv4(frontend.ipAddress) : null;
      if (!frontend || frontendIp === null) continue;
      const backends: Backend[] = [];
      for (const id of pools.get(key(rule.backendAddressPoolId))?.backendIpConfigurationIds ?? []) {
        const text = ipOfConfig.get(key(id));
        const ip = text === undefined ? null : parseIpv4(text);
        if (text !== undefined && ip !== null)
          backends.push({ ipConfigId: id, nodeIp: ip, nodeIpText: text });
      }
      const probe = rule.probeId === null ? null : (probeById.get(key(rule.probeId)) ?? null);
      const resolved: ResolvedRule = {
        lb,
        rule,
        frontendIp,
        frontendIpText: frontend.ipAddress,
        backends,
        probe,
      };
      rules.push(resolved);
      const list = byFrontend.get(frontendIp);
      if (list) list.push(resolved);
      else byFrontend.set(frontendIp, [resolved]);
      if (probe) {
        const seen = probeBackends.get(key(probe.id)) ?? new Map<string, Backend>();
        probeBackends.set(key(probe.id), seen);
        for (const b of backends) if (!seen.has(b.nodeIpText)) seen.set(b.nodeIpText, b);
      }
    }
    // Probes no rule uses are not sent: "You should have at least one rule using the health probe
    // for it to be effective" (AZDOC `manage-probes-how-to.md`).
    for (const probe of lb.probes) {
      const seen = probeBackends.get(key(probe.id));
      if (seen) probes.push({ lb, probe, backends: [...seen.values()] });
    }
  }
  return { rules, probes, byFrontend };
}

/**
 * Whether a rule takes this protocol and destination port. HA-ports rules (protocol `All`, frontend
 * port 0, internal Standard only) take every TCP and UDP port (AZDOC `load-balancer-ha-ports-overview.md`).
 */
export function ruleMatches(rule: LoadBalancingRule, proto: number, dport: number): boolean {
  const protoOk =
    rule.protocol === "All"
      ? proto === PROTO.tcp || proto === PROTO.udp
      : proto === protoNumber(rule.protocol);
  return protoOk && (rule.frontendPort === 0 || rule.frontendPort === dport);
}

function protoNumber(p: "Tcp" | "Udp"): number {
  return p === "Tcp" ? PROTO.tcp : PROTO.udp;
}

/** Consecutive failures that mark a backend down, and successes that bring it back (docs/azure.md §2.3). */
export function probeThreshold(probe: Probe): number {
  // 2019 API: numberOfProbes; today: probeThreshold; cloud-provider-azure's default is 2 (docs/azure.md §2.2).
  return probe.probeThreshold ?? probe.numberOfProbes ?? 2;
}
