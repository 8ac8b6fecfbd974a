import { spawn, spawnSync } from "node:child_process";
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  configBatch,
  HEALTH_DATE,
  LAB_PREFIX,
  type LabFrontend,
  type LabNamespace,
  type LabPlan,
  linkBatch,
  SERVER_MARKER,
} from "./plan.ts";
import { probeStatePath } from "./probe-state.ts";

/**
 * The lab's I/O shell: carries out a LabPlan with iproute2, sysctl (inside lab namespaces only),
 * iptables-restore, the pod servers, kube-proxy's health check servers and the LB's prober
 * (prober.ts, in pwl-az); removes it all again. Safety, in code:
 * - every namespace name starts with `pwl-` and is written to the ledger before it is created; the
 *   links made inside them are recorded too, processes right after they start (their namespace
 *   already is, and lab down kills whatever runs in a lab namespace);
 * - every command that changes something runs as `ip -n NS ...` or `ip netns exec NS ...` with NS a
 *   lab namespace (own() refuses any other), so the host's links, routes, sysctls and iptables are
 *   never touched; veths are created inside a lab namespace with the peer put straight into another;
 * - verifyIsolation() runs before any ruleset is loaded or process started.
 */

export const LEDGER_VERSION = 1;

export interface LedgerProcess {
  /** A pod's server, kube-proxy's health check server of a service, the LB's prober (absent: pod). */
  readonly kind?: "pod" | "health" | "prober";
  readonly ns: string;
  /** The pod (`namespace/name`); for the others what it serves (`kube-proxy default/web`, `azure-lb-prober`). */
  readonly pod: string;
  /** The port it listens on; 0 for the prober. */
  readonly port: number;
  /** null until spawn returned (the ledger says it is about to start). Leader of its own group. */
  readonly pid: number | null;
}

export interface Ledger {
  readonly version: number;
  readonly pid: number;
  readonly startedAt: string;
  readonly scenario: string;
  readonly state: "creating" | "up";
  readonly namespaces: readonly string[];
  readonly links: readonly { readonly ns: string; readonly name: string }[];
  readonly processes: readonly LedgerProcess[];
  readonly hosts: readonly LabNamespace[];
  readonly frontends: readonly LabFrontend[];
  readonly warnings: readonly string[];
}

export class LabError extends Error {}

/** Why the lab cannot run here (a sentence for the user), or null. */
export function labPreflight(tools: readonly string[] = ["ip", "iptables-restore", "sysctl"]): string | null {
  if (process.platform !== "linux")
    return `The lab needs Linux network namespaces; this is ${process.platform}. Run it on a Linux machine or VM.`;
  if (process.getuid?.() !== 0)
    return "The lab needs root to create network namespaces: run it with sudo (it changes nothing outside its own pwl- namespaces).";
  const missing = tools.filter(
    (t) => spawnSync("sh", ["-c", `command -v ${t}`], { stdio: "ignore" }).status !== 0,
  );
  if (missing.length > 0)
    return `The lab needs ${missing.join(", ")} on PATH (Debian/Ubuntu: apt-get install iproute2 iptables conntrack procps curl).`;
  return null;
}

// ---------------------------------------------------------------------------------------- ledger

export function readLedger(path: string): Ledger | null {
  if (!existsSync(path)) return null;
  try {
    const l = JSON.parse(readFileSync(path, "utf8")) as Ledger;
    if (l.version !== LEDGER_VERSION || !Array.isArray(l.namespaces)) return null;
    return l;
  } catch {
    return null;
  }
}

