import type { Command } from "commander";
import type { Twin } from "../../../model/twin.ts";
import { type WalkReport, walkJson } from "../../render/walk-json.ts";
import { captureFiles, runWalk, WalkError, type WalkRun } from "../../render/walk-run.ts";
import { compareText, walkText } from "../../render/walk-text.ts";
import { CliError, type CliIo } from "../io.ts";
import { currentTwin, FALLBACK_SCENARIO, freshTwin } from "../state/current.ts";

/**
 * `packetwalk walk`: one client's packet through the twin, every path with its exact probability
 * (walk-paths.ts), each hop with the rules hit at their line in the node's `iptables-save`, the
 * conntrack entry, the reply's way back; optionally the captures as pcap files and a second twin
 * side by side. The walk itself is render/walk-run.ts's, shared with the web view.
 */

export { DEFAULT_SPORT } from "../../render/walk-run.ts";

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

function walkTwin(twin: Twin, label: string, o: WalkOpts): WalkRun {
  try {
    return runWalk(twin, label, {
      ...(o.from === undefined ? {} : { from: o.from }),
      ...(o.to === undefined ? {} : { to: o.to }),
      proto: o.proto === "udp" ? "udp" : "tcp",
      ...(o.seed === undefined ? {} : { seed: Number(o.seed) }),
    });
  } catch (e) {
    if (e instanceof WalkError) throw new CliError(e.message);
    throw e;
  }
}

/** One pcap per interface the client's flow crossed, per path (path-N/ when there are several). */
function writeCaptures(io: CliIo, dir: string, run: WalkRun): string[] {
  if (!io.writeFile) throw new CliError("--pcap: this CLI cannot write files");
  return captureFiles(run).map((c) => {
    const file = `${dir}/${c.file}`;
    io.writeFile?.(file, c.bytes);
    return file;
  });
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
