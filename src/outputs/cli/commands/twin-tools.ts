import type { Command } from "commander";
import { runAz } from "../../emulate/az/run.ts";
import { runKubectl } from "../../emulate/kubectl/run.ts";
import { runOnNode } from "../../emulate/node/run-on-node.ts";
import { splitPipeline, stripSudo } from "../../emulate/node/shell.ts";
import { interruptedPing } from "../../emulate/node/world-traffic.ts";
import type { CommandResult } from "../../emulate/types.ts";
import type { CliIo } from "../io.ts";
import { currentTwin, currentWorld, settled } from "../state/current.ts";
import { isKubectlWrite, runKubectlWrite } from "../state/kubectl-write.ts";
import { sendTraffic } from "./traffic.ts";

/**
 * `packetwalk kubectl|az|exec [--scenario S] ...`: the investigation commands of the seed, answered
 * by a twin built from the scenario (the built-in seed-cluster by default) in the real tools' format.
 * Everything after the command name goes to the emulated tool as typed; `--scenario S` may appear
 * anywhere before `--`.
 */

export const DEFAULT_SCENARIO = "seed-cluster";

/** Takes `--scenario S` / `--scenario=S` out of the pass-through words. */
export function takeScenario(
  words: readonly string[],
  fallback: string | undefined,
): { scenario: string; rest: string[]; explicit: boolean } {
  const rest: string[] = [];
  let scenario = fallback ?? DEFAULT_SCENARIO;
  let explicit = fallback !== undefined;
  for (let i = 0; i < words.length; i++) {
    const w = words[i] as string;
    if (w === "--") {
      rest.push(...words.slice(i));
      break;
    }
    if (w === "--scenario" && i + 1 < words.length) {
      scenario = words[++i] as string;
      explicit = true;
      continue;
    }
    if (w.startsWith("--scenario=")) {
      scenario = w.slice("--scenario=".length);
      explicit = true;
      continue;
    }
    rest.push(w);
  }
  return { scenario, rest, explicit };
}

function emit(io: CliIo, r: CommandResult, setExit: (code: number) => void): void {
  if (r.stdout) io.stdout(r.stdout);
  if (r.stderr) io.stderr(r.stderr);
  setExit(r.exitCode);
}

