import { readFileSync } from "node:fs";
import { PROBE_STATE_VERSION, type ProbeState, probeStatePath } from "./probe-state.ts";
import { LabError, readLedger } from "./run.ts";

/**
 * The running lab's LB prober (src/lab/prober.ts), from the outside: its state, and a cooperative
 * pause for whoever needs the kernel's counters undisturbed by probe packets (`lab verify`).
 * The prober is found through the ledger; its state file says it is the same process.
 */

export type { ProbeState } from "./probe-state.ts";

/** The prober's last written state; null when no lab is up, it has no prober, or it has not written yet. */
export function readProbeState(ledgerPath: string): ProbeState | null {
  try {
    const s = JSON.parse(readFileSync(probeStatePath(ledgerPath), "utf8")) as ProbeState;
    return s.version === PROBE_STATE_VERSION && Array.isArray(s.frontends) ? s : null;
  } catch {
    return null;
  }
}

/** The prober's pid when it runs (the ledger's, alive, and the one that writes the state); null without one. */
function proberPid(ledgerPath: string): number | null {
  const ledger = readLedger(ledgerPath);
  if (!ledger) throw new LabError("No lab is up: start one with `packetwalk lab up`");
  const pid = ledger.processes.find((p) => p.kind === "prober")?.pid ?? null;
  if (pid === null) return null;
  if (readProbeState(ledgerPath)?.pid !== pid)
    throw new LabError(`The LB's prober (pid ${pid}) has no state`);
  try {
    process.kill(pid, 0);
  } catch {
    throw new LabError(`The LB's prober (pid ${pid}) is not running: \`packetwalk lab status\``);
  }
  return pid;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Asks the prober to stop probing (SIGUSR1) and waits until it says it has: the probes in flight
 * finished and their sockets closed. Resolves at once when the lab has no prober.
 */
export async function pauseProbes(ledgerPath: string, timeoutMs = 15_000): Promise<void> {
  const pid = proberPid(ledgerPath);
  if (pid === null) return;
  const before = readProbeState(ledgerPath)?.pauses ?? 0;
  process.kill(pid, "SIGUSR1");
  const until = Date.now() + timeoutMs;
  for (;;) {
    const s = readProbeState(ledgerPath);
    if (s?.paused && s.pauses > before) return;
    if (Date.now() > until)
      throw new LabError(`The LB's prober (pid ${pid}) did not pause within ${timeoutMs / 1000} s`);
    await sleep(20);
  }
}

/** Lets the prober probe again (SIGUSR2); it starts a fresh round. */
export function resumeProbes(ledgerPath: string): void {
  const pid = proberPid(ledgerPath);
  if (pid !== null) process.kill(pid, "SIGUSR2");
}

/**
 * Waits until the prober has completed `rounds` more full rounds (every backend probed; after a
 * resume the first round is wholly after it, else the first may have begun before the call).
 * Resolves with the state then; at once, with the current state (or null), when there is no prober.
 */
export async function waitForProbeRound(
  ledgerPath: string,
  rounds = 1,
  timeoutMs?: number,
): Promise<ProbeState | null> {
  const pid = proberPid(ledgerPath);
  const start = readProbeState(ledgerPath);
  if (pid === null || !start) return start;
  // A round lasts about the longest interval, plus a probe's timeout.
  const limit = timeoutMs ?? (rounds + 1) * 15_000;
  const until = Date.now() + limit;
  for (;;) {
    const s = readProbeState(ledgerPath);
    if (s && s.round >= start.round + rounds) return s;
    if (Date.now() > until)
      throw new LabError(
        `The LB's prober did not complete ${rounds} round(s) within ${limit / 1000} s${s?.paused ? " (it is paused: resumeProbes)" : ""}`,
      );
    await sleep(50);
  }
}
