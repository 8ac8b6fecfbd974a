import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { buildTwin } from "../controlplane/build-twin.ts";
import { parseIpv4 } from "../core/ip.ts";
import { parseScenario } from "../inputs/scenario/parse.ts";
import type { Twin } from "../model/twin.ts";
import { iptablesSave } from "../outputs/emulate/node/iptables-save.ts";
import { labPlan } from "./plan.ts";
import {
  binomialTail,
  compareCounters,
  compareFlow,
  counterDelta,
  distribution,
  type LabFlow,
} from "./verify-compare.ts";
import { verifyFlows, verifyTargets } from "./verify-flows.ts";
import { parseSaveCounters } from "./verify-lab.ts";
import { ctKey, flowEntries, saveTexts, simContext, simFlow } from "./verify-sim.ts";

/** The pure parts of `lab verify`: targets, the twin's side, and the judgement (verify.ts runs the lab). */

function twinOf(name: string): Twin {
  const path = new URL(`../../scenarios/${name}.yaml`, import.meta.url).pathname;
  const parsed = parseScenario(readFileSync(path, "utf8"), path, () => null);
  assert.ok(parsed.value);
  return buildTwin(parsed.value);
}

const cluster = twinOf("seed-cluster");

function ctxOf(twin: Twin) {
  const saved = new Map(twin.nodes.map((n) => [n.name, iptablesSave(n, [], twin.now).stdout] as const));
  return simContext(twin, twin.scenario.seed, saved);
}

describe("verify targets and flows", () => {
  const targets = verifyTargets(cluster, labPlan(cluster));

  it("reaches the frontend from each outside host, the service from its own pod, node ports and pods", () => {
    const labels = targets.map((t) => `${t.kind} ${t.fromText} ${t.toText}`);
    assert.ok(labels.includes("frontend laptop 51.144.176.251:80"), labels.join("\n"));
    assert.ok(labels.includes("frontend testvm 51.144.176.251:80"));
    assert.ok(labels.some((l) => l.startsWith("hairpin whereami-") && l.endsWith(" 10.0.159.58:80")));
    assert.ok(labels.includes("node-port testvm 10.13.76.4:30064"));
    assert.ok(labels.includes("pod-ip testvm 10.13.76.26:80"));
    // default/kubernetes leads to the API server, which neither world has.
    assert.ok(!labels.some((l) => l.includes("10.0.0.1:443")));
    for (const t of targets) assert.match(t.ns, /^pwl-/);
  });

  it("deals the flows round-robin with one client port each, inside the range", () => {
    const flows = verifyFlows(targets, 20, 20000);
    assert.deepEqual(
      flows.map((f) => f.target),
      Array.from({ length: 20 }, (_, i) => i % targets.length),
    );
    assert.equal(new Set(flows.map((f) => f.sport)).size, 20);
    assert.throws(() => verifyFlows(targets, 20, 29990), RangeError);
  });
});

describe("the twin's side of a flow", () => {
  const ctx = ctxOf(cluster);
  const targets = verifyTargets(cluster, labPlan(cluster));
  const frontend = targets.find((t) => t.kind === "frontend" && t.fromText === "laptop");
  assert.ok(frontend);

  it("gives each pod with probability 1/2, the node's address as the source and the conntrack entry", () => {
    const paths = simFlow(ctx, frontend, 21000, parseIpv4("10.13.76.4") as number);
    assert.deepEqual(paths.map((p) => p.probabilityText).sort(), ["1/2", "1/2"]);
    assert.deepEqual(new Set(paths.map((p) => p.source)), new Set(["10.13.76.4"]));
    const [p] = paths;
    assert.ok(p);
    const entries = p.conntrack.get("aks-nodepool1-31351229-0") ?? [];
    assert.equal(entries.length, 1);
    assert.match(
      entries[0] as string,
      /^tcp TIME_WAIT src=109\.125\.120\.58 dst=51\.144\.176\.251 sport=21000 dport=80 src=10\.13\.76\.(7|26) dst=10\.13\.76\.4 sport=80 dport=21000 \[ASSURED\]$/,
    );
    // The capture rule, the masquerade mark and the pod's DNAT counted once each (the first packet).
    const counts = p.counters.get("aks-nodepool1-31351229-0");
    assert.ok(counts);
    const texts = ctx.texts.get("aks-nodepool1-31351229-0");
    const moved = [...counts].map(([k, v]) => `${v} ${texts?.get(k)}`);
    assert.ok(
      moved.some((m) => /^1 -A KUBE-MARK-MASQ -j MARK/.test(m)),
      moved.join("\n"),
    );
    assert.ok(
      moved.some((m) => /^1 -A KUBE-SEP-\w+ .*-j DNAT --to-destination 10\.13\.76\.(7|26):80$/.test(m)),
    );
  });

  it("a pinned backend the flow hash would not choose is taken", () => {
    const local = twinOf("aks-today");
    const t = verifyTargets(local, labPlan(local)).find(
      (x) => x.kind === "frontend" && x.service === "default/web-cluster",
    );
    assert.ok(t);
    const c = ctxOf(local);
    for (const node of local.nodes) {
      const paths = simFlow(c, t, 21001, parseIpv4(node.ip) as number);
      for (const p of paths)
        assert.ok(p.conntrack.has(node.name), `${node.name}: ${[...p.conntrack.keys()]}`);
    }
  });
});