/** Re-joins words into one shell line, quoting those that need it (so pipes typed quoted stay pipes). */
function shellLine(words: readonly string[]): string {
  if (words.length === 1) return words[0] as string;
  return words.map((w) => (/^[\w@%+=:,./|-]+$/.test(w) ? w : `'${w.replaceAll("'", `'\\''`)}'`)).join(" ");
}

/**
 * `ping [-c N] ADDRESS` typed on a node: the echoes go through the twin's data plane like
 * `packetwalk ping --from NODE`, and on a kept twin they are recorded. Without -c, ping runs until
 * ^C; the user stops it after three replies, as the seed's author did (line 267).
 */
function pingFromNode(
  io: CliIo,
  host: string,
  scenario: string | undefined,
  args: readonly string[],
): CommandResult {
  let count: number | null = null;
  const targets: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    const c = a === "-c" ? args[++i] : /^-c(\d+)$/.exec(a)?.[1];
    if (c !== undefined) {
      count = Number(c);
      if (!/^\d+$/.test(c) || count < 1 || count > 1000)
        return { stdout: "", stderr: `ping: bad number of packets to transmit.\n`, exitCode: 2 };
    } else if (a.startsWith("-"))
      return { stdout: "", stderr: `packetwalk: ping ${a} is not emulated (only -c)\n`, exitCode: 2 };
    else targets.push(a);
  }
  const [target] = targets;
  if (targets.length !== 1 || target === undefined)
    return { stdout: "", stderr: "packetwalk: ping needs one destination (and only -c)\n", exitCode: 2 };
  const opts = { from: host, ...(scenario === undefined ? {} : { scenario }) };
  const r = sendTraffic(io, opts, "ping", target, count ?? 3);
  return count === null ? { ...r, stdout: interruptedPing(r.stdout) } : r;
}

/** The words of a single `[sudo] ping …` command line, or null for anything else. */
function pingWords(line: string): string[] | null {
  const split = splitPipeline(line);
  if (!split.ok || split.value.length !== 1) return null;
  const argv = stripSudo(split.value[0] as string[]);
  return argv[0] === "ping" ? argv.slice(1) : null;
}

export function registerTwinTools(program: Command, io: CliIo, setExit: (code: number) => void): void {
  const scenarioHelp = `scenario to build the twin from: a built-in name or a file (default ${DEFAULT_SCENARIO})`;
  program
    .command("kubectl")
    .description(
      "kubectl get on the twin (services, endpoints, pods, deployments, nodes); apply, delete, scale on a kept twin",
    )
    .usage(
      "[--scenario S] get svc|ep|pod|deploy|node [NAME] [-n NS|-A] [-o wide|yaml|json|name] | apply -f FILE | delete svc|deploy|pod NAME | scale deploy NAME --replicas N",
    )
    .option("--scenario <name>", scenarioHelp)
    .argument("[args...]")
    .allowUnknownOption()
    .passThroughOptions()
    .addHelpText(
      "after",
      `
Examples:
  packetwalk kubectl get svc
  packetwalk kubectl --scenario seed-local get ep whereami
  packetwalk kubectl get pod -o wide --all-namespaces`,
    )
    .action((args: string[], opts: { scenario?: string }) => {
      const { scenario, rest, explicit } = takeScenario(args, opts.scenario);
      // apply/delete/scale change the kept twin; everything else reads it (or a fresh one).
      if (isKubectlWrite(rest)) emit(io, runKubectlWrite(io, rest, explicit), setExit);
      else emit(io, runKubectl(currentTwin(io, explicit ? scenario : undefined), rest), setExit);
    });

  program
    .command("az")
    .description("az network lb/nic/public-ip, vm list and aks show on the twin's Azure resources")
    .usage("[--scenario S] network lb rule list -g RG --lb-name kubernetes [-o table|json|tsv] [--query Q]")
    .option("--scenario <name>", scenarioHelp)
    .argument("[args...]")
    .allowUnknownOption()
    .passThroughOptions()
    .addHelpText(
      "after",
      `
Examples:
  packetwalk az network lb rule list -g MC_akstest_aksPacketWalkAzure_westeurope --lb-name kubernetes -o table
  packetwalk az network lb address-pool list -g MC_akstest_aksPacketWalkAzure_westeurope --lb-name kubernetes --query "[].backendIpConfigurations[].id" -o tsv
  packetwalk az --scenario seed-local network lb probe list -g MC_akstest_aksPacketWalkAzure_westeurope --lb-name kubernetes -o table`,
    )
    .action((args: string[], opts: { scenario?: string }) => {
      const { scenario, rest, explicit } = takeScenario(args, opts.scenario);
      emit(io, runAz(currentTwin(io, explicit ? scenario : undefined), rest), setExit);
    });

  program
    .command("exec")
    .description(
      "run a command on a node of the twin: iptables-save, iptables -L, ip, brctl, arp, curl, docker, netstat, apt install; conntrack -L and tcpdump over the traffic sent with packetwalk curl/ping; ping through the data plane",
    )
    .usage("[--scenario S] HOST -- COMMAND [ARGS...] (pipes into grep/head/tail work when quoted)")
    .option("--scenario <name>", scenarioHelp)
    .argument("<host>", "a node name or node IP")
    .argument("[command...]")
    .allowUnknownOption()
    .passThroughOptions()
    .addHelpText(
      "after",
      `
Examples:
  packetwalk exec aks-nodepool1-31351229-0 -- iptables-save
  packetwalk exec aks-nodepool1-31351229-0 -- 'iptables-save | grep whereami'
  packetwalk exec aks-nodepool1-31351229-0 -- iptables -t nat -L KUBE-MARK-MASQ
  packetwalk exec --scenario seed-local 10.13.76.4 -- curl localhost:32364/healthz
  packetwalk exec aks-nodepool1-31351229-0 -- ping 10.13.76.26   (stopped with ^C after 3 replies)`,
    )
    .action((host: string, command: string[], opts: { scenario?: string }) => {
      const { scenario, rest, explicit } = takeScenario(command, opts.scenario);
      const words = rest[0] === "--" ? rest.slice(1) : rest;
      const line = shellLine(words);
      const ping = pingWords(line);
      if (ping) {
        emit(io, pingFromNode(io, host, explicit ? scenario : undefined, ping), setExit);
        return;
      }
      // conntrack and tcpdump look at what the kept traffic left in the World; the rest at the twin.
      if (/\b(conntrack|tcpdump)\b/.test(line)) {
        const w = currentWorld(io, explicit ? scenario : undefined);
        emit(io, runOnNode(w.twin, host, line, { world: settled(w), nowUs: w.nowUs }), setExit);
      } else emit(io, runOnNode(currentTwin(io, explicit ? scenario : undefined), host, line), setExit);
    });
}
