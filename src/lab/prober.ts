import { spawn } from "node:child_process";
import { readlinkSync, renameSync, statSync, writeFileSync } from "node:fs";
import net from "node:net";
import tls from "node:tls";
import type { LabProber, LabProbeTarget } from "./plan.ts";
import {
  initialProbeState,
  markRouted,
  type ProbeState,
  recordProbe,
  routeChanges,
  setPaused,
} from "./probe-state.ts";

/**
 * The Azure LB's probe loop: a process in pwl-az, started by `lab up` with `ip netns exec pwl-az`.
 * argv: the lab's process marker, the state file, the prober's plan (LabProber as JSON). Each target
 * is probed from 168.63.129.16 on its own schedule (first at its offset, then every interval, as the
 * simulator's scheduler); each result goes through probe-state.ts, and a frontend whose healthy set
 * changed gets its route in pwl-az replaced. SIGUSR1: no new probe, the ones in flight finish (their
 * sockets closed), then `paused: true` is written; SIGUSR2: probing again, from a fresh round.
 */

interface Outcome {
  readonly ok: boolean;
  readonly text: string;
}

/** Tcp: up when the handshake completes; Http(s): up on a 200 (as world/probe-answer.ts judges). */
function probeOnce(t: LabProbeTarget, source: string): Promise<Outcome> {
  return new Promise((resolve) => {
    let outcome: Outcome | null = null;
    const settle = (ok: boolean, text: string) => {
      outcome ??= { ok, text };
    };
    const opts = { host: t.nodeIp, port: t.port, localAddress: source };
    const sock =
      t.protocol === "Https" ? tls.connect({ ...opts, rejectUnauthorized: false }) : net.connect(opts);
    const timer = setTimeout(() => {
      settle(false, `no answer within ${t.timeoutMs / 1000} s`);
      sock.destroy();
    }, t.timeoutMs);
    sock.on(t.protocol === "Https" ? "secureConnect" : "connect", () => {
      if (t.protocol === "Tcp") {
        settle(true, "connected");
        sock.end();
        return;
      }
      // The request world/probe-answer.ts sends.
      sock.write(`GET ${t.path ?? "/"} HTTP/1.1\r\nHost: ${t.nodeIp}:${t.port}\r\nConnection: close\r\n\r\n`);
    });
    let head = "";
    sock.on("data", (d: Buffer) => {
      if (outcome) return;
      head += d.toString("latin1");
      if (!head.includes("\r\n")) return;
      const status = Number(/^HTTP\/\d\.\d (\d{3})/.exec(head)?.[1] ?? 0);
      settle(status === 200, status ? `HTTP ${status}` : "not an HTTP answer");
      sock.end();
    });
    sock.on("error", (e: NodeJS.ErrnoException) => settle(false, e.code ?? e.message));
    sock.on("close", () => {
      clearTimeout(timer);
      settle(false, "closed without an answer");
      resolve(outcome as Outcome);
    });
  });
}

function run(argv: readonly string[]): Promise<string | null> {
  return new Promise((resolve) => {
    const child = spawn(argv[0] as string, argv.slice(1), { stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    child.stderr.on("data", (d: Buffer) => {
      err += d.toString();
    });
    child.on("error", (e) => resolve(e.message));
    child.on("close", (code) => resolve(code === 0 ? null : err.trim() || `exit ${code}`));
  });
}

const [, , , statePath, spec] = process.argv;
const prober = JSON.parse(spec ?? "null") as LabProber;
// Only ever inside the lab's Azure namespace: refuse to start anywhere else.
const netns = readlinkSync("/proc/self/ns/net");
if (!/^pwl-[a-z0-9-]+$/.test(prober.ns) || netns !== `net:[${statSync(`/run/netns/${prober.ns}`).ino}]`) {
  process.stderr.write(`prober: not inside ${prober.ns}\n`);
  process.exit(2);
}

const iso = () => new Date().toISOString();
let state: ProbeState = initialProbeState(prober, process.pid, iso());
function save(): void {
  const tmp = `${statePath}.tmp-${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(tmp, statePath as string);
}

let routing: Promise<void> = Promise.resolve();
/** Route changes one at a time, each from the state at the time it runs. */
function applyRoutes(): Promise<void> {
  routing = routing.then(async () => {
    for (const c of routeChanges(prober, state)) {
      const err = await run(["ip", "-n", prober.ns, "route", "replace", ...c.args]);
      state = markRouted(
        state,
        c.vip,
        err ? null : c.text,
        err ? `ip route replace ${c.text}: ${err}` : null,
      );
    }
  });
  return routing;
}

let paused = false;
const start = Date.now();
const next = new Map(prober.targets.map((t) => [t.key, start + t.offsetMs]));
const timers = new Map<string, NodeJS.Timeout>();
const flying = new Set<string>();

function arm(t: LabProbeTarget): void {
  clearTimeout(timers.get(t.key));
  timers.set(
    t.key,
    setTimeout(() => void fire(t), Math.max(0, (next.get(t.key) as number) - Date.now())),
  );
}

async function fire(t: LabProbeTarget): Promise<void> {
  timers.delete(t.key);
  if (paused) return;
  flying.add(t.key);
  const o = await probeOnce(t, prober.source);
  state = recordProbe(prober, state, t.key, o.ok, o.text, iso());
  await applyRoutes();
  flying.delete(t.key);
  save();
  if (paused) return confirmPause();
  // The scheduler's `next = now + interval`, on the target's own grid.
  next.set(t.key, (next.get(t.key) as number) + t.intervalMs);
  arm(t);
}

/** Once nothing is in flight (and the last FIN/ACKs had a moment to cross), say so. */
function confirmPause(): void {
  if (!paused || flying.size > 0) return;
  setTimeout(() => {
    if (!paused || flying.size > 0) return;
    state = setPaused(state, true, iso());
    save();
  }, 50);
}

process.on("SIGUSR1", () => {
  paused = true;
  for (const tm of timers.values()) clearTimeout(tm);
  timers.clear();
  confirmPause();
});
process.on("SIGUSR2", () => {
  if (!paused) return;
  paused = false;
  state = setPaused(state, false, iso());
  save();
  const now = Date.now();
  for (const t of prober.targets) {
    if (flying.has(t.key)) continue;
    const n = next.get(t.key) as number;
    // The next point of its grid: probes keep their phase across a pause.
    next.set(t.key, n >= now ? n : n + Math.ceil((now - n) / t.intervalMs) * t.intervalMs);
    arm(t);
  }
});
process.on("SIGTERM", () => process.exit(0));
// Its output goes nowhere: a crash is told in the state file (lab status shows it not running).
process.on("uncaughtException", (e) => {
  state = { ...state, error: `prober crashed: ${e.stack ?? e.message}` };
  save();
  process.exit(1);
});
// Paused, nothing else would keep the event loop (and so the process) alive.
setInterval(() => {}, 1 << 30);

save();
for (const t of prober.targets) arm(t);