/** Temp file, fsync, rename: a reader (or a crash) sees the old ledger or the new one. */
export function writeLedger(path: string, ledger: Ledger): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, "w", 0o644);
  try {
    writeSync(fd, `${JSON.stringify(ledger, null, 2)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

// --------------------------------------------------------------------------------------- running

export interface RunResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function isLabNs(ns: string): boolean {
  return ns.startsWith(LAB_PREFIX) && /^[a-z0-9-]+$/.test(ns);
}

function own(ns: string): string {
  if (!isLabNs(ns))
    throw new LabError(`Refusing to act outside the lab: ${ns} is not a ${LAB_PREFIX} namespace`);
  return ns;
}

/** One command, asynchronously (so a signal can be handled between steps); throws on failure. */
function runAsync(argv: readonly string[], input?: string, timeoutMs = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const [cmd, ...args] = argv;
    const child = spawn(cmd as string, args, { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      err += d.toString();
    });
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(new LabError(`${argv.join(" ")}: ${e.message}`));
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else
        reject(
          new LabError(
            `${argv.slice(0, 6).join(" ")}${argv.length > 6 ? " ..." : ""} failed (${signal ?? `exit ${code}`}): ${err.trim()}`,
          ),
        );
    });
    child.stdin.on("error", () => {});
    child.stdin.end(input ?? "");
  });
}

function runSync(argv: readonly string[], input?: string, timeoutMs = 30_000): RunResult {
  const [cmd, ...args] = argv;
  const r = spawnSync(cmd as string, args, { encoding: "utf8", input: input ?? "", timeout: timeoutMs });
  return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? (r.error ? r.error.message : "") };
}

/** The `pwl-` namespaces that exist now (`ip netns list`). */
export function labNamespacesNow(): string[] {
  const r = runSync(["ip", "netns", "list"]);
  return r.stdout
    .split("\n")
    .map((l) => l.trim().split(/\s+/)[0] ?? "")
    .filter((n) => n.startsWith(LAB_PREFIX));
}

/** Processes whose argv carries the lab servers' marker (strays from a crashed run included). */
export function labProcessesNow(): number[] {
  const found: number[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const argv = readFileSync(`/proc/${d}/cmdline`, "utf8").split("\0");
      if (argv.includes(SERVER_MARKER)) found.push(Number(d));
    } catch {
      // gone
    }
  }
  return found;
}

/** Links with the lab's prefix in the host's namespace (there must never be any). */
export function hostLabLinks(): string[] {
  const r = runSync(["ip", "-j", "link", "show"]);
  const links = JSON.parse(r.stdout || "[]") as { ifname: string }[];
  return links.map((l) => l.ifname).filter((n) => n.startsWith(LAB_PREFIX));
}

function nsInode(ns: string): number | null {
  try {
    return statSync(`/run/netns/${ns}`).ino;
  } catch {
    return null;
  }
}

/** Whether `pid` runs inside namespace `ns`. */
function inNs(pid: number, ns: string): boolean {
  try {
    return readlinkSync(`/proc/${pid}/ns/net`) === `net:[${nsInode(ns)}]`;
  } catch {
    return false;
  }
}

/** Whether `pid` is inside namespace `ns` and listens on TCP `port` there. */
function listening(pid: number, ns: string, port: number): boolean {
  try {
    if (!inNs(pid, ns)) return false;
    const hex = port.toString(16).toUpperCase().padStart(4, "0");
    return readFileSync(`/proc/${pid}/net/tcp`, "utf8")
      .split("\n")
      .some((l) => {
        const f = l.trim().split(/\s+/);
        return f[1]?.endsWith(`:${hex}`) === true && f[3] === "0A";
      });
  } catch {
    return false;
  }
}

/** whereami's answer: the pod, its IP and the source address its socket saw, as JSON. */
export const SERVER_JS = `
const [, , pod, podIp, node, port] = process.argv;
require("http").createServer((q, s) => {
  const body = JSON.stringify({ pod, pod_ip: podIp, node, source: q.socket.remoteAddress, source_port: q.socket.remotePort }) + "\\n";
  s.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body), connection: "close" });
  s.end(body);
}).listen(Number(port), "0.0.0.0");
process.on("SIGTERM", () => process.exit(0));
`;

/**
 * kube-proxy's health check server of one service: any method and path get the plan's answer
 * (the simulator's), the real date in place of HEALTH_DATE; closing as Go does when the request
 * asks (HTTP/1.0 without keep-alive, Connection: close), else the connection stays open.
 */
export const HEALTH_JS = `
const [, , port, answers] = process.argv;
const { keepAlive, close } = JSON.parse(answers);
require("net").createServer((c) => {
  let buf = Buffer.alloc(0);
  c.on("error", () => {});
  c.on("data", (d) => {
    buf = Buffer.concat([buf, d]);
    for (;;) {
      const end = buf.indexOf("\\r\\n\\r\\n");
      if (end < 0) return;
      const lines = buf.subarray(0, end).toString("latin1").split("\\r\\n");
      const field = (name) => {
        for (const l of lines.slice(1)) {
          const i = l.indexOf(":");
          if (i > 0 && l.slice(0, i).trim().toLowerCase() === name) return l.slice(i + 1).trim().toLowerCase();
        }
        return "";
      };
      const used = end + 4 + (Number(field("content-length")) || 0);
      if (buf.length < used) return;
      buf = buf.subarray(used);
      const version = lines[0].split(" ")[2] || "";
      const conn = field("connection");
      const closing = version === "HTTP/1.0" ? !conn.includes("keep-alive") : conn.includes("close");
      c.write((closing ? close : keepAlive).replace(${JSON.stringify(HEALTH_DATE)}, new Date().toUTCString()));
      if (closing) return void c.end();
    }
  });
}).listen(Number(port), "0.0.0.0");
process.on("SIGTERM", () => process.exit(0));
`;

/** The prober's module, next to this one (.ts from the sources with tsx's loader, .js once built). */
function proberArgv(): string[] {
  const ts = import.meta.url.endsWith(".ts");
  const script = fileURLToPath(new URL(ts ? "./prober.ts" : "./prober.js", import.meta.url));
  if (!ts) return [script];
  let loader = "tsx";
  try {
    loader = import.meta.resolve("tsx");
  } catch {
    // resolved from the working directory then
  }
  return ["--import", loader, script];
}

// ------------------------------------------------------------------------------------- isolation

interface IpLink {
  readonly ifindex: number;
  readonly ifname: string;
  readonly link_index?: number;
  readonly link_netnsid?: number;
  readonly linkinfo?: { readonly info_kind?: string };
}

/**
 * Checks, in every lab namespace, that it refers to no namespace but lab ones (netns ids), has only
 * veths, bridges and loopback, that each veth's peer is in a lab namespace and points back, that
 * routes use only its own devices; and that the host namespace has no lab link and no veth into the
 * lab. Returns the problems (empty when isolated).
 */
export function verifyIsolation(namespaces: readonly string[]): string[] {
  const problems: string[] = [];
  const ours = new Set(namespaces.map(own));
  const links = new Map<string, IpLink[]>();
  for (const ns of ours) {
    const r = runSync(["ip", "-n", ns, "-j", "-d", "link", "show"]);
    if (r.status !== 0) {
      problems.push(`${ns}: cannot list links: ${r.stderr.trim()}`);
      continue;
    }
    links.set(ns, JSON.parse(r.stdout || "[]") as IpLink[]);
  }
  for (const ns of ours) {
    const ids = JSON.parse(runSync(["ip", "-n", ns, "-j", "netns", "list-id"]).stdout || "[]") as {
      nsid: number;
      name?: string;
    }[];
    const nameOf = new Map(ids.map((e) => [e.nsid, e.name]));
    for (const [nsid, name] of nameOf)
      if (name === undefined || !ours.has(name))
        problems.push(
          `${ns} has nsid ${nsid} for a namespace not of the lab (${name ?? "unnamed: the host?"})`,
        );
    const mine = links.get(ns) ?? [];
    for (const link of mine) {
      const kind = link.linkinfo?.info_kind;
      if (link.ifname === "lo") continue;
      if (kind !== "veth" && kind !== "bridge") {
        problems.push(`${ns}: ${link.ifname} is a ${kind ?? "device of unknown kind"}, not a veth or bridge`);
        continue;
      }
      if (kind !== "veth") continue;
      if (link.link_netnsid === undefined) {
        if (!mine.some((l) => l.ifindex === link.link_index))
          problems.push(`${ns}: veth ${link.ifname} has no visible peer`);
        continue;
      }
      const peerNs = nameOf.get(link.link_netnsid);
      if (peerNs === undefined || !ours.has(peerNs)) {
        problems.push(
          `${ns}: veth ${link.ifname}'s peer is in nsid ${link.link_netnsid}, not a lab namespace`,
        );
        continue;
      }
      const peer = links.get(peerNs)?.find((l) => l.ifindex === link.link_index);
      if (peer?.linkinfo?.info_kind !== "veth" || peer.link_index !== link.ifindex)
        problems.push(`${ns}: veth ${link.ifname}'s peer ${peerNs}#${link.link_index} does not point back`);
    }
    const names = new Set(mine.map((l) => l.ifname));
    const routes = JSON.parse(
      runSync(["ip", "-n", ns, "-j", "route", "show", "table", "all"]).stdout || "[]",
    ) as {
      dst: string;
      dev?: string;
    }[];
    for (const r of routes)
      if (r.dev !== undefined && !names.has(r.dev))
        problems.push(`${ns}: route ${r.dst} uses unknown device ${r.dev}`);
  }
  for (const l of hostLabLinks()) problems.push(`host namespace has link ${l}`);
  const hostIds = JSON.parse(runSync(["ip", "-j", "netns", "list-id"]).stdout || "[]") as {
    nsid: number;
    name?: string;
  }[];
  const labIds = new Set(hostIds.filter((e) => e.name !== undefined && ours.has(e.name)).map((e) => e.nsid));
  const hostLinks = JSON.parse(runSync(["ip", "-j", "-d", "link", "show"]).stdout || "[]") as IpLink[];
  for (const l of hostLinks)
    if (l.link_netnsid !== undefined && labIds.has(l.link_netnsid))
      problems.push(`host namespace's ${l.ifname} has its peer inside the lab`);
  return problems;
}

