import type { Command } from "commander";
import type { Twin } from "../../../model/twin.ts";
import type { RunningServer } from "../../web/server.ts";
import { CliError, type CliIo } from "../io.ts";
import { currentTwin, FALLBACK_SCENARIO, freshTwin } from "../state/current.ts";
import { BUILTIN_SCENARIOS } from "./scenario.ts";

/**
 * `packetwalk serve`: the web view of the twin (outputs/web): a page and its JSON API on a local
 * port, with a second twin to compare against. run() returns once the twins are built; the
 * listening server keeps the process alive until Ctrl-C. The web modules load only when serving:
 * other commands start without them.
 */

const DEFAULT_HOST = "127.0.0.1";
const DEFAULT_PORT = 7180;

interface ServeOpts {
  scenario?: string;
  compare?: string;
  port: string;
  host: string;
}

/** The Cluster/Local pair of the seed: each is compared with the other by default. */
export function defaultCompare(main: string): string {
  return main === FALLBACK_SCENARIO ? "seed-local" : FALLBACK_SCENARIO;
}

function listenError(e: unknown, host: string, port: number): string {
  const code = (e as NodeJS.ErrnoException).code;
  const where = `${host.includes(":") ? `[${host}]` : host}:${port}`;
  if (code === "EADDRINUSE")
    return `Cannot listen on ${where}: the port is in use (choose another with --port)`;
  if (code === "EACCES") return `Cannot listen on ${where}: permission denied (choose a port above 1023)`;
  if (code === "EADDRNOTAVAIL" || code === "ENOTFOUND" || code === "EAI_AGAIN")
    return `Cannot listen on ${where}: no such address on this machine (see --host)`;
  return `Cannot listen on ${where}: ${e instanceof Error ? e.message : String(e)}`;
}

/**
 * Builds both twins (a CliError when a scenario cannot be used), then listens. The promise never
 * rejects: it gives the server, or null after printing why it could not listen.
 */
export function serve(io: CliIo, o: ServeOpts): Promise<RunningServer | null> {
  if (!/^\d+$/.test(o.port) || Number(o.port) > 65535)
    throw new CliError(`--port ${o.port}: expected a port number (0-65535)`);
  const port = Number(o.port);
  if (o.host.trim() === "") throw new CliError("--host: expected an address such as 127.0.0.1");
  const twin = currentTwin(io, o.scenario);
  const label = o.scenario ?? (io.store ? twin.scenario.name : FALLBACK_SCENARIO);
  const compareName = o.compare ?? defaultCompare(label);
  const compare = freshTwin(io, compareName);
  return listen(io, { host: o.host, port, label, compareName, twin, compare });
}

async function listen(
  io: CliIo,
  o: { host: string; port: number; label: string; compareName: string; twin: Twin; compare: Twin },
): Promise<RunningServer | null> {
  let web: [typeof import("../../web/api.ts"), typeof import("../../web/server.ts")];
  try {
    web = await Promise.all([import("../../web/api.ts"), import("../../web/server.ts")]);
  } catch (e) {
    io.stderr(
      `packetwalk: internal error: cannot load the web view (${e instanceof Error ? e.message : String(e)})\n`,
    );
    return null;
  }
  const [{ createApiState }, { startServer }] = web;
  const state = createApiState({
    main: { scenario: o.label, twin: o.twin },
    compare: { scenario: o.compareName, twin: o.compare },
    builtIn: BUILTIN_SCENARIOS,
  });
  try {
    const s = await startServer({ host: o.host, port: o.port, state });
    io.stdout(`packetwalk: serving ${o.label} on ${s.url} (compare: ${o.compareName}); Ctrl-C stops\n`);
    return s;
  } catch (e) {
    io.stderr(`packetwalk: ${listenError(e, o.host, o.port)}\n`);
    return null;
  }
}

export function registerServe(program: Command, io: CliIo, setExit: (code: number) => void): void {
  program
    .command("serve")
    .description(
      "Serve a web view of the twin: watch the packet hop by hop, compare two twins, download pcaps",
    )
    .option("--scenario <name>", "a built-in scenario or a file (default: the kept twin, else seed-cluster)")
    .option(
      "--compare <scenario>",
      "the twin to compare with (default: seed-local, or seed-cluster when the main twin is not seed-cluster)",
    )
    .option("--port <n>", "TCP port (0: any free one)", String(DEFAULT_PORT))
    .option(
      "--host <address>",
      "address to listen on (another than loopback exposes the twin to the network)",
      DEFAULT_HOST,
    )
    .addHelpText(
      "after",
      `
The page and everything it loads come from packetwalk itself: it works offline. The server keeps
the twins in memory: a scenario pasted into the page replaces its twin there, never on disk.

Examples:
  packetwalk serve
  packetwalk serve --scenario seed-local --compare seed-cluster
  packetwalk serve --port 8080`,
    )
    .action((o: ServeOpts) => {
      void serve(io, o).then((s) => {
        // run() has returned by now: a failure to listen is the process's exit status.
        if (!s) process.exitCode = 1;
      });
      setExit(0);
    });
}
