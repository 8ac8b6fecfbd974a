/** The node's iptables: kube-proxy's rules in both layouts plus kubelet's, docker's and AKS's. */

export { type ClusterRules, clusterRules, type NodeIdentity, nodeRuleset } from "./cluster-rules.ts";
export type { NodeRulesInput } from "./input.ts";
export { buildNodeRuleset, type ClusterRulesInput } from "./node-rules.ts";
export { probabilityText, servicePortName } from "./service-ports.ts";
