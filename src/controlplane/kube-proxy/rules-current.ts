import type { Match } from "../../model/netfilter/matches.ts";
import type { Rule } from "../../model/netfilter/ruleset.ts";
import type { Target } from "../../model/netfilter/targets.ts";
import {
  ACCEPT,
  addrSpec,
  addrtype,
  type BuiltinOp,
  bareRule,
  type ChainRules,
  chainIn,
  comment,
  ctstate,
  DROP,
  declare,
  dnat,
  jump,
  l4,
  mark,
  masquerade,
  NO_MATCHES,
  nodePortsLastRule,
  only,
  probability,
  REJECT,
  RETURN,
  recent,
  rule,
  setXmark,
  tableOf,
  add as to,
} from "./ir.ts";
import { type ProxyWriter, writeAll } from "./proxy-writer.ts";
import { cidrContains, MASQ_MARK, type ProxyParams } from "./rules-1-11.ts";
import type { EndpointInfo, ServicePortInfo } from "./service-ports.ts";

/**
 * kube-proxy's iptables rules in the current layout (KUBE-EXT/KUBE-SVL/KUBE-PROXY-FIREWALL),
 * following `syncProxyRules` of v1.28 (kevinhehc/k8s-1.28 pkg/proxy/iptables/proxier.go, a copy of
 * the v1.28.0 tree) and docs/kube-proxy.md §5. No nfacct rules (they came after 1.28).
 */

/** Above this many endpoints kube-proxy drops the per-endpoint comments (`largeClusterEndpointsThreshold`). */
export const LARGE_CLUSTER_ENDPOINTS = 1000;

export interface CurrentParams extends ProxyParams {
  /** `MASQUERADE --random-fully` when kube-proxy's iptables binary supports it (iptables ≥ 1.6.2). */
  readonly randomFully: boolean;
}

/** `iptablesJumpChains` then `iptablesKubeletJumpChains` (1.28), each EnsureRule(Prepend, …). */
export function jumpsCurrent(): BuiltinOp[] {
  const j = (table: "nat" | "filter", src: string, dst: string, text: string, isNew: boolean): BuiltinOp => ({
    table,
    op: "prepend",
    rule: rule(src, {
      matches: [...(isNew ? [ctstate(["NEW"])] : []), ...(text ? [comment(text)] : [])],
      target: jump(dst),
    }),
  });
  const ext = "kubernetes externally-visible service portals";
  const fw = "kubernetes load balancer firewall";
  return [
    j("filter", "INPUT", "KUBE-EXTERNAL-SERVICES", ext, true),
    j("filter", "FORWARD", "KUBE-EXTERNAL-SERVICES", ext, true),
    j("filter", "INPUT", "KUBE-NODEPORTS", "kubernetes health check service ports", false),
    j("filter", "FORWARD", "KUBE-SERVICES", "kubernetes service portals", true),
    j("filter", "OUTPUT", "KUBE-SERVICES", "kubernetes service portals", true),
    j("filter", "FORWARD", "KUBE-FORWARD", "kubernetes forwarding rules", false),
    j("filter", "INPUT", "KUBE-PROXY-FIREWALL", fw, true),
    j("filter", "OUTPUT", "KUBE-PROXY-FIREWALL", fw, true),
    j("filter", "FORWARD", "KUBE-PROXY-FIREWALL", fw, true),
    j("nat", "OUTPUT", "KUBE-SERVICES", "kubernetes service portals", false),
    j("nat", "PREROUTING", "KUBE-SERVICES", "kubernetes service portals", false),
    j("nat", "POSTROUTING", "KUBE-POSTROUTING", "kubernetes postrouting rules", false),
    j("filter", "INPUT", "KUBE-FIREWALL", "", false),
    j("filter", "OUTPUT", "KUBE-FIREWALL", "", false),
  ];
}

/** kubelet's (and, identically, kube-proxy's) martian-packet rule for localhost node ports. */
export function localnetRule(): Rule {
  return rule("KUBE-FIREWALL", {
    dst: "127.0.0.0/8",
    notSrc: "127.0.0.0/8",
    matches: [
      comment("block incoming localnet connections"),
      ctstate(["RELATED", "ESTABLISHED", "DNAT"], true),
    ],
    target: DROP,
  });
}

export function rulesCurrent(ports: readonly ServicePortInfo[], p: CurrentParams): ChainRules {
  return writeAll(currentWriter(p, largeCluster(ports)), ports);
}