// -------------------------------------------------------------------------------------------- up

export interface UpOptions {
  /** Progress lines for the user. */
  readonly log: (line: string) => void;
  /** Set by a signal handler: up stops between two steps and throws LabInterrupted. */
  readonly aborted: () => boolean;
}

export class LabInterrupted extends Error {}

/** Builds the lab. Throws LabError (or LabInterrupted); the caller then runs labDown. */
export async function labUp(plan: LabPlan, ledgerPath: string, o: UpOptions): Promise<Ledger> {
  const step = () => {
    if (o.aborted()) throw new LabInterrupted("interrupted");
  };
  if (readLedger(ledgerPath) !== null || existsSync(ledgerPath) || labNamespacesNow().length > 0)
    throw new LabError(
      "A lab is already up, or a crashed run left pieces of one: run `packetwalk lab down` first",
    );
  const namespaces = plan.namespaces.map((n) => own(n.name));
  for (const l of plan.links) {
    own(l.ns);
    if (l.kind === "veth") own(l.peerNs);
  }
  let ledger: Ledger = {
    version: LEDGER_VERSION,
    pid: process.pid,
    startedAt: new Date().toISOString(),
    scenario: plan.scenario,
    state: "creating",
    namespaces,
    links: plan.links.flatMap((l) =>
      l.kind === "veth"
        ? [
            { ns: l.ns, name: l.name },
            { ns: l.peerNs, name: l.peerName },
          ]
        : [{ ns: l.ns, name: l.name }],
    ),
    processes: labProcesses(plan, ledgerPath).map((p) => p.entry),
    hosts: plan.namespaces,
    frontends: plan.frontends,
    warnings: [],
  };
  // Recorded before anything is created.
  writeLedger(ledgerPath, ledger);
  step();

  o.log(`creating ${namespaces.length} namespaces`);
  for (const ns of namespaces) {
    step();
    await runAsync(["ip", "netns", "add", ns]);
  }
  const warnings: string[] = [];
  for (const ns of namespaces) {
    step();
    const wanted = plan.sysctls.filter((s) => s.ns === ns);
    const present = wanted.filter(
      (s) => !s.optional || runSync(["ip", "netns", "exec", ns, "sysctl", "-n", s.key]).status === 0,
    );
    for (const s of wanted)
      if (!present.includes(s) && !warnings.some((w) => w.includes(s.key)))
        warnings.push(`${s.key} is not available (module not loaded): not set`);
    await runAsync([
      "ip",
      "netns",
      "exec",
      ns,
      "sysctl",
      "-q",
      "-w",
      ...present.map((s) => `${s.key}=${s.value}`),
    ]);
  }
  o.log(`creating ${plan.links.length} links`);
  for (const ns of namespaces) {
    step();
    const lines = linkBatch(plan, ns);
    if (lines.length > 0) await runAsync(["ip", "-n", ns, "-batch", "-"], `${lines.join("\n")}\n`);
  }
  o.log("configuring addresses, routes and neighbours");
  for (const ns of namespaces) {
    step();
    await runAsync(["ip", "-n", ns, "-batch", "-"], `${configBatch(plan, ns).join("\n")}\n`);
  }
  step();
  const problems = verifyIsolation(namespaces);
  if (problems.length > 0) throw new LabError(`Lab isolation check failed:\n  ${problems.join("\n  ")}`);
  o.log("isolation verified: no lab link or route reaches the host's namespace");
  for (const r of plan.iptables) {
    step();
    await runAsync(["ip", "netns", "exec", own(r.ns), "iptables-restore"], r.text);
  }
  o.log(`loaded the rulesets of ${plan.iptables.length} node(s)`);
  const processes: LedgerProcess[] = [];
  const ready = (p: LedgerProcess) =>
    p.kind === "prober"
      ? proberStarted(p.pid as number, ledgerPath)
      : listening(p.pid as number, p.ns, p.port);
  const waitReady = async () => {
    const deadline = Date.now() + 10_000;
    for (const p of processes)
      while (!ready(p)) {
        step();
        if (Date.now() > deadline)
          throw new LabError(
            p.kind === "prober"
              ? "The LB's prober did not start"
              : `The server of ${p.pod} did not start listening on ${p.port}`,
          );
        await new Promise((r) => setTimeout(r, 25));
      }
  };
  for (const w of labProcesses(plan, ledgerPath)) {
    step();
    // The prober probes the servers: they listen first.
    if (w.entry.kind === "prober") await waitReady();
    const child = spawn("ip", ["netns", "exec", own(w.entry.ns), process.execPath, ...w.args], {
      detached: true,
      stdio: "ignore",
    });
    child.on("error", () => {});
    child.unref();
    if (child.pid === undefined) throw new LabError(`Cannot start the server of ${w.entry.pod}`);
    processes.push({ ...w.entry, pid: child.pid });
    ledger = { ...ledger, processes: [...processes, ...ledger.processes.slice(processes.length)] };
    writeLedger(ledgerPath, ledger);
  }
  await waitReady();
  const count = (k: LedgerProcess["kind"]) => processes.filter((p) => p.kind === k).length;
  o.log(
    `started ${count("pod")} pod server(s), ${count("health")} health check server(s)${count("prober") > 0 ? " and the LB's prober" : ""}`,
  );
  ledger = { ...ledger, state: "up", processes, warnings };
  writeLedger(ledgerPath, ledger);
  return ledger;
}

