import type { Rule } from "../../model/netfilter/ruleset.ts";
import {
  ACCEPT,
  addrtype,
  type BuiltinOp,
  type ChainRules,
  comment,
  ctstate,
  DROP,
  declare,
  jump,
  l4,
  mark,
  masquerade,
  newChainRules,
  notDstRange,
  RETURN,
  rule,
  setXmark,
  add as to,
} from "./ir.ts";
import { DROP_MARK, MASQ_MARK } from "./rules-1-11.ts";
import { localnetRule } from "./rules-current.ts";

/**
 * The node's other iptables writers, each as the chains it owns and the commands it runs on the
 * built-in chains: docker (18.09/moby, the default bridge), kubelet (1.11 `syncNetworkUtil`, or
 * ≥1.28 `syncIPTablesRules`), AKS's Azure CNI MASQUERADE rule (2019) or ip-masq-agent (today),
 * and AKS's wireserver block.
 */

export interface Component {
  readonly chains: ChainRules;
  readonly ops: readonly BuiltinOp[];
}

const op = (table: BuiltinOp["table"], kind: BuiltinOp["op"], r: Rule): BuiltinOp => ({
  table,
  op: kind,
  rule: r,
});

/**
 * dockerd's default bridge (libnetwork, docker 18.09): DOCKER/DOCKER-ISOLATION-STAGE-1/2/DOCKER-USER,
 * the PREROUTING/OUTPUT jumps appended, the masquerade rule inserted, and FORWARD ending as
 * DOCKER-USER, DOCKER-ISOLATION-STAGE-1, then the four docker0 rules [unverified against an AKS
 * node; this is docker 18.09's output on a plain host].
 */
export function docker(bridgeCidr: string, bridge = "docker0"): Component {
  const chains = newChainRules();
  declare(chains, "nat", "DOCKER");
  for (const c of ["DOCKER", "DOCKER-ISOLATION-STAGE-1", "DOCKER-ISOLATION-STAGE-2", "DOCKER-USER"])
    declare(chains, "filter", c);
  to(chains, "nat", rule("DOCKER", { inIface: bridge, target: RETURN }));
  to(
    chains,
    "filter",
    rule("DOCKER-ISOLATION-STAGE-1", {
      inIface: bridge,
      notOutIface: bridge,
      target: jump("DOCKER-ISOLATION-STAGE-2"),
    }),
  );
  to(chains, "filter", rule("DOCKER-ISOLATION-STAGE-1", { target: RETURN }));
  to(chains, "filter", rule("DOCKER-ISOLATION-STAGE-2", { outIface: bridge, target: DROP }));
  to(chains, "filter", rule("DOCKER-ISOLATION-STAGE-2", { target: RETURN }));
  to(chains, "filter", rule("DOCKER-USER", { target: RETURN }));
  const ops: BuiltinOp[] = [
    op("nat", "append", rule("PREROUTING", { matches: [addrtype("dst", "LOCAL")], target: jump("DOCKER") })),
    op(
      "nat",
      "append",
      rule("OUTPUT", { notDst: "127.0.0.0/8", matches: [addrtype("dst", "LOCAL")], target: jump("DOCKER") }),
    ),
    op("nat", "prepend", rule("POSTROUTING", { src: bridgeCidr, notOutIface: bridge, target: masquerade() })),
    op(
      "filter",
      "append",
      rule("FORWARD", { outIface: bridge, matches: [ctstate(["RELATED", "ESTABLISHED"])], target: ACCEPT }),
    ),
    op("filter", "append", rule("FORWARD", { outIface: bridge, target: jump("DOCKER") })),
    op("filter", "append", rule("FORWARD", { inIface: bridge, notOutIface: bridge, target: ACCEPT })),
    op("filter", "append", rule("FORWARD", { inIface: bridge, outIface: bridge, target: ACCEPT })),
    op("filter", "prepend", rule("FORWARD", { target: jump("DOCKER-ISOLATION-STAGE-1") })),
    op("filter", "prepend", rule("FORWARD", { target: jump("DOCKER-USER") })),
  ];
  return { chains, ops };
}

/**
 * aks-engine's kubelet.sh for Azure CNI without ip-masq-agent (docs/azure.md §6.2):
 * `iptables -t nat -A POSTROUTING -m iprange ! --dst-range 168.63.129.16 -m addrtype ! --dst-type local
 * ! -d <vnet> -j MASQUERADE`; the seed prints it as `! -d 10.0.0.0/8 -m iprange … -m addrtype … -j MASQUERADE`.
 */
export function azureCniMasquerade(except: string): Component {
  const r = rule("POSTROUTING", {
    notDst: except,
    matches: [notDstRange("168.63.129.16"), addrtype("dst", "LOCAL", true)],
    target: masquerade(),
  });
  return { chains: newChainRules(), ops: [op("nat", "append", r)] };
}

