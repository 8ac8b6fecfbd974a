import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parse } from "yaml";
import type { Twin } from "../../../model/twin.ts";
import { seedCommand, seedOutput } from "../testdata/seed-output.ts";
import { seedTwin, uuidTime } from "../testdata/seed-twin.ts";
import { humanDuration, shortHumanDuration } from "./duration.ts";
import { runKubectl } from "./run.ts";
import { tabwrite } from "./tabwriter.ts";

const WHEREAMI_CLUSTER = uuidTime("48b4c0e1-1cfd-11e9-981c-7abfb60d882f");
const WHEREAMI_LOCAL = uuidTime("96e1c7f9-1d54-11e9-981c-7abfb60d882f");

/** The twin observed `minutes` after the whereami service was created (the seed's AGE columns). */
function at(phase: "cluster" | "local", minutes: number): Twin {
  const created = phase === "cluster" ? WHEREAMI_CLUSTER : WHEREAMI_LOCAL;
  return { ...seedTwin(phase), now: created + minutes * 60 };
}

function argvOf(line: number): string[] {
  const cmd = seedCommand(line).replace(/^\$ /, "");
  assert.match(cmd, /^k get /);
  return cmd.split(/\s+/).slice(1);
}

describe("kubectl get reproduces the seed byte for byte (kubectl 1.11)", () => {
  const cases: [line: number, phase: "cluster" | "local", minutes: number][] = [
    [88, "cluster", 11], // k get svc: whereami 11m, kubernetes 24m
    [93, "cluster", 37], // k get ep whereami
    [97, "cluster", 46], // k get pod -o wide
    [342, "local", 3], // k get svc: kubernetes 10h, whereami 3m
    [347, "local", 3], // k get ep whereami
    [465, "local", 42], // k get svc --all-namespaces: 11h / 42m
  ];
  for (const [line, phase, minutes] of cases) {
    it(`line ${line}: ${seedCommand(line)}`, () => {
      const r = runKubectl(at(phase, minutes), argvOf(line));
      assert.equal(r.stderr, "");
      assert.equal(r.exitCode, 0);
      assert.equal(r.stdout, seedOutput(line));
    });
  }
});

describe("tabwriter", () => {
  it("pads to minwidth 10 in 1.11 and 6 from 1.12, and leaves the last cell alone", () => {
    const rows = [
      ["NAME", "READY", "AGE"],
      ["a", "1/1", "5d"],
    ];
    assert.equal(
      tabwrite(rows, { minwidth: 10, padding: 3 }),
      "NAME      READY     AGE\na         1/1       5d\n",
    );
    assert.equal(tabwrite(rows, { minwidth: 6, padding: 3 }), "NAME   READY   AGE\na      1/1     5d\n");
  });

  it("forms column blocks only over consecutive rows that have the cell (Go's format)", () => {
    const rows = [["aaaaaaaa", "b", "c"], ["x"], ["y", "z"]];
    assert.equal(tabwrite(rows, { minwidth: 0, padding: 1 }), "aaaaaaaa b c\nx\ny z\n");
  });
});

describe("AGE", () => {
  it("ShortHumanDuration keeps one unit, rounded down", () => {
    assert.deepEqual([59, 60, 3599, 3600, 86399, 86400 * 5, 86400 * 400, -1, -2].map(shortHumanDuration), [
      "59s",
      "1m",
      "59m",
      "1h",
      "23h",
      "5d",
      "1y",
      "0s",
      "<invalid>",
    ]);
  });
  it("HumanDuration keeps two units while small", () => {
    assert.deepEqual(
      [119, 200, 180, 600, 3 * 3600 + 60, 7 * 3600 + 120, 30 * 3600, 50 * 3600, 10 * 86400, 800 * 86400].map(
        (s) => humanDuration(s),
      ),
      ["119s", "3m20s", "3m", "10m", "3h1m", "7h2m", "30h", "2d2h", "10d", "2y70d"],
    );
  });
  it("kubectl 1.14+ prints HumanDuration", () => {
    const twin = at("local", 3.5);
    const newer = { ...twin, k8s: { ...twin.k8s, version: "1.20.2" } };
    assert.match(runKubectl(newer, ["get", "svc", "whereami"]).stdout, /80:32663\/TCP {3}3m30s\n$/);
    assert.match(runKubectl(twin, ["get", "svc", "whereami"]).stdout, /80:32663\/TCP {3}3m\n$/);
  });
});