/** What lab up starts, in order, with node's arguments: pod servers, health check servers, the prober. */
function labProcesses(plan: LabPlan, ledgerPath: string): { entry: LedgerProcess; args: string[] }[] {
  const out: { entry: LedgerProcess; args: string[] }[] = [];
  for (const s of plan.servers)
    out.push({
      entry: { kind: "pod", ns: s.ns, pod: s.pod, port: s.port, pid: null },
      args: ["-e", SERVER_JS, SERVER_MARKER, s.pod, s.podIp, s.node, String(s.port)],
    });
  for (const h of plan.healthServers)
    out.push({
      entry: { kind: "health", ns: h.ns, pod: `kube-proxy ${h.service}`, port: h.port, pid: null },
      args: ["-e", HEALTH_JS, SERVER_MARKER, String(h.port), JSON.stringify(h.responses)],
    });
  if (plan.prober)
    out.push({
      entry: { kind: "prober", ns: own(plan.prober.ns), pod: "azure-lb-prober", port: 0, pid: null },
      args: [...proberArgv(), SERVER_MARKER, probeStatePath(ledgerPath), JSON.stringify(plan.prober)],
    });
  return out;
}

/** The prober has written its first state (it does before its first probe). */
function proberStarted(pid: number, ledgerPath: string): boolean {
  try {
    return (JSON.parse(readFileSync(probeStatePath(ledgerPath), "utf8")) as { pid?: number }).pid === pid;
  } catch {
    return false;
  }
}