/**
 * Whether kube-proxy counts the cluster as large and drops the per-endpoint comments: more than
 * `LARGE_CLUSTER_ENDPOINTS` endpoints over all service ports (the same on every node).
 */
export function largeCluster(ports: readonly ServicePortInfo[]): boolean {
  return ports.reduce((n, sp) => n + sp.endpoints.length, 0) > LARGE_CLUSTER_ENDPOINTS;
}

export function currentWriter(p: CurrentParams, large: boolean): ProxyWriter {
  return {
    head(out) {
      for (const c of [
        "KUBE-SERVICES",
        "KUBE-EXTERNAL-SERVICES",
        "KUBE-FORWARD",
        "KUBE-NODEPORTS",
        "KUBE-PROXY-FIREWALL",
      ])
        declare(out, "filter", c);
      for (const c of ["KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-POSTROUTING", "KUBE-MARK-MASQ"])
        declare(out, "nat", c);
      const nat = (r: Rule) => to(out, "nat", r);
      nat(rule("KUBE-POSTROUTING", { matches: [mark(MASQ_MARK, MASQ_MARK, true)], target: RETURN }));
      nat(rule("KUBE-POSTROUTING", { target: setXmark(MASQ_MARK, 0) })); // --xor-mark
      nat(
        rule("KUBE-POSTROUTING", {
          matches: [comment("kubernetes service traffic requiring SNAT")],
          target: masquerade(p.randomFully),
        }),
      );
      nat(rule("KUBE-MARK-MASQ", { target: setXmark(MASQ_MARK, MASQ_MARK) })); // --or-mark
      // IPv4 with localhostNodePorts (the default): kube-proxy rewrites kubelet's KUBE-FIREWALL.
      to(out, "filter", localnetRule());
    },
    servicePort(sp, out) {
      servicePort(sp, p, large, out);
    },
    tail(out) {
      const filter = (r: Rule) => to(out, "filter", r);
      to(out, "nat", nodePortsLastRule());
      filter(rule("KUBE-FORWARD", { matches: [ctstate(["INVALID"])], target: DROP }));
      filter(
        rule("KUBE-FORWARD", {
          matches: [comment("kubernetes forwarding rules"), mark(MASQ_MARK, MASQ_MARK)],
          target: ACCEPT,
        }),
      );
      filter(
        rule("KUBE-FORWARD", {
          matches: [comment("kubernetes forwarding conntrack rule"), ctstate(["RELATED", "ESTABLISHED"])],
          target: ACCEPT,
        }),
      );
    },
  };
}

/**
 * One service port's rules. The hot parts (cluster IP, balancing, endpoint chains: 17 rules per
 * 5-endpoint service) build Rule objects directly and share what repeats: the cluster IP's address
 * and matches, the endpoint chains' matches, and (ir.ts) addresses and DNAT targets per endpoint.
 */
