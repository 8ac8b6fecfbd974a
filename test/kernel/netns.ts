/**
 * A disposable network lab for kernel conformance tests: network namespaces we create, and nothing
 * else. Every name carries the `pwk-` prefix; every command runs inside one of our namespaces
 * (`ip -n NS ...` or `ip netns exec NS ...`), so the host's interfaces, routes, sysctls and iptables
 * are never touched. veth pairs are created from inside a namespace with the peer placed straight
 * into another one of ours; verifyIsolation() checks that this held before any packet is sent.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";

export const PREFIX = "pwk-";

export interface RunResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Whether a command is on PATH (`which`). */
export function have(cmd: string): boolean {
  return spawnSync("which", [cmd], { stdio: "ignore" }).status === 0;
}

/** Why kernel tests cannot run here, or null when they can. */
export function labSkipReason(tools: readonly string[]): string | null {
  if (process.platform !== "linux") return "needs Linux network namespaces";
  if (process.getuid?.() !== 0) return "needs root to create network namespaces";
  if (!have("which")) return "needs `which` to look for the tools";
  const missing = tools.filter((t) => !have(t));
  return missing.length > 0 ? `missing ${missing.join(", ")} on PATH` : null;
}

interface IpLink {
  readonly ifindex: number;
  readonly ifname: string;
  readonly link_index?: number;
  readonly link_netnsid?: number;
  readonly master?: string;
  readonly linkinfo?: { readonly info_kind?: string };
}

interface IpRoute {
  readonly dst: string;
  readonly dev?: string;
}

let labCounter = 0;

export class Lab {
  /** `pwk-<tag>-`: every namespace of this lab starts with it, unique per process and lab. */
  readonly prefix: string;
  private readonly namespaces: string[] = [];
  private readonly children = new Set<ChildProcess>();
  private destroyed = false;
  private readonly onExit = () => this.destroy();

  constructor(tag: string) {
    if (!/^[a-z0-9]{1,8}$/.test(tag))
      throw new Error(`Lab tag "${tag}" must be 1-8 lowercase letters or digits`);
    labCounter += 1;
    this.prefix = `${PREFIX}${tag}${process.pid.toString(36)}${labCounter}-`;
    // Last resort if the test runner exits without running after(): still leave nothing behind.
    process.once("exit", this.onExit);
  }

  /** The full name of one of our namespaces. */
  ns(short: string): string {
    const name = `${this.prefix}${short}`;
    if (!this.namespaces.includes(name)) throw new Error(`Namespace ${name} is not part of this lab`);
    return name;
  }

  /** Creates a namespace with lo up and IPv6 off (no router solicitations or DAD to muddy counters). */
  addNamespace(short: string): string {
    if (this.destroyed) throw new Error("Lab already destroyed");
    if (!/^[a-z0-9]+$/.test(short))
      throw new Error(`Namespace name "${short}" must be lowercase letters or digits`);
    const name = `${this.prefix}${short}`;
    run(["ip", "netns", "add", name]);
    this.namespaces.push(name);
    this.ip(name, ["link", "set", "lo", "up"]);
    this.sysctl(name, "net.ipv6.conf.all.disable_ipv6", "1");
    this.sysctl(name, "net.ipv6.conf.default.disable_ipv6", "1");
    return name;
  }

  get allNamespaces(): readonly string[] {
    return [...this.namespaces];
  }

  private own(ns: string): string {
    if (!this.namespaces.includes(ns)) throw new Error(`Refusing to act outside the lab: ${ns} is not ours`);
    return ns;
  }

  /** `ip -n NS ...`: iproute2 acting inside one of our namespaces. */
  ip(ns: string, args: readonly string[]): string {
    return run(["ip", "-n", this.own(ns), ...args]);
  }

  /** Runs a command inside one of our namespaces; throws with its stderr on failure. */
  exec(ns: string, argv: readonly string[], input?: string, timeoutMs = 15_000): string {
    return run(["ip", "netns", "exec", this.own(ns), ...argv], input, timeoutMs);
  }

  /** Like exec, but returns the status instead of throwing. */
  tryExec(ns: string, argv: readonly string[], input?: string, timeoutMs = 15_000): RunResult {
    const r = spawnSync("ip", ["netns", "exec", this.own(ns), ...argv], {
      encoding: "utf8",
      input: input ?? "",
      timeout: timeoutMs,
    });
    return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
  }

  sysctl(ns: string, key: string, value: string): void {
    this.exec(ns, ["sysctl", "-q", "-w", `${key}=${value}`]);
  }

  /** A veth pair made from inside `nsA`, its peer created directly in `nsB`. */
  addVeth(nsA: string, nameA: string, nsB: string, nameB: string): void {
    checkIfName(nameA);
    checkIfName(nameB);
    this.ip(nsA, ["link", "add", nameA, "type", "veth", "peer", "name", nameB, "netns", this.own(nsB)]);
  }

  addBridge(ns: string, name: string, options: readonly string[] = []): void {
    checkIfName(name);
    this.ip(ns, ["link", "add", name, "type", "bridge", ...options]);
  }

