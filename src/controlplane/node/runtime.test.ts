import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { parseScenario } from "../../inputs/scenario/parse.ts";
import type { DockerContainer } from "../../model/node.ts";
import type { Scenario } from "../../model/scenario.ts";
import { builtinPath } from "../../outputs/cli/commands/scenario.ts";
import { buildTwin } from "../build-twin.ts";
import { parseImageRef } from "./runtime.ts";

const IMAGE_ID = /^sha256:[0-9a-f]{64}$/;
const WHEREAMI_DIGEST = /^erjosito\/whereami@sha256:[0-9a-f]{64}$/;

function scenario(text: string): Scenario {
  const r = parseScenario(text, "s.yaml");
  assert.ok(r.value, r.diagnostics.map((d) => d.message).join("\n"));
  return r.value;
}

const builtin = (name: string) => scenario(readFileSync(builtinPath(name), "utf8"));

const containers = (s: Scenario): DockerContainer[] => buildTwin(s).nodes.flatMap((n) => n.containers);

/** A 1.11 cluster running `replicas` whereami pods on `nodes` nodes, with `pins` YAML under pins:. */
function whereami(nodes: number, replicas: number, pins = ""): Scenario {
  return scenario(`cluster: {kubernetesVersion: "1.11.5", nodeCount: ${nodes}}
manifests:
  - |
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: whereami}
    spec:
      replicas: ${replicas}
      selector: {matchLabels: {app: whereami}}
      template:
        metadata: {labels: {app: whereami}}
        spec:
          containers: [{name: whereami, image: "erjosito/whereami:1.3"}]
${pins}`);
}

describe("what the kubelet creates each container from (docker's Config.Image)", () => {
  it("the seed's first half: sandboxes from the pause tag, add-ons from their IDs, whereami from its pulled digest", () => {
    const all = containers(builtin("seed-cluster"));
    for (const c of all) assert.match(c.imageId, IMAGE_ID, c.name);
    for (const c of all.filter((c) => c.sandbox)) assert.equal(c.configImage, "k8s.gcr.io/pause-amd64:3.1");
    const addOns = all.filter((c) => !c.sandbox && c.pod?.startsWith("kube-system/"));
    assert.ok(addOns.length >= 6, "kube-dns, heapster, dashboard, metrics-server, tunnelfront, kube-proxy");
    for (const c of addOns) assert.equal(c.configImage, c.imageId, c.name);
    const apps = all.filter((c) => !c.sandbox && c.pod?.startsWith("default/whereami-"));
    assert.equal(apps.length, 2);
    for (const c of apps) assert.match(c.configImage, WHEREAMI_DIGEST);
    // One image: one ID and one digest for both.
    assert.equal(new Set(apps.map((c) => c.imageId)).size, 1);
    assert.equal(new Set(apps.map((c) => c.configImage)).size, 1);
    assert.notEqual(apps[0]?.imageId.slice(7), apps[0]?.configImage.split(":")[1]);
  });

  it("the seed's second half: whereami from image ID c8e4ff7df026…, the image the first half pulled", () => {
    const apps = containers(builtin("seed-local")).filter(
      (c) => !c.sandbox && c.pod?.startsWith("default/whereami-"),
    );
    assert.equal(apps.length, 2);
    for (const c of apps) {
      assert.equal(c.configImage, c.imageId);
      assert.match(c.imageId, /^sha256:c8e4ff7df026[0-9a-f]{52}$/);
    }
    assert.equal(apps[0]?.imageId, apps[1]?.imageId);
  });

  it("an image has one ID on every node", () => {
    const twin = buildTwin(whereami(3, 6));
    const ids = twin.nodes.map(
      (n) =>
        new Set(
          n.containers.filter((c) => !c.sandbox && c.pod?.startsWith("default/")).map((c) => c.imageId),
        ),
    );
    assert.equal(ids.filter((s) => s.size > 0).length, 3, "replicas on all three nodes");
    assert.equal(new Set(ids.flatMap((s) => [...s])).size, 1);
  });

  it("an image pinned as present on a node serves every container of it there, pinned or not", () => {
    const pinned = whereami(
      1,
      3,
      "pins: {pods: [{owner: default/whereami, imageId: sha256:00112233445566778899}]}\n",
    );
    const apps = containers(pinned).filter((c) => !c.sandbox && c.pod?.startsWith("default/"));
    assert.equal(apps.length, 3);
    for (const c of apps) {
      assert.equal(c.configImage, c.imageId);
      assert.match(c.imageId, /^sha256:00112233445566778899[0-9a-f]{44}$/);
    }
    // Without the pin the same pods pull.
    for (const c of containers(whereami(1, 3)).filter((c) => !c.sandbox && c.pod?.startsWith("default/")))
      assert.match(c.configImage, WHEREAMI_DIGEST);
  });
});

describe("parseImageRef (distribution/reference's normalised names, familiar form)", () => {
  it("splits name, tag and digest", () => {
    assert.deepEqual(parseImageRef("erjosito/whereami:1.3"), {
      name: "erjosito/whereami",
      tag: "1.3",
      digest: null,
    });
    assert.deepEqual(parseImageRef("k8s.gcr.io/pause-amd64:3.1"), {
      name: "k8s.gcr.io/pause-amd64",
      tag: "3.1",
      digest: null,
    });
    assert.deepEqual(parseImageRef("nginx@sha256:abc"), { name: "nginx", tag: null, digest: "sha256:abc" });
    assert.deepEqual(parseImageRef("localhost:5000/app"), {
      name: "localhost:5000/app",
      tag: null,
      digest: null,
    });
  });

  it("drops docker.io and library/ as docker's familiar names do", () => {
    assert.equal(parseImageRef("docker.io/library/nginx:1.15")?.name, "nginx");
    assert.equal(parseImageRef("index.docker.io/erjosito/whereami")?.name, "erjosito/whereami");
    assert.equal(parseImageRef("library/nginx")?.name, "nginx");
    assert.equal(parseImageRef("docker.io/library/team/app")?.name, "library/team/app");
    assert.equal(
      parseImageRef("myregistry.azurecr.io/library/nginx")?.name,
      "myregistry.azurecr.io/library/nginx",
    );
  });

  it("refuses an upper-case repository and a bare image ID", () => {
    assert.equal(parseImageRef("Erjosito/whereami"), null);
    assert.equal(parseImageRef("c8e4ff7df026".padEnd(64, "0")), null);
  });
});
