import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { after, test } from "node:test";
import { hasCommand } from "../../../test/support/commands.ts";
import type { Table } from "../../model/netfilter/ruleset.ts";
import { formatTable } from "../../model/netfilter/save.ts";
import { parseIptablesSave } from "./parse-save.ts";

/**
 * The writer against the real iptables, live: load our restore inputs into a throwaway network
 * namespace (no interfaces, nothing in the host's namespace), save them back, and compare with what
 * our parser + writer print for the same input.
 */

const ns = `pwt-save-${process.pid}`;
const has = hasCommand;
const skip =
  process.getuid?.() !== 0
    ? "needs root for network namespaces"
    : !has("ip") || !has("iptables-legacy-restore") || !has("ip6tables-legacy-restore")
      ? "needs iproute2 and iptables (legacy tools)"
      : false;

after(() => {
  if (!skip) execFileSync("ip", ["netns", "del", ns], { stdio: "ignore" });
});

function kernelSave(tool: "iptables" | "ip6tables", input: string): string {
  const restore = `${tool}-legacy-restore`;
  // Drop the lines the kernel refuses (our parser reports them), then load and save.
  execFileSync("ip", ["netns", "exec", ns, restore], { input });
  return execFileSync("ip", ["netns", "exec", ns, `${tool}-legacy-save`], { encoding: "utf8" });
}

function byTable(text: string, family: 4 | 6): Map<string, string> {
  const { value } = parseIptablesSave(text, "x", { family });
  const out = new Map<string, string>();
  for (const t of value.dumps.flatMap((d) => d.tables)) {
    const clean: Table = {
      ...t,
      chains: t.chains.map((c) => ({ ...c, rules: c.rules.filter((r) => r.error === null) })),
    };
    out.set(t.name, formatTable(clean, family, { order: "kernel" }));
  }
  return out;
}

test("our writer prints what the kernel's iptables-save prints", { skip }, () => {
  execFileSync("ip", ["netns", "add", ns]);
  for (const [file, tool, family] of [
    ["kernel-restore-input.txt", "iptables", 4],
    ["kernel-restore-input-2.txt", "iptables", 4],
    ["ip6tables-restore-input.txt", "ip6tables", 6],
  ] as const) {
    const input = readFileSync(new URL(`./testdata/${file}`, import.meta.url), "utf8");
    const { value } = parseIptablesSave(input, file);
    const refused = new Set(
      value.dumps
        .flatMap((d) => d.tables.flatMap((t) => t.chains.flatMap((c) => c.rules)))
        .filter((r) => r.error !== null)
        .map((r) => r.line),
    );
    const accepted = input
      .split("\n")
      .filter((_, i) => !refused.has(i + 1))
      .join("\n");
    const kernel = byTable(kernelSave(tool, accepted), family);
    const ours = byTable(accepted, family);
    for (const [name, text] of ours) assert.equal(text, kernel.get(name), `${file}: table ${name}`);
  }
});
