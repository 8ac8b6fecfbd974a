import { spawnSync } from "node:child_process";
import { formatIpv4 } from "../core/ip.ts";
import { AZ_NS, LAB_PREFIX } from "./plan.ts";
import { LabError } from "./run.ts";
import type { VerifyTarget } from "./verify-flows.ts";
import { ctKey, policyKey, ruleKey } from "./verify-sim.ts";

/**
 * `lab verify`'s hands in the lab: real curl from a lab namespace with a fixed client port, the
 * kernel's own choice of LB backend (`ip route get` with the flow's ports, the same multipath hash
 * that forwards it), `iptables-save -c` and `conntrack -L` in the nodes. Every command runs inside a
 * lab namespace.
 */

function inNs(ns: string, argv: readonly string[], input?: string, timeoutMs = 30_000) {
  if (!ns.startsWith(LAB_PREFIX) || !/^[a-z0-9-]+$/.test(ns))
    throw new LabError(`Refusing to act outside the lab: ${ns} is not a ${LAB_PREFIX} namespace`);
  const r = spawnSync("ip", ["netns", "exec", ns, ...argv], {
    encoding: "utf8",
    input: input ?? "",
    timeout: timeoutMs,
    maxBuffer: 256 * 1024 * 1024,
  });
  return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? (r.error ? r.error.message : "") };
}

export interface CurlResult {
  readonly outcome: string;
  readonly body: string;
  readonly error: string | null;
}

/**
 * curl's exit codes for a connection that did not complete (curl(1) EXIT CODES); 7 covers every
 * failed connect, so the socket's own error (`-v`: "connect to X port P failed: Connection
 * refused") tells ECONNREFUSED (a RST, or ICMP port unreachable) from the other ICMP errors.
 */
function outcomeOf(status: number | null, stderr: string): string {
  if (status === 7) return /failed: Connection refused/.test(stderr) ? "refused" : "unreachable";
  if (status === 28) return "timeout";
  if (status === 52 || status === 56) return "reset";
  return "error";
}

/** The lines of curl -v's stderr that say what went wrong. */
function complaint(stderr: string): string {
  return stderr
    .split("\n")
    .filter((l) => /failed|^curl: /.test(l))
    .map((l) => l.replace(/^\* /, ""))
    .join("; ");
}

/** One HTTP GET from `ns` with client port `sport`. */
export function labGet(ns: string, target: VerifyTarget, sport: number, timeoutS: number): CurlResult {
  const url = `http://${formatIpv4(target.to.ip)}:${target.to.port}/`;
  const r = inNs(
    ns,
    ["curl", "-sS", "-v", "--local-port", String(sport), "--max-time", String(timeoutS), url],
    undefined,
    (timeoutS + 10) * 1000,
  );
  if (r.status === 0) return { outcome: "completed", body: r.stdout, error: null };
  return {
    outcome: outcomeOf(r.status, r.stderr),
    body: r.stdout,
    error: complaint(r.stderr) || `exit ${r.status}`,
  };
}

/**
 * The node IP the lab's load balancer forwards each flow to: the VNet side's multipath route asked
 * with the flow's addresses, protocol and ports, as it hashes the flow's first packet
 * (fib_multipath_hash_policy 3). One `ip -batch` for all; null where no route (no healthy backend).
 */
export function labBackends(
  flows: readonly { vip: string; client: number; sport: number; dport: number; iif: string }[],
): (string | null)[] {
  if (flows.length === 0) return [];
  const lines = flows.map(
    (f) =>
      `route get ${f.vip} from ${formatIpv4(f.client)} iif ${f.iif} ipproto tcp sport ${f.sport} dport ${f.dport}`,
  );
  const r = inNs(AZ_NS, ["ip", "-o", "-batch", "-", "-force"], `${lines.join("\n")}\n`);
  const out = r.stdout.split("\n").filter((l) => l.trim() !== "");
  // One answer line per query; an unroutable one prints to stderr instead, so match by position
  // only when every query answered.
  if (out.length !== flows.length)
    return flows.map((f) => {
      const one = inNs(AZ_NS, [
        "ip",
        "-o",
        "route",
        "get",
        f.vip,
        "from",
        formatIpv4(f.client),
        "iif",
        f.iif,
        "ipproto",
        "tcp",
        "sport",
        String(f.sport),
        "dport",
        String(f.dport),
      ]);
      return one.status === 0 ? viaOf(one.stdout) : null;
    });
  return out.map(viaOf);
}

function viaOf(line: string): string | null {
  return /\bvia (\d+\.\d+\.\d+\.\d+)/.exec(line)?.[1] ?? null;
}

/** `iptables-save -c` in a node → each rule's and policy's packet count, and its line. */
export function labCounters(ns: string): { counts: Map<string, number>; texts: Map<string, string> } {
  const r = inNs(ns, ["iptables-save", "-c"]);
  if (r.status !== 0) throw new LabError(`iptables-save -c in ${ns} failed: ${r.stderr.trim()}`);
  return parseSaveCounters(r.stdout);
}

export function parseSaveCounters(save: string): { counts: Map<string, number>; texts: Map<string, string> } {
  const counts = new Map<string, number>();
  const texts = new Map<string, string>();
  let table = "";
  const seen = new Map<string, number>();
  for (const l of save.split("\n")) {
    if (l.startsWith("*")) {
      table = l.slice(1);
      seen.clear();
      continue;
    }
    // A user chain (`-`) has no policy to count.
    const policy = /^:(\S+) (?!-)\S+ \[(\d+):\d+\]/.exec(l);
    if (policy) {
      counts.set(policyKey(table, policy[1] as string), Number(policy[2]));
      continue;
    }
    const rule = /^\[(\d+):\d+\] (-A (\S+) .*)$/.exec(l);
    if (rule) {
      const chain = rule[3] as string;
      const i = seen.get(chain) ?? 0;
      seen.set(chain, i + 1);
      const key = ruleKey(table, chain, i);
      counts.set(key, Number(rule[1]));
      texts.set(key, rule[2] as string);
    }
  }
  return { counts, texts };
}

/** `conntrack -L -p tcp` in a node, each entry in ctKey form. */
export function labConntrack(ns: string): string[] {
  const r = inNs(ns, ["conntrack", "-L", "-p", "tcp"]);
  if (r.status !== 0) throw new LabError(`conntrack -L in ${ns} failed: ${r.stderr.trim()}`);
  return r.stdout
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map(ctKey);
}
