import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector";
import { basename, dirname, resolve } from "node:path";
import { compileRuleset } from "../src/dataplane/sim/netfilter/compile.ts";
import { staticHost } from "../src/dataplane/sim/netfilter/static-host.ts";
import { traceExact, traceSampled } from "../src/dataplane/sim/netfilter/trace.ts";
import { parseIptablesSave } from "../src/inputs/iptables/parse-save.ts";
import { writeDefaultRuleset } from "./generate.ts";
import { type Mode, makeWorkload, nodeHost, runOne } from "./workload.ts";

/**
 * One phase of the benchmark alone, under the V8 sampling profiler (100 µs interval), which is
 * started after the setup (generate, parse, compile as needed) so the profile holds only the phase.
 * Bundle first so the profile has real line numbers (tsx maps every function to line 1):
 *   npx esbuild bench/profile.ts --bundle --platform=node --format=esm --outfile=bench/out/profile.mjs
 *   node bench/out/profile.mjs parse|compile|sampled|exact [N] [services]  -> bench/out/prof/<phase>.cpuprofile
 *   node --import tsx bench/cpuprofile-summary.ts bench/out/prof/<phase>.cpuprofile
 * (`node --import tsx bench/profile.ts ...` works too, but every location is line 1 and tsx's keepNames
 * `__name` wrappers distort closure-heavy code.)
 */

const phase = process.argv[2] ?? "sampled";
const n = Number(process.argv[3] ?? (phase === "parse" || phase === "compile" ? 3 : 20_000));
// An optional third argument sets the number of services (default 10,000): a small ruleset shows the
// compute cost alone, without the cache misses of a large heap.
const services = Number(process.argv[4] ?? 10_000);
const g = writeDefaultRuleset(undefined, { services });
const text = readFileSync(g.path, "utf8");
const session = new Session();
session.connect();
const post = (method: string, params?: object) =>
  new Promise<unknown>((ok, fail) =>
    session.post(method, params ?? {}, (err, res) => (err ? fail(err) : ok(res))),
  );
const out = resolve(process.cwd(), "bench", "out", "prof", `${phase}.cpuprofile`);
async function profiled(run: () => void): Promise<void> {
  await post("Profiler.enable");
  await post("Profiler.setSamplingInterval", { interval: 100 });
  await post("Profiler.start");
  run();
  const { profile } = (await post("Profiler.stop")) as { profile: unknown };
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(profile));
  console.log(`wrote ${out}`);
}
const mark = (label: string, start: bigint) =>
  console.log(`${label}: ${(Number(process.hrtime.bigint() - start) / 1e6).toFixed(0)} ms`);

if (phase === "parse") {
  await profiled(() => {
    for (let i = 0; i < n; i++) {
      const t = process.hrtime.bigint();
      parseIptablesSave(text, basename(g.path));
      mark(`parse ${i + 1}`, t);
    }
  });
} else {
  const file = parseIptablesSave(text, basename(g.path)).value;
  if (phase === "compile") {
    await profiled(() => {
      for (let i = 0; i < n; i++) {
        const t = process.hrtime.bigint();
        compileRuleset(file);
        mark(`compile ${i + 1}`, t);
      }
    });
  } else if (phase === "sampled" || phase === "exact") {
    const rules = compileRuleset(file);
    const engine = { traceSampled, traceExact };
    const host = nodeHost({ staticHost }, g);
    for (const p of makeWorkload(g, 3000, 0xfeed)) runOne(engine, rules, host, p, phase as Mode); // warm-up
    const work = makeWorkload(g, n, 0xbeef);
    await profiled(() => {
      const t = process.hrtime.bigint();
      for (const p of work) runOne(engine, rules, host, p, phase as Mode);
      mark(`${n} ${phase} traces`, t);
    });
  } else throw new Error(`unknown phase ${phase}: expected parse, compile, sampled or exact`);
}
