import { spawnSync } from "node:child_process";
import { writeDefaultRuleset } from "./generate.ts";

/**
 * Checks that bench/generate.ts writes what a real iptables-save prints: loads the dump with
 * iptables-legacy-restore into a scratch network namespace (pwb-verify-<pid>, deleted afterwards;
 * the host's tables are never touched), dumps it with iptables-legacy-save and compares each table.
 * Needs root. `node --import tsx bench/verify-generator.ts [services]`.
 */

const services = Number(process.argv[2] ?? 10_000);
const g = writeDefaultRuleset(undefined, { services });
const ns = `pwb-verify-${process.pid}`;

function tables(text: string): Map<string, string> {
  const out = new Map<string, string>();
  let name: string | null = null;
  let lines: string[] = [];
  for (const line of text.split("\n")) {
    if (line.startsWith("#") || line === "") continue;
    if (line.startsWith("*")) {
      name = line.slice(1);
      lines = [];
    }
    lines.push(line);
    if (line === "COMMIT" && name) out.set(name, lines.join("\n"));
  }
  return out;
}

if (process.getuid?.() !== 0) {
  console.log("skipped: needs root for a network namespace");
  process.exit(0);
}
if (spawnSync("ip", ["netns", "add", ns]).status !== 0) {
  console.log(`skipped: cannot create network namespace ${ns}`);
  process.exit(0);
}
let failed = false;
try {
  const restore = spawnSync("ip", ["netns", "exec", ns, "iptables-legacy-restore", g.path], {
    encoding: "utf8",
  });
  if (restore.status !== 0) throw new Error(`iptables-legacy-restore failed: ${restore.stderr}`);
  const save = spawnSync("ip", ["netns", "exec", ns, "iptables-legacy-save"], {
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
  });
  if (save.status !== 0) throw new Error(`iptables-legacy-save failed: ${save.stderr}`);
  const ours = tables(g.text);
  const theirs = tables(save.stdout);
  for (const [name, text] of ours) {
    const other = theirs.get(name);
    if (other === text) {
      console.log(`${name}: identical (${text.split("\n").length} lines)`);
      continue;
    }
    failed = true;
    const a = text.split("\n");
    const b = (other ?? "").split("\n");
    const i = a.findIndex((l, k) => l !== b[k]);
    console.log(`${name}: differs at line ${i + 1} of the table:\n  ours:     ${a[i]}\n  iptables: ${b[i]}`);
  }
} finally {
  spawnSync("ip", ["netns", "delete", ns]);
}
process.exit(failed ? 1 : 0);