describe("kubectl get: other outputs", () => {
  const twin = at("cluster", 11);

  it("-o wide on services adds SELECTOR; newer pods add READINESS GATES with minwidth 6", () => {
    assert.match(
      runKubectl(twin, ["get", "svc", "-o", "wide"]).stdout,
      /AGE {7}SELECTOR\n.*<none>\n.*app=whereami\n$/,
    );
    const newer = { ...twin, k8s: { ...twin.k8s, version: "1.13.1" } };
    const out = runKubectl(newer, ["get", "pods", "-owide"]).stdout;
    assert.equal(
      out.split("\n")[0],
      "NAME                       READY   STATUS    RESTARTS   AGE   IP            NODE                       NOMINATED NODE   READINESS GATES",
    );
  });

  it("deployments: DESIRED/CURRENT in 1.11, READY from 1.13", () => {
    assert.match(
      runKubectl(twin, ["get", "deploy"]).stdout,
      /^NAME {7}DESIRED {3}CURRENT {3}UP-TO-DATE {3}AVAILABLE {3}AGE\nwhereami {3}2 {9}2 {9}2 {12}2 {11}/,
    );
    const newer = { ...twin, k8s: { ...twin.k8s, version: "1.13.1" } };
    assert.match(
      runKubectl(newer, ["get", "deploy"]).stdout,
      /^NAME {7}READY {3}UP-TO-DATE {3}AVAILABLE {3}AGE\nwhereami {3}2\/2 {5}2 {12}2 {11}/,
    );
  });

  it("nodes: ROLES from the kubernetes.io/role label", () => {
    assert.match(
      runKubectl(twin, ["get", "nodes"]).stdout,
      /\naks-nodepool1-31351229-0 {3}Ready {5}agent {5}24m {7}v1.11.5\n$/,
    );
  });

  it("-o name, namespaces and empty lists", () => {
    assert.equal(
      runKubectl(twin, ["get", "svc", "-o", "name"]).stdout,
      "service/kubernetes\nservice/whereami\n",
    );
    assert.equal(
      runKubectl(twin, ["get", "deploy", "-o", "name"]).stdout,
      "deployment.extensions/whereami\n",
    );
    assert.equal(
      runKubectl(twin, ["get", "svc", "-n", "kube-system", "-o", "name"]).stdout.split("\n").length,
      5,
    );
    assert.deepEqual(runKubectl(twin, ["get", "pods", "-n", "nothing"]), {
      stdout: "",
      stderr: "No resources found.\n",
      exitCode: 0,
    });
  });

  it("-o json: 4-space indent, sorted keys, a List for several objects, the object alone for one name", () => {
    const one = runKubectl(twin, ["get", "svc", "whereami", "-o", "json"]).stdout;
    assert.ok(one.startsWith('{\n    "apiVersion": "v1",\n    "kind": "Service",\n    "metadata": {\n'));
    const obj = JSON.parse(one);
    assert.equal(obj.spec.ports[0].nodePort, 30064);
    assert.deepEqual(obj.status, { loadBalancer: { ingress: [{ ip: "51.144.176.251" }] } });
    assert.equal(obj.metadata.creationTimestamp, "2019-01-20T21:49:38Z");
    const list = JSON.parse(runKubectl(twin, ["get", "pods", "-o", "json"]).stdout);
    assert.equal(list.kind, "List");
    assert.deepEqual(list.metadata, { resourceVersion: "", selfLink: "" });
    assert.deepEqual(
      list.items.map((p: { status: { podIP: string } }) => p.status.podIP),
      ["10.13.76.7", "10.13.76.26"],
    );
  });

  it("-o yaml: sorted keys, list items not indented under their key", () => {
    const out = runKubectl(twin, ["get", "ep", "whereami", "-o", "yaml"]).stdout;
    assert.match(out, /^apiVersion: v1\nkind: Endpoints\nmetadata:\n/);
    assert.match(out, /\nsubsets:\n- addresses:\n {2}- ip: 10\.13\.76\.26\n/);
    assert.equal(parse(out).subsets[0].ports[0].port, 80);
  });

  it("not found is exit 1 with the API server's message; usage errors are exit 2 and list what is supported", () => {
    assert.deepEqual(runKubectl(twin, ["get", "svc", "nope"]), {
      stdout: "",
      stderr: 'Error from server (NotFound): services "nope" not found\n',
      exitCode: 1,
    });
    for (const argv of [
      ["get", "ingress"],
      ["describe", "svc"],
      ["get", "svc", "--watch"],
      ["get", "svc", "-o", "go-template"],
      ["get"],
    ]) {
      const r = runKubectl(twin, argv);
      assert.equal(r.exitCode, 2, argv.join(" "));
      assert.match(r.stderr, /^error: .*\nSupported: kubectl get svc/);
    }
  });
});
