import type { Command } from "commander";
import { formatIpv4, parseIpv4 } from "../../../core/ip.ts";
import { isIcmpError, parseQuote } from "../../../dataplane/sim/endpoints/quote.ts";
import { PROBE_SOURCE } from "../../../dataplane/sim/fabric/probes.ts";
import { placeName } from "../../../dataplane/sim/world/types.ts";
import { placeFor, type WalkPath, walkPaths } from "../../../dataplane/sim/world/walk-paths.ts";
import type { Frame } from "../../../model/frame.ts";
import type { Twin } from "../../../model/twin.ts";
import { iptablesSave } from "../../emulate/node/iptables-save.ts";
import { writePcap } from "../../pcap/write-pcap.ts";
import { type WalkReport, walkJson, walkReport } from "../../render/walk-json.ts";
import { compareText, walkText } from "../../render/walk-text.ts";
import { CliError, type CliIo } from "../io.ts";
import { currentTwin, FALLBACK_SCENARIO, freshTwin } from "../state/current.ts";

/**
 * `packetwalk walk`: one client's packet through the twin, every path with its exact probability
 * (walk-paths.ts), each hop with the rules hit at their line in the node's `iptables-save`, the
 * conntrack entry, the reply's way back; optionally the captures as pcap files and a second twin
 * side by side.
 */

interface WalkOpts {
  scenario?: string;
  from?: string;
  to?: string;
  proto: string;
  output: string;
  pcap?: string;
  seed?: string;
  compare?: string;
}

/** The client's source port when `--from` gives none: the seed's first conntrack entry (line 197). */
export const DEFAULT_SPORT = 51535;

interface Target {
  readonly ip: number;
  readonly port: number;
  readonly path: string;
}

/** `IP:PORT`, `IP` (port 80) or `http://IP[:PORT][/path]`. */
function parseTo(text: string): Target | null {
  const m = /^(?:http:\/\/)?(\d{1,3}(?:\.\d{1,3}){3})(?::(\d+))?(\/\S*)?$/.exec(text);
  if (!m) return null;
  const ip = parseIpv4(m[1] as string);
  const port = m[2] === undefined ? 80 : Number(m[2]);
  if (ip === null || !Number.isInteger(port) || port < 1 || port > 65535) return null;
  return { ip, port, path: m[3] ?? "/" };
}

/** The default destination: the first LoadBalancer service's VIP and first port. */
function defaultTo(twin: Twin): Target | null {
  for (const s of twin.k8s.services) {
    if (s.type !== "LoadBalancer") continue;
    const vip = s.loadBalancerIngress[0];
    const port = s.ports[0];
    const ip = vip === undefined ? null : parseIpv4(vip);
    if (ip !== null && port) return { ip, port: port.port, path: "/" };
  }
  return null;
}

function resolveFrom(
  twin: Twin,
  text: string | undefined,
): { place: NonNullable<ReturnType<typeof placeFor>>; sport: number } {
  let name = text ?? twin.hosts.find((h) => h.kind === "internet")?.name;
  let sport = DEFAULT_SPORT;
  if (name === undefined) throw new CliError("The scenario has no internet host: give --from HOST|IP[:PORT]");
  const m = /^(.*):(\d+)$/.exec(name);
  if (m) {
    name = m[1] as string;
    sport = Number(m[2]);
    if (sport < 1 || sport > 65535) throw new CliError(`--from ${text}: bad port`);
  }
  const place = placeFor(twin, name);
  if (!place) throw new CliError(`--from ${text}: no host, node, pod or address of the twin`);
  return { place, sport };
}

interface Run {
  readonly report: WalkReport;
  readonly paths: readonly WalkPath[];
  readonly sport: number;
}

function walkTwin(twin: Twin, label: string, o: WalkOpts): Run {
  const { place, sport } = resolveFrom(twin, o.from);
  const to = o.to === undefined ? defaultTo(twin) : parseTo(o.to);
  if (!to)
    throw new CliError(
      o.to === undefined
        ? "The scenario has no LoadBalancer service with an address: give --to IP:PORT"
        : `--to ${o.to}: expected IP:PORT or http://IP[:PORT]/path`,
    );
  const proto = o.proto === "udp" ? "udp" : "tcp";
  const seed = o.seed === undefined ? twin.scenario.seed : Number(o.seed);
  const { paths, truncated } = walkPaths(twin, {
    from: place.place,
    ip: place.ip,
    sport,
    to: { ip: to.ip, port: to.port },
    proto,
    path: to.path,
    seed,
  });
  const saved = new Map(twin.nodes.map((n) => [n.name, iptablesSave(n, [], twin.now).stdout] as const));
  const from = `${placeName(place.place)} ${formatIpv4(place.ip)}:${sport}`;
  const report = walkReport({ twin, scenario: label, from, to, proto, paths, truncated, saved });
  return { report, paths, sport };
}

