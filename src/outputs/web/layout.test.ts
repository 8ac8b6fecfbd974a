import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { cli } from "../../../test/support/cli.ts";
import type { Layout, LayoutBox, TopologyView } from "./contract.ts";
import { layoutOf } from "./layout.ts";
import { builtins, type Fixture, manyNodes } from "./testdata/twins.ts";
import { topologyOf } from "./topology.ts";

/**
 * The layout's geometry for the built-in scenarios and generated ones of 1 to 10 nodes with 30
 * pods each: boxes nest without overlapping, labels fit at the declared font size, edges join
 * their boxes' borders, every place a walk goes through has its box, and the result is the same
 * every time.
 */

/** The text width the page's labels are budgeted at: 0.6 em per character. */
const textWidth = (text: string, fontSize: number) => [...text].length * 0.6 * fontSize;
const EPS = 1e-6;

interface Case {
  readonly fixture: Fixture;
  readonly view: TopologyView;
  readonly layout: Layout;
}

function caseOf(fixture: Fixture): Case {
  const view = topologyOf(fixture.twin, fixture.name);
  return { fixture, view, layout: layoutOf(view) };
}

const BUILTINS = builtins().map(caseOf);
const TEN = [manyNodes({ era: "today" }), manyNodes({ era: "2019" })].map(caseOf);
const SWEEP = [1, 2, 3, 4, 5, 6, 7, 8, 9].map((nodes) => caseOf(manyNodes({ nodes, podsPerNode: 30 })));
const ALL = [...BUILTINS, ...TEN, ...SWEEP];

const overlap = (a: LayoutBox, b: LayoutBox) =>
  a.x < b.x + b.w - EPS && b.x < a.x + a.w - EPS && a.y < b.y + b.h - EPS && b.y < a.y + a.h - EPS;
const inside = (
  c: { x: number; y: number; w: number; h: number },
  p: { x: number; y: number; w: number; h: number },
) => c.x >= p.x - EPS && c.y >= p.y - EPS && c.x + c.w <= p.x + p.w + EPS && c.y + c.h <= p.y + p.h + EPS;
const onBorder = (pt: { x: number; y: number }, b: LayoutBox) => {
  const inX = pt.x >= b.x - EPS && pt.x <= b.x + b.w + EPS;
  const inY = pt.y >= b.y - EPS && pt.y <= b.y + b.h + EPS;
  const onV = Math.abs(pt.x - b.x) < EPS || Math.abs(pt.x - (b.x + b.w)) < EPS;
  const onH = Math.abs(pt.y - b.y) < EPS || Math.abs(pt.y - (b.y + b.h)) < EPS;
  return (onV && inY) || (onH && inX);
};
const byId = (l: Layout) => new Map(l.boxes.map((b) => [b.id, b] as const));