  /** A long-running process inside a namespace (a server); killed by destroy(). */
  spawn(ns: string, argv: readonly string[]): ChildProcess {
    const child = spawn("ip", ["netns", "exec", this.own(ns), ...argv], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.children.add(child);
    child.once("exit", () => this.children.delete(child));
    return child;
  }

  /**
   * Checks, in every namespace of ours, that each veth's peer lives in a namespace of ours (its
   * link-netnsid resolves to one of our names and the peer there points back), that routes only use
   * devices of that namespace, and that the host namespace has no `pwk-` link or route. Throws
   * with what is wrong; call it before sending any packet.
   */
  verifyIsolation(): void {
    const problems: string[] = [];
    const links = new Map<string, IpLink[]>();
    for (const ns of this.namespaces)
      links.set(ns, JSON.parse(this.ip(ns, ["-j", "-d", "link", "show"])) as IpLink[]);
    for (const ns of this.namespaces) {
      const ids = JSON.parse(this.ip(ns, ["-j", "netns", "list-id"]) || "[]") as {
        nsid: number;
        name?: string;
      }[];
      const nameOf = new Map(ids.map((e) => [e.nsid, e.name]));
      for (const [nsid, name] of nameOf) {
        if (name === undefined || !this.namespaces.includes(name))
          problems.push(
            `${ns} has nsid ${nsid} for a namespace not ours (${name ?? "unnamed, e.g. the host"})`,
          );
      }
      const own = links.get(ns) ?? [];
      for (const link of own) {
        if (link.ifname !== "lo" && !link.ifname.startsWith(PREFIX))
          problems.push(`${ns} has interface ${link.ifname} without the ${PREFIX} prefix`);
        if (link.linkinfo?.info_kind !== "veth") continue;
        if (link.link_netnsid === undefined) {
          const peer = own.find((l) => l.ifindex === link.link_index);
          if (!peer) problems.push(`${ns}: veth ${link.ifname} has no visible peer`);
          continue;
        }
        const peerNs = nameOf.get(link.link_netnsid);
        if (peerNs === undefined || !this.namespaces.includes(peerNs)) {
          problems.push(`${ns}: veth ${link.ifname}'s peer is in nsid ${link.link_netnsid}, not one of ours`);
          continue;
        }
        const peer = links.get(peerNs)?.find((l) => l.ifindex === link.link_index);
        if (peer?.linkinfo?.info_kind !== "veth" || peer.link_index !== link.ifindex)
          problems.push(`${ns}: veth ${link.ifname}'s peer ${peerNs}#${link.link_index} does not point back`);
      }
      const names = new Set(own.map((l) => l.ifname));
      const routes = JSON.parse(this.ip(ns, ["-j", "route", "show", "table", "all"]) || "[]") as IpRoute[];
      for (const r of routes) {
        if (r.dev !== undefined && !names.has(r.dev))
          problems.push(`${ns}: route ${r.dst} uses unknown device ${r.dev}`);
      }
    }
    // Reading the host namespace is fine; it must not have gained anything of ours.
    const hostLinks = JSON.parse(run(["ip", "-j", "link", "show"])) as IpLink[];
    for (const l of hostLinks)
      if (l.ifname.startsWith(PREFIX)) problems.push(`host namespace has link ${l.ifname}`);
    const hostRoutes = JSON.parse(run(["ip", "-j", "route", "show", "table", "all"]) || "[]") as IpRoute[];
    for (const r of hostRoutes)
      if (r.dev?.startsWith(PREFIX)) problems.push(`host namespace has route ${r.dst} dev ${r.dev}`);
    if (problems.length > 0) throw new Error(`Lab isolation check failed:\n  ${problems.join("\n  ")}`);
  }

  /**
   * Kills the processes we started (ours, and any left in our namespaces, which only we could have
   * started), then deletes the namespaces, which takes their veths, bridges and iptables with them.
   * Safe to call more than once, and after a partial setup.
   */
  destroy(): void {
    for (const child of this.children) {
      if (child.pid !== undefined && child.exitCode === null) {
        try {
          process.kill(child.pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
    }
    this.children.clear();
    for (const ns of this.namespaces) {
      const pids = spawnSync("ip", ["netns", "pids", ns], { encoding: "utf8" }).stdout ?? "";
      for (const pid of pids.split(/\s+/).filter((p) => /^\d+$/.test(p))) {
        try {
          process.kill(Number(pid), "SIGKILL");
        } catch {
          // already gone
        }
      }
    }
    for (const ns of this.namespaces.splice(0)) spawnSync("ip", ["netns", "del", ns], { stdio: "ignore" });
    this.destroyed = true;
    process.removeListener("exit", this.onExit);
  }
}

function checkIfName(name: string): void {
  if (!name.startsWith(PREFIX) || name.length > 15)
    throw new Error(`Interface name "${name}" must start with ${PREFIX} and fit in 15 characters`);
}

function run(argv: readonly string[], input?: string, timeoutMs = 15_000): string {
  const [cmd, ...args] = argv;
  try {
    return execFileSync(cmd as string, args, {
      encoding: "utf8",
      input: input ?? "",
      timeout: timeoutMs,
      stdio: ["pipe", "pipe", "pipe"],
    });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${argv.join(" ")} failed: ${e.stderr?.trim() || e.message}`);
  }
}
