import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import type { CompiledRuleset } from "../src/dataplane/sim/netfilter/compile.ts";
import type { RulesetFile } from "../src/model/netfilter/ruleset.ts";
import type { Twin } from "../src/model/twin.ts";
import { DIST, type Engine, loadEngine } from "./engine.ts";
import { type FlowFigures, flowsOnOneCore } from "./flows.ts";
import { writeDefaultRuleset } from "./generate.ts";
import { benchRestore, type RestoreResult } from "./restore.ts";
import { fmt, machine, msSince, type Summary, summarize } from "./stats.ts";
import { scaleScenario } from "./twin-scenario.ts";
import { isExpected, type Mode, makeWorkload, nodeHost, runOne } from "./workload.ts";

/**
 * `npm run bench`: parse, compile and trace figures on a generated kube-proxy node dump
 * (bench/generate.ts), compared with iptables-restore --test, and bulk mode's new connections per
 * second through the seed twins (bench/flows.ts), written to BENCHMARKS.md.
 * Timings are reported, never asserted.
 */

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const REPORT = resolve(ROOT, "BENCHMARKS.md");
/** Everything after this line in BENCHMARKS.md is hand-written and kept when the figures are rewritten. */
const NOTES_MARKER = "<!-- bench/run.ts keeps everything below this line -->";

const TRACE_TARGET_US = 20;
const PARSE_TARGET_RATIO = 2;
/** The control plane's scale target (issue 3): bench/twin-scenario.ts's defaults, whatever --services says. */
const TWIN_TARGET_MS = 1000;
const TWIN_NODES = 100;
const TWIN_SERVICES = 10_000;
const TWIN_ENDPOINTS = 5;
/** Bulk mode's target (issue 4): new connections per second through the seed twin, one core. */
const FLOWS_TARGET = 200_000;
const FLOW_SCENARIOS = ["seed-cluster", "seed-local"] as const;

