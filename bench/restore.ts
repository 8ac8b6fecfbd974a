import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { type Summary, summarize } from "./stats.ts";

/**
 * Times `iptables-restore --test FILE` (legacy and nft) for comparison with our parser. Runs only
 * inside a network namespace created for the purpose (`pwb-<pid>`) and deleted afterwards, on every
 * exit path, so the host's own tables are never touched. `--test` parses the file and builds the
 * table blob (legacy) or the batch (nft), and commits nothing.
 */

export interface RestoreResult {
  readonly tool: string;
  /** Null when skipped; `reason` says why. */
  readonly wallMs: Summary | null;
  readonly reason: string | null;
  /** Median of `ip netns exec NS true`, the process-start overhead included in wallMs. */
  readonly overheadMs: number | null;
}

const TOOLS = ["iptables-legacy-restore", "iptables-nft-restore"] as const;

function which(cmd: string): string | null {
  for (const dir of (process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin")
    .split(":")
    .concat(["/usr/sbin", "/sbin"])) {
    const p = `${dir}/${cmd}`;
    if (existsSync(p)) return p;
  }
  return null;
}

function timeRun(cmd: string, args: string[]): { ms: number; status: number | null; stderr: string } {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  return { ms, status: r.status, stderr: (r.stderr ?? "") + (r.error ? String(r.error) : "") };
}

export function benchRestore(file: string, runs: number, log: (s: string) => void): RestoreResult[] {
  const skipAll = (reason: string) => TOOLS.map((tool) => ({ tool, wallMs: null, reason, overheadMs: null }));
  if (typeof process.getuid === "function" && process.getuid() !== 0)
    return skipAll("not root (a network namespace is needed)");
  const ip = which("ip");
  if (!ip) return skipAll("`ip` (iproute2) not installed");

  const ns = `pwb-${process.pid}`;
  const add = spawnSync(ip, ["netns", "add", ns], { encoding: "utf8" });
  if (add.status !== 0) return skipAll(`cannot create network namespace ${ns}: ${add.stderr.trim()}`);
  let deleted = false;
  const cleanup = () => {
    if (deleted) return;
    deleted = true;
    spawnSync(ip, ["netns", "delete", ns]);
  };
  const onSignal = (sig: NodeJS.Signals) => {
    cleanup();
    process.kill(process.pid, sig);
  };
  process.once("exit", cleanup);
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    const overhead = summarize(
      Array.from({ length: 5 }, () => timeRun(ip, ["netns", "exec", ns, "true"]).ms),
    ).median;
    return TOOLS.map((tool): RestoreResult => {
      const bin = which(tool);
      if (!bin) return { tool, wallMs: null, reason: "not installed", overheadMs: null };
      const times: number[] = [];
      for (let i = 0; i < runs; i++) {
        const r = timeRun(ip, ["netns", "exec", ns, bin, "--test", file]);
        if (r.status !== 0) {
          return {
            tool,
            wallMs: null,
            reason: `exit ${r.status}: ${r.stderr.trim().split("\n").slice(0, 3).join(" / ")}`,
            overheadMs: null,
          };
        }
        times.push(r.ms);
        log(`  ${tool} --test run ${i + 1}/${runs}: ${r.ms.toFixed(0)} ms`);
      }
      return { tool, wallMs: summarize(times), reason: null, overheadMs: overhead };
    });
  } finally {
    cleanup();
    process.removeListener("exit", cleanup);
    process.removeListener("SIGINT", onSignal);
    process.removeListener("SIGTERM", onSignal);
  }
}
