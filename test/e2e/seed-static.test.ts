import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { cli } from "../support/cli.ts";
import { ageing, ages, counters, expandTabs, seedLines } from "../support/seed.ts";

/**
 * The seed's static outputs (what the twin shows before any traffic), printed by the CLI from the
 * built-in scenarios and compared with the seed file itself. Only what the seed shows to vary is
 * normalised: ages, packet/byte counters and bridge ageing timers.
 */

const NODE = "aks-nodepool1-31351229-0";
const RG = "MC_akstest_aksPacketWalkAzure_westeurope";

function run(scenario: string, ...args: string[]): string[] {
  const [cmd, ...rest] = args;
  const r = cli([cmd as string, "--scenario", scenario, ...rest]);
  assert.equal(r.code, 0, `packetwalk ${args.join(" ")} failed: ${r.stderr}`);
  return r.stdout
    .replace(/\n$/, "")
    .split("\n")
    .map((l) => l.trimEnd());
}

describe("the seed's static outputs, externalTrafficPolicy Cluster (seed-cluster)", () => {
  const S = "seed-cluster";
  it("k get svc / ep / pod -o wide", () => {
    assert.deepEqual(ages(run(S, "kubectl", "get", "svc")), ages(seedLines("$ k get svc", 3)));
    assert.deepEqual(
      ages(run(S, "kubectl", "get", "ep", "whereami")),
      ages(seedLines("$ k get ep whereami", 2)),
    );
    assert.deepEqual(
      ages(run(S, "kubectl", "get", "pod", "-o", "wide")),
      ages(seedLines("$ k get pod -o wide", 3)),
    );
  });

  it("az network lb: list, rule and probe tables, backend pool ids, the NIC's address", () => {
    assert.deepEqual(run(S, "az", "network", "lb", "list", "-g", RG, "-o", "tsv", "--query", "[0].name"), [
      "kubernetes",
    ]);
    const lb = ["-g", RG, "--lb-name", "kubernetes"];
    assert.deepEqual(
      run(S, "az", "network", "lb", "rule", "list", ...lb, "-o", "table"),
      seedLines("lb rule list", 3),
    );
    assert.deepEqual(
      run(S, "az", "network", "lb", "probe", "list", ...lb, "-o", "table"),
      seedLines("lb probe list", 3),
    );
    assert.deepEqual(
      run(
        S,
        "az",
        "network",
        "lb",
        "address-pool",
        "list",
        ...lb,
        "--query",
        "[].backendIpConfigurations[].id",
        "-o",
        "tsv",
      ),
      seedLines("--query [].backendIpConfigurations[].id -o tsv", 1),
    );
    assert.deepEqual(
      run(
        S,
        "az",
        "network",
        "nic",
        "ip-config",
        "show",
        "-g",
        RG,
        "--nic-name",
        "aks-nodepool1-31351229-nic-0",
        "-n",
        "ipconfig1",
        "--query",
        "privateIpAddress",
        "-o",
        "tsv",
      ),
      seedLines("nic ip-config show", 1),
    );
  });

  it("iptables-save | grep whereami: the seed's 14 rules (the blog lists KUBE-SERVICES in its own order)", () => {
    // kube-proxy 1.11 writes the cluster IP rules before the load balancer rule and iptables-save
    // prints chains sorted by name (the seed's Local half shows both); the Cluster listing at
    // line 135 was rearranged by the author, so here it is compared as a set.
    const ours = run(S, "exec", NODE, "--", "iptables-save | grep whereami");
    assert.deepEqual([...ours].sort(), seedLines("sudo iptables-save | grep whereami", 14).sort());
  });

  it("iptables -t nat -L KUBE-MARK-MASQ and the MASQUERADE rules", () => {
    assert.deepEqual(
      run(S, "exec", NODE, "--", "iptables", "-t", "nat", "-L", "KUBE-MARK-MASQ"),
      seedLines("sudo iptables -t nat -L KUBE-MARK-MASQ", 3),
    );
    assert.deepEqual(
      counters(run(S, "exec", NODE, "--", "iptables -L -t nat -v | grep -i masquerade")),
      counters(seedLines("iptables -L -t nat -v | grep -i masquerade", 3)),
    );
  });

  it("ip a | grep 20:, brctl show / showstp / showmacs, arp -a", () => {
    assert.deepEqual(run(S, "exec", NODE, "--", "ip a | grep 20:"), seedLines("ip a | grep 20:", 1));
    assert.deepEqual(expandTabs(run(S, "exec", NODE, "--", "brctl show")), seedLines("$ brctl show", 11));
    assert.deepEqual(
      run(S, "exec", NODE, "--", "brctl showstp azure0 | grep azva4124965a9b"),
      seedLines("brctl showstp azure0 | grep azva4124965a9b", 1),
    );
    assert.deepEqual(
      ageing(expandTabs(run(S, "exec", NODE, "--", 'brctl showmacs azure0 | grep -E "\\s+9\\s+"'))),
      ageing(seedLines("brctl showmacs azure0", 3)),
    );
    assert.deepEqual(run(S, "exec", NODE, "--", "arp -a 10.13.76.26"), seedLines("arp -a 10.13.76.26", 1));
  });
});

