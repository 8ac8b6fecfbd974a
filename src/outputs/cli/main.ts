import { Command, CommanderError } from "commander";
import { registerIptables } from "./commands/iptables.ts";
import { registerLab } from "./commands/lab.ts";
import { registerScenario } from "./commands/scenario.ts";
import { registerServe } from "./commands/serve.ts";
import { registerTraffic } from "./commands/traffic.ts";
import { registerTwinState } from "./commands/twin-state.ts";
import { registerTwinTools } from "./commands/twin-tools.ts";
import { registerWalk } from "./commands/walk.ts";
import { CliError, type CliIo, processIo } from "./io.ts";

/** The `packetwalk` command line. `run` is pure apart from `io`, so tests drive it in-process. */

export const VERSION = "0.1.0";

export function run(argv: readonly string[], io: CliIo = processIo): number {
  let exitCode = 0;
  const program = new Command()
    .name("packetwalk")
    .description(
      "A digital twin of Kubernetes networking on AKS: follow any packet through the Azure Load Balancer, kube-proxy's iptables, conntrack and the pod network",
    )
    .version(VERSION)
    .exitOverride()
    .enablePositionalOptions()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .showHelpAfterError("(run with --help for usage)")
    .addHelpText(
      "after",
      `
Examples:
  packetwalk iptables trace --rules examples/seed-cluster.rules --src 109.125.120.58 --dst 51.144.176.251 --dport 80 --in azure0 --local-ip 10.13.76.4
  packetwalk iptables check --rules node.iptables
  packetwalk iptables save --rules kube-proxy-input.txt --kernel-order
`,
    );
  registerIptables(program, io, (c) => {
    exitCode = c;
  });
  registerScenario(program, io, (c) => {
    exitCode = c;
  });
  registerTwinTools(program, io, (c) => {
    exitCode = c;
  });
  registerTwinState(program, io, (c) => {
    exitCode = c;
  });
  registerTraffic(program, io, (c) => {
    exitCode = c;
  });
  registerWalk(program, io, (c) => {
    exitCode = c;
  });
  registerServe(program, io, (c) => {
    exitCode = c;
  });
  registerLab(program, io, (c) => {
    exitCode = c;
  });
  try {
    program.parse(argv as string[], { from: "user" });
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version exit 0; usage mistakes exit 2 (commander has already printed why).
      return e.exitCode === 0 ? 0 : 2;
    }
    if (e instanceof CliError) {
      io.stderr(`packetwalk: ${e.message}\n`);
      return e.exitCode;
    }
    throw e;
  }
  return exitCode;
}
