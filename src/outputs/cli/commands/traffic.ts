import type { Command } from "commander";
import type { CommandResult } from "../../emulate/types.ts";
import { CliError, type CliIo } from "../io.ts";
import { currentWorld, nextTrafficTime, runTraffic } from "../state/current.ts";
import type { TrafficTool } from "../state/format.ts";
import { readState, withLock, writeState } from "../state/store.ts";

/**
 * `packetwalk curl|ping|browse --from HOST …`: real traffic through the twin's data plane, printed as
 * curl and ping print it (browse prints the page too). On a kept twin (`packetwalk up`) the traffic
 * is recorded as an action with its time and seed, so later commands (`exec NODE -- conntrack -L`,
 * `tcpdump`) see what it left behind, and what the connections a browser keeps open do as the clock
 * moves on; with `--scenario` the twin is fresh and nothing is kept.
 */

interface TrafficOpts {
  readonly scenario?: string;
  readonly from: string;
  readonly seed?: string;
}

function emit(io: CliIo, r: CommandResult, setExit: (code: number) => void): void {
  if (r.stdout) io.stdout(r.stdout);
  if (r.stderr) io.stderr(r.stderr);
  setExit(r.exitCode);
}

function parseSeed(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text)))
    throw new CliError(`--seed must be a non-negative integer, not "${text}"`);
  return Number(text);
}

/** Sends the traffic; records it when the twin is kept (under the lock, so two runs never interleave). */
export function sendTraffic(
  io: CliIo,
  opts: TrafficOpts,
  tool: TrafficTool,
  target: string,
  count: number,
): CommandResult {
  const explicitSeed = parseSeed(opts.seed);
  const once = () => {
    const w = currentWorld(io, opts.scenario);
    const previous = w.state?.actions.filter((a) => a.type === "traffic").length ?? 0;
    // Each kept action draws its own seed from the scenario's, so two curls pick different ports.
    const seed = explicitSeed ?? (w.seed + Math.imul(previous + 1, 0x9e3779b9)) >>> 0;
    const action = { time: nextTrafficTime(w), seed, tool, from: opts.from, target, count };
    const run = runTraffic(w.world, action);
    if (w.state && io.store && run.result.exitCode !== 2)
      writeState(io.store, {
        ...w.state,
        actions: [...w.state.actions, { type: "traffic", at: w.state.clock, ...action }],
      });
    return run.result;
  };
  const store = io.store;
  if (opts.scenario === undefined && store && readState(store, io.readFile))
    return withLock(store, io.readFile, once);
  return once();
}

export function registerTraffic(program: Command, io: CliIo, setExit: (code: number) => void): void {
  const scenarioHelp = "build a fresh twin from this scenario (nothing is kept) instead of the kept one";
  program
    .command("curl")
    .description("an HTTP GET sent through the twin's data plane from a host, node or pod; prints the body")
    .requiredOption("--from <host>", "the client: an outside host, node or pod, by name or address")
    .option("--scenario <name>", scenarioHelp)
    .option("--seed <n>", "the seed of this run (source port, sequence numbers)")
    .argument("<url>", "http://ADDRESS[:PORT]/PATH")
    .addHelpText(
      "after",
      `
Examples:
  packetwalk curl --from laptop http://51.144.176.251/
  packetwalk curl --scenario seed-local --from 167.220.196.180 http://13.93.66.174/`,
    )
    .action((url: string, opts: TrafficOpts) => {
      emit(io, sendTraffic(io, opts, "curl", url, 1), setExit);
    });

  program
    .command("browse")
    .description(
      "a desktop browser opening a page through the twin's data plane: its connections stay open (HTTP keep-alive) until the server closes them; prints the page",
    )
    .requiredOption("--from <host>", "the browser's host: an outside host, node or pod, by name or address")
    .option("--scenario <name>", scenarioHelp)
    .option("--seed <n>", "the seed of this run (source ports, sequence numbers)")
    .argument("<url>", "http://ADDRESS[:PORT]/PATH")
    .addHelpText(
      "after",
      `
Like Chrome (the seed's era), it opens two connections from adjacent source ports: the page's,
and a spare one it preconnects, which fetches the stylesheet the page links. It never closes them
itself, not even after the server has: with whereami (httpd, KeepAliveTimeout 5 s) the node's
conntrack shows them ESTABLISHED at first and CLOSE_WAIT once the clock has moved past the timeout,
as the seed shows (lines 190 and 353).

Examples:
  packetwalk browse --from laptop http://51.144.176.251/
  packetwalk exec aks-nodepool1-31351229-0 -- conntrack -L -d 51.144.176.251     (ESTABLISHED)
  packetwalk clock advance 10s
  packetwalk exec aks-nodepool1-31351229-0 -- conntrack -L -d 51.144.176.251     (CLOSE_WAIT)`,
    )
    .action((url: string, opts: TrafficOpts) => {
      emit(io, sendTraffic(io, opts, "browse", url, 1), setExit);
    });

  program
    .command("ping")
    .description("ICMP echoes sent through the twin's data plane, printed as iputils ping prints them")
    .requiredOption("--from <host>", "the sender: an outside host, node or pod, by name or address")
    .option("--scenario <name>", scenarioHelp)
    .option("--seed <n>", "the seed of this run (ICMP id)")
    .option("-c <count>", "echoes to send (ping runs until ^C; the seed stopped it after 3)", "3")
    .argument("<address>")
    .addHelpText(
      "after",
      `
Examples:
  packetwalk ping --from aks-nodepool1-31351229-0 -c 3 10.13.76.26`,
    )
    .action((address: string, opts: TrafficOpts & { c: string }) => {
      const count = Number(opts.c);
      if (!Number.isSafeInteger(count) || count < 1 || count > 1000)
        throw new CliError(`ping: bad number of packets to transmit: ${opts.c}`);
      emit(io, sendTraffic(io, opts, "ping", address, count), setExit);
    });
}
