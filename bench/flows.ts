import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { type Summary, summarize } from "./stats.ts";

/**
 * The bulk-mode phase of `npm run bench` (issue 4): new TCP connections per second through the
 * seed's twins (scenarios/seed-cluster.yaml and seed-local.yaml, read as the CLI reads them) in
 * bulk mode (src/dataplane/sim/bulk: LB, node netfilter with conntrack, pod, SYN-ACK back), on
 * one thread. The code measured is the tsc build of src/ (bench/out/dist), as for the other phases.
 *
 * Flows come from random outside clients to the LoadBalancer service's frontend, `gapUs` apart on
 * the virtual clock, so conntrack's SYN_RECV entries (60 s) and the LB's flows (4 minutes idle)
 * reach the steady size that rate gives before the timed runs start (the warm-up spans more than
 * the LB's idle timeout). Each timed run is one BulkTwin.run() call, timed as a whole with
 * process.hrtime.bigint(); its results are checked afterwards, outside the timed region.
 *
 * run.ts runs this file in a child process started with `node --single-threaded` (flowsOnOneCore):
 * V8's garbage collector and compiler then use no helper threads, so the figure is one core's.
 * As a script it takes its FlowOptions (without `log`) as JSON in argv[2] and prints FlowFigures[]
 * as JSON on stdout, its progress on stderr.
 */

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

export interface FlowOptions {
  /** Where the tsc build of src/ is (bench/engine.ts DIST). */
  readonly dist: string;
  /** Built-in scenario names (scenarios/NAME.yaml). */
  readonly scenarios: readonly string[];
  /** Flows per timed run, timed runs per scenario, warm-up flows. */
  readonly flows: number;
  readonly runs: number;
  readonly warmup: number;
  /** Virtual time between flows (µs). */
  readonly gapUs: number;
  readonly seed: number;
  readonly log: (line: string) => void;
}

export interface FlowFigures {
  readonly scenario: string;
  readonly trafficPolicy: "Cluster" | "Local";
  readonly frontend: string;
  readonly gapUs: number;
  readonly flows: number;
  /** New connections per second of each timed run. */
  readonly perSecond: Summary;
  readonly runs: readonly number[];
  /** Flows answered (SYN-ACK back out towards the client) over all timed runs, and flows timed. */
  readonly answered: number;
  readonly timed: number;
  /** Flows whose pod saw the source the service's traffic policy gives (node IP / client IP). */
  readonly expectedSource: number;
  /** Flows per pod that got any, over all timed runs. */
  readonly perPod: readonly { readonly pod: string; readonly flows: number }[];
  /** Table sizes at the end: confirmed conntrack entries (expired ones purged first), LB flows. */
  readonly conntrackEntries: number;
  readonly lbFlows: number;
}

type BulkModule = typeof import("../src/dataplane/sim/bulk/bulk.ts");
type ParseModule = typeof import("../src/inputs/scenario/parse.ts");
type BuildModule = typeof import("../src/controlplane/build-twin.ts");
type RngModule = typeof import("../src/core/rng.ts");
type IpModule = typeof import("../src/core/ip.ts");

