import { parseIpNet } from "../../core/ip.ts";
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
  declare,
  dnat,
  jump,
  l4,
  mark,
  masquerade,
  nodePortsLastRule,
  physdevNotIn,
  probability,
  REJECT,
  recent,
  rule,
  setXmark,
  add as to,
} from "./ir.ts";
import { type ProxyWriter, writeAll } from "./proxy-writer.ts";
import type { ServicePortInfo } from "./service-ports.ts";

/**
 * kube-proxy's iptables rules in the 1.11 layout (KUBE-FW/KUBE-XLB, marks via --set-xmark, no
 * KUBE-EXT/SVL), following `syncProxyRules` of kubernetes 1.11 as vendored in openshift/origin
 * @04746fd (vendor/k8s.io/kubernetes/pkg/proxy/iptables/proxier.go) and docs/kube-proxy.md §3.
 * Rules are emitted in the order kube-proxy writes them into iptables-restore.
 */

export const MASQ_MARK = 0x4000;
export const DROP_MARK = 0x8000;

export interface ProxyParams {
  readonly nodeIP: string;
  /** `--cluster-cidr`; "" when kube-proxy has none (no masquerade rule on the cluster IP). */
  readonly clusterCidr: string;
  /** Precomputed `--probability` text for 1/n. */
  readonly probability: (n: number) => string;
}

/** The jumps from built-in chains (`iptablesJumpChains`, 1.11), each EnsureRule(Prepend, …) in this order. */
export function jumps111(): BuiltinOp[] {
  const j = (table: "nat" | "filter", src: string, dst: string, text: string, extra: boolean): BuiltinOp => ({
    table,
    op: "prepend",
    rule: rule(src, { matches: [...(extra ? [ctstate(["NEW"])] : []), comment(text)], target: jump(dst) }),
  });
  return [
    j("filter", "INPUT", "KUBE-EXTERNAL-SERVICES", "kubernetes externally-visible service portals", true),
    j("filter", "OUTPUT", "KUBE-SERVICES", "kubernetes service portals", true),
    j("nat", "OUTPUT", "KUBE-SERVICES", "kubernetes service portals", false),
    j("nat", "PREROUTING", "KUBE-SERVICES", "kubernetes service portals", false),
    j("nat", "POSTROUTING", "KUBE-POSTROUTING", "kubernetes postrouting rules", false),
    j("filter", "FORWARD", "KUBE-FORWARD", "kubernetes forwarding rules", false),
  ];
}

export function rules111(ports: readonly ServicePortInfo[], p: ProxyParams): ChainRules {
  return writeAll(writer111(p), ports);
}

export function writer111(p: ProxyParams): ProxyWriter {
  return {
    head(out) {
      for (const c of ["KUBE-SERVICES", "KUBE-EXTERNAL-SERVICES", "KUBE-FORWARD"]) declare(out, "filter", c);
      for (const c of ["KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-POSTROUTING", "KUBE-MARK-MASQ"])
        declare(out, "nat", c);
      to(
        out,
        "nat",
        rule("KUBE-POSTROUTING", {
          matches: [comment("kubernetes service traffic requiring SNAT"), mark(MASQ_MARK, MASQ_MARK)],
          target: masquerade(),
        }),
      );
      to(out, "nat", rule("KUBE-MARK-MASQ", { target: setXmark(MASQ_MARK, MASQ_MARK) }));
    },
    servicePort(sp, out) {
      servicePort(
        sp,
        p,
        (r) => to(out, "nat", r),
        (r) => to(out, "filter", r),
        (c) => declare(out, "nat", c),
      );
    },
    tail(out) {
      const filter = (r: Rule) => to(out, "filter", r);
      to(out, "nat", nodePortsLastRule());
      filter(
        rule("KUBE-FORWARD", {
          matches: [comment("kubernetes forwarding rules"), mark(MASQ_MARK, MASQ_MARK)],
          target: ACCEPT,
        }),
      );
      if (p.clusterCidr !== "") {
        const established = ctstate(["RELATED", "ESTABLISHED"]);
        filter(
          rule("KUBE-FORWARD", {
            src: p.clusterCidr,
            matches: [comment("kubernetes forwarding conntrack pod source rule"), established],
            target: ACCEPT,
          }),
        );
        filter(
          rule("KUBE-FORWARD", {
            dst: p.clusterCidr,
            matches: [comment("kubernetes forwarding conntrack pod destination rule"), established],
            target: ACCEPT,
          }),
        );
      }
    },
  };
}