/** Whether a frame belongs to the client's flow: its own ports, or for an ICMP error those it quotes. */
function ofFlow(f: Frame, sport: number): boolean {
  const p = isIcmpError(f.packet) ? parseQuote(f.payload)?.packet : f.packet;
  return !!p && (p.sport === sport || p.dport === sport);
}

/** One pcap per interface the client's flow crossed (the LB's probes left out), per path. */
function writeCaptures(io: CliIo, dir: string, run: Run): string[] {
  if (!io.writeFile) throw new CliError("--pcap: this CLI cannot write files");
  const probe = parseIpv4(PROBE_SOURCE);
  const written: string[] = [];
  run.paths.forEach((p, i) => {
    const base = run.paths.length === 1 ? dir : `${dir}/path-${i + 1}`;
    for (const c of p.world.captures.all()) {
      const frames = c.frames.filter(
        (f) => f.packet.src !== probe && f.packet.dst !== probe && ofFlow(f, run.sport),
      );
      if (frames.length === 0) continue;
      const file = `${base}/${`${c.where}_${c.iface}`.replace(/[^A-Za-z0-9._-]/g, "_")}.pcap`;
      io.writeFile?.(file, writePcap(frames));
      written.push(file);
    }
  });
  return written;
}

export function registerWalk(program: Command, io: CliIo, setExit: (code: number) => void): void {
  program
    .command("walk")
    .description(
      "Follow one client's packet through the twin: every path with its exact probability, each hop, the rules hit, conntrack, the reply",
    )
    .option("--scenario <name>", "a built-in scenario or a file (default: the kept twin, else seed-cluster)")
    .option(
      "--from <client>",
      "HOST|IP[:PORT]: an outside host, node or pod by name, or an address (default: the scenario's internet host, port 51535)",
    )
    .option(
      "--to <dest>",
      "IP:PORT or http://IP[:PORT]/path (default: the first LoadBalancer service's VIP and port)",
    )
    .option("-p, --proto <proto>", "tcp or udp", "tcp")
    .option("-o, --output <format>", "text or json", "text")
    .option(
      "--pcap <dir>",
      "write one pcap per interface crossed (path-N/ subfolders when there are several paths)",
    )
    .option("--seed <n>", "seed of the world's randomness (default: the scenario's)")
    .option("--compare <scenario>", "walk a second twin (built-in name or file) and show both side by side")
    .addHelpText(
      "after",
      `
The paths differ by the coins of kube-proxy's "statistic --mode random" rules on the node the Azure
LB picked; the LB hashes the 5-tuple, so for one source port its backend is fixed (change the port
with --from HOST:PORT to see another). Rule lines are those of \`packetwalk exec NODE -- iptables-save\`.

Examples:
  packetwalk walk
  packetwalk walk --scenario seed-local -o json
  packetwalk walk --from laptop:62538 --to http://51.144.176.251/ --pcap captures/
  packetwalk walk --from testvm --to 10.13.76.26:80
  packetwalk walk --scenario aks-today
  packetwalk walk --compare seed-local`,
    )
    .action((o: WalkOpts) => {
      if (o.proto !== "tcp" && o.proto !== "udp") throw new CliError(`-p ${o.proto}: expected tcp or udp`);
      if (o.output !== "text" && o.output !== "json")
        throw new CliError(`-o ${o.output}: expected text or json`);
      if (o.seed !== undefined && !/^\d+$/.test(o.seed))
        throw new CliError(`--seed ${o.seed}: expected a number`);
      const twin = currentTwin(io, o.scenario);
      const label =
        o.scenario ?? (io.store && o.scenario === undefined ? twin.scenario.name : FALLBACK_SCENARIO);
      const run = walkTwin(twin, label, o);
      if (o.compare !== undefined) {
        // The other twin's own defaults: its internet host and its first LoadBalancer service.
        const { from: _f, to: _t, ...rest } = o;
        const other = walkTwin(freshTwin(io, o.compare), o.compare, rest);
        if (o.output === "json") io.stdout(walkJson({ ...run.report, compare: other.report } as WalkReport));
        else io.stdout(compareText(run.report, other.report));
      } else io.stdout(o.output === "json" ? walkJson(run.report) : walkText(run.report));
      if (o.pcap !== undefined) {
        const files = writeCaptures(io, o.pcap, run);
        io.stderr(`wrote ${files.length} pcap file${files.length === 1 ? "" : "s"} to ${o.pcap}\n`);
      }
      setExit(run.report.verdict === "delivered" ? 0 : 1);
    });
}