describe("conntrack lines", () => {
  it("drop what varies between runs: the seconds left, mark, zone and use", () => {
    assert.equal(
      ctKey(
        "tcp      6 117 TIME_WAIT src=1.2.3.4 dst=5.6.7.8 sport=20000 dport=80 src=10.0.0.5 dst=10.0.0.4 sport=80 dport=20000 [ASSURED] mark=0 use=1",
      ),
      "tcp TIME_WAIT src=1.2.3.4 dst=5.6.7.8 sport=20000 dport=80 src=10.0.0.5 dst=10.0.0.4 sport=80 dport=20000 [ASSURED]",
    );
  });

  it("take the flow's entries, follow its source NAT to the next node, and star the random port", () => {
    const a = [
      "tcp TIME_WAIT src=1.2.3.4 dst=5.6.7.8 sport=20000 dport=80 src=10.0.0.36 dst=10.0.0.66 sport=80 dport=43422 [ASSURED]",
      "tcp TIME_WAIT src=1.2.3.4 dst=5.6.7.8 sport=20001 dport=80 src=10.0.0.36 dst=10.0.0.66 sport=80 dport=20001 [ASSURED]",
    ];
    const b = [
      "tcp TIME_WAIT src=10.0.0.66 dst=10.0.0.36 sport=43422 dport=80 src=10.0.0.36 dst=10.0.0.66 sport=80 dport=43422 [ASSURED]",
      "tcp SYN_SENT src=168.63.129.16 dst=10.0.0.4 sport=43422 dport=80 [UNREPLIED] src=10.0.0.4 dst=168.63.129.16 sport=80 dport=43422",
    ];
    const got = flowEntries(
      new Map([
        ["a", a],
        ["b", b],
      ]),
      20000,
    );
    assert.deepEqual(got.get("a"), [
      "tcp TIME_WAIT src=1.2.3.4 dst=5.6.7.8 sport=20000 dport=80 src=10.0.0.36 dst=10.0.0.66 sport=80 dport=* [ASSURED]",
    ]);
    assert.deepEqual(got.get("b"), [
      "tcp TIME_WAIT src=10.0.0.66 dst=10.0.0.36 sport=* dport=80 src=10.0.0.36 dst=10.0.0.66 sport=80 dport=* [ASSURED]",
    ]);
    // A kept port is compared as it is.
    assert.deepEqual(flowEntries(new Map([["a", a]]), 20001).get("a"), [a[1]]);
  });
});

