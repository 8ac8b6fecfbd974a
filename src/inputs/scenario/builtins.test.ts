import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { SEED_TEXT } from "../../../test/support/seed.ts";
import type { Scenario } from "../../model/scenario.ts";
import { parseScenario } from "./parse.ts";

/** The pins of the whereami pods (the others pin AKS's own pods' veth names). */
const whereamiPins = (s: { pins: Scenario["pins"] }) =>
  (s.pins.pods ?? []).filter((p) => p.owner === "default/whereami");

/**
 * The built-in scenarios load without a single diagnostic, and their values are the seed's: each
 * expectation below is read out of the blog post's own text, not typed in again.
 */

const DIR = new URL("../../../scenarios/", import.meta.url);
// The blog's HTML pads its tables with no-break spaces; the terminal printed plain ones.
const SEED = SEED_TEXT.replaceAll("\u00a0", " ");
const SEED_LINES = SEED.split("\n");

function load(name: string): Scenario {
  const r = parseScenario(
    readFileSync(new URL(`${name}.yaml`, DIR), "utf8"),
    `scenarios/${name}.yaml`,
    () => null,
  );
  assert.deepEqual(r.diagnostics, []);
  return r.value!;
}

/** The seed's manifest block that starts at 1-based `line` (through the selector's last line). */
function seedManifest(line: number): string {
  const out: string[] = [];
  for (let i = line - 1; i < SEED_LINES.length; i++) {
    out.push(SEED_LINES[i]!);
    if (SEED_LINES[i] === "    app: whereami" && SEED_LINES[i - 1] === "  selector:") break;
  }
  return out.join("\n");
}

/** The built-in's first manifest group as the text block it is written as. */
function blockText(name: string, group: "manifests" | "later"): string {
  const text = readFileSync(new URL(`${name}.yaml`, DIR), "utf8");
  const m = new RegExp(`^${group}:\\n  - \\|\\n((?:    .*\\n|\\n)+)`, "m").exec(text);
  assert.ok(m, `${name} has a ${group} block`);
  return m[1]!.replace(/^ {4}/gm, "").trimEnd();
}

const fieldOf = (line: string, i: number) => line.trim().split(/\s+/)[i];

