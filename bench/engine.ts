import { spawnSync } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/**
 * The code under test, loaded one of two ways:
 * - "dist": src/ compiled by tsc (tsconfig.build.json) into bench/out/dist, as `npm run build` makes
 *   dist/ for bin/packetwalk.js: the code users run. The default.
 * - "tsx": src/*.ts through the tsx loader, as tests and scripts run. tsx compiles with esbuild's
 *   keepNames, which wraps every function and closure creation in `__name(fn, "...")`
 *   (Object.defineProperty per closure): a real cost on paths that create closures per packet, that
 *   shipped code does not pay.
 */

export interface Engine {
  readonly kind: "dist" | "tsx";
  readonly parseIptablesSave: typeof import("../src/inputs/iptables/parse-save.ts").parseIptablesSave;
  readonly compileRuleset: typeof import("../src/dataplane/sim/netfilter/compile.ts").compileRuleset;
  readonly traceSampled: typeof import("../src/dataplane/sim/netfilter/trace.ts").traceSampled;
  readonly traceExact: typeof import("../src/dataplane/sim/netfilter/trace.ts").traceExact;
  readonly staticHost: typeof import("../src/dataplane/sim/netfilter/static-host.ts").staticHost;
  /** tsc's messages when the build had type errors (it still emits), else null. */
  readonly buildWarnings: string | null;
}

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const DIST = resolve(ROOT, "bench", "out", "dist");

/** Compiles src/ into bench/out/dist with the project's tsc; returns tsc's output on type errors. */
export function buildDist(): string | null {
  rmSync(DIST, { recursive: true, force: true });
  const tsc = resolve(ROOT, "node_modules", ".bin", "tsc");
  const r = spawnSync(
    tsc,
    ["-p", "tsconfig.build.json", "--outDir", DIST, "--declaration", "false", "--sourceMap", "false"],
    { cwd: ROOT, encoding: "utf8" },
  );
  if (!existsSync(resolve(DIST, "inputs", "iptables", "parse-save.js")))
    throw new Error(`tsc did not build src/ into ${DIST}:\n${r.stdout}${r.stderr}${r.error ?? ""}`);
  return r.status === 0 ? null : `${r.stdout}${r.stderr}`.trim();
}

export async function loadEngine(kind: "dist" | "tsx"): Promise<Engine> {
  let buildWarnings: string | null = null;
  let at: (path: string) => string;
  if (kind === "dist") {
    buildWarnings = buildDist();
    at = (path) => pathToFileURL(resolve(DIST, `${path}.js`)).href;
  } else at = (path) => pathToFileURL(resolve(ROOT, "src", `${path}.ts`)).href;
  const parse = (await import(
    at("inputs/iptables/parse-save")
  )) as typeof import("../src/inputs/iptables/parse-save.ts");
  const compile = (await import(
    at("dataplane/sim/netfilter/compile")
  )) as typeof import("../src/dataplane/sim/netfilter/compile.ts");
  const trace = (await import(
    at("dataplane/sim/netfilter/trace")
  )) as typeof import("../src/dataplane/sim/netfilter/trace.ts");
  const host = (await import(
    at("dataplane/sim/netfilter/static-host")
  )) as typeof import("../src/dataplane/sim/netfilter/static-host.ts");
  return {
    kind,
    parseIptablesSave: parse.parseIptablesSave,
    compileRuleset: compile.compileRuleset,
    traceSampled: trace.traceSampled,
    traceExact: trace.traceExact,
    staticHost: host.staticHost,
    buildWarnings,
  };
}
