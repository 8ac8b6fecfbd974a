import { readFileSync } from "node:fs";
import { buildTwin } from "../../../../controlplane/build-twin.ts";
import { seedLocal } from "../../../../controlplane/testdata/seed-scenario.ts";
import { parseIptablesSave } from "../../../../inputs/iptables/parse-save.ts";
import { parseScenario } from "../../../../inputs/scenario/parse.ts";
import { formatRulesetFile } from "../../../../model/netfilter/save.ts";
import type { Twin } from "../../../../model/twin.ts";

/** Twins for the world's tests: the built-in aks-today with extra manifests, rules added to a node. */

const AKS_TODAY = new URL("../../../../../scenarios/aks-today.yaml", import.meta.url);

/**
 * aks-today (transparent mode, current kube-proxy, 3 nodes), with `manifests` (YAML items) appended
 * and `tail` (more top-level YAML: pins, a cluster override) after the file.
 */
export function aksToday(manifests = "", tail = "", nodeCount?: number): Twin {
  const text = readFileSync(AKS_TODAY, "utf8").replace("\nhosts:", `\n${manifests}hosts:`) + tail;
  const r = parseScenario(text, "aks-today.yaml", () => null);
  if (!r.value) throw new Error(r.diagnostics.map((d) => d.message).join("\n"));
  const scenario = nodeCount ? { ...r.value, cluster: { ...r.value.cluster, nodeCount } } : r.value;
  return buildTwin(scenario);
}

/** A manifest item for aks-today's `manifests:` list. */
export function manifest(yaml: string): string {
  const body = yaml
    .trim()
    .split("\n")
    .map((l) => `    ${l}`)
    .join("\n");
  return `  - |\n${body}\n`;
}

/**
 * The twin with `rules` (iptables-save `-A` lines) put first in their chains of `table` on `node`:
 * the node's ruleset is written out, the lines inserted after the table's chain declarations, and
 * read back.
 */
export function withRules(twin: Twin, node: string, table: string, rules: readonly string[]): Twin {
  return {
    ...twin,
    nodes: twin.nodes.map((n) => {
      if (n.name !== node) return n;
      const lines = formatRulesetFile(n.ruleset).split("\n");
      const start = lines.indexOf(`*${table}`);
      if (start < 0) throw new Error(`no table ${table} on ${node}`);
      let at = start + 1;
      while (lines[at]?.startsWith(":")) at++;
      lines.splice(at, 0, ...rules);
      const parsed = parseIptablesSave(lines.join("\n"), `${node} with rules`);
      const errors = parsed.diagnostics.filter((d) => d.severity === "error");
      if (errors.length) throw new Error(errors.map((d) => d.message).join("\n"));
      return { ...n, ruleset: parsed.value };
    }),
  };
}

/** The seed's Local cluster with a second node and both whereami pods pinned to the first. */
export const NODE_A = "aks-nodepool1-31351229-0";
export function twoNodeLocal(): Twin {
  return buildTwin({
    ...seedLocal,
    cluster: { ...seedLocal.cluster, nodeCount: 2 },
    pins: { ...seedLocal.pins, pods: (seedLocal.pins.pods ?? []).map((p) => ({ ...p, node: NODE_A })) },
  });
}

/** aks-today on two nodes with the web Deployment's three pods pinned to the first. */
export const TODAY_NODE_A = "aks-nodepool1-12345678-vmss000000";
export function twoNodeLocalToday(): Twin {
  const pin = `    - owner: default/web\n      node: ${TODAY_NODE_A}\n`;
  return aksToday("", `pins:\n  nodePoolId: "12345678"\n  pods:\n${pin.repeat(3)}`, 2);
}
