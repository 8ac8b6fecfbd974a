import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { after, test } from "node:test";
import { hasCommand } from "../../../test/support/commands.ts";
import { formatRulesetFile } from "../../model/netfilter/save.ts";
import type { NodeRulesInput } from "./input.ts";
import { buildNodeRuleset } from "./node-rules.ts";
import { endpoints, port, seedInput, service } from "./testing.ts";

/**
 * The generated rulesets against the real kernel: load each into a throwaway network namespace
 * with iptables-legacy-restore and check that iptables-legacy-save prints the same thing (comment
 * and counter lines aside). Needs root and the legacy tools; skipped otherwise.
 */

const ns = `pwk-${process.pid}`;
const has = hasCommand;
const skip =
  process.getuid?.() !== 0
    ? "needs root for network namespaces"
    : !has("ip") || !has("iptables-legacy-restore")
      ? "needs iproute2 and iptables-legacy-restore"
      : false;
let created = false;
after(() => {
  if (created) execFileSync("ip", ["netns", "del", ns], { stdio: "ignore" });
});

/** Tables of a dump as text, without comment lines and with chain counters zeroed. */
function tables(text: string): Map<string, string> {
  const out = new Map<string, string>();
  let name = "";
  let body: string[] = [];
  for (const line of text.split("\n")) {
    if (line.startsWith("#") || line === "") continue;
    if (line.startsWith("*")) {
      name = line.slice(1);
      body = [];
    } else if (line === "COMMIT") out.set(name, body.join("\n"));
    else body.push(line.replace(/ \[\d+:\d+\]$/, " [0:0]"));
  }
  return out;
}

/** Every kind of rule both layouts write: all service types and policies, affinity, ranges, external IPs. */
function kitchenSink(layout: "1.11" | "current"): NodeRulesInput {
  const base = seedInput("cluster");
  const ep = (name: string, ips: string[], proto: "TCP" | "UDP" = "TCP", remote: string[] = []) =>
    endpoints("ns", name, ips, [{ name: "p", port: 8080, protocol: proto }], remote);
  const lb = { type: "LoadBalancer" as const, loadBalancerIngress: ["20.0.0.1"] };
  return {
    ...base,
    layout,
    kubernetesVersion: layout === "1.11" ? "1.11.5" : "1.28.3",
    services: [
      service("ns", "a", "10.0.1.1", [port("p", 80, "TCP", 30001)], {
        ...lb,
        loadBalancerSourceRanges: ["10.13.0.0/16", "1.2.3.0/24"],
      }),
      service("ns", "b", "10.0.1.2", [port("p", 81, "TCP", 30002)], {
        ...lb,
        externalTrafficPolicy: "Local",
        healthCheckNodePort: 31002,
        sessionAffinity: "ClientIP",
      }),
      service("ns", "c", "10.0.1.3", [port("p", 53, "UDP")], {
        externalIPs: ["30.0.0.3"],
        internalTrafficPolicy: "Local",
      }),
      service("ns", "d", "10.0.1.4", [port("p", 84, "TCP", 30004)], {
        type: "NodePort",
        externalTrafficPolicy: "Local",
      }),
      service("ns", "e", "10.0.1.5", [port("p", 85, "TCP", 30005)], { ...lb, externalIPs: ["30.0.0.5"] }),
    ],
    endpoints: [
      ep("a", ["10.13.76.10", "10.13.76.11", "10.13.77.12"], "TCP", ["10.13.77.12"]),
      ep("b", ["10.13.76.20", "10.13.76.21", "10.13.77.22"], "TCP", ["10.13.77.22"]),
      ep("c", ["10.13.77.30"], "UDP", ["10.13.77.30"]),
      ep("d", ["10.13.77.40"], "TCP", ["10.13.77.40"]),
    ],
    dockerBridgeCidr: layout === "1.11" ? "172.17.0.0/16" : null,
    masqueradeExcept: layout === "1.11" ? "10.0.0.0/8" : null,
    ipMasqAgentCidrs: layout === "1.11" ? null : ["10.13.0.0/16"],
    blockWireserver: true,
  };
}

test("the kernel accepts the generated rulesets and iptables-legacy-save prints them back", { skip }, () => {
  execFileSync("ip", ["netns", "add", ns]);
  created = true;
  const cases: [string, NodeRulesInput][] = [
    ["seed Cluster", seedInput("cluster")],
    ["seed Local", seedInput("local")],
    ["1.11 kitchen sink", kitchenSink("1.11")],
    ["current kitchen sink", kitchenSink("current")],
  ];
  for (const [label, input] of cases) {
    const ours = formatRulesetFile(buildNodeRuleset(input));
    execFileSync("ip", ["netns", "exec", ns, "iptables-legacy-restore"], { input: ours });
    const kernel = tables(
      execFileSync("ip", ["netns", "exec", ns, "iptables-legacy-save"], { encoding: "utf8" }),
    );
    for (const [name, text] of tables(ours)) assert.equal(kernel.get(name), text, `${label}: table ${name}`);
  }
});