/**
 * azure-ip-masq-agent (ip-masq-agent-v2 `syncMasqRules`): the POSTROUTING jump is added with
 * EnsureRule and a comment that carries literal quotes (postRoutingMasqChainCommentFormat), the
 * chain itself by iptables-restore: one RETURN per non-masquerade CIDR, then MASQUERADE.
 */
export function ipMasqAgent(cidrs: readonly string[]): Component {
  const chains = newChainRules();
  declare(chains, "nat", "IP-MASQ-AGENT");
  for (const d of cidrs) {
    to(
      chains,
      "nat",
      rule("IP-MASQ-AGENT", {
        dst: d,
        matches: [comment("ip-masq-agent: local traffic is not subject to MASQUERADE")],
        target: RETURN,
      }),
    );
  }
  to(
    chains,
    "nat",
    rule("IP-MASQ-AGENT", {
      matches: [comment("ip-masq-agent: outbound traffic is subject to MASQUERADE (must be last in chain)")],
      target: masquerade(),
    }),
  );
  const jumpText =
    '"ip-masq-agent: ensure nat POSTROUTING directs all non-LOCAL destination traffic to our custom IP-MASQ-AGENT chain"';
  const r = rule("POSTROUTING", {
    matches: [comment(jumpText), addrtype("dst", "LOCAL", true)],
    target: jump("IP-MASQ-AGENT"),
  });
  return { chains, ops: [op("nat", "append", r)] };
}

/** AKS's `iptables -I FORWARD -d 168.63.129.16 -p tcp --dport 80 -j DROP` (pods may not reach wireserver). */
export function wireserverBlock(): Component {
  const r = rule("FORWARD", { dst: "168.63.129.16", proto: "tcp", matches: [l4("tcp", 80)], target: DROP });
  return { chains: newChainRules(), ops: [op("filter", "prepend", r)] };
}

/** kubelet 1.11 `syncNetworkUtil`: KUBE-MARK-DROP, KUBE-FIREWALL, KUBE-MARK-MASQ, KUBE-POSTROUTING. */
export function kubelet111(): Component {
  const chains = newChainRules();
  to(chains, "nat", rule("KUBE-MARK-DROP", { target: setXmark(DROP_MARK, DROP_MARK) }));
  to(
    chains,
    "filter",
    rule("KUBE-FIREWALL", {
      matches: [comment("kubernetes firewall for dropping marked packets"), mark(DROP_MARK, DROP_MARK)],
      target: DROP,
    }),
  );
  to(chains, "nat", rule("KUBE-MARK-MASQ", { target: setXmark(MASQ_MARK, MASQ_MARK) }));
  to(
    chains,
    "nat",
    rule("KUBE-POSTROUTING", {
      matches: [comment("kubernetes service traffic requiring SNAT"), mark(MASQ_MARK, MASQ_MARK)],
      target: masquerade(),
    }),
  );
  return {
    chains,
    ops: [
      op("filter", "prepend", rule("OUTPUT", { target: jump("KUBE-FIREWALL") })),
      op("filter", "prepend", rule("INPUT", { target: jump("KUBE-FIREWALL") })),
      op(
        "nat",
        "prepend",
        rule("POSTROUTING", {
          matches: [comment("kubernetes postrouting rules")],
          target: jump("KUBE-POSTROUTING"),
        }),
      ),
    ],
  };
}

/**
 * kubelet ≥1.28 (`syncIPTablesRules`, IPTablesOwnershipCleanup GA): KUBE-IPTABLES-HINT in mangle,
 * KUBE-FIREWALL's localnet rule, and its Monitor's KUBE-KUBELET-CANARY in mangle, nat and filter.
 */
export function kubeletCurrent(): Component {
  const chains = newChainRules();
  declare(chains, "mangle", "KUBE-IPTABLES-HINT");
  for (const t of ["mangle", "nat", "filter"] as const) declare(chains, t, "KUBE-KUBELET-CANARY");
  to(chains, "filter", localnetRule());
  return {
    chains,
    ops: [
      op("filter", "prepend", rule("OUTPUT", { target: jump("KUBE-FIREWALL") })),
      op("filter", "prepend", rule("INPUT", { target: jump("KUBE-FIREWALL") })),
    ],
  };
}

/** kube-proxy's Monitor canary (1.28): an empty KUBE-PROXY-CANARY in mangle, nat and filter. */
export function kubeProxyCanary(): ChainRules {
  const chains = newChainRules();
  for (const t of ["mangle", "nat", "filter"] as const) declare(chains, t, "KUBE-PROXY-CANARY");
  return chains;
}
