import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { cli } from "../../../../test/support/cli.ts";
import { generateScenario } from "../../../inputs/scenario/generate.ts";
import { parseScenario } from "../../../inputs/scenario/parse.ts";
import { run } from "../main.ts";
import { BUILTIN_SCENARIOS, builtinPath } from "./scenario.ts";

describe("packetwalk scenario", () => {
  it("list prints every built-in with its description", () => {
    const r = cli(["scenario", "list"]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split("\n");
    assert.match(lines[0]!, /^NAME {11}DESCRIPTION$/);
    assert.deepEqual(
      lines.slice(1).map((l) => l.split(/\s+/)[0]),
      [...BUILTIN_SCENARIOS],
    );
    assert.match(r.stdout, /^seed-local {5}The same cluster with whereami behind a LoadBalancer/m);
  });

  it("show NAME prints the file as written", () => {
    const r = cli(["scenario", "show", "seed-cluster"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, readFileSync(builtinPath("seed-cluster"), "utf8"));
  });

  it("show --resolved prints a scenario that reads back to the same one", () => {
    for (const name of BUILTIN_SCENARIOS) {
      const r = cli(["scenario", "show", name, "--resolved"]);
      assert.equal(r.code, 0, r.stderr);
      const again = parseScenario(r.stdout, `${name}.resolved.yaml`);
      assert.deepEqual(again.diagnostics, []);
      const original = parseScenario(readFileSync(builtinPath(name), "utf8"), name).value!;
      const strip = (s: typeof original) => ({
        ...s,
        manifests: s.manifests.map((m) => m.object),
        later: (s.later ?? []).map((m) => m.object),
      });
      assert.deepEqual(strip(again.value!), strip(original));
    }
    const today = cli(["scenario", "show", "aks-today", "--resolved"]).stdout;
    assert.match(today, /^ {2}kubernetesVersion: 1\.35\.6$/m);
    assert.match(today, /^ {2}dockerBridgeCidr: null$/m);
  });

  it("show FILE reports errors with file, line and caret, exit 2", () => {
    const r = cli(["scenario", "show", "my.yaml", "--resolved"], { "my.yaml": "cluster:\n  maxPods: 300\n" });
    assert.equal(r.code, 2);
    assert.equal(r.stdout, "");
    assert.match(
      r.stderr,
      /^my\.yaml:2:12: error: Cannot read scenario my\.yaml at line 2: cluster\.maxPods must be an integer from 10 to 250, found 300 \[scenario-invalid-field\]\n {6}maxPods: 300\n {15}\^\n/,
    );
  });

  it("reads file: manifests relative to the scenario", () => {
    const r = cli(["scenario", "show", "dir/s.yaml", "--resolved"], {
      "dir/s.yaml": "manifests:\n  - file: pod.yaml\n",
      "dir/pod.yaml":
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: busybox}]}\n",
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^manifests:\n {2}- apiVersion: v1\n {4}kind: Pod\n/m);
  });

  it("an unknown name lists the built-ins, exit 2", () => {
    const r = cli(["scenario", "show", "seed"]);
    assert.equal(r.code, 2);
    assert.equal(
      r.stderr,
      'packetwalk: Unknown scenario "seed": expected a built-in (seed-cluster, seed-local, aks-today) or a file path like ./my-cluster.yaml\n',
    );
  });

  it("help shows real examples", () => {
    const r = cli(["scenario", "show", "--help"]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /packetwalk scenario show aks-today --resolved/);
  });

  it("generate prints the generator's scenario, which show reads back without a diagnostic", () => {
    const r = cli(["scenario", "generate", "--seed", "7", "--nodes", "3"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, "");
    assert.equal(r.stdout, generateScenario(7, { nodes: 3 }).yaml);
    const shown = cli(["scenario", "show", "gen-7.yaml"], { "gen-7.yaml": r.stdout });
    assert.equal(shown.code, 0);
    assert.equal(shown.stderr, "");
    assert.equal(cli(["scenario", "generate"]).stdout, generateScenario(1).yaml);
  });

  it("generate -o FILE writes the file and prints nothing", () => {
    const written = new Map<string, string>();
    let out = "";
    const code = run(["scenario", "generate", "--seed", "3", "-o", "out/g.yaml"], {
      stdout: (t) => {
        out += t;
      },
      stderr: (t) => {
        out += t;
      },
      readFile: () => "",
      writeFile: (p, data) => {
        written.set(p, String(data));
      },
    });
    assert.equal(code, 0, out);
    assert.equal(out, "");
    assert.deepEqual([...written.keys()], ["out/g.yaml"]);
    assert.equal(written.get("out/g.yaml"), generateScenario(3).yaml);
  });

  it("generate refuses a bad --seed or --nodes, exit 2", () => {
    for (const [args, message] of [
      [["--seed", "x"], '--seed must be an integer from 0 to 4294967295, not "x"'],
      [["--seed", "-1"], '--seed must be an integer from 0 to 4294967295, not "-1"'],
      [["--seed", "4294967296"], '--seed must be an integer from 0 to 4294967295, not "4294967296"'],
      [["--nodes", "1"], '--nodes must be an integer from 2 to 4, not "1"'],
      [["--nodes", "5"], '--nodes must be an integer from 2 to 4, not "5"'],
      [["--nodes", "3.5"], '--nodes must be an integer from 2 to 4, not "3.5"'],
    ] as const) {
      const r = cli(["scenario", "generate", ...args]);
      assert.equal(r.code, 2, args.join(" "));
      assert.equal(r.stdout, "");
      assert.equal(r.stderr, `packetwalk: ${message}\n`);
    }
  });
});