const { values: args } = parseArgs({
  options: {
    services: { type: "string", default: "10000" },
    endpoints: { type: "string", default: "5" },
    packets: { type: "string", default: "20000" },
    warmup: { type: "string", default: "3000" },
    "parse-runs": { type: "string", default: "5" },
    "restore-runs": { type: "string", default: "5" },
    "twin-runs": { type: "string", default: "5" },
    "twin-warmup": { type: "string", default: "2" },
    /** Bulk mode: flows per timed run, timed runs and warm-up flows per scenario, virtual µs between flows. */
    flows: { type: "string", default: "1000000" },
    "flow-runs": { type: "string", default: "3" },
    "flow-warmup": { type: "string", default: "300000" },
    "flow-gap-us": { type: "string", default: "1000" },
    /** Only build the dist and time the control plane's twin; prints, never writes BENCHMARKS.md. */
    "twin-only": { type: "boolean", default: false },
    /** Only build the dist and run bulk mode's flows; prints, never writes BENCHMARKS.md. */
    "flows-only": { type: "boolean", default: false },
    "no-restore": { type: "boolean", default: false },
    "no-tsx": { type: "boolean", default: false },
    "no-report": { type: "boolean", default: false },
  },
});
const num = (name: keyof typeof args) => {
  const v = Number(args[name]);
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} must be a positive integer`);
  return v;
};
const services = num("services");
const endpoints = num("endpoints");
const packets = num("packets");
const warmup = num("warmup");
const parseRuns = num("parse-runs");
const restoreRuns = num("restore-runs");
const twinRuns = num("twin-runs");
// Untimed builds first, as the trace phase warms up: JIT tiers and the heap settle in the first runs.
const twinWarmup = Number(args["twin-warmup"]);
if (!Number.isInteger(twinWarmup) || twinWarmup < 0) throw new Error("--twin-warmup must be a whole number");
const flowOptions = {
  flows: num("flows"),
  runs: num("flow-runs"),
  warmup: num("flow-warmup"),
  gapUs: num("flow-gap-us"),
};
const log = (s: string) => process.stdout.write(`${s}\n`);
const loadAtStart = machine().load;

// 0. The code under test: src/ compiled by tsc, as shipped (see bench/engine.ts).
let t0 = process.hrtime.bigint();
const engine = await loadEngine("dist");
log(`built src/ with tsc into bench/out/dist in ${msSince(t0).toFixed(0)} ms`);
if (engine.buildWarnings)
  log(`warning: tsc reported type errors (the build still emitted):\n${engine.buildWarnings}`);

// Bulk mode's flows (bench/flows.ts); alone with --flows-only, else after the twin.
const flowLabel = `bulk mode ≥ ${FLOWS_TARGET.toLocaleString("en-US")} new connections/s on one core`;
const flowVerdict = (figures: readonly FlowFigures[]) => {
  const slowest = Math.min(...figures.map((f) => f.perSecond.median));
  const each = figures.map((f) => `${f.scenario} ${f.perSecond.median.toFixed(0)}/s`).join(", ");
  return `${slowest >= FLOWS_TARGET ? "**met**" : "**not met**"}: medians ${each} (target ≥ ${FLOWS_TARGET}/s)`;
};
function runFlows(): FlowFigures[] {
  const figures = flowsOnOneCore({ dist: DIST, scenarios: FLOW_SCENARIOS, seed: 1, ...flowOptions });
  for (const f of figures)
    log(
      `${f.scenario}: median ${f.perSecond.median.toFixed(0)} new connections/s (min ${f.perSecond.min.toFixed(0)}, max ${f.perSecond.max.toFixed(0)}); ${f.answered}/${f.timed} answered, ${f.expectedSource}/${f.timed} with the ${f.trafficPolicy} source; ${f.conntrackEntries} conntrack entries, ${f.lbFlows} LB flows at the end`,
    );
  log(`${flowLabel}: ${flowVerdict(figures).replace(/\*\*/g, "")}`);
  return figures;
}
if (args["flows-only"]) {
  runFlows();
  process.exit(0);
}

// 1. The control plane: the whole twin of a 100-node cluster, first, while the heap is fresh.
interface TwinFigures {
  readonly ms: Summary;
  readonly rules: number;
  readonly nodes: number;
  readonly distinctRulesets: number;
}
async function benchTwin(runs: number): Promise<TwinFigures> {
  const url = pathToFileURL(resolve(DIST, "controlplane", "build-twin.js")).href;
  const { buildTwin } = (await import(url)) as typeof import("../src/controlplane/build-twin.ts");
  const ms: number[] = [];
  let twin: Twin | null = null;
  for (let i = 0; i < twinWarmup; i++) {
    twin = null;
    const start = process.hrtime.bigint();
    twin = buildTwin(scaleScenario(TWIN_NODES, TWIN_SERVICES, TWIN_ENDPOINTS));
    log(`buildTwin warm-up ${i + 1}/${twinWarmup}: ${msSince(start).toFixed(0)} ms (not counted)`);
  }
  for (let i = 0; i < runs; i++) {
    twin = null; // the previous run's twin is garbage before the next one is built
    const scenario = scaleScenario(TWIN_NODES, TWIN_SERVICES, TWIN_ENDPOINTS);
    const start = process.hrtime.bigint();
    twin = buildTwin(scenario);
    ms.push(msSince(start));
    log(`buildTwin run ${i + 1}/${runs}: ${(ms[i] as number).toFixed(0)} ms`);
  }
  const t = twin as Twin;
  const rulesets = t.nodes.map((n) => n.ruleset);
  let rules = 0;
  for (const f of rulesets)
    for (const d of f.dumps)
      for (const table of d.tables) for (const c of table.chains) rules += c.rules.length;
  return { ms: summarize(ms), rules, nodes: t.nodes.length, distinctRulesets: new Set(rulesets).size };
}
const twin = await benchTwin(twinRuns);
const twinVerdict = `${twin.ms.median < TWIN_TARGET_MS ? "**met**" : "**not met**"}: median ${twin.ms.median.toFixed(0)} ms (target < ${TWIN_TARGET_MS} ms)`;
const twinLabel = `twin for ${TWIN_NODES} nodes and ${TWIN_SERVICES.toLocaleString("en-US")} services x ${TWIN_ENDPOINTS} endpoints`;
log(
  `buildTwin: median ${twin.ms.median.toFixed(0)} ms, min ${twin.ms.min.toFixed(0)} ms; ${twin.rules} rules over ${twin.nodes} nodes, ${twin.distinctRulesets} distinct rulesets`,
);
log(`${twinLabel} < 1 s: ${twinVerdict.replace(/\*\*/g, "")}`);
if (args["twin-only"]) process.exit(0);
const flows = runFlows();

// 2. The dump.
t0 = process.hrtime.bigint();
const gen = writeDefaultRuleset(undefined, { services, endpointsPerService: endpoints });
const genMs = msSince(t0);
const file = gen.path;
const relFile = relative(ROOT, file);
log(
  `generated ${relFile}: ${gen.ruleCount} rules (${Object.entries(gen.rulesByTable)
    .map(([t, n]) => `${t} ${n}`)
    .join(", ")}), ${gen.chainCount} chains, ${services} services x ${endpoints} endpoints, ` +
    `${(gen.text.length / 1e6).toFixed(1)} MB in ${genMs.toFixed(0)} ms`,
);

// 3. Parse.
const text = readFileSync(file, "utf8");
const parseMs: number[] = [];
let parsedFile: RulesetFile | null = null;
let diagnostics = 0;
for (let i = 0; i < parseRuns; i++) {
  parsedFile = null;
  t0 = process.hrtime.bigint();
  const parsed = engine.parseIptablesSave(text, basename(file));
  parseMs.push(msSince(t0));
  parsedFile = parsed.value;
  diagnostics = parsed.diagnostics.length;
  log(`parseIptablesSave run ${i + 1}/${parseRuns}: ${(parseMs[i] as number).toFixed(0)} ms`);
}
const parse = summarize(parseMs);
if (diagnostics) log(`warning: the parser reported ${diagnostics} diagnostics on the generated dump`);

let restore: RestoreResult[] = [];
if (!args["no-restore"]) {
  log(`iptables-restore --test (inside a throwaway network namespace pwb-${process.pid}):`);
  restore = benchRestore(file, restoreRuns, log);
  for (const r of restore) if (!r.wallMs) log(`  ${r.tool}: comparison skipped (${r.reason})`);
}

// 4. Compile once, then trace.
t0 = process.hrtime.bigint();
let compiled: CompiledRuleset | null = engine.compileRuleset(parsedFile as RulesetFile, {
  sourceName: basename(file),
});
const compileMs = msSince(t0);
log(`compileRuleset: ${compileMs.toFixed(0)} ms (${compiled.diagnostics.length} diagnostics)`);
const heapMb = process.memoryUsage().heapUsed / 2 ** 20;

interface TraceFigures {
  readonly us: Summary;
  readonly expected: number;
  readonly perSecond: number;
}
function benchTrace(e: Engine, rules: CompiledRuleset, mode: Mode): TraceFigures {
  const host = nodeHost(e, gen);
  const salt = mode === "exact" ? 1 : 0;
  for (const t of makeWorkload(gen, warmup, 0x5eed0000 + salt)) runOne(e, rules, host, t, mode);
  const work = makeWorkload(gen, packets, 0x5eed1000 + salt);
  const us = new Float64Array(work.length);
  let expected = 0;
  let total = 0n;
  for (let i = 0; i < work.length; i++) {
    const t = work[i] as (typeof work)[number];
    const start = process.hrtime.bigint();
    const result = runOne(e, rules, host, t, mode);
    const elapsed = process.hrtime.bigint() - start;
    total += elapsed;
    us[i] = Number(elapsed) / 1000;
    if (isExpected(t, mode, result)) expected++;
  }
  const perSecond = work.length / (Number(total) / 1e9);
  return { us: summarize(us), expected, perSecond };
}
const sampled = benchTrace(engine, compiled, "sampled");
log(`traceSampled: median ${fmt(sampled.us.median)} µs, p99 ${fmt(sampled.us.p99)} µs`);
const exact = benchTrace(engine, compiled, "exact");
log(`traceExact:   median ${fmt(exact.us.median)} µs, p99 ${fmt(exact.us.p99)} µs`);
for (const [name, f] of [
  ["traceSampled", sampled],
  ["traceExact", exact],
] as const) {
  if (f.expected !== packets)
    log(`warning: ${name}: only ${f.expected}/${packets} traces ended DNATed to an endpoint of the service`);
}

// The same traces with src/ run through tsx (how tests and scripts run it), for reference.
let viaTsx: { sampled: TraceFigures; exact: TraceFigures } | null = null;
if (!args["no-tsx"]) {
  compiled = null;
  const tsx = await loadEngine("tsx");
  const rules = tsx.compileRuleset(parsedFile as RulesetFile, { sourceName: basename(file) });
  viaTsx = { sampled: benchTrace(tsx, rules, "sampled"), exact: benchTrace(tsx, rules, "exact") };
  log(
    `via tsx: traceSampled median ${fmt(viaTsx.sampled.us.median)} µs, traceExact median ${fmt(viaTsx.exact.us.median)} µs`,
  );
}
parsedFile = null;

// 5. Report.
const m = machine();
const rev = spawnSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT, encoding: "utf8" }).stdout.trim();
const dirty = spawnSync("git", ["status", "--porcelain", "--", "src"], {
  cwd: ROOT,
  encoding: "utf8",
}).stdout.trim();
const revision = rev ? `${rev}${dirty ? " + uncommitted changes in src/" : ""}` : "unknown";
const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`;

