import type { AzureState } from "./azure.ts";
import type { K8sState } from "./k8s.ts";
import type { NodeState } from "./node.ts";
import type { OutsideHost, Scenario } from "./scenario.ts";

/**
 * The twin's whole state, as the control plane builds it from a scenario: everything Azure, AKS,
 * Azure CNI, the Kubernetes controllers and kube-proxy would have created. Plain data; the data
 * plane moves packets through it and the renderers print it.
 */
export interface Twin {
  readonly scenario: Scenario;
  readonly azure: AzureState;
  readonly k8s: K8sState;
  readonly nodes: readonly NodeState[];
  readonly hosts: readonly OutsideHost[];
  /** Unix seconds (virtual clock) at which the state is observed; kubectl ages are relative to it. */
  readonly now: number;
}