describe("web layout", () => {
  for (const { fixture, view, layout } of ALL) {
    describe(fixture.name, () => {
      const boxes = byId(layout);

      it("gives every box a unique id", () => {
        assert.equal(boxes.size, layout.boxes.length);
      });

      it("keeps sibling boxes apart", () => {
        const siblings = new Map<string | null, LayoutBox[]>();
        for (const b of layout.boxes) siblings.set(b.parent, [...(siblings.get(b.parent) ?? []), b]);
        const clashes: string[] = [];
        for (const group of siblings.values())
          for (let i = 0; i < group.length; i++)
            for (let j = i + 1; j < group.length; j++)
              if (overlap(group[i]!, group[j]!)) clashes.push(`${group[i]!.id} / ${group[j]!.id}`);
        assert.deepEqual(clashes, []);
      });

      it("puts every child inside its parent, below the parent's two header lines", () => {
        const header = 6 + 2 * 1.25 * layout.fontSize;
        const wrong = layout.boxes.filter((b) => {
          if (b.parent === null) return false;
          const p = boxes.get(b.parent);
          return !p || !inside(b, p) || b.y < p.y + header - EPS;
        });
        assert.deepEqual(
          wrong.map((b) => b.id),
          [],
        );
      });

      it("keeps every box and edge on the canvas", () => {
        const canvas = { x: 0, y: 0, w: layout.width, h: layout.height };
        assert.deepEqual(
          layout.boxes.filter((b) => !inside(b, canvas)).map((b) => b.id),
          [],
        );
        const off = layout.edges.filter((e) => e.points.some((p) => !inside({ ...p, w: 0, h: 0 }, canvas)));
        assert.deepEqual(
          off.map((e) => e.id),
          [],
        );
      });

      it("fits each label and sublabel in its box at the declared font size", () => {
        assert.ok(layout.fontSize >= 11, `fontSize ${layout.fontSize}`);
        const tooBig = layout.boxes.filter((b) => {
          const lines = b.sublabel === null ? 1 : 2;
          const widest = Math.max(
            textWidth(b.label, layout.fontSize),
            textWidth(b.sublabel ?? "", layout.fontSize),
          );
          return widest > b.w - 2 * 4 || lines * 1.25 * layout.fontSize > b.h || b.label === "";
        });
        assert.deepEqual(
          tooBig.map((b) => `${b.id}: "${b.label}" / "${b.sublabel}" in ${b.w}x${b.h}`),
          [],
        );
      });

      it("starts and ends each edge on its boxes' borders, in horizontal and vertical runs", () => {
        const bad: string[] = [];
        const ids = new Set<string>();
        for (const e of layout.edges) {
          const from = boxes.get(e.from);
          const to = boxes.get(e.to);
          const first = e.points[0];
          const last = e.points[e.points.length - 1];
          if (ids.has(e.id)) bad.push(`${e.id}: duplicate id`);
          ids.add(e.id);
          if (!from || !to || !first || !last || e.points.length < 2)
            bad.push(`${e.id}: no box or too few points`);
          else if (!onBorder(first, from) || !onBorder(last, to)) bad.push(`${e.id}: off its boxes' borders`);
          e.points.forEach((p, i) => {
            const q = e.points[i - 1];
            if (q && Math.abs(p.x - q.x) > EPS && Math.abs(p.y - q.y) > EPS)
              bad.push(`${e.id}: diagonal at ${i}`);
          });
        }
        assert.deepEqual(bad, []);
      });

      it("draws every node, interface and pod of the topology, and the wires between them", () => {
        const missing: string[] = [];
        const edge = new Set(layout.edges.map((e) => `${e.kind} ${e.from} ${e.to}`));
        const want = (id: string) => boxes.has(id) || missing.push(`box ${id}`);
        const wire = (kind: string, from: string, to: string) =>
          edge.has(`${kind} ${from} ${to}`) || missing.push(`${kind} edge ${from} -> ${to}`);
        want("vnet");
        for (const h of view.hosts) want(h.name);
        if (view.loadBalancers.length) want("azure-lb");
        for (const h of view.hosts.filter((x) => x.kind === "internet")) wire("internet", h.name, "azure-lb");
        for (const lb of view.loadBalancers)
          for (const b of lb.backends) wire("lb-backend", "azure-lb", `${b.node}|eth0`);
        for (const n of view.nodes) {
          want(n.name);
          want(`${n.name}|kube-proxy`);
          for (const i of n.interfaces) want(`${n.name}|${i.name}`);
          wire("vnet", `${n.name}|eth0`, "vnet");
          const azure0 = n.interfaces.some((i) => i.name === "azure0");
          if (azure0) wire("bridge-port", `${n.name}|eth0`, `${n.name}|azure0`);
          for (const p of n.pods.filter((x) => !x.hostNetwork)) {
            want(p.id);
            wire(
              azure0 ? "bridge-port" : "wire",
              `${n.name}|${azure0 ? "azure0" : "eth0"}`,
              `${n.name}|${p.hostVeth}`,
            );
            wire("veth", `${n.name}|${p.hostVeth}`, `${p.id}|${p.podIface}`);
          }
        }
        assert.deepEqual(missing, []);
      });

      it("lays out the same way every time", () => {
        assert.deepEqual(layoutOf(structuredClone(view)), layout);
      });

      it(`is at most 2560 wide (${layout.width}x${layout.height})`, () => {
        assert.ok(layout.width <= 2560, `${layout.width}`);
      });
    });
  }

  it("shows each built-in scenario whole in 1280x800 at zoom 1", () => {
    assert.deepEqual(
      BUILTINS.filter((c) => c.layout.width > 1280 || c.layout.height > 800).map(
        (c) => `${c.fixture.name}: ${c.layout.width}x${c.layout.height}`,
      ),
      [],
    );
  });

  it("puts the internet host left of the load balancer and both above the VNet", () => {
    for (const { layout } of [...BUILTINS, ...TEN]) {
      const b = byId(layout);
      const laptop = b.get("laptop")!;
      const lb = b.get("azure-lb")!;
      const vnet = b.get("vnet")!;
      assert.ok(laptop.x + laptop.w <= lb.x && Math.max(laptop.y + laptop.h, lb.y + lb.h) <= vnet.y);
    }
  });

  it("puts ten nodes of 30 pods in two rows of five", () => {
    for (const { view, layout } of TEN) {
      const b = byId(layout);
      const rows = new Set(view.nodes.map((n) => b.get(n.name)!.y));
      const cols = new Set(view.nodes.map((n) => b.get(n.name)!.x));
      assert.deepEqual([rows.size, cols.size], [2, 5]);
      assert.ok(view.nodes.every((n) => n.pods.filter((p) => !p.hostNetwork).length === 30));
    }
  });
});