const legacy = restore.find((r) => r.tool === "iptables-legacy-restore");
const nft = restore.find((r) => r.tool === "iptables-nft-restore");
const ratio = (r: RestoreResult | undefined) => (r?.wallMs ? r.wallMs.median / parse.median : null);
const parseVerdict = (r: RestoreResult | undefined) => {
  const x = ratio(r);
  if (x === null || !r?.wallMs) return `not measured (${r?.reason ?? "skipped"})`;
  const speed = x >= 1 ? `${x.toFixed(2)}x faster than` : `${(1 / x).toFixed(2)}x slower than`;
  return `${x >= PARSE_TARGET_RATIO ? "**met**" : "**not met**"}: ours ${parse.median.toFixed(0)} ms vs ${r.wallMs.median.toFixed(0)} ms, ${speed} ${r.tool} --test (target: ≥ ${PARSE_TARGET_RATIO}x faster, i.e. ≤ ${(r.wallMs.median / PARSE_TARGET_RATIO).toFixed(0)} ms)`;
};
const traceVerdict = (f: TraceFigures) =>
  `${f.us.median < TRACE_TARGET_US ? "**met**" : "**not met**"}: median ${fmt(f.us.median)} µs (target < ${TRACE_TARGET_US} µs)`;

const rows: [string, string, string, string][] = [
  [
    `buildTwin(scaleScenario()): ${TWIN_NODES} nodes`,
    `${twin.ms.median.toFixed(0)} ms`,
    `${twin.ms.min.toFixed(0)} ms`,
    `${twin.ms.n} runs; ${twin.rules} rules over ${twin.nodes} nodes, ${twin.distinctRulesets} distinct rulesets`,
  ],
  ["generate dump (bench/generate.ts)", `${genMs.toFixed(0)} ms`, "", "1 run"],
  ["parseIptablesSave", `${parse.median.toFixed(0)} ms`, `${parse.min.toFixed(0)} ms`, `${parseRuns} runs`],
];
for (const r of restore) {
  rows.push([
    `${r.tool} --test`,
    r.wallMs ? `${r.wallMs.median.toFixed(0)} ms` : "skipped",
    r.wallMs ? `${r.wallMs.min.toFixed(0)} ms` : "",
    r.wallMs
      ? `${r.wallMs.n} runs, wall clock incl. ~${fmt(r.overheadMs ?? 0)} ms process start`
      : (r.reason ?? ""),
  ]);
}
rows.push(["compileRuleset", `${compileMs.toFixed(0)} ms`, "", "1 run"]);
const traceRows: [string, TraceFigures][] = [
  ["traceSampled (1 random run)", sampled],
  [`traceExact (all ${endpoints} branches)`, exact],
];
if (viaTsx) {
  traceRows.push(["traceSampled, src/ via tsx", viaTsx.sampled], [`traceExact, src/ via tsx`, viaTsx.exact]);
}

