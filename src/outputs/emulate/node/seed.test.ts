/**
 * The seed's node commands, run on a hand-built twin of its node (testdata/seed-node.ts) and compared
 * with what the blog printed, read from the seed file itself. The blog's HTML turned runs of spaces
 * and tabs into no-break spaces and dropped trailing blanks, so both sides are compared with tabs
 * expanded, no-break spaces as spaces and line ends trimmed — every other byte must agree.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { SEED_TEXT } from "../../../../test/support/seed.ts";
import { parseIptablesSave } from "../../../inputs/iptables/parse-save.ts";
import type { Chain, RulesetFile, Table } from "../../../model/netfilter/ruleset.ts";
import { runOnNode } from "./run-on-node.ts";
import { type SeedPhase, seedNode, seedTwin } from "./testdata/seed-node.ts";

const root = fileURLToPath(new URL("../../../../", import.meta.url));
const SEED = SEED_TEXT.split("\n");
const PROMPT = "jose@aks-nodepool1-31351229-0:~$ ";
const NODE = "aks-nodepool1-31351229-0";

/**
 * The order of kube-proxy's nat chains in the seed's kernel, as its `iptables-save | grep whereami`
 * prints them; examples/*.rules declare them sorted, so the fixture moves them (others stay first).
 */
const SEED_NAT_ORDER = [
  "KUBE-NODEPORTS",
  "KUBE-SERVICES",
  "KUBE-FW-7G2JV7LNOR6DDNIY",
  "KUBE-SVC-7G2JV7LNOR6DDNIY",
  "KUBE-SEP-6HBOEI5FVFTJNRJ3",
  "KUBE-SEP-IJTMGMPNVALZGJZD",
];

function kernelOrder(file: RulesetFile): RulesetFile {
  const rank = (c: Chain): number => SEED_NAT_ORDER.indexOf(c.name);
  const reorder = (t: Table): Table =>
    t.name !== "nat" ? t : { ...t, chains: [...t.chains].sort((a, b) => rank(a) - rank(b)) };
  return { dumps: file.dumps.map((d) => ({ ...d, tables: d.tables.map(reorder) })) };
}

function twin(phase: SeedPhase) {
  const file = phase === "cluster" ? "seed-cluster.rules" : "seed-local.rules";
  const parsed = parseIptablesSave(readFileSync(`${root}examples/${file}`, "utf8"), file);
  assert.deepEqual(parsed.diagnostics, []);
  return seedTwin(seedNode(kernelOrder(parsed.value), phase));
}

/** The lines the seed prints after its `occurrence`-th run of `command`, up to the next blank line. */
function seedOutput(command: string, occurrence = 1): string[] {
  let seen = 0;
  const start = SEED.findIndex((l) => l === PROMPT + command && ++seen === occurrence);
  assert.ok(start >= 0, `seed has no \`${command}\` #${occurrence}`);
  const out: string[] = [];
  for (let i = start + 1; i < SEED.length && SEED[i]!.trim() !== ""; i++) out.push(SEED[i]!);
  return out.map(normalise);
}

function expandTabs(line: string): string {
  let s = "";
  for (const c of line) s += c === "\t" ? " ".repeat(8 - (s.length % 8)) : c;
  return s;
}

const normalise = (line: string): string => expandTabs(line.replace(/\u00a0/g, " ")).trimEnd();

function run(phase: SeedPhase, command: string): string[] {
  const r = runOnNode(twin(phase), NODE, command);
  assert.equal(r.stderr, "");
  assert.equal(r.exitCode, 0);
  return r.stdout.replace(/\n$/, "").split("\n").map(normalise);
}

describe("the seed's node commands", () => {
  it("iptables-save | grep whereami (Cluster)", () => {
    assert.deepEqual(
      run("cluster", "sudo iptables-save | grep whereami"),
      seedOutput("sudo iptables-save | grep whereami"),
    );
  });

  it("iptables-save | grep whereami | grep KUBE-SERVICES (Local)", () => {
    const cmd = "sudo iptables-save | grep whereami | grep KUBE-SERVICES";
    assert.deepEqual(run("local", cmd), seedOutput(cmd));
  });

  it("iptables-save | grep MASQUERADE", () => {
    const cmd = "sudo iptables-save | grep MASQUERADE";
    assert.deepEqual(run("local", cmd), seedOutput(cmd));
  });

  it("iptables -t nat -L KUBE-MARK-MASQ: the seed's lines; references = the fixture's jumps", () => {
    const cmd = "sudo iptables -t nat -L KUBE-MARK-MASQ";
    const ours = run("cluster", cmd);
    const seed = seedOutput(cmd);
    assert.deepEqual(ours.slice(1), seed.slice(1));
    // The seed's 19 include the system services' jumps, which examples/seed-cluster.rules leaves out.
    assert.equal(seed[0], "Chain KUBE-MARK-MASQ (19 references)");
    assert.equal(ours[0], "Chain KUBE-MARK-MASQ (5 references)");
  });

  it("iptables -L -t nat -v | grep -i masquerade (counters aside)", () => {
    const cmd = "sudo iptables -L -t nat -v | grep -i masquerade";
    const ours = run("cluster", cmd);
    const seed = seedOutput(cmd);
    assert.equal(ours.length, seed.length);
    // The packet and byte columns are `%5s %5s ` wide: 12 characters.
    assert.deepEqual(
      ours.map((l) => l.slice(12)),
      seed.map((l) => l.slice(12)),
    );
    assert.deepEqual(ours[0]!.slice(0, 12), "    0     0 ");
  });

  it("nsenter -t 29634 -n ip addr", () => {
    const cmd = "sudo nsenter -t 29634 -n ip addr";
    assert.deepEqual(run("cluster", cmd), seedOutput(cmd));
  });

  it("ip a | grep 20:", () => {
    assert.deepEqual(run("cluster", "ip a | grep 20:"), seedOutput("ip a | grep 20:"));
  });

  it("brctl show", () => {
    assert.deepEqual(run("cluster", "brctl show"), seedOutput("brctl show"));
  });

  it("brctl showstp azure0 | grep azva4124965a9b", () => {
    const cmd = "sudo brctl showstp azure0 | grep azva4124965a9b";
    assert.deepEqual(run("cluster", cmd), seedOutput(cmd));
  });

  it('brctl showmacs azure0 | grep -E "\\s+9\\s+"', () => {
    const cmd = 'sudo brctl showmacs azure0 | grep -E "\\s+9\\s+"';
    assert.deepEqual(run("cluster", cmd), seedOutput(cmd));
  });

  it("arp -a 10.13.76.26", () => {
    assert.deepEqual(run("cluster", "arp -a 10.13.76.26"), seedOutput("arp -a 10.13.76.26"));
  });

  it("curl localhost:32364/healthz and :31322 (tab-indented, no final newline)", () => {
    const r = runOnNode(twin("local"), NODE, "curl localhost:32364/healthz");
    assert.equal(r.exitCode, 0);
    assert.ok(!r.stdout.endsWith("\n"));
    assert.ok(r.stdout.includes('\n\t"service": {\n\t\t"namespace": "default",'));
    assert.deepEqual(r.stdout.split("\n").map(normalise), seedOutput("curl localhost:32364/healthz"));
    assert.deepEqual(
      run("local", "curl localhost:31322/healthz"),
      seedOutput("curl localhost:31322/healthz"),
    );
  });
});