describe("web layout: every place a walk goes through has its box", () => {
  /** `packetwalk walk` as the user runs it, in-process: the JSON report's hops. */
  function walkHops(f: Fixture, args: string[] = []): { at: string; iface: string | null }[] {
    const r = cli(["walk", "--scenario", f.path, "-o", "json", ...args], { [f.path]: f.text });
    assert.ok(r.stdout.startsWith("{"), r.stderr);
    const report = JSON.parse(r.stdout) as {
      paths: {
        hops: { at: string; iface: string | null }[];
        reply: { hops: { at: string; iface: string | null }[] } | null;
      }[];
    };
    return report.paths.flatMap((p) => [...p.hops, ...(p.reply?.hops ?? [])]);
  }

  const pod = (f: Fixture, prefix: string) => f.twin.k8s.pods.find((p) => p.meta.name.startsWith(prefix))!;
  const [seedCluster, seedLocal, aksToday] = BUILTINS.map((c) => c.fixture) as [Fixture, Fixture, Fixture];
  const many = TEN[1]!.fixture;
  const walks: [string, Fixture, string[]][] = [
    ["seed-cluster: laptop to the VIP", seedCluster, []],
    [
      "seed-cluster: testvm to a pod",
      seedCluster,
      ["--from", "testvm", "--to", `${pod(seedCluster, "whereami").podIP}:80`],
    ],
    ["seed-local: laptop to the VIP", seedLocal, []],
    ["aks-today: laptop to the VIP", aksToday, []],
    [
      "aks-today: a pod to the Local VIP",
      aksToday,
      ["--from", pod(aksToday, "web").meta.name, "--to", "104.227.181.208:80"],
    ],
    ["10 nodes (2019): laptop to the Local VIP", many, []],
    [
      "10 nodes (2019): jumpbox to a pod",
      many,
      ["--from", "jumpbox", "--to", `${pod(many, "fill").podIP}:80`],
    ],
  ];
  for (const [name, f, args] of walks) {
    it(name, () => {
      const layout = layoutOf(topologyOf(f.twin, f.name));
      const boxes = byId(layout);
      const hosts = new Set(f.twin.hosts.map((h) => h.name));
      const hops = walkHops(f, args);
      assert.ok(hops.length >= 4, `${hops.length} hops`);
      // Hosts and the fabric are one box each; on a node or in a pod, the interface has its own box.
      const missing = hops
        .map((h) => (h.iface === null || hosts.has(h.at) ? h.at : `${h.at}|${h.iface}`))
        .filter((id) => !boxes.has(id));
      assert.deepEqual([...new Set(missing)], []);
    });
  }
});