/**
 * labUp for a command line: SIGINT, SIGTERM or SIGHUP during it stop it between two steps; then,
 * as on any failure, everything created so far is removed. 0 when up, 130 when interrupted, 1 on
 * failure (with the message logged).
 */
export async function labUpInterruptible(
  plan: LabPlan,
  ledgerPath: string,
  log: (line: string) => void,
  error: (line: string) => void,
): Promise<number> {
  let aborted = false;
  const onSignal = () => {
    aborted = true;
  };
  const signals = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
  for (const s of signals) process.on(s, onSignal);
  try {
    await labUp(plan, ledgerPath, { log, aborted: () => aborted });
    if (aborted) throw new LabInterrupted("interrupted");
    return 0;
  } catch (e) {
    const interrupted = e instanceof LabInterrupted || aborted;
    if (!interrupted) error(e instanceof Error ? e.message : String(e));
    // A lab that was already there when up refused is not ours to remove.
    if (e instanceof LabError && e.message.startsWith("A lab is already up")) return 1;
    const down = labDown(ledgerPath);
    error(
      `${interrupted ? "interrupted" : "lab up failed"}: removed ${down.namespaces.length} namespace(s) and ${down.processes.length} process(es)`,
    );
    return interrupted ? 130 : 1;
  } finally {
    for (const s of signals) process.removeListener(s, onSignal);
  }
}

