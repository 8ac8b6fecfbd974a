import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { cli } from "../../../test/support/cli.ts";
import type { WalkReport } from "../render/walk-json.ts";
import { compareReports, type Difference } from "./compare.ts";

const report = (scenario: string): WalkReport => {
  const r = cli(["walk", "--scenario", scenario, "-o", "json"]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as WalkReport;
};

const cluster = report("seed-cluster");
const local = report("seed-local");
const diffs = compareReports(cluster, local);
const of = (field: Difference["field"], path: number | null = null) =>
  diffs.filter((d) => d.field === field && d.path === path);

describe("compareReports: the seed's Cluster against Local", () => {
  it("the source the pod sees: the node's address (SNAT) against the client's", () => {
    for (const path of [1, 2]) {
      const [d] = of("sourceSeenByPod", path);
      assert.ok(d, `path ${path}: ${JSON.stringify(diffs)}`);
      assert.equal(d.main, "10.13.76.4");
      // seed-local's laptop is 167.220.196.180 (the author changed laptops, seed line 358).
      assert.equal(d.compare, "167.220.196.180");
      assert.equal(d.label, `Source IP the pod sees (path ${path})`);
    }
  });

  it("the probe: TCP on the node port against HTTP on the health check port", () => {
    const [d] = of("probe");
    assert.ok(d);
    assert.match(d.main ?? "", /^Tcp 30064/);
    assert.match(d.compare ?? "", /^Http 32364 \/healthz/);
  });

  it("KUBE-XLB only on Local, KUBE-MARK-MASQ only on Cluster; KUBE-FW on both is no difference", () => {
    const chains = diffs.filter((d) => d.field === "chain");
    const xlb = chains.find((d) => d.chain?.name.startsWith("KUBE-XLB-"));
    assert.ok(xlb, JSON.stringify(chains));
    assert.equal(xlb.main, null);
    assert.match(xlb.compare ?? "", /^-A KUBE-XLB-/m);
    assert.match(xlb.label, /only on the compare side/);
    const masq = chains.find((d) => d.chain?.name === "KUBE-MARK-MASQ");
    assert.ok(masq);
    assert.equal(masq.compare, null);
    assert.match(masq.main ?? "", /--set-xmark 0x4000\/0x4000/);
    assert.ok(!chains.some((d) => d.chain?.name.startsWith("KUBE-FW-")));
    // The endpoint chains are reported as endpoints, not as chains.
    assert.ok(!chains.some((d) => d.chain?.name.startsWith("KUBE-SEP-")));
  });

  it("the endpoints differ, the probabilities and verdicts do not", () => {
    assert.equal(of("endpoint", 1).length, 1);
    assert.equal(of("probability", 1).length, 0);
    assert.equal(of("pathVerdict", 1).length, 0);
    assert.equal(of("verdict").length, 0);
  });

  it("a walk compared with itself has no differences", () => {
    assert.deepEqual(compareReports(cluster, cluster), []);
  });

  it("a path only one side has: each of its values against null", () => {
    const one = { ...local, paths: local.paths.slice(0, 1) };
    const d = compareReports(cluster, one);
    assert.deepEqual(
      d.filter((x) => x.field === "paths").map((x) => [x.main, x.compare]),
      [["2", "1"]],
    );
    const [v] = d.filter((x) => x.field === "pathVerdict" && x.path === 2);
    assert.deepEqual([v?.main, v?.compare], ["delivered", null]);
  });
});
