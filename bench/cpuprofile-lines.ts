import { readFileSync } from "node:fs";

/**
 * Line-level self time of the functions whose name matches, from a .cpuprofile recorded on a
 * bundle (see bench/profile.ts): `node --import tsx bench/cpuprofile-lines.ts PROFILE BUNDLE name1,name2 [top]`
 */

interface Node {
  callFrame: { functionName: string };
  hitCount: number;
  positionTicks?: { line: number; ticks: number }[];
}
const [profPath, bundlePath, names, topArg] = process.argv.slice(2);
if (!profPath || !bundlePath || !names)
  throw new Error("usage: cpuprofile-lines.ts PROFILE BUNDLE names [top]");
const prof = JSON.parse(readFileSync(profPath, "utf8")) as { nodes: Node[] };
const src = readFileSync(bundlePath, "utf8").split("\n");
const wanted = new Set(names.split(","));
const lines = new Map<number, number>();
let all = 0;
for (const n of prof.nodes) {
  all += n.hitCount;
  if (!wanted.has(n.callFrame.functionName)) continue;
  for (const t of n.positionTicks ?? []) lines.set(t.line, (lines.get(t.line) ?? 0) + t.ticks);
}
for (const [line, ticks] of [...lines].sort((a, b) => b[1] - a[1]).slice(0, Number(topArg ?? 30))) {
  const text = (src[line - 1] ?? "").trim().slice(0, 120);
  console.log(`${((100 * ticks) / all).toFixed(1).padStart(5)}%  ${String(line).padStart(6)}  ${text}`);
}