describe("rule counters", () => {
  const save = [
    "*nat",
    ":PREROUTING ACCEPT [7:420]",
    ":KUBE-SERVICES - [0:0]",
    "[7:420] -A PREROUTING -j KUBE-SERVICES",
    "[2:120] -A KUBE-SERVICES -d 10.0.0.1/32 -j RETURN",
    "[0:0] -A KUBE-SERVICES -d 10.0.0.1/32 -j RETURN",
    "COMMIT",
    "*filter",
    ":FORWARD DROP [3:180]",
    "[5:300] -A FORWARD -j ACCEPT",
    "COMMIT",
  ].join("\n");

  it("iptables-save -c is read by position: identical rules stay apart", () => {
    const { counts, texts } = parseSaveCounters(save);
    assert.equal(counts.get("nat KUBE-SERVICES #1"), 2);
    assert.equal(counts.get("nat KUBE-SERVICES #2"), 0);
    assert.equal(counts.get("nat PREROUTING policy"), 7);
    assert.equal(counts.get("filter FORWARD policy"), 3);
    assert.equal(texts.get("filter FORWARD #1"), "-A FORWARD -j ACCEPT");
    // The model's keys come from the same positions.
    assert.equal(saveTexts(save).get("nat KUBE-SERVICES #2"), "-A KUBE-SERVICES -d 10.0.0.1/32 -j RETURN");
  });

  it("nat must count the same packets; other tables must move in both", () => {
    const before = new Map([["n", parseSaveCounters(save).counts]]);
    const after = new Map([
      [
        "n",
        new Map(
          [...parseSaveCounters(save).counts].map(([k, v]) => [k, k.startsWith("nat KUBE") ? v + 2 : v + 5]),
        ),
      ],
    ]);
    const lab = counterDelta(before, after);
    const twin = new Map([
      [
        "n",
        new Map([
          ["nat KUBE-SERVICES #1", 2],
          ["nat KUBE-SERVICES #2", 1],
          ["nat PREROUTING #1", 5],
          ["nat PREROUTING policy", 5],
          ["filter FORWARD #1", 9],
          ["filter FORWARD policy", 1],
        ]),
      ],
    ]);
    const rows = compareCounters(lab, twin, new Map());
    const bad = rows.filter((r) => !r.agree).map((r) => `${r.key} ${r.lab}/${r.twin}`);
    assert.deepEqual(bad, ["nat KUBE-SERVICES #2 2/1"]);
  });
});

describe("spread over pods", () => {
  it("binomial tails are exact for small n", () => {
    // n=4, p=1/2: P(|X-2| >= 2) = P(0)+P(4) = 2/16.
    assert.ok(Math.abs(binomialTail(4, 0, 0.5) - 0.125) < 1e-12);
    assert.ok(Math.abs(binomialTail(4, 2, 0.5) - 1) < 1e-12);
    assert.equal(binomialTail(10, 3, 0), 0);
  });

  it("an even spread agrees, one pod taking everything does not", () => {
    const t = verifyTargets(cluster, labPlan(cluster))[0];
    assert.ok(t);
    const twin = new Map([
      ["a", 0.5],
      ["b", 0.5],
    ]);
    const even = distribution(t, [...Array(100).fill("a"), ...Array(100).fill("b")], twin);
    assert.equal(even.p, 1);
    const skew = distribution(t, Array(200).fill("a"), twin);
    assert.ok(skew.p < 1e-50, String(skew.p));
    const stray = distribution(t, ["a", "c"], twin);
    assert.equal(stray.p, 0);
  });
});

describe("one flow judged", () => {
  const ctx = ctxOf(cluster);
  const target = verifyTargets(cluster, labPlan(cluster)).find((t) => t.kind === "frontend");
  assert.ok(target);
  const paths = simFlow(ctx, target, 22000, parseIpv4("10.13.76.4") as number);
  const right = paths[0];
  assert.ok(right);
  const flow = { n: 1, target: 0, sport: 22000 };
  const nodes = new Map([["10.13.76.4", "aks-nodepool1-31351229-0"]]);
  const lab = (over: Partial<LabFlow>): LabFlow => ({
    outcome: "completed",
    pod: right.pod,
    source: right.source,
    backend: "aks-nodepool1-31351229-0",
    conntrack: right.conntrack,
    error: null,
    ...over,
  });

  it("agrees when the lab did what one of the twin's paths did", () => {
    assert.deepEqual(compareFlow(flow, target, lab({}), paths, ["10.13.76.4"], nodes).disagreements, []);
  });

  it("names each field that differs", () => {
    const fields = (l: LabFlow, healthy = ["10.13.76.4"]) =>
      compareFlow(flow, target, l, paths, healthy, nodes).disagreements.map((d) => d.field);
    assert.deepEqual(fields(lab({ source: "109.125.120.58" })), ["source seen by pod"]);
    assert.deepEqual(fields(lab({ pod: "default/elsewhere" })), ["pod"]);
    assert.deepEqual(fields(lab({ outcome: "timeout", pod: null, source: null })), ["outcome"]);
    assert.deepEqual(fields(lab({ conntrack: new Map() })), ["conntrack on aks-nodepool1-31351229-0"]);
    assert.deepEqual(fields(lab({}), []), ["lb backend"]);
  });
});