function servicePort(sp: ServicePortInfo, p: CurrentParams, large: boolean, out: ChainRules): void {
  const { service: svc, port, name, proto, hash } = sp;
  let natT: Map<string, Rule[]> | undefined;
  let filterT: Map<string, Rule[]> | undefined;
  const natChain = (c: string): Rule[] => {
    natT ??= tableOf(out, "nat");
    return chainIn(natT, c);
  };
  const filterChain = (c: string): Rule[] => {
    filterT ??= tableOf(out, "filter");
    return chainIn(filterT, c);
  };
  const nat = (r: Rule): void => {
    natChain(r.chain).push(r);
  };
  const filter = (r: Rule): void => {
    filterChain(r.chain).push(r);
  };
  const chain = (c: string): void => {
    natChain(c);
  };

  const externallyAccessible =
    port.nodePort !== 0 || svc.loadBalancerIngress.length > 0 || svc.externalIPs.length > 0;
  const etpLocal =
    (svc.type === "NodePort" || svc.type === "LoadBalancer") && svc.externalTrafficPolicy === "Local";
  const itpLocal = svc.internalTrafficPolicy === "Local";
  // proxy.CategorizeEndpoints without topology hints: every endpoint we get is ready.
  const usesCluster = !itpLocal || externallyAccessible;
  const usesLocal = itpLocal || (etpLocal && externallyAccessible);
  const all = sp.endpoints;
  const clusterEps = usesCluster ? all : NO_ENDPOINTS;
  const localEps = usesLocal ? all.filter((e) => e.isLocal) : NO_ENDPOINTS;
  const hasEndpoints = all.length > 0;
  const reachable = usesCluster ? clusterEps : localEps;

  const svcChain = `KUBE-SVC-${hash}`;
  // The other chain names only when the service port can use them (most are plain ClusterIPs).
  const svlChain = itpLocal || etpLocal ? `KUBE-SVL-${hash}` : "";
  const extChain = externallyAccessible ? `KUBE-EXT-${hash}` : "";
  const usesSvc = clusterEps.length > 0 && usesCluster;
  const usesSvl = localEps.length > 0 && usesLocal;
  const internalChain = itpLocal ? svlChain : svcChain;
  const hasInternal = itpLocal ? localEps.length > 0 && hasEndpoints : hasEndpoints;
  const externalPolicyChain = etpLocal ? svlChain : svcChain;
  const hasExternal = etpLocal ? localEps.length > 0 && hasEndpoints : hasEndpoints;
  const usesExt = hasEndpoints && externallyAccessible;
  const usesFw =
    hasEndpoints && svc.loadBalancerIngress.length > 0 && svc.loadBalancerSourceRanges.length > 0;
  const fwChain = usesFw ? `KUBE-FW-${hash}` : "";
  const lbChain = usesFw ? fwChain : extChain;

  // What KUBE-SERVICES/KUBE-EXTERNAL-SERVICES do with traffic there is no endpoint for; only read
  // when !hasInternal or !hasExternal, so only made then (most service ports never need it).
  const noEndpoint: [Target, string] | null =
    hasInternal && hasExternal
      ? null
      : hasEndpoints
        ? [DROP, `${name} has no local endpoints`]
        : [REJECT, `${name} has no endpoints`];
  const internalFilter = noEndpoint as [Target, string];
  const externalFilter = noEndpoint as [Target, string];
  const servicePortMatch = l4(proto, port.port);
  const capture = (c: string, dst: string, text: string, target: Target): Rule =>
    bareRule(c, null, addrSpec(dst, false), proto, [comment(text), servicePortMatch], target);

  // Cluster IP (the same destination and matches in KUBE-SERVICES and the masquerade rule below).
  const clusterDst = addrSpec(svc.clusterIP, false);
  const clusterMatches = hasInternal ? [comment(`${name} cluster IP`), servicePortMatch] : NO_MATCHES;
  if (hasInternal)
    nat(bareRule("KUBE-SERVICES", null, clusterDst, proto, clusterMatches, jump(internalChain)));
  else
    filter(
      bareRule(
        "KUBE-SERVICES",
        null,
        clusterDst,
        proto,
        [comment(internalFilter[1]), servicePortMatch],
        internalFilter[0],
      ),
    );

  for (const ip of svc.externalIPs) {
    if (hasEndpoints) nat(capture("KUBE-SERVICES", ip, `${name} external IP`, jump(extChain)));
    if (!hasExternal) filter(capture("KUBE-EXTERNAL-SERVICES", ip, externalFilter[1], externalFilter[0]));
  }

  for (const lbip of svc.loadBalancerIngress) {
    if (hasEndpoints) nat(capture("KUBE-SERVICES", lbip, `${name} loadbalancer IP`, jump(lbChain)));
    if (usesFw)
      filter(capture("KUBE-PROXY-FIREWALL", lbip, `${name} traffic not accepted by ${fwChain}`, DROP));
  }
  if (!hasExternal) {
    for (const lbip of svc.loadBalancerIngress)
      filter(capture("KUBE-EXTERNAL-SERVICES", lbip, externalFilter[1], externalFilter[0]));
  }

  if (port.nodePort !== 0) {
    if (hasEndpoints) {
      nat(
        rule("KUBE-NODEPORTS", {
          proto,
          matches: [comment(name), l4(proto, port.nodePort)],
          target: jump(extChain),
        }),
      );
    }
    if (!hasExternal) {
      filter(
        rule("KUBE-EXTERNAL-SERVICES", {
          proto,
          matches: [comment(externalFilter[1]), addrtype("dst", "LOCAL"), l4(proto, port.nodePort)],
          target: externalFilter[0],
        }),
      );
    }
  }

  if (svc.healthCheckNodePort !== 0) {
    filter(
      rule("KUBE-NODEPORTS", {
        proto: "tcp",
        matches: [comment(`${name} health check node port`), l4("tcp", svc.healthCheckNodePort)],
        target: ACCEPT,
      }),
    );
  }

  // Internal traffic: masquerade what does not come from a pod (LocalTrafficDetector by CIDR).
  if (hasInternal && p.clusterCidr !== "") {
    nat(
      bareRule(
        internalChain,
        addrSpec(p.clusterCidr, true),
        clusterDst,
        proto,
        clusterMatches,
        jump("KUBE-MARK-MASQ"),
      ),
    );
  }

  if (usesExt) {
    chain(extChain);
    if (!etpLocal) {
      nat(
        rule(extChain, {
          matches: [comment(`masquerade traffic for ${name} external destinations`)],
          target: jump("KUBE-MARK-MASQ"),
        }),
      );
    } else {
      if (p.clusterCidr !== "") {
        nat(
          rule(extChain, {
            src: p.clusterCidr,
            matches: [comment(`pod traffic for ${name} external destinations`)],
            target: jump(svcChain),
          }),
        );
      }
      nat(
        rule(extChain, {
          matches: [
            comment(`masquerade LOCAL traffic for ${name} external destinations`),
            addrtype("src", "LOCAL"),
          ],
          target: jump("KUBE-MARK-MASQ"),
        }),
      );
      nat(
        rule(extChain, {
          matches: [
            comment(`route LOCAL traffic for ${name} external destinations`),
            addrtype("src", "LOCAL"),
          ],
          target: jump(svcChain),
        }),
      );
    }
    if (hasExternal) nat(rule(extChain, { target: jump(externalPolicyChain) }));
  }

  if (usesFw) {
    chain(fwChain);
    const fw = (src: string) =>
      rule(fwChain, { src, matches: [comment(`${name} loadbalancer IP`)], target: jump(extChain) });
    let allowFromNode = false;
    for (const src of svc.loadBalancerSourceRanges) {
      nat(fw(src.trim()));
      if (cidrContains(src, p.nodeIP)) allowFromNode = true;
    }
    if (allowFromNode) for (const lbip of svc.loadBalancerIngress) nat(fw(lbip));
    nat(
      rule(fwChain, {
        matches: [comment(`other traffic to ${name} will be dropped by KUBE-PROXY-FIREWALL`)],
        target: null,
      }),
    );
  }

  const affinity = svc.sessionAffinity === "ClientIP";
  const balance = (c: string, eps: readonly EndpointInfo[]) => {
    const n = eps.length;
    // The chain's rules in an array of their number (pushing one by one over-allocates).
    const rules = new Array<Rule>(affinity ? 2 * n : n);
    let k = 0;
    if (affinity) {
      for (const ep of eps) {
        const check = recent(ep.chain, "rcheck", svc.sessionAffinityTimeoutSeconds);
        const matches = large ? [check] : [comment(`${name} -> ${ep.endpoint}`), check];
        rules[k++] = bareRule(c, null, null, null, matches, jump(ep.chain));
      }
    }
    for (let i = 0; i < n; i++) {
      const ep = eps[i] as EndpointInfo;
      const stat = i < n - 1 ? probability(p.probability(n - i)) : null;
      let matches: readonly Match[];
      if (large) matches = stat ? only(stat) : NO_MATCHES;
      else {
        const text = comment(`${name} -> ${ep.endpoint}`);
        matches = stat ? [text, stat] : [text];
      }
      rules[k++] = bareRule(c, null, null, null, matches, jump(ep.chain));
    }
    appendAll(c, rules);
  };
  const appendAll = (c: string, rules: Rule[]): void => {
    natT ??= tableOf(out, "nat");
    const list = natT.get(c);
    if (list === undefined) natT.set(c, rules);
    else for (const r of rules) list.push(r);
  };
  if (usesSvc) balance(svcChain, clusterEps);
  if (usesSvl) balance(svlChain, localEps);

  if (reachable.length === 0) return;
  // Every endpoint chain of this service port carries the same matches (but for affinity's name).
  const nameMatches: readonly Match[] = large ? NO_MATCHES : [comment(name)];
  const anyPort = l4(proto);
  const dnatMatches: readonly Match[] = large ? only(anyPort) : [nameMatches[0] as Match, anyPort];
  const markMasq = jump("KUBE-MARK-MASQ");
  for (const ep of reachable) {
    appendAll(ep.chain, [
      bareRule(ep.chain, addrSpec(ep.ip, false), null, null, nameMatches, markMasq),
      bareRule(
        ep.chain,
        null,
        null,
        proto,
        affinity ? [...nameMatches, recent(ep.chain, "set", null), anyPort] : dnatMatches,
        dnat(ep.ip, ep.port, ep.endpoint),
      ),
    ]);
  }
}

const NO_ENDPOINTS: readonly EndpointInfo[] = [];
