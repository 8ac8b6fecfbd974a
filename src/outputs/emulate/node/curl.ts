import type { HealthCheckServer, NodeState } from "../../../model/node.ts";
import type { CommandResult } from "../types.ts";
import { goTime } from "./go-time.ts";

/**
 * `curl [-s] [http://]HOST:PORT[/PATH]` on the node, answered by what listens there: kube-proxy's
 * per-service health check servers (any path, kube-proxy.md §6.1) and its own healthz port (§6.2).
 * Anything else is refused, as curl reports it.
 */

/** pkg/proxy/healthcheck: the body is dedented and trimmed, so tab-indented with no final newline. */
function serviceBody(hc: HealthCheckServer, layout: NodeState["kubeProxy"]["layout"]): string {
  const lines = [
    "{",
    '\t"service": {',
    `\t\t"namespace": ${JSON.stringify(hc.namespace)},`,
    `\t\t"name": ${JSON.stringify(hc.name)}`,
    "\t},",
  ];
  if (layout === "1.11") lines.push(`\t"localEndpoints": ${hc.localEndpoints}`);
  else lines.push(`\t"localEndpoints": ${hc.localEndpoints},`, '\t"serviceProxyHealthy": true');
  lines.push("}");
  return lines.join("\n");
}

/** The proxy's /healthz: lastUpdated is the last sync, which on a settled twin is now. */
function proxyBody(node: NodeState, path: string, now: number): string | null {
  const t = JSON.stringify(goTime(now));
  if (node.kubeProxy.layout === "1.11") return `{"lastUpdated": ${t},"currentTime": ${t}}`;
  if (path === "/healthz") return `{"lastUpdated": ${t},"currentTime": ${t}, "nodeEligible": true}`;
  if (path === "/livez") return `{"lastUpdated": ${t},"currentTime": ${t}}`;
  return null;
}

export function curl(node: NodeState, args: readonly string[], now: number): CommandResult {
  let silent = false;
  let showError = false;
  let url: string | null = null;
  for (const a of args) {
    if (/^-[sS]+$/.test(a)) {
      silent ||= a.includes("s");
      showError ||= a.includes("S");
    } else if (!a.startsWith("-") && url === null) url = a;
    else
      return { stdout: "", stderr: `packetwalk: \`curl ${args.join(" ")}' is not emulated\n`, exitCode: 127 };
  }
  if (url === null) return { stdout: "", stderr: "curl: no URL specified!\n", exitCode: 2 };
  const m = /^(?:http:\/\/)?([^/:]+)(?::(\d+))?(\/.*)?$/.exec(url);
  if (!m)
    return { stdout: "", stderr: `curl: (3) URL using bad/illegal format or missing URL\n`, exitCode: 3 };
  const host = m[1]!;
  const port = Number(m[2] ?? "80");
  const path = m[3] ?? "/";
  const local = host === "localhost" || host === "127.0.0.1" || host === node.ip || host === node.name;
  if (local) {
    const hc = node.healthChecks.find((h) => h.port === port);
    if (hc) return { stdout: serviceBody(hc, node.kubeProxy.layout), stderr: "", exitCode: 0 };
    if (port === node.kubeProxy.healthzPort) {
      const body = proxyBody(node, path, now);
      if (body !== null) return { stdout: body, stderr: "", exitCode: 0 };
      return { stdout: "404 page not found\n", stderr: "", exitCode: 0 };
    }
  }
  // curl 7.47 (Ubuntu 16.04) vs 7.81+ (22.04), which adds the elapsed time.
  const after = node.kubeProxy.layout === "1.11" ? "" : " after 0 ms";
  const msg = `curl: (7) Failed to connect to ${host} port ${port}${after}: Connection refused\n`;
  return { stdout: "", stderr: silent && !showError ? "" : msg, exitCode: 7 };
}
