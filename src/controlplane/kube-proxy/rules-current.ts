import type { Match } from "../../model/netfilter/matches.ts";
import type { Rule } from "../../model/netfilter/ruleset.ts";
import type { Target } from "../../model/netfilter/targets.ts";
import {
  ACCEPT,
  addrtype,
  type BuiltinOp,
  type ChainRules,
  comment,
  ctstate,
  DROP,
  declare,
  dnat,
  jump,
  l4,
  mark,
  masquerade,
  nodePortsLastRule,
  probability,
  REJECT,
  RETURN,
  recent,
  rule,
  setXmark,
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
      servicePort(
        sp,
        p,
        large,
        (r) => to(out, "nat", r),
        (r) => to(out, "filter", r),
        (c) => declare(out, "nat", c),
      );
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

const NO_COMMENT: readonly Match[] = [];

interface Extra {
  readonly src?: string;
  readonly notSrc?: string;
  readonly matches?: readonly Match[];
  readonly target: Target | null;
}

function servicePort(
  sp: ServicePortInfo,
  p: CurrentParams,
  large: boolean,
  nat: (r: Rule) => void,
  filter: (r: Rule) => void,
  chain: (name: string) => void,
): void {
  const { service: svc, port, name, proto, hash } = sp;
  const externallyAccessible =
    port.nodePort !== 0 || svc.loadBalancerIngress.length > 0 || svc.externalIPs.length > 0;
  const etpLocal =
    (svc.type === "NodePort" || svc.type === "LoadBalancer") && svc.externalTrafficPolicy === "Local";
  const itpLocal = svc.internalTrafficPolicy === "Local";
  // proxy.CategorizeEndpoints without topology hints: every endpoint we get is ready.
  const usesCluster = !itpLocal || externallyAccessible;
  const usesLocal = itpLocal || (etpLocal && externallyAccessible);
  const clusterEps = usesCluster ? sp.endpoints : [];
  const localEps = usesLocal ? sp.endpoints.filter((e) => e.isLocal) : [];
  const hasEndpoints = sp.endpoints.length > 0;
  const reachable = usesCluster ? clusterEps : localEps;

  const svcChain = `KUBE-SVC-${hash}`;
  const svlChain = `KUBE-SVL-${hash}`;
  const extChain = `KUBE-EXT-${hash}`;
  const fwChain = `KUBE-FW-${hash}`;
  const usesSvc = clusterEps.length > 0 && usesCluster;
  const usesSvl = localEps.length > 0 && usesLocal;
  const internalChain = itpLocal ? svlChain : svcChain;
  const hasInternal = itpLocal ? localEps.length > 0 && hasEndpoints : hasEndpoints;
  const externalPolicyChain = etpLocal ? svlChain : svcChain;
  const hasExternal = etpLocal ? localEps.length > 0 && hasEndpoints : hasEndpoints;
  const usesExt = hasEndpoints && externallyAccessible;
  const usesFw =
    hasEndpoints && svc.loadBalancerIngress.length > 0 && svc.loadBalancerSourceRanges.length > 0;
  const lbChain = usesFw ? fwChain : extChain;

  let internalFilter: [Target, string] = [REJECT, `${name} has no endpoints`];
  let externalFilter: [Target, string] = internalFilter;
  if (hasEndpoints) {
    if (!hasInternal) internalFilter = [DROP, `${name} has no local endpoints`];
    if (!hasExternal) externalFilter = [DROP, `${name} has no local endpoints`];
  }
  const capture = (c: string, dst: string, dport: number, text: string, x: Extra) =>
    rule(c, { ...x, dst, proto, matches: [comment(text), l4(proto, dport), ...(x.matches ?? [])] });
  const cmt = (text: string): readonly Match[] => (large ? NO_COMMENT : [comment(text)]);

  // Cluster IP.
  if (hasInternal)
    nat(
      capture("KUBE-SERVICES", svc.clusterIP, port.port, `${name} cluster IP`, {
        target: jump(internalChain),
      }),
    );
  else
    filter(
      capture("KUBE-SERVICES", svc.clusterIP, port.port, internalFilter[1], { target: internalFilter[0] }),
    );

  for (const ip of svc.externalIPs) {
    if (hasEndpoints)
      nat(capture("KUBE-SERVICES", ip, port.port, `${name} external IP`, { target: jump(extChain) }));
    if (!hasExternal)
      filter(
        capture("KUBE-EXTERNAL-SERVICES", ip, port.port, externalFilter[1], { target: externalFilter[0] }),
      );
  }

  for (const lbip of svc.loadBalancerIngress) {
    if (hasEndpoints)
      nat(capture("KUBE-SERVICES", lbip, port.port, `${name} loadbalancer IP`, { target: jump(lbChain) }));
    if (usesFw) {
      filter(
        capture("KUBE-PROXY-FIREWALL", lbip, port.port, `${name} traffic not accepted by ${fwChain}`, {
          target: DROP,
        }),
      );
    }
  }
  if (!hasExternal) {
    for (const lbip of svc.loadBalancerIngress) {
      filter(
        capture("KUBE-EXTERNAL-SERVICES", lbip, port.port, externalFilter[1], { target: externalFilter[0] }),
      );
    }
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
      capture(internalChain, svc.clusterIP, port.port, `${name} cluster IP`, {
        notSrc: p.clusterCidr,
        target: jump("KUBE-MARK-MASQ"),
      }),
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

  const balance = (c: string, eps: readonly EndpointInfo[]) => {
    chain(c);
    if (svc.sessionAffinity === "ClientIP") {
      for (const ep of eps) {
        nat(
          rule(c, {
            matches: [
              ...cmt(`${name} -> ${ep.endpoint}`),
              recent(ep.chain, "rcheck", svc.sessionAffinityTimeoutSeconds),
            ],
            target: jump(ep.chain),
          }),
        );
      }
    }
    eps.forEach((ep, i) => {
      const stat = i < eps.length - 1 ? [probability(p.probability(eps.length - i))] : [];
      nat(rule(c, { matches: [...cmt(`${name} -> ${ep.endpoint}`), ...stat], target: jump(ep.chain) }));
    });
  };
  if (usesSvc) balance(svcChain, clusterEps);
  if (usesSvl) balance(svlChain, localEps);

  for (const ep of reachable) {
    chain(ep.chain);
    nat(rule(ep.chain, { src: ep.ip, matches: cmt(name), target: jump("KUBE-MARK-MASQ") }));
    const affinity = svc.sessionAffinity === "ClientIP" ? [recent(ep.chain, "set", null)] : [];
    nat(
      rule(ep.chain, {
        proto,
        matches: [...cmt(name), ...affinity, l4(proto)],
        target: dnat(ep.ip, ep.port),
      }),
    );
  }
}