const pad = (s: string, n: number) => s + " ".repeat(Math.max(0, n - s.length));
log("");
log(`${pad("step", 40)}${pad("median", 12)}${pad("min", 12)}notes`);
for (const [a, b, c, d] of rows) log(`${pad(a, 40)}${pad(b, 12)}${pad(c, 12)}${d}`);
log("");
log(`${pad("trace, per packet", 40)}${pad("median", 12)}${pad("p99", 12)}${pad("mean", 12)}packets/s`);
for (const [name, f] of traceRows)
  log(
    `${pad(name, 40)}${pad(`${fmt(f.us.median)} µs`, 12)}${pad(`${fmt(f.us.p99)} µs`, 12)}${pad(`${fmt(f.us.mean)} µs`, 12)}${f.perSecond.toFixed(0)}`,
  );
log("");
log(`parse target (≥ ${PARSE_TARGET_RATIO}x faster than iptables-restore --test):`);
log(`  legacy: ${parseVerdict(legacy).replace(/\*\*/g, "")}`);
log(`  nft:    ${parseVerdict(nft).replace(/\*\*/g, "")}`);
log(`${twinLabel} < 1 s: ${twinVerdict.replace(/\*\*/g, "")}`);
log(`${flowLabel}: ${flowVerdict(flows).replace(/\*\*/g, "")}`);
log(`trace target (< ${TRACE_TARGET_US} µs median per packet):`);
log(`  traceSampled: ${traceVerdict(sampled).replace(/\*\*/g, "")}`);
log(`  traceExact:   ${traceVerdict(exact).replace(/\*\*/g, "")}`);

