import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { hostLabLinks, labNamespacesNow, labPreflight, labProcessesNow } from "../../src/lab/run.ts";
import { cliStore } from "../support/cli.ts";

/**
 * What the real-kernel lab tests share: why they skip, what a lab left behind, the CLI in-process
 * (lab exec, status, down) and as a child process (lab up and verify are asynchronous and handle
 * signals), all with the kept state under a test's own home.
 */

const ROOT = new URL("../../", import.meta.url).pathname;
const ENTRY = join(ROOT, "test/lab/cli-entry.ts");

/** Why the lab cannot run here, or null. The namespace names are fixed: a lab already up is not ours to take down. */
export function labSkipReason(tools: readonly string[]): string | null {
  const why = labPreflight(tools);
  if (why) return why;
  if (labNamespacesNow().length > 0) return "a pwl- lab is already up on this machine (packetwalk lab down)";
  return null;
}

/** Every lab namespace, server process and host link still there (empty after a clean lab down). */
export function labLeftovers(): string[] {
  return [
    ...labNamespacesNow().map((n) => `namespace ${n}`),
    ...labProcessesNow().map((p) => `process ${p}`),
    ...hostLabLinks().map((l) => `host link ${l}`),
  ];
}

/** The CLI in-process, its kept state in `home`. */
export const labCli = cliStore;

/** The CLI as a child process over the sources. */
export function startCli(home: string, ...args: string[]): ChildProcess {
  return spawn(process.execPath, ["--import", "tsx", ENTRY, ...args], {
    cwd: ROOT,
    env: { ...process.env, PACKETWALK_HOME: home },
    stdio: ["ignore", "pipe", "pipe"],
  });
}

export interface Finished {
  readonly code: number | null;
  readonly signal: string | null;
  readonly stdout: string;
  readonly stderr: string;
}

export function finished(child: ChildProcess): Promise<Finished> {
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  return new Promise((resolve) =>
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
}
