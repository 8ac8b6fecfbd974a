import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Twin } from "../../../model/twin.ts";
import { seedCommand, seedOutput } from "../testdata/seed-output.ts";
import { type SeedPhase, seedTwin } from "../testdata/seed-twin.ts";
import { runAz } from "./run.ts";

const NODE_RG = "MC_akstest_aksPacketWalkAzure_westeurope";

/** The seed's command line with its shell variables filled in, as argv after `az`. */
function argvOf(line: number): string[] {
  const cmd = seedCommand(line)
    .replace(/^\$ /, "")
    .replace(/\$noderg/g, NODE_RG)
    .replace(/\$lb/g, "kubernetes");
  assert.match(cmd, /^az /);
  return cmd.split(/\s+/).slice(1);
}

describe("az reproduces the seed byte for byte (2019 CLI)", () => {
  const cases: [line: number, phase: SeedPhase][] = [
    [107, "cluster"], // lb rule list -o table (EnableTcpReset False, no DisableOutboundSnat column)
    [112, "cluster"], // lb probe list -o table: Tcp on the node port
    [124, "cluster"], // address-pool list --query [].backendIpConfigurations[].id -o tsv
    [127, "cluster"], // nic ip-config show --query privateIpAddress -o tsv
    [435, "local"], // rule list after externalTrafficPolicy: Local
    [442, "local"], // probe list: Http /healthz on the health check node port
    [449, "local"],
    [488, "nginx"], // two probes Updating right after nginx is applied
  ];
  for (const [line, phase] of cases) {
    it(`line ${line}: ${seedCommand(line)}`, () => {
      const r = runAz(seedTwin(phase), argvOf(line));
      assert.equal(r.stderr, "");
      assert.equal(r.exitCode, 0);
      assert.equal(r.stdout, seedOutput(line));
    });
  }

  it("the values the seed assigns to shell variables", () => {
    const twin = seedTwin("cluster");
    assert.equal(seedCommand(106), "lb=$(az network lb list -g $noderg -o tsv --query [0].name)");
    assert.equal(
      runAz(twin, ["network", "lb", "list", "-g", NODE_RG, "-o", "tsv", "--query", "[0].name"]).stdout,
      "kubernetes\n",
    );
    const rg = runAz(twin, [
      "aks",
      "show",
      "-g",
      "akstest",
      "-n",
      "aksPacketWalkAzure",
      "--query",
      "nodeResourceGroup",
      "-o",
      "tsv",
    ]);
    assert.equal(rg.stdout, `${NODE_RG}\n`);
    assert.equal(
      runAz(twin, ["vm", "list", "-g", NODE_RG, "--query", "[0].name", "-o", "tsv"]).stdout,
      "aks-nodepool1-31351229-0\n",
    );
  });
});

