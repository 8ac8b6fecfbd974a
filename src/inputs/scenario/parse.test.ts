import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Diagnostic } from "../../core/diagnostic.ts";
import { TODAY_KUBERNETES_VERSION } from "./defaults.ts";
import { parseScenario } from "./parse.ts";

/** Parses with an in-memory file system for `file:` entries. */
function parse(text: string, files: Record<string, string> = {}) {
  return parseScenario(text, "dir/s.yaml", (p) => files[p] ?? null);
}

/** The only error, with its code and place. */
function onlyError(text: string, files: Record<string, string> = {}): Diagnostic {
  const r = parse(text, files);
  assert.equal(r.value, null);
  const errors = r.diagnostics.filter((d) => d.severity === "error");
  assert.equal(errors.length, 1, errors.map((d) => d.message).join("\n"));
  return errors[0]!;
}

const at = (d: Diagnostic) => [d.source?.file, d.source?.line, d.source?.column];

const DEPLOY = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers: [{name: web, image: nginx, ports: [{containerPort: 80}]}]
`;
const SERVICE = `apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  type: LoadBalancer
  externalTrafficPolicy: Local
  ports: [{port: 80}]
  selector: {app: web}
`;

describe("parseScenario: good input", () => {
  it("an empty map is a valid scenario: today's defaults", () => {
    const r = parse("{}\n");
    assert.deepEqual(r.diagnostics, []);
    const s = r.value!;
    assert.equal(s.name, "s");
    assert.equal(s.seed, 1);
    assert.equal(s.subscriptionId, "00000000-0000-0000-0000-000000000000");
    assert.deepEqual(s.cluster, {
      name: "myAKSCluster",
      nodeCount: 3,
      vmSize: "Standard_DS2_v2",
      kubernetesVersion: TODAY_KUBERNETES_VERSION,
      networkPlugin: "azure",
      maxPods: 30,
      subnet: "aks-subnet",
      serviceCidr: "10.0.0.0/16",
      dnsServiceIp: "10.0.0.10",
      dockerBridgeCidr: null,
      loadBalancerSku: "standard",
      cniMode: "transparent",
      nodePoolName: "nodepool1",
    });
    assert.deepEqual(s.vnet, {
      name: "aks-vnet",
      addressPrefixes: ["10.224.0.0/12"],
      subnets: [{ name: "aks-subnet", prefix: "10.224.0.0/16" }],
    });
    assert.deepEqual([s.manifests, s.later, s.hosts, s.pins], [[], [], [], {}]);
  });

  it("before 1.19 the defaults are 2019's: Basic LB, bridge mode, docker0 172.17.0.1/16", () => {
    const s = parse('cluster: {kubernetesVersion: "1.11.5"}\n').value!;
    assert.equal(s.cluster.loadBalancerSku, "basic");
    assert.equal(s.cluster.cniMode, "bridge");
    assert.equal(s.cluster.dockerBridgeCidr, "172.17.0.1/16");
    assert.deepEqual(s.vnet.addressPrefixes, ["10.0.0.0/8"]);
    assert.equal(s.vnet.subnets[0]?.prefix, "10.240.0.0/16");
    const at19 = parse('cluster: {kubernetesVersion: "1.19.0"}\n').value!;
    assert.equal(at19.cluster.dockerBridgeCidr, null);
    assert.equal(at19.cluster.loadBalancerSku, "standard");
  });

  it("keeps an unquoted version as written (YAML would read 1.30 as the number 1.3)", () => {
    assert.equal(parse("cluster: {kubernetesVersion: 1.30}\n").value?.cluster.kubernetesVersion, "1.30");
  });

  it("takes the DNS IP from a custom service CIDR (.10)", () => {
    const s = parse("cluster: {serviceCidr: 10.2.0.0/16}\n").value!;
    assert.equal(s.cluster.dnsServiceIp, "10.2.0.10");
  });

  it("infers hosts' kind and subnet from their address, and their stack from their kind and era", () => {
    const s = parse("hosts: [{name: laptop, ip: 203.0.113.9}, {name: vm, ip: 10.224.0.200}]\n").value!;
    assert.deepEqual(s.hosts, [
      { name: "laptop", ip: "203.0.113.9", kind: "internet", subnet: null, os: "windows-10" },
      { name: "vm", ip: "10.224.0.200", kind: "vnet", subnet: "aks-subnet", os: "linux-6.x" },
    ]);
    const legacy = parse('cluster: {kubernetesVersion: "1.11.5"}\nhosts: [{name: vm, ip: 10.240.0.200}]\n')
      .value!;
    assert.equal(legacy.hosts[0]?.os, "linux-4.x");
  });

  it("keeps a host's own stack", () => {
    const s = parse("hosts: [{name: laptop, ip: 203.0.113.9, os: windows-10-corpnet}]\n").value!;
    assert.equal(s.hosts[0]?.os, "windows-10-corpnet");
  });

  it("keeps a pod pin's image ID as written", () => {
    const s = parse("pins: {pods: [{owner: kube-system/kube-dns, imageId: sha256:c8e4ff7df026}]}\n").value!;
    assert.equal(s.pins.pods?.[0]?.imageId, "sha256:c8e4ff7df026");
  });

  it("reads manifests inline, as a multi-document block, and from files, with their lines", () => {
    const inline = DEPLOY.replace(/^(?=.)/gm, "    ").replace(/^ {4}apiVersion/, "  - apiVersion");
    const text = `manifests:\n${inline}  - |\n${SERVICE.replace(/^(?=.)/gm, "    ")}later:\n  - file: extra.yaml\n`;
    assert.match(text, /^manifests:\n {2}- apiVersion: apps\/v1\n {4}kind: Deployment\n/);
    const extra = `---\n${DEPLOY.replaceAll("web", "api")}---\n${SERVICE.replaceAll("web", "api")}`;
    const r = parse(text, { "dir/extra.yaml": extra });
    assert.deepEqual(r.diagnostics, []);
    const s = r.value!;
    assert.deepEqual(
      s.manifests.map((m) => [m.object.kind, m.source.file, m.source.line]),
      [
        ["Deployment", "dir/s.yaml", 2],
        ["Service", "dir/s.yaml", 16],
      ],
    );
    assert.deepEqual(
      s.later!.map((m) => [m.object.kind, m.source.file, m.source.line]),
      [
        ["Deployment", "dir/extra.yaml", 2],
        ["Service", "dir/extra.yaml", 16],
      ],
    );
  });

  it("accepts the whole group as one multi-document string", () => {
    const r = parse(`manifests: |\n${`${DEPLOY}---\n${SERVICE}`.replace(/^(?=.)/gm, "  ")}`);
    assert.deepEqual(r.diagnostics, []);
    assert.equal(r.value?.manifests.length, 2);
  });
});

describe("parseScenario: one clear error each, at its line and column", () => {
  it("a YAML syntax error", () => {
    const d = onlyError("cluster:\n  maxPods: [30\n");
    assert.match(d.code, /^yaml-/);
    assert.equal(d.source?.file, "dir/s.yaml");
  });

  it("a duplicate key", () => {
    const d = onlyError("seed: 1\nseed: 2\n");
    assert.equal(d.code, "yaml-duplicate-key");
    assert.deepEqual(at(d), ["dir/s.yaml", 2, 1]);
  });

  it("a field out of range, in the brief's words", () => {
    const d = onlyError("name: x\ncluster:\n  maxPods: 300\n");
    assert.equal(
      d.message,
      "Cannot read scenario dir/s.yaml at line 3: cluster.maxPods must be an integer from 10 to 250, found 300",
    );
    assert.deepEqual(at(d), ["dir/s.yaml", 3, 12]);
  });

  it("an unknown key names the allowed ones", () => {
    const d = onlyError("cluster:\n  nodecount: 2\n");
    assert.equal(d.code, "scenario-unknown-field");
    assert.match(d.message, /unknown field cluster\.nodecount \(expected one of name, nodeCount,/);
    assert.deepEqual(at(d), ["dir/s.yaml", 2, 3]);
  });

  it("a missing required field points at its parent", () => {
    const d = onlyError(
      "vnet:\n  addressPrefixes: [10.1.0.0/16]\n  subnets: [{name: a, prefix: 10.1.0.0/24}]\n",
    );
    assert.match(d.message, /vnet\.name is missing: it must be/);
    assert.deepEqual(at(d), ["dir/s.yaml", 2, 3]);
  });

  it("a host stack packetwalk does not model, naming the ones it does", () => {
    const d = onlyError("hosts:\n  - {name: laptop, ip: 203.0.113.9, os: macos}\n");
    assert.equal(
      d.message,
      'Cannot read scenario dir/s.yaml at line 2: hosts[0].os must be one of "windows-10", "windows-10-corpnet", "linux-4.x", "linux-6.x", found macos',
    );
  });

  it("a pod pin's image ID that is not hex digits", () => {
    const d = onlyError("pins:\n  pods:\n    - {owner: default/web, imageId: erjosito/whereami:1.3}\n");
    assert.match(
      d.message,
      /line 3: pins\.pods\[0\]\.imageId must be an image ID: 12 to 64 lower-case hex digits, with or without sha256: \(docker ps shows 12, like c8e4ff7df026\), found erjosito\/whereami:1\.3$/,
    );
    const short = onlyError("pins:\n  pods:\n    - {owner: default/web, imageId: c8e4ff7df0}\n");
    assert.match(short.message, /pins\.pods\[0\]\.imageId must be an image ID/);
  });

  it("a network with host bits set", () => {
    const d = onlyError("cluster:\n  serviceCidr: 10.0.0.5/16\n");
    assert.match(d.message, /cluster\.serviceCidr must be a network address \(host bits zero\)/);
  });

  it("an unsupported kind names the document's line", () => {
    const d = onlyError(
      "manifests:\n  - |\n    apiVersion: apps/v1\n    kind: StatefulSet\n    metadata: {name: x}\n",
    );
    assert.equal(d.code, "scenario-manifest-kind");
    assert.match(d.message, /kind StatefulSet is not supported \(expected a Deployment/);
    assert.deepEqual(at(d), ["dir/s.yaml", 4, 11]);
  });

  it("an old Deployment API group", () => {
    const d = onlyError(
      `manifests:\n  - |\n${DEPLOY.replace("apps/v1", "extensions/v1beta1").replace(/^(?=.)/gm, "    ")}`,
    );
    assert.match(d.message, /Deployment of apiVersion extensions\/v1beta1 is not supported/);
  });

  it("a bad field inside a manifest file, at the file's line", () => {
    const d = onlyError("manifests:\n  - file: m.yaml\n", {
      "dir/m.yaml": `${DEPLOY}---\n${SERVICE.replace("port: 80", "port: 0")}`,
    });
    assert.deepEqual(at(d), ["dir/m.yaml", 22, 18]);
    assert.match(
      d.message,
      /^Cannot read manifest dir\/m\.yaml at line 22: spec\.ports\[0\]\.port must be an integer from 1 to 65535, found 0$/,
    );
  });

  it("a manifest file that cannot be read", () => {
    const d = onlyError("manifests:\n  - file: nowhere.yaml\n");
    assert.equal(d.code, "scenario-manifest-file");
    assert.match(d.message, /cannot read manifest file dir\/nowhere\.yaml/);
  });

  const vnet =
    "vnet:\n  name: v\n  addressPrefixes: [10.13.0.0/16]\n  subnets:\n    - {name: aks, prefix: 10.13.76.0/24}\n";
  const check = (extra: string, code: string, re: RegExp, line?: number) => {
    const d = onlyError(`${vnet}${extra}`);
    assert.equal(d.code, code, d.message);
    assert.match(d.message, re);
    if (line !== undefined) assert.equal(d.source?.line, line);
  };

  it("overlapping subnets", () =>
    check(
      "    - {name: b, prefix: 10.13.76.128/25}\n",
      "scenario-cidr-overlap",
      /subnet b \(10\.13\.76\.128\/25\) overlaps subnet aks/,
      6,
    ));
  it("a subnet outside the VNet", () =>
    check(
      "    - {name: b, prefix: 10.14.0.0/24}\n",
      "scenario-cidr-overlap",
      /outside the VNet's address space/,
      6,
    ));
  it("the service CIDR overlapping the VNet", () =>
    check(
      "cluster: {serviceCidr: 10.13.0.0/24, dnsServiceIp: 10.13.0.10}\n",
      "scenario-cidr-overlap",
      /serviceCidr 10\.13\.0\.0\/24 overlaps the VNet/,
      6,
    ));
  it("the docker bridge on 1.19 and later", () =>
    check(
      "cluster: {dockerBridgeCidr: 172.17.0.1/16}\n",
      "scenario-docker-bridge",
      /must be null for Kubernetes 1\.35/,
    ));
  it("the docker bridge overlapping the VNet", () =>
    check(
      'cluster: {kubernetesVersion: "1.11.5", dockerBridgeCidr: 10.13.200.1/24}\n',
      "scenario-cidr-overlap",
      /dockerBridgeCidr 10\.13\.200\.1\/24 overlaps the VNet/,
    ));
  it("the DNS IP outside the service CIDR", () =>
    check(
      "cluster: {dnsServiceIp: 10.1.0.10}\n",
      "scenario-dns-ip",
      /dnsServiceIp 10\.1\.0\.10 is outside cluster\.serviceCidr 10\.0\.0\.0\/16/,
    ));
  it("a subnet too small for nodes × (maxPods + 1)", () =>
    check(
      "cluster: {nodeCount: 9, maxPods: 30}\n",
      "scenario-subnet-size",
      /has 251 usable addresses, but 9 node\(s\) × \(maxPods 30 \+ 1\) need 279$/,
      6,
    ));
  it("a pinned pod IP outside the node subnet", () =>
    check(
      `pins: {pods: [{owner: kube-system/kube-dns, ip: 10.13.1.9}]}\n`,
      "scenario-pin-ip",
      /pinned pod IP 10\.13\.1\.9 is not a usable address of the node subnet aks/,
      6,
    ));

  const apps = (svc: string, deploy = DEPLOY) =>
    `manifests: |\n${`${deploy}---\n${svc}`.replace(/^(?=.)/gm, "  ")}`;
  it("a node port outside 30000-32767", () => {
    const d = onlyError(apps(SERVICE.replace("{port: 80}", "{port: 80, nodePort: 8080}")));
    assert.equal(d.code, "scenario-node-port");
    assert.match(d.message, /nodePort 8080 of default\/web is outside the node port range 30000-32767/);
    assert.equal(d.source?.line, 23);
  });
  it("a health check node port taken by a pin", () => {
    const d = onlyError(
      `${apps(SERVICE.replace("Local\n", "Local\n  healthCheckNodePort: 31000\n"))}pins: {nodePorts: {default/web:80: 31000}}\n`,
    );
    assert.match(
      d.message,
      /pinned node port 31000 of default\/web:80 is already the healthCheckNodePort of default\/web/,
    );
  });
  it("a Service selecting nothing", () => {
    const d = onlyError(apps(SERVICE.replace("selector: {app: web}", "selector: {app: webb}")));
    assert.equal(d.code, "scenario-selector");
    assert.match(d.message, /Service default\/web selects app=webb, which no Deployment template or Pod/);
  });
  it("a Deployment whose selector misses its template", () => {
    const d = onlyError(apps(SERVICE, DEPLOY.replace("matchLabels: {app: web}", "matchLabels: {app: api}")));
    assert.match(
      d.message,
      /Deployment default\/web: spec\.selector does not match the template's labels \(app=web\)/,
    );
  });
  it("an apps/v1 Deployment without a selector", () => {
    const d = onlyError(apps(SERVICE, DEPLOY.replace("  selector:\n    matchLabels: {app: web}\n", "")));
    assert.match(d.message, /apps\/v1 needs spec\.selector\.matchLabels/);
  });
  it("duplicate names", () => {
    const d = onlyError(`manifests: |\n${`${DEPLOY}---\n${DEPLOY}`.replace(/^(?=.)/gm, "  ")}`);
    assert.equal(d.code, "scenario-duplicate");
    assert.match(d.message, /Deployment default\/web is defined twice/);
  });
  it("a pin naming a Service that does not exist", () => {
    const d = onlyError(`${apps(SERVICE)}pins: {publicIps: {default/api: 20.1.2.3}}\n`);
    assert.match(d.message, /default\/api is not a Service of the manifests/);
  });
});