describe("built-in scenarios", () => {
  it("are exactly the files in scenarios/", () => {
    const files = readdirSync(DIR)
      .filter((f) => f.endsWith(".yaml"))
      .sort();
    assert.deepEqual(files, ["aks-today.yaml", "seed-cluster.yaml", "seed-local.yaml"]);
  });

  it("seed-cluster: the seed's manifest verbatim and every printed value pinned", () => {
    const s = load("seed-cluster");
    assert.equal(blockText("seed-cluster", "manifests"), seedManifest(53));
    const svc = SEED_LINES.find((l) => l.startsWith("whereami     LoadBalancer"))!; // k get svc, line 90
    const [clusterIp, lbIp, ports] = [fieldOf(svc, 2), fieldOf(svc, 3), fieldOf(svc, 4)];
    assert.equal(s.pins.clusterIps?.["default/whereami"], clusterIp);
    assert.equal(s.pins.publicIps?.["default/whereami"], lbIp);
    assert.equal(String(s.pins.nodePorts?.["default/whereami:80"]), /:(\d+)\//.exec(ports!)![1]);
    const pods = SEED_LINES.filter((l) => /^whereami-564765b89-\S+\s+1\/1/.test(l));
    assert.deepEqual(
      whereamiPins(s).map((p) => [p.name, p.ip, p.node]),
      pods.map((l) => [fieldOf(l, 0), fieldOf(l, 5), fieldOf(l, 6)]),
    );
    const ruleName = /(a[0-9a-f]{31})-TCP-80/.exec(SEED_LINES[109]!)![1];
    assert.equal(`a${s.pins.uids?.["Service/default/whereami"]?.replaceAll("-", "").slice(0, 31)}`, ruleName);
    for (const p of whereamiPins(s))
      assert.ok(SEED.includes(`${p.name}_default_${p.uid}_0`), `${p.name}'s uid`);
    for (const p of whereamiPins(s)) assert.match(SEED, new RegExp(`^${p.containerId} .*${p.name}`, "m"));
    const q = whereamiPins(s)[1];
    assert.ok(
      SEED.includes(`${q?.ifindex}: eth0@if${q?.vethIndex}:`) && SEED.includes(`link/ether ${q?.mac} `),
    );
    assert.ok(SEED.includes(`${q?.vethIndex}: ${q?.veth}@if${q?.ifindex}:`));
    assert.ok(
      SEED.includes(`${q?.veth} (${q?.bridgePort})`) && SEED.includes(`${q?.bridgePort}     ${q?.vethMac}`),
    );
    assert.ok(SEED.includes(`--format '{{ .State.Pid }}' ${q?.containerId}\n${q?.pid}`));
    assert.equal(s.pins.nodes?.[0]?.ip, SEED_LINES[127]);
    assert.ok(SEED.includes(`azure0          8000.${s.pins.nodes?.[0]?.mac?.replaceAll(":", "")}`));
    assert.ok(SEED.includes(`docker0         8000.${s.pins.nodes?.[0]?.docker0Mac?.replaceAll(":", "")}`));
    assert.ok(SEED.includes(`aks-nodepool1-${s.pins.nodePoolId}-0`));
    assert.ok(
      SEED.includes(
        `/subscriptions/${s.subscriptionId}/resourceGroups/MC_${s.resourceGroup}_${s.cluster.name}_${s.location}/`,
      ),
    );
    assert.ok(SEED.includes(`${s.hosts[0]?.ip} is the public IP on my laptop`));
    assert.deepEqual(
      [
        s.cluster.kubernetesVersion,
        s.cluster.vmSize,
        s.cluster.nodeCount,
        s.cluster.loadBalancerSku,
        s.cluster.cniMode,
      ],
      ["1.11.5", "Standard_B2ms", 1, "basic", "bridge"],
    );
    assert.ok(
      SEED.includes(
        `-c ${s.cluster.nodeCount} --generate-ssh-keys -s ${s.cluster.vmSize} -k ${s.cluster.kubernetesVersion}`,
      ),
    );
    assert.deepEqual(s.later, []);
  });

  it("seed-local: the Local manifest verbatim, its pins, and nginx held back in later", () => {
    const s = load("seed-local");
    assert.equal(blockText("seed-local", "manifests"), seedManifest(306));
    const svc = SEED_LINES.find((l) => l.startsWith("whereami     LoadBalancer   10.0.12.96"))!;
    assert.equal(s.pins.clusterIps?.["default/whereami"], fieldOf(svc, 2));
    assert.equal(s.pins.publicIps?.["default/whereami"], fieldOf(svc, 3));
    assert.equal(String(s.pins.nodePorts?.["default/whereami:80"]), /:(\d+)\//.exec(fieldOf(svc, 4)!)![1]);
    for (const [name, port] of Object.entries(s.pins.healthCheckNodePorts ?? {}))
      assert.match(
        SEED,
        new RegExp(`curl localhost:${port}/healthz\\n\\{\\n.*\\n.*\\n\\s+"name": "${name.split("/")[1]}"`),
      );
    for (const [key, uid] of Object.entries(s.pins.uids ?? {}))
      assert.ok(SEED.includes(`a${uid.replaceAll("-", "").slice(0, 31)}-TCP-80`), key);
    const eps = /^whereami\s+(\S+)\s+3m$/m
      .exec(SEED)![1]!
      .split(",")
      .map((e) => e.replace(":80", ""));
    assert.deepEqual(
      whereamiPins(s)
        .map((p) => p.ip)
        .sort(),
      eps.sort(),
    );
    const kp = s.pins.nodes?.[0];
    assert.ok(
      SEED.includes(
        `${kp?.kubeProxyPid}, ${kp?.kubeProxyContainerId}, /k8s_kube-proxy_${kp?.kubeProxyPod}_kube-system_${kp?.kubeProxyUid}_0`,
      ),
    );
    for (const [name, ip] of Object.entries(s.pins.clusterIps ?? {}).filter(([k]) =>
      k.startsWith("kube-system/"),
    ))
      assert.match(
        SEED,
        new RegExp(`kube-system\\s+${name.split("/")[1]}\\s+ClusterIP\\s+${ip.replaceAll(".", "\\.")}\\s`),
      );
    assert.ok(SEED.includes(`new source IP address ${s.hosts[0]?.ip}`));
    assert.deepEqual(
      s.manifests.map((m) => m.object.kind),
      ["Deployment", "Service"],
    );
    assert.deepEqual(
      s.later?.map((m) => `${m.object.kind}/${(m.object.metadata as { name: string }).name}`),
      ["Deployment/nginx", "Service/nginx"],
    );
    const nginx = s.later?.[1]?.object as { spec: { externalTrafficPolicy: string; type: string } };
    assert.deepEqual([nginx.spec.type, nginx.spec.externalTrafficPolicy], ["LoadBalancer", "Local"]);
  });

  it("aks-today: today's defaults, 3 nodes, Cluster and Local LoadBalancers and a ClusterIP service", () => {
    const s = load("aks-today");
    assert.equal(s.cluster.nodeCount, 3);
    assert.equal(s.cluster.cniMode, "transparent");
    assert.equal(s.cluster.dockerBridgeCidr, null);
    const services = s.manifests
      .filter((m) => m.object.kind === "Service")
      .map((m) => {
        const spec = m.object.spec as { type?: string; externalTrafficPolicy?: string };
        return `${spec.type ?? "ClusterIP"}/${spec.externalTrafficPolicy ?? "Cluster"}`;
      });
    assert.deepEqual(services, ["LoadBalancer/Cluster", "LoadBalancer/Local", "ClusterIP/Cluster"]);
  });
});
