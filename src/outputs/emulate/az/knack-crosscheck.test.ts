import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import jmespath from "jmespath";
import { seedTwin } from "../testdata/seed-twin.ts";
import { formatJson, formatTable, formatTsv, type Json } from "./knack.ts";
import { runAz } from "./run.ts";

/**
 * Our knack formatters and JMESPath against the real ones: Debian's python3-knack (knack/output.py
 * with tabulate) and python3-jmespath, fed the same JSON. Skipped, saying why, where they are not
 * installed (scripts/setup.sh installs them).
 */

const PYTHON = "/usr/bin/python3";
const probe = spawnSync(PYTHON, ["-c", "import knack, jmespath, tabulate"], { encoding: "utf8" });
const missing = probe.error
  ? `${PYTHON} not found`
  : probe.status !== 0
    ? "python3-knack/python3-jmespath not installed"
    : null;

const SCRIPT = `
import sys, json, jmespath, collections
from knack.output import format_json, format_table, format_tsv
from knack.util import CommandResultItem
out = []
for case in json.load(sys.stdin):
    result, query = case["data"], case["query"]
    if query is not None:
        result = jmespath.compile(query).search(result, jmespath.Options(collections.OrderedDict))
    item = CommandResultItem(result, is_query_active=query is not None)
    row = {"query": json.loads(json.dumps(result))}
    for name, fn in (("json", format_json), ("table", format_table), ("tsv", format_tsv)):
        try:
            row[name] = None if result is None else fn(item)
        except Exception:
            row[name] = "ERROR"
    out.append(row)
print(json.dumps(out))
`;

interface Case {
  readonly data: Json;
  readonly query: string | null;
}

function ours(c: Case): { query: Json; json: string | null; table: string; tsv: string | null } {
  const originals = new WeakSet<object>();
  const mark = (v: Json): void => {
    if (v !== null && typeof v === "object") {
      originals.add(v);
      for (const x of Object.values(v)) mark(x);
    }
  };
  mark(c.data);
  const result = (c.query === null ? c.data : jmespath.search(c.data, c.query)) as Json;
  let table: string;
  try {
    table = formatTable(result, c.query === null);
  } catch {
    table = "ERROR";
  }
  return result === null
    ? { query: null, json: null, table: "", tsv: null }
    : { query: result, json: formatJson(result), table, tsv: formatTsv(result, originals) };
}

describe("knack and jmespath cross-check", { skip: missing ?? false }, () => {
  const twin = seedTwin("nginx");
  const rg = "MC_akstest_aksPacketWalkAzure_westeurope";
  const az = (argv: string[]): Json => JSON.parse(runAz(twin, argv).stdout) as Json;
  const lbs = az(["network", "lb", "list", "-g", rg]);
  const probes = az(["network", "lb", "probe", "list", "-g", rg, "--lb-name", "kubernetes"]);
  const nic = az(["network", "nic", "show", "-g", rg, "-n", "aks-nodepool1-31351229-nic-0"]);
  const odd: Json = [
    {
      ünïcode: 'çà\u00e9 "q" \\ <&>',
      n: -3,
      b: false,
      nested: { id: "/subscriptions/x/resourceGroups/RG/p" },
      list: [1, 2],
    },
    { n: 10, extra: null, other: "x\ty" },
  ];
  const cases: Case[] = [
    { data: lbs, query: null },
    { data: probes, query: null },
    { data: nic, query: null },
    { data: odd, query: null },
    { data: lbs, query: "[0].name" },
    {
      data: lbs,
      query: "[].loadBalancingRules[].{name: name, port: frontendPort, fip: enableFloatingIp, probe: probe}",
    },
    { data: lbs, query: "[].backendAddressPools[].backendIpConfigurations[].id" },
    { data: lbs, query: "[0].frontendIpConfigurations[0]" },
    { data: probes, query: "[].[name, port, requestPath]" },
    { data: probes, query: "[?protocol=='Http'].{port: port, path: requestPath, state: provisioningState}" },
    { data: probes, query: "[0].loadBalancingRules" },
    { data: probes, query: "length(@)" },
    { data: probes, query: "[0].numberOfProbes" },
    { data: probes, query: "[0].intervalInSeconds == `5`" },
    { data: probes, query: "[0].nothing" },
    { data: nic, query: "ipConfigurations[].{ip: privateIpAddress, primary: primary}" },
    { data: nic, query: "sort_by(ipConfigurations, &privateIpAddress)[].name" },
    { data: nic, query: "ipConfigurations[?primary].privateIpAddress | [0]" },
    { data: odd, query: "[].n" },
    { data: odd, query: "[0]" },
    { data: [], query: null },
  ];

  it("formats and queries exactly as the Python tools do", () => {
    const run = spawnSync(PYTHON, ["-c", SCRIPT], { input: JSON.stringify(cases), encoding: "utf8" });
    assert.equal(run.status, 0, run.stderr);
    const theirs = JSON.parse(run.stdout) as ReturnType<typeof ours>[];
    cases.forEach((c, i) => {
      const mine = ours(c);
      const label = `case ${i}: ${c.query ?? "(no query)"}`;
      assert.deepEqual(mine.query, theirs[i]!.query, `${label}: query result`);
      assert.equal(mine.json, theirs[i]!.json, `${label}: json`);
      assert.equal(mine.tsv, theirs[i]!.tsv, `${label}: tsv`);
      if (theirs[i]!.json !== null) assert.equal(mine.table, theirs[i]!.table, `${label}: table`);
    });
  });
});

if (missing) it(`knack cross-check skipped: ${missing}`, { skip: true }, () => {});