export async function benchFlows(o: FlowOptions): Promise<FlowFigures[]> {
  const at = (path: string) => pathToFileURL(resolve(o.dist, `${path}.js`)).href;
  const bulk = (await import(at("dataplane/sim/bulk/bulk"))) as BulkModule;
  const { parseScenario } = (await import(at("inputs/scenario/parse"))) as ParseModule;
  const { buildTwin } = (await import(at("controlplane/build-twin"))) as BuildModule;
  const { seededRng } = (await import(at("core/rng"))) as RngModule;
  const { parseIpv4 } = (await import(at("core/ip"))) as IpModule;
  const out: FlowFigures[] = [];
  for (const name of o.scenarios) {
    const path = resolve(ROOT, "scenarios", `${name}.yaml`);
    const parsed = parseScenario(readFileSync(path, "utf8"), path, (p) =>
      readFileSync(resolve(dirname(path), p), "utf8"),
    );
    if (!parsed.value)
      throw new Error(`scenario ${name}: ${parsed.diagnostics.map((d) => d.message).join("; ")}`);
    const twin = buildTwin(parsed.value);
    const svc = twin.k8s.services.find((s) => s.type === "LoadBalancer" && s.loadBalancerIngress.length > 0);
    const vipText = svc?.loadBalancerIngress[0];
    const port = svc?.ports[0]?.port;
    const vip = vipText === undefined ? null : parseIpv4(vipText);
    if (!svc || vip === null || port === undefined)
      throw new Error(`scenario ${name}: no LoadBalancer service`);
    const nodeIps = new Set(twin.nodes.map((n) => parseIpv4(n.ip)));
    const start = twin.now * 1_000_000;
    const b = new bulk.BulkTwin(twin, { seed: o.seed, start });
    const rng = seededRng(o.seed + 1);
    let t = start;
    b.run({ count: o.warmup, rng, to: { ip: vip, port }, start: t, gapUs: o.gapUs });
    t += o.warmup * o.gapUs;
    const rates: number[] = [];
    const perPod = new Map<string, number>();
    let answered = 0;
    let expectedSource = 0;
    for (let i = 0; i < o.runs; i++) {
      const begin = process.hrtime.bigint();
      const r = b.run({ count: o.flows, rng, to: { ip: vip, port }, start: t, gapUs: o.gapUs });
      const seconds = Number(process.hrtime.bigint() - begin) / 1e9;
      t += o.flows * o.gapUs;
      rates.push(o.flows / seconds);
      // Checked outside the timed region.
      answered += r.perVerdict[bulk.VERDICT.answered] as number;
      for (const pod of b.pods) {
        const n = r.perPod[pod.index] as number;
        if (n) perPod.set(pod.id, (perPod.get(pod.id) ?? 0) + n);
      }
      for (let k = 0; k < r.count; k++) {
        const seen = r.seenSrc[k] as number;
        if (svc.externalTrafficPolicy === "Local" ? seen === r.client[k] : nodeIps.has(seen))
          expectedSource++;
      }
      o.log(
        `${name}: run ${i + 1}/${o.runs}: ${o.flows} flows in ${(seconds * 1000).toFixed(0)} ms, ${(o.flows / seconds).toFixed(0)}/s`,
      );
    }
    out.push({
      scenario: name,
      trafficPolicy: svc.externalTrafficPolicy,
      frontend: `${vipText}:${port}`,
      gapUs: o.gapUs,
      flows: o.flows,
      perSecond: summarize(rates),
      runs: rates,
      answered,
      timed: o.flows * o.runs,
      expectedSource,
      perPod: [...perPod].map(([pod, flows]) => ({ pod, flows })),
      conntrackEntries: b.nodes.reduce((n, node) => n + node.conntrack.size, 0),
      lbFlows: b.fabric.flowCount,
    });
  }
  return out;
}

/** benchFlows in a `node --single-threaded` child process (see above). */
export function flowsOnOneCore(o: Omit<FlowOptions, "log">): FlowFigures[] {
  const script = fileURLToPath(import.meta.url);
  const r = spawnSync(process.execPath, ["--single-threaded", "--import", "tsx", script, JSON.stringify(o)], {
    cwd: ROOT,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0) throw new Error(`bench/flows.ts exited with ${r.status ?? r.signal}: ${r.error ?? ""}`);
  return JSON.parse(r.stdout) as FlowFigures[];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const o = JSON.parse(process.argv[2] ?? "{}") as Omit<FlowOptions, "log">;
  const figures = await benchFlows({ ...o, log: (line) => process.stderr.write(`${line}\n`) });
  process.stdout.write(JSON.stringify(figures));
}
