import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { cpus, loadavg, release, totalmem } from "node:os";

/** Summary statistics over timings; quantiles are nearest-rank on the sorted sample. */
export interface Summary {
  readonly n: number;
  readonly min: number;
  readonly median: number;
  readonly mean: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

export function summarize(values: ArrayLike<number>): Summary {
  const sorted = Float64Array.from(values).sort();
  const n = sorted.length;
  if (n === 0)
    return {
      n,
      min: Number.NaN,
      median: Number.NaN,
      mean: Number.NaN,
      p90: Number.NaN,
      p99: Number.NaN,
      max: Number.NaN,
    };
  const at = (q: number) => sorted[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))] as number;
  let sum = 0;
  for (const v of sorted) sum += v;
  const median =
    n % 2 ? (sorted[(n - 1) / 2] as number) : ((sorted[n / 2 - 1] as number) + (sorted[n / 2] as number)) / 2;
  return {
    n,
    min: sorted[0] as number,
    median,
    mean: sum / n,
    p90: at(0.9),
    p99: at(0.99),
    max: sorted[n - 1] as number,
  };
}

/** Milliseconds since `start` (a process.hrtime.bigint() reading). */
export function msSince(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6;
}

export interface Machine {
  readonly cpu: string;
  readonly cores: number;
  readonly memoryGb: number;
  readonly node: string;
  readonly kernel: string;
  readonly iptables: string;
  /** 1, 5 and 15 minute load averages when asked (other work on the machine skews timings). */
  readonly load: string;
}

export function machine(): Machine {
  let cpu = cpus()[0]?.model ?? "unknown";
  let cores = cpus().length;
  try {
    const info = readFileSync("/proc/cpuinfo", "utf8");
    const m = /^model name\s*:\s*(.+)$/m.exec(info);
    if (m) cpu = (m[1] as string).trim();
    cores = (info.match(/^processor\s*:/gm) ?? []).length || cores;
  } catch {
    // not Linux: keep os.cpus()
  }
  const ipt = spawnSync("iptables-legacy-restore", ["--version"], { encoding: "utf8" });
  return {
    cpu,
    cores,
    memoryGb: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    kernel: release(),
    iptables: ipt.status === 0 ? ipt.stdout.trim().replace(/ \(legacy\)$/, "") : "not installed",
    load: loadavg()
      .map((l) => l.toFixed(2))
      .join(", "),
  };
}

export function fmt(v: number, digits = 1): string {
  return Number.isFinite(v) ? v.toFixed(digits) : "-";
}