describe("the seed's static outputs, externalTrafficPolicy Local (seed-local)", () => {
  const S = "seed-local";
  it("k get svc / ep, and svc --all-namespaces", () => {
    assert.deepEqual(ages(run(S, "kubectl", "get", "svc")), ages(seedLines("$ k get svc", 3, 2)));
    assert.deepEqual(
      ages(run(S, "kubectl", "get", "ep", "whereami")),
      ages(seedLines("$ k get ep whereami", 2, 2)),
    );
    assert.deepEqual(
      ages(run(S, "kubectl", "get", "svc", "--all-namespaces")),
      ages(seedLines("$ k get svc --all-namespaces", 7)),
    );
  });

  it("iptables-save greps: KUBE-SERVICES, KUBE-FW, MASQUERADE, and 18 KUBE-MARK-MASQ references", () => {
    assert.deepEqual(
      run(S, "exec", NODE, "--", "iptables-save | grep whereami | grep KUBE-SERVICES"),
      seedLines("grep whereami | grep KUBE-SERVICES", 3),
    );
    assert.deepEqual(
      run(S, "exec", NODE, "--", "iptables-save | grep whereami | grep KUBE-FW-7G2JV7LNOR6DDNIY"),
      seedLines("grep whereami | grep KUBE-FW-7G2JV7LNOR6DDNIY", 3),
    );
    assert.deepEqual(
      run(S, "exec", NODE, "--", "iptables-save | grep MASQUERADE"),
      seedLines("sudo iptables-save | grep MASQUERADE", 3),
    );
    assert.deepEqual(
      run(S, "exec", NODE, "--", "iptables -t nat -L KUBE-MARK-MASQ"),
      seedLines("sudo iptables -t nat -L KUBE-MARK-MASQ", 3, 2),
    );
  });

  it("the HTTP probe on the health check node port, and kube-proxy's answer on it", () => {
    const lb = ["-g", RG, "--lb-name", "kubernetes"];
    assert.deepEqual(
      run(S, "az", "network", "lb", "rule", "list", ...lb, "-o", "table"),
      seedLines("lb rule list", 3, 2),
    );
    assert.deepEqual(
      run(S, "az", "network", "lb", "probe", "list", ...lb, "-o", "table"),
      seedLines("lb probe list", 3, 2),
    );
    // kube-proxy indents with tabs (kube-proxy.md §6.1); the blog shows them expanded.
    assert.deepEqual(
      expandTabs(run(S, "exec", NODE, "--", "curl localhost:32364/healthz")),
      seedLines("curl localhost:32364/healthz", 7),
    );
  });
});