if (!args["no-report"]) {
  const previous = existsSync(REPORT) ? readFileSync(REPORT, "utf8") : "";
  const at = previous.indexOf(NOTES_MARKER);
  const notes = at >= 0 ? previous.slice(at + NOTES_MARKER.length).replace(/^\n+/, "") : "";
  const md = `# Benchmarks

Written by \`bench/run.ts\` (\`${command}\`); rerun it to refresh the figures. Timings are reported here,
never asserted in tests.

## Machine

| | |
|---|---|
| CPU | ${m.cpu} |
| cores | ${m.cores} |
| memory | ${m.memoryGb} GiB |
| Node.js | ${m.node} |
| kernel | ${m.kernel} |
| iptables | ${m.iptables} |
| load average (1, 5, 15 min) | at start ${loadAtStart}; at end ${m.load} (other work on these ${m.cores} CPUs skews timings: expect ±20% between runs) |
| source measured | ${revision} |
| date | ${new Date().toISOString().slice(0, 10)} |

## What is measured, and how

* **The dump**: \`bench/generate.ts\` writes \`${relFile}\`, a deterministic (seeded) \`iptables-save\`
  dump of a kube-proxy node in the current (1.28+) iptables layout: ${services} service ports x ${endpoints}
  endpoints, ${gen.ruleCount} rules (${Object.entries(gen.rulesByTable)
    .map(([t, n]) => `${t} ${n}`)
    .join(
      ", ",
    )}) in ${gen.chainCount} chains, ${(gen.text.length / 1e6).toFixed(1)} MB. KUBE-SERVICES capture rules,
  KUBE-SVC chains (masquerade rule + statistic-random balancing with the kernel-printed probabilities),
  KUBE-SEP chains (KUBE-MARK-MASQ + DNAT), NodePort/LoadBalancer services with KUBE-EXT, KUBE-NODEPORTS,
  ETP=Local (KUBE-SVL, health-check ports), source ranges (KUBE-FW, KUBE-PROXY-FIREWALL), the fixed
  kube-proxy/kubelet chains, the AKS wireserver block and ip-masq-agent. Chain names use kube-proxy's hash.
  largeClusterMode applies (over 1000 endpoints), so balancing and KUBE-SEP rules carry no comments.
  \`iptables-legacy-restore\` + \`iptables-legacy-save\` 1.8.9 in a scratch network namespace print every
  table of it back byte for byte (\`node --import tsx bench/verify-generator.ts\`).
* **The code measured** is src/ compiled by the project's tsc (\`tsconfig.build.json\`) into
  \`bench/out/dist\`, as \`npm run build\` makes \`dist/\` for \`bin/packetwalk.js\`: what users run.
  The "via tsx" rows run src/ through the tsx loader instead (as tests do): tsx compiles with esbuild's
  \`keepNames\`, which wraps every closure creation in \`__name()\` (an \`Object.defineProperty\`), a
  cost shipped code does not pay (see bench/engine.ts).
* **Twin**: \`buildTwin(scaleScenario())\` (src/controlplane/build-twin.ts, bench/twin-scenario.ts): the
  whole control plane for ${TWIN_NODES} nodes, ${TWIN_SERVICES / 5} Deployments x ${TWIN_ENDPOINTS} replicas and
  ${TWIN_SERVICES} services with ${TWIN_ENDPOINTS} endpoints each (every 100th a LoadBalancer, half of those
  externalTrafficPolicy Local), current kube-proxy layout: Azure resources, pods, endpoints, and every node's
  runtime, network and iptables. ${twinWarmup} untimed warm-up builds, then ${twinRuns} timed runs in one process, first in the bench; the
  scenario is built outside the timed region. "distinct rulesets" counts the RulesetFile objects the nodes
  hold: nodes whose node-dependent kube-proxy inputs are equal share one (src/controlplane/kube-proxy/cluster-rules.ts).
* **Flows (bulk mode)**: \`BulkTwin.run()\` (src/dataplane/sim/bulk/, bench/flows.ts) on the twins of
  ${FLOW_SCENARIOS.map((n) => `\`scenarios/${n}.yaml\``).join(" and ")} (read and built as the CLI does): new TCP connections from random
  public client addresses and ports to the LoadBalancer service's frontend, each through the Azure LB (rule,
  5-tuple hash, flow table), the node's netfilter with its conntrack table (DNAT, and MASQUERADE for
  externalTrafficPolicy Cluster), the bridge and veth to the pod, and the pod's SYN-ACK back through
  conntrack's reverse NAT and out of the node from the frontend (DSR); no narration, no captures. Flows are
  ${flowOptions.gapUs.toLocaleString("en-US")} µs apart on the virtual clock (${(1e6 / flowOptions.gapUs).toLocaleString("en-US")} new connections per virtual second), after
  ${flowOptions.warmup.toLocaleString("en-US")} warm-up flows, so the tables are at the size that rate keeps: at the end
  ${flows.map((f) => `${f.scenario} held ${f.conntrackEntries.toLocaleString("en-US")} conntrack entries (SYN_RECV lasts 60 s) and ${f.lbFlows.toLocaleString("en-US")} LB flows (4 minutes idle)`).join("; ")}.
  ${flowOptions.runs} timed runs of ${flowOptions.flows.toLocaleString("en-US")} flows per scenario in one \`node --single-threaded\` process (no GC or
  compiler helper threads: one core), each run timed
  as a whole (\`process.hrtime.bigint\`); median, min and max of the runs. Checked afterwards, outside the
  timed region: ${flows.map((f) => `${f.scenario} ${f.answered}/${f.timed} answered, ${f.expectedSource}/${f.timed} seen by the pod from the ${f.trafficPolicy === "Local" ? "client's address" : "node's address"}, per pod ${f.perPod.map((p) => `${p.pod.split("/")[1]} ${p.flows}`).join(", ")}`).join("; ")}.
* **Parse**: \`parseIptablesSave(text)\` on the file's contents (already in memory), ${parseRuns} runs in one
  process; median and min of wall time (\`process.hrtime.bigint\`). The first run includes JIT warm-up.
* **iptables-restore --test**: \`ip netns exec pwb-<pid> iptables-{legacy,nft}-restore --test FILE\`, inside
  a network namespace created for the run and deleted afterwards (the host's tables are never touched);
  ${restoreRuns} runs each, wall time of the whole process (includes reading the file, process start of
  ~${fmt(legacy?.overheadMs ?? Number.NaN)} ms, and for nft building and validating the batch in the kernel).
* **Compile**: \`compileRuleset\` once on the parsed file.
* **Trace**: one packet per call, the first packet of a new connection (TCP SYN, or UDP) from a client
  outside the node (src in 172.16.0.0/12, in on \`eth0\`, node address ${gen.nodeIp >>> 24}.${(gen.nodeIp >>> 16) & 255}.${(gen.nodeIp >>> 8) & 255}.${gen.nodeIp & 255}) to the
  cluster IP and port of a random generated service. Each call builds a fresh conntrack table and engine
  state, as \`packetwalk iptables trace\` does. ${warmup} warm-up packets, then ${packets} timed packets, each
  timed on its own with \`process.hrtime.bigint\`; packets are built before timing. Every trace is checked
  afterwards (outside the timed region) to end ACCEPTed and DNATed to an endpoint of its service
  (traceExact: ${endpoints} outcomes, one per endpoint): traceSampled ${sampled.expected}/${packets}, traceExact ${exact.expected}/${packets}.

## Figures

| step | median | min | notes |
|---|---:|---:|---|
${rows.map((r) => `| ${r.join(" | ")} |`).join("\n")}

Heap in use after compiling: ${heapMb.toFixed(0)} MiB.

| trace, per packet | median | p90 | p99 | mean | max | packets/s |
|---|---:|---:|---:|---:|---:|---:|
${traceRows
  .map(
    ([name, f]) =>
      `| ${name} | ${fmt(f.us.median)} µs | ${fmt(f.us.p90)} µs | ${fmt(f.us.p99)} µs | ${fmt(f.us.mean)} µs | ${fmt(f.us.max, 0)} µs | ${f.perSecond.toFixed(0)} |`,
  )
  .join("\n")}

| flows (bulk mode), new connections per second | median | min | max | notes |
|---|---:|---:|---:|---|
${flows
  .map(
    (f) =>
      `| ${f.scenario} (externalTrafficPolicy ${f.trafficPolicy}, ${f.frontend}) | ${f.perSecond.median.toFixed(0)} | ${f.perSecond.min.toFixed(0)} | ${f.perSecond.max.toFixed(0)} | ${f.perSecond.n} runs of ${f.flows.toLocaleString("en-US")} flows |`,
  )
  .join("\n")}

## Targets

| target | result |
|---|---|
| ${twinLabel} < 1 s | ${twinVerdict} |
| ${flowLabel} | ${flowVerdict(flows)} |
| parse at least ${PARSE_TARGET_RATIO}x faster than \`iptables-legacy-restore --test\` | ${parseVerdict(legacy)} |
| parse at least ${PARSE_TARGET_RATIO}x faster than \`iptables-nft-restore --test\` | ${parseVerdict(nft)} |
| single-packet trace < ${TRACE_TARGET_US} µs median: traceSampled | ${traceVerdict(sampled)} |
| single-packet trace < ${TRACE_TARGET_US} µs median: traceExact (${endpoints} branches) | ${traceVerdict(exact)} |

${NOTES_MARKER}

${notes}`;
  writeFileSync(REPORT, `${md.trimEnd()}\n`);
  log(`\nwrote ${relative(process.cwd(), REPORT) || REPORT}`);
}
