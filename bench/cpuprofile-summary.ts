import { readFileSync } from "node:fs";

/**
 * Summarises a V8 .cpuprofile (from `node --cpu-prof`): self time per function, and total time
 * (self + callees, each sample counted once per function) so generators and closures show up with
 * what they cost. `node --import tsx bench/cpuprofile-summary.ts FILE [top=40] [filter]`
 */

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const [path, topArg, filter] = process.argv.slice(2);
if (!path) throw new Error("usage: cpuprofile-summary.ts FILE [top] [filter]");
const top = Number(topArg ?? 40);
const prof = JSON.parse(readFileSync(path, "utf8")) as Profile;
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

const label = (n: Node) => {
  const f = n.callFrame;
  const file = f.url.replace(/^.*\/(src|bench|node_modules)\//, "$1/");
  return `${f.functionName || "(anonymous)"} ${file ? `${file}:${f.lineNumber + 1}` : ""}`.trim();
};
const self = new Map<string, number>();
const total = new Map<string, number>();
let all = 0;
for (let i = 0; i < prof.samples.length; i++) {
  const dt = (prof.timeDeltas[i + 1] ?? prof.timeDeltas[i] ?? 0) / 1000;
  all += dt;
  const leaf = byId.get(prof.samples[i] as number) as Node;
  self.set(label(leaf), (self.get(label(leaf)) ?? 0) + dt);
  const seen = new Set<string>();
  for (let id: number | undefined = leaf.id; id !== undefined; id = parent.get(id)) {
    const l = label(byId.get(id) as Node);
    if (seen.has(l)) continue;
    seen.add(l);
    total.set(l, (total.get(l) ?? 0) + dt);
  }
}
const show = (title: string, m: Map<string, number>) => {
  console.log(`\n${title} (of ${all.toFixed(0)} ms sampled)`);
  const rows = [...m].filter(([k]) => !filter || k.includes(filter)).sort((a, b) => b[1] - a[1]);
  for (const [k, v] of rows.slice(0, top))
    console.log(`${v.toFixed(0).padStart(8)} ms ${((100 * v) / all).toFixed(1).padStart(5)}%  ${k}`);
};
show("self time", self);
show("total time", total);