// ------------------------------------------------------------------------------------------ down

export interface DownReport {
  readonly namespaces: readonly string[];
  readonly processes: readonly number[];
  /** What is still there after the attempt (empty when clean). */
  readonly left: readonly string[];
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Removes the lab: kills every process in a lab namespace or carrying the server marker (and the
 * process groups the ledger names, if their leader still is a lab server), deletes the ledger's
 * namespaces and any other `pwl-` namespace (a crashed run's, even without a ledger), which takes
 * their links along, then the ledger. Idempotent.
 */
export function labDown(ledgerPath: string): DownReport {
  const ledger = readLedger(ledgerPath);
  const candidates = [...new Set([...(ledger?.namespaces ?? []), ...labNamespacesNow()])].filter(isLabNs);
  const existing = new Set(labNamespacesNow());
  const victims = new Set<number>(labProcessesNow());
  for (const ns of candidates) {
    if (!existing.has(ns)) continue;
    for (const pid of runSync(["ip", "netns", "pids", ns]).stdout.split(/\s+/))
      if (/^\d+$/.test(pid) && Number(pid) !== process.pid) victims.add(Number(pid));
  }
  for (const p of ledger?.processes ?? []) {
    if (p.pid === null || !victims.has(p.pid)) continue;
    try {
      process.kill(-p.pid, "SIGKILL");
    } catch {
      // not a group any more
    }
  }
  for (const pid of victims) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  const until = Date.now() + 3000;
  while ([...victims].some(alive) && Date.now() < until) spawnSync("sleep", ["0.02"]);
  const removed: string[] = [];
  for (const ns of candidates) {
    if (!existing.has(ns)) continue;
    const r = runSync(["ip", "netns", "del", ns]);
    if (r.status === 0) removed.push(ns);
  }
  // Never created by the lab; removed if some bug ever did.
  for (const l of hostLabLinks()) runSync(["ip", "link", "del", l]);
  const left = [
    ...labNamespacesNow().map((n) => `namespace ${n}`),
    ...labProcessesNow().map((p) => `process ${p}`),
    ...hostLabLinks().map((l) => `host link ${l}`),
  ];
  if (left.length === 0) {
    const probes = probeStatePath(ledgerPath);
    rmSync(probes, { force: true });
    // A prober killed while writing leaves its temp file.
    const dir = dirname(probes);
    if (existsSync(dir))
      for (const f of readdirSync(dir))
        if (f.startsWith(`${basename(probes)}.tmp-`)) rmSync(join(dir, f), { force: true });
    rmSync(ledgerPath, { force: true });
    rmSync(`${ledgerPath}.tmp-${process.pid}`, { force: true });
  }
  return { namespaces: removed, processes: [...victims], left };
}

// ---------------------------------------------------------------------------------- status, exec

export interface LabStatus {
  readonly ledger: Ledger | null;
  readonly namespacesPresent: readonly string[];
  readonly namespacesMissing: readonly string[];
  readonly serversAlive: readonly LedgerProcess[];
  readonly serversDead: readonly LedgerProcess[];
  /** `pwl-` namespaces no ledger accounts for. */
  readonly strays: readonly string[];
}

export function labStatus(ledgerPath: string): LabStatus {
  const ledger = readLedger(ledgerPath);
  const now = new Set(labNamespacesNow());
  const listed = new Set(ledger?.namespaces ?? []);
  const alive = (ledger?.processes ?? []).filter(
    (p) => p.pid !== null && (p.kind === "prober" ? inNs(p.pid, p.ns) : listening(p.pid, p.ns, p.port)),
  );
  return {
    ledger,
    namespacesPresent: [...listed].filter((n) => now.has(n)),
    namespacesMissing: [...listed].filter((n) => !now.has(n)),
    serversAlive: alive,
    serversDead: (ledger?.processes ?? []).filter((p) => !alive.includes(p)),
    strays: [...now].filter((n) => !listed.has(n)),
  };
}

/** Runs a real command inside a lab namespace. */
export function labExec(ns: string, argv: readonly string[], timeoutMs = 60_000): RunResult {
  if (argv.length === 0) throw new LabError("No command to run");
  if (!labNamespacesNow().includes(own(ns)))
    throw new LabError(`Namespace ${ns} does not exist: is the lab up?`);
  return runSync(["ip", "netns", "exec", ns, ...argv], undefined, timeoutMs);
}

/** curl in a lab namespace, or a node one-liner doing the same GET where curl is missing. */
export function labCurl(ns: string, url: string, timeoutS = 5): RunResult {
  const hasCurl = spawnSync("sh", ["-c", "command -v curl"], { stdio: "ignore" }).status === 0;
  if (hasCurl)
    return labExec(ns, ["curl", "-sS", "--max-time", String(timeoutS), url], (timeoutS + 5) * 1000);
  const js = `const u=process.argv[1];require("http").get(u,{timeout:${timeoutS * 1000}},r=>{r.pipe(process.stdout)}).on("timeout",function(){console.error("timeout");process.exit(28)}).on("error",e=>{console.error(e.message);process.exit(7)})`;
  return labExec(ns, [process.execPath, "-e", js, url], (timeoutS + 5) * 1000);
}