describe("az output formats", () => {
  const twin = seedTwin("cluster");
  const rules = ["network", "lb", "rule", "list", "-g", NODE_RG, "--lb-name", "kubernetes"];

  it("json: 2-space indent, sorted keys, resourceGroup on every dict with an id, 2019 key spelling", () => {
    const out = runAz(twin, rules).stdout;
    assert.ok(out.startsWith('[\n  {\n    "backendAddressPool": {\n      "id": "/subscriptions/'));
    const [rule] = JSON.parse(out);
    assert.equal(rule.enableFloatingIp, true);
    assert.equal(rule.frontendIpConfiguration.resourceGroup, NODE_RG);
    assert.equal(rule.disableOutboundSnat, null);
    assert.deepEqual(Object.keys(rule), [...Object.keys(rule)].sort());
  });

  it("today's CLI spells IP in capitals and leaves absent properties out", () => {
    const today: Twin = { ...twin, azure: { ...twin.azure, apiEra: "today" } };
    const header = runAz(today, [...rules, "-o", "table"]).stdout.split("\n")[0]!;
    assert.match(header, /EnableFloatingIP/);
    const [rule] = JSON.parse(runAz(today, rules).stdout);
    assert.equal("disableOutboundSnat" in rule, false);
    assert.equal(rule.type, "Microsoft.Network/loadBalancers/loadBalancingRules");
    assert.equal(
      runAz(today, [
        "network",
        "nic",
        "ip-config",
        "show",
        "-g",
        NODE_RG,
        "--nic-name",
        "aks-nodepool1-31351229-nic-0",
        "-n",
        "ipconfig1",
        "--query",
        "privateIPAddress",
        "-o",
        "tsv",
      ]).stdout,
      "10.13.76.4\n",
    );
  });

  it("tsv of a multiselect keeps the query's key order; of command objects, sorted keys", () => {
    const q = (query: string): string => runAz(twin, [...rules, "--query", query, "-o", "tsv"]).stdout;
    assert.equal(
      q("[].{port: frontendPort, fip: enableFloatingIp, name: name}"),
      "80\tTrue\ta48b4c0e11cfd11e9981c7abfb60d882-TCP-80\n",
    );
    assert.equal(q("[].[backendPort, enableFloatingIp]"), "80\tTrue\n");
    assert.equal(q("[0].[backendPort, enableFloatingIp]"), "80\ntrue\n"); // a list result: one line per item
    assert.equal(q("[0].enableFloatingIp"), "true\n");
    assert.match(q("[0].probe"), /^\/subscriptions\/.*\tMC_akstest_aksPacketWalkAzure_westeurope\n$/);
    assert.equal(q("[0].nothing"), "");
  });

  it("table of query results: Result column for scalars, query order for multiselects", () => {
    const t = (query: string): string => runAz(twin, [...rules, "--query", query, "-o", "table"]).stdout;
    assert.equal(
      t("[].name"),
      "Result\n---------------------------------------\na48b4c0e11cfd11e9981c7abfb60d882-TCP-80\n",
    );
    assert.equal(t("[].{P: frontendPort, B: backendPort}"), "P    B\n---  ---\n80   80\n");
  });

  it("table transformers for vm list and aks show; none prints nothing", () => {
    assert.match(runAz(twin, ["vm", "list", "-o", "table"]).stdout, /^Name {22}ResourceGroup {29}Location\n/);
    assert.match(
      runAz(twin, ["aks", "show", "-g", "akstest", "-n", "aksPacketWalkAzure", "-o", "table"]).stdout,
      /^Name {16}Location {4}ResourceGroup {4}KubernetesVersion {4}ProvisioningState\n/,
    );
    assert.deepEqual(runAz(twin, [...rules, "-o", "none"]), { stdout: "", stderr: "", exitCode: 0 });
  });

  it("show commands find one item; public-ip, frontend-ip and nic answer too", () => {
    const name = (argv: string[]): string => runAz(twin, [...argv, "--query", "name", "-o", "tsv"]).stdout;
    assert.equal(
      name([
        "network",
        "lb",
        "probe",
        "show",
        "-g",
        NODE_RG,
        "--lb-name",
        "kubernetes",
        "-n",
        "a48b4c0e11cfd11e9981c7abfb60d882-TCP-80",
      ]),
      "a48b4c0e11cfd11e9981c7abfb60d882-TCP-80\n",
    );
    assert.equal(
      name([
        "network",
        "lb",
        "frontend-ip",
        "show",
        "-g",
        NODE_RG,
        "--lb-name",
        "kubernetes",
        "-n",
        "a48b4c0e11cfd11e9981c7abfb60d882",
      ]),
      "a48b4c0e11cfd11e9981c7abfb60d882\n",
    );
    assert.equal(
      runAz(twin, ["network", "public-ip", "list", "-g", NODE_RG, "--query", "[0].ipAddress", "-o", "tsv"])
        .stdout,
      "51.144.176.251\n",
    );
    assert.equal(
      runAz(twin, [
        "network",
        "nic",
        "show",
        "-g",
        NODE_RG,
        "-n",
        "aks-nodepool1-31351229-nic-0",
        "--query",
        "macAddress",
        "-o",
        "tsv",
      ]).stdout,
      "00-0D-3A-28-BD-02\n",
    );
  });
});

describe("az errors", () => {
  const twin = seedTwin("cluster");

  it("not found is exit 1 with ARM's message", () => {
    const r = runAz(twin, ["network", "lb", "show", "-g", NODE_RG, "-n", "nope"]);
    assert.equal(r.exitCode, 1);
    assert.equal(
      r.stderr,
      `ERROR: The Resource 'Microsoft.Network/loadBalancers/nope' under resource group '${NODE_RG}' was not found.\n`,
    );
    assert.equal(
      runAz(twin, ["vm", "list", "-g", "nogroup"]).stderr,
      "ERROR: Resource group 'nogroup' could not be found.\n",
    );
  });

  it("usage errors are exit 2 and list what is supported", () => {
    for (const argv of [
      ["network", "lb", "rule", "list", "-g", NODE_RG],
      ["network", "lb", "delete", "-g", NODE_RG],
      ["network", "lb", "list", "--bogus", "1"],
      ["network", "lb", "list", "-o", "xml"],
      ["network", "lb", "list", "--query", "[0"],
    ]) {
      const r = runAz(twin, argv);
      assert.equal(r.exitCode, 2, argv.join(" "));
      assert.match(r.stderr, /^ERROR: .*\nSupported: az network lb list/);
    }
    assert.match(runAz(twin, ["network", "lb", "rule", "list", "-g", NODE_RG]).stderr, /required: --lb-name/);
  });
});
