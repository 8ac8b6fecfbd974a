import { httpApp, type TcpApp } from "../app.ts";
import { formatResponse, httpDate } from "../http.ts";

/**
 * kube-proxy's HTTP servers (Go net/http; /work/shared/docs/kube-proxy.md §6): the per-service
 * health check on a Local service's healthCheckNodePort, and the proxy's own healthz on 10256.
 * Go writes the handler's fields sorted by name, then Date and Content-Length (chunkWriter.writeHeader);
 * it has no idle timeout here (http.Server without timeouts), so kept-alive connections stay open.
 */

export type KubeProxyLayout = "1.11" | "current";

export interface ServiceHealth {
  readonly namespace: string;
  readonly name: string;
  /** Ready endpoints of the service on this node. */
  readonly localEndpoints: number;
}

/** Go's %q for the plain names Kubernetes allows (DNS labels: nothing to escape but quotes). */
function goQuote(s: string): string {
  return JSON.stringify(s);
}

/**
 * pkg/proxy/healthcheck: `strings.Trim(dedent.Dedent(...), "\n")`, so tab-indented with no final
 * newline; `serviceProxyHealthy` appeared with the current layout (§6.1).
 */
export function serviceHealthBody(svc: ServiceHealth, layout: KubeProxyLayout, proxyHealthy = true): string {
  const lines = [
    "{",
    '\t"service": {',
    `\t\t"namespace": ${goQuote(svc.namespace)},`,
    `\t\t"name": ${goQuote(svc.name)}`,
    "\t},",
  ];
  if (layout === "1.11") lines.push(`\t"localEndpoints": ${svc.localEndpoints}`);
  else lines.push(`\t"localEndpoints": ${svc.localEndpoints},`, `\t"serviceProxyHealthy": ${proxyHealthy}`);
  lines.push("}");
  return lines.join("\n");
}

/** Go handlers answer within tens of µs; the probe's round trip is dominated by the network. */
const GO_DELAY_US = 60;

/**
 * The health check server of one service: any method and path (its root handler has no mux).
 * 200 with local endpoints (and, current, a healthy proxy), else 503 — the Azure LB's HTTP probe
 * marks the node down on anything but 200.
 */
export function serviceHealthApp(
  svc: () => ServiceHealth,
  layout: KubeProxyLayout,
  proxyHealthy: () => boolean = () => true,
): TcpApp {
  return httpApp({
    name: "kube-proxy",
    keepAliveTimeoutUs: null,
    delayUs: GO_DELAY_US,
    handle: ({ ctx, closing }) => {
      const s = svc();
      const healthy = proxyHealthy();
      const ok = s.localEndpoints > 0 && (layout === "1.11" || healthy);
      const body = serviceHealthBody(s, layout, healthy);
      const fields: [string, string][] = [["Content-Type", "application/json"]];
      if (layout === "current")
        fields.push(
          ["X-Content-Type-Options", "nosniff"],
          ["X-Load-Balancing-Endpoint-Weight", String(s.localEndpoints)],
        );
      return formatResponse(ok ? 200 : 503, goTail(fields, ctx.now, body, closing), body);
    },
  });
}

/** Handler fields, then what net/http adds: Connection (when closing), Date, Content-Length. */
function goTail(fields: [string, string][], now: number, body: string, closing: boolean): [string, string][] {
  const out = [...fields];
  if (closing) out.push(["Connection", "close"]);
  out.push(["Date", httpDate(now)], ["Content-Length", String(new TextEncoder().encode(body).length)]);
  return out;
}

export interface ProxyHealthState {
  /** Last successful sync of the rules (µs); null before the first. */
  readonly lastUpdatedUs: number | null;
  /** When kube-proxy started (µs): Go prints times with their monotonic reading `m=+…` since then. */
  readonly startedUs: number | null;
  /** 2 × iptables syncPeriod (60 s by default). */
  readonly healthTimeoutUs: number;
  /** Current layout only: the node is not being deleted nor tainted ToBeDeletedByClusterAutoscaler. */
  readonly nodeEligible: boolean;
}

/**
 * kube-proxy's own server on --healthz-bind-address (10256): 503 once an update is overdue
 * (lastUpdated + healthTimeout < now), else 200. 1.11 serves only /healthz; current also /livez.
 * Unknown paths get ServeMux's 404.
 */
export function proxyHealthzApp(state: () => ProxyHealthState, layout: KubeProxyLayout): TcpApp {
  return httpApp({
    name: "kube-proxy",
    keepAliveTimeoutUs: null,
    delayUs: GO_DELAY_US,
    handle: ({ request, ctx, closing }) => {
      const path = request.target.split("?")[0];
      const known = path === "/healthz" || (layout === "current" && path === "/livez");
      if (!known) {
        const body = "404 page not found\n";
        const fields: [string, string][] = [
          ["Content-Type", "text/plain; charset=utf-8"],
          ["X-Content-Type-Options", "nosniff"],
        ];
        return formatResponse(404, goTail(fields, ctx.now, body, closing), body);
      }
      const s = state();
      const last = s.lastUpdatedUs ?? 0;
      const overdue = s.lastUpdatedUs !== null && ctx.now > last + s.healthTimeoutUs;
      const lastText = s.lastUpdatedUs === null ? "0001-01-01 00:00:00 +0000 UTC" : goTime(last, s.startedUs);
      const times = `{"lastUpdated": ${goQuote(lastText)},"currentTime": ${goQuote(goTime(ctx.now, s.startedUs))}`;
      let body: string;
      let ok = !overdue;
      if (layout === "current" && path === "/healthz") {
        ok &&= s.nodeEligible;
        body = `${times}, "nodeEligible": ${s.nodeEligible}}`;
      } else body = `${times}}`;
      const fields: [string, string][] = [["Content-Type", "application/json"]];
      if (layout === "current") fields.push(["X-Content-Type-Options", "nosniff"]);
      return formatResponse(ok ? 200 : 503, goTail(fields, ctx.now, body, closing), body);
    },
  });
}

/**
 * Go's time.Time.String(): `2006-01-02 15:04:05.999999999 -0700 MST`, trailing zeros of the fraction
 * dropped, then ` m=+S.NNNNNNNNN` for a time read from time.Now() (its monotonic clock reading).
 */
export function goTime(epochUs: number, startedUs: number | null): string {
  const secs = Math.floor(epochUs / 1_000_000);
  const micros = epochUs - secs * 1_000_000;
  const d = new Date(secs * 1000);
  const two = (n: number): string => String(n).padStart(2, "0");
  const date = `${d.getUTCFullYear()}-${two(d.getUTCMonth() + 1)}-${two(d.getUTCDate())}`;
  const time = `${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}`;
  const frac =
    micros > 0
      ? `.${String(micros * 1000)
          .padStart(9, "0")
          .replace(/0+$/, "")}`
      : "";
  let out = `${date} ${time}${frac} +0000 UTC`;
  if (startedUs !== null) {
    const m = epochUs - startedUs;
    const sign = m < 0 ? "-" : "+";
    const a = Math.abs(m);
    out += ` m=${sign}${Math.floor(a / 1_000_000)}.${String((a % 1_000_000) * 1000).padStart(9, "0")}`;
  }
  return out;
}