function servicePort(
  sp: ServicePortInfo,
  p: ProxyParams,
  nat: (r: Rule) => void,
  filter: (r: Rule) => void,
  chain: (name: string) => void,
): void {
  const { service: svc, port, name, proto, hash, endpoints } = sp;
  const hasEndpoints = endpoints.length > 0;
  // RequestsOnlyLocalTraffic: NodePort/LoadBalancer with externalTrafficPolicy Local.
  const onlyLocal =
    (svc.type === "NodePort" || svc.type === "LoadBalancer") && svc.externalTrafficPolicy === "Local";
  const svcChain = `KUBE-SVC-${hash}`;
  const xlbChain = `KUBE-XLB-${hash}`;
  const fwChain = `KUBE-FW-${hash}`;
  const affinity = svc.sessionAffinity === "ClientIP";
  if (hasEndpoints) chain(svcChain);
  if (onlyLocal) chain(xlbChain);
  const capture = (c: string, dst: string, dport: number, text: string, extra: RuleExtra = {}) =>
    rule(c, {
      ...extra,
      dst,
      proto,
      matches: [comment(text), l4(proto, dport), ...(extra.matches ?? [])],
      target: extra.target ?? null,
    });

  // Cluster IP.
  if (hasEndpoints) {
    const text = `${name} cluster IP`;
    if (p.clusterCidr !== "") {
      nat(
        capture("KUBE-SERVICES", svc.clusterIP, port.port, text, {
          notSrc: p.clusterCidr,
          target: jump("KUBE-MARK-MASQ"),
        }),
      );
    }
    nat(capture("KUBE-SERVICES", svc.clusterIP, port.port, text, { target: jump(svcChain) }));
  } else {
    filter(
      capture("KUBE-SERVICES", svc.clusterIP, port.port, `${name} has no endpoints`, { target: REJECT }),
    );
  }

  // External IPs.
  for (const ip of svc.externalIPs) {
    const text = `${name} external IP`;
    if (hasEndpoints) {
      nat(capture("KUBE-SERVICES", ip, port.port, text, { target: jump("KUBE-MARK-MASQ") }));
      nat(
        capture("KUBE-SERVICES", ip, port.port, text, {
          matches: [physdevNotIn(), addrtype("src", "LOCAL", true)],
          target: jump(svcChain),
        }),
      );
      nat(
        capture("KUBE-SERVICES", ip, port.port, text, {
          matches: [addrtype("dst", "LOCAL")],
          target: jump(svcChain),
        }),
      );
    } else {
      filter(
        capture("KUBE-EXTERNAL-SERVICES", ip, port.port, `${name} has no endpoints`, { target: REJECT }),
      );
    }
  }

  // Load balancer ingress IPs (no REJECT for them without endpoints in 1.11).
  if (hasEndpoints) {
    for (const lbip of svc.loadBalancerIngress) {
      chain(fwChain);
      const text = `${name} loadbalancer IP`;
      nat(capture("KUBE-SERVICES", lbip, port.port, text, { target: jump(fwChain) }));
      const fw = (extra: RuleExtra) =>
        rule(fwChain, { ...extra, matches: [comment(text)], target: extra.target ?? null });
      let chosen = xlbChain;
      if (!onlyLocal) {
        nat(fw({ target: jump("KUBE-MARK-MASQ") }));
        chosen = svcChain;
      }
      if (svc.loadBalancerSourceRanges.length === 0) nat(fw({ target: jump(chosen) }));
      else {
        let allowFromNode = false;
        for (const src of svc.loadBalancerSourceRanges) {
          nat(fw({ src, target: jump(chosen) }));
          if (cidrContains(src, p.nodeIP)) allowFromNode = true;
        }
        if (allowFromNode) nat(fw({ src: lbip, target: jump(chosen) }));
      }
      nat(fw({ target: jump("KUBE-MARK-DROP") }));
    }
  }

  // Node port.
  if (port.nodePort !== 0) {
    const np = (extra: RuleExtra) =>
      rule("KUBE-NODEPORTS", {
        ...extra,
        proto,
        matches: [comment(name), l4(proto, port.nodePort)],
        target: extra.target ?? null,
      });
    if (hasEndpoints) {
      if (!onlyLocal) {
        nat(np({ target: jump("KUBE-MARK-MASQ") }));
        nat(np({ target: jump(svcChain) }));
      } else {
        nat(np({ src: "127.0.0.0/8", target: jump("KUBE-MARK-MASQ") }));
        nat(np({ target: jump(xlbChain) }));
      }
    } else {
      filter(
        rule("KUBE-EXTERNAL-SERVICES", {
          proto,
          matches: [comment(`${name} has no endpoints`), addrtype("dst", "LOCAL"), l4(proto, port.nodePort)],
          target: REJECT,
        }),
      );
    }
  }

  if (!hasEndpoints) return;

  for (const ep of endpoints) chain(ep.chain);
  if (affinity) {
    for (const ep of endpoints) {
      nat(
        rule(svcChain, {
          matches: [comment(name), recent(ep.chain, "rcheck", svc.sessionAffinityTimeoutSeconds)],
          target: jump(ep.chain),
        }),
      );
    }
  }
  const n = endpoints.length;
  endpoints.forEach((ep, i) => {
    const stat = i < n - 1 ? [probability(p.probability(n - i))] : [];
    nat(rule(svcChain, { matches: [comment(name), ...stat], target: jump(ep.chain) }));
    nat(rule(ep.chain, { src: ep.ip, matches: [comment(name)], target: jump("KUBE-MARK-MASQ") }));
    nat(
      rule(ep.chain, {
        proto,
        matches: [comment(name), ...(affinity ? [recent(ep.chain, "set", null)] : []), l4(proto)],
        target: dnat(ep.ip, ep.port),
      }),
    );
  });

  if (!onlyLocal) return;
  if (p.clusterCidr !== "") {
    nat(
      rule(xlbChain, {
        src: p.clusterCidr,
        matches: [comment("Redirect pods trying to reach external loadbalancer VIP to clusterIP")],
        target: jump(svcChain),
      }),
    );
  }
  const local = endpoints.filter((e) => e.isLocal);
  if (local.length === 0) {
    nat(
      rule(xlbChain, {
        matches: [comment(`${name} has no local endpoints`)],
        target: jump("KUBE-MARK-DROP"),
      }),
    );
    return;
  }
  if (affinity) {
    for (const ep of local) {
      nat(
        rule(xlbChain, {
          matches: [comment(name), recent(ep.chain, "rcheck", svc.sessionAffinityTimeoutSeconds)],
          target: jump(ep.chain),
        }),
      );
    }
  }
  local.forEach((ep, i) => {
    const stat = i < local.length - 1 ? [probability(p.probability(local.length - i))] : [];
    nat(
      rule(xlbChain, {
        matches: [comment(`Balancing rule ${i} for ${name}`), ...stat],
        target: jump(ep.chain),
      }),
    );
  });
}

interface RuleExtra {
  readonly src?: string;
  readonly notSrc?: string;
  readonly matches?: readonly Match[];
  readonly target?: Target;
}

/** Whether a loadBalancerSourceRanges entry contains the node's IP (kube-proxy's allowFromNode). */
export function cidrContains(cidr: string, ip: string): boolean {
  const n = parseIpNet(cidr.trim(), 4);
  const a = parseIpNet(ip, 4);
  return !!n && !!a && n.family === 4 && a.family === 4 && (a.addr & n.mask) >>> 0 === n.addr;
}
