import type { NodeState } from "../../../model/node.ts";
import type { Twin } from "../../../model/twin.ts";
import type { CommandResult } from "../types.ts";
import { apt, ubuntuRelease } from "./apt.ts";
import { arp } from "./arp.ts";
import { brctl } from "./brctl.ts";
import { conntrack } from "./conntrack.ts";
import { curl } from "./curl.ts";
import { docker } from "./docker.ts";
import { ip } from "./ip.ts";
import { iptablesList } from "./iptables-list.ts";
import { iptablesSave } from "./iptables-save.ts";
import { netstat } from "./netstat.ts";
import type { NodeWorld } from "./node-world.ts";
import { FILTERS, runFilter, splitPipeline, stripSudo } from "./shell.ts";
import { tcpdump } from "./tcpdump.ts";

/**
 * `packetwalk exec NODE -- CMD`: a command line run on a node of the twin, answered from the model
 * the way the real tools print it. Pure: the twin in, stdout/stderr/exit code out. With a World (the
 * traffic sent through the twin), conntrack and tcpdump show what that traffic left behind.
 */

const COMMANDS = [
  "iptables-save",
  "iptables",
  "ip",
  "brctl",
  "arp",
  "curl",
  "hostname",
  "docker ps|inspect",
  "netstat -l",
  "conntrack -L",
  "tcpdump",
  "xargs",
  "nsenter -t PID -n",
  "apt install",
  ...FILTERS,
];

type Runner = (node: NodeState, args: readonly string[], twin: Twin, world?: NodeWorld) => CommandResult;

const RUNNERS: Readonly<Record<string, Runner>> = {
  "iptables-save": (node, args, twin) => iptablesSave(node, args, twin.now),
  "iptables-legacy-save": (node, args, twin) => iptablesSave(node, args, twin.now),
  iptables: (node, args) => iptablesList(node, args),
  "iptables-legacy": (node, args) => iptablesList(node, args),
  ip: (node, args) => ip(node.netns[0]!, args),
  brctl: (node, args) => brctl(node, args),
  arp: (node, args) => arp(node.netns[0]!, args),
  curl: (node, args, twin) => curl(node, args, twin.now),
  hostname: (node) => ({ stdout: `${node.name}\n`, stderr: "", exitCode: 0 }),
  docker: (node, args, twin) => docker(node, args, twin.now),
  netstat: (node, args) => netstat(node, args),
  conntrack: (node, args, _twin, world) => conntrack(node, args, world),
  tcpdump: (node, args, _twin, world) => tcpdump(node, args, world),
  apt: (_node, args, twin) => apt("apt", args, ubuntuRelease(twin.k8s.version)),
  "apt-get": (_node, args, twin) => apt("apt-get", args, ubuntuRelease(twin.k8s.version)),
};

function notEmulated(cmd: string, node: NodeState): CommandResult {
  return {
    stdout: "",
    stderr: `packetwalk: ${cmd} is not emulated on ${node.name}; supported: ${COMMANDS.join(", ")}\n`,
    exitCode: 127,
  };
}

/** `nsenter -t PID -n CMD…`: CMD in the network namespace of the container with that PID. */
function nsenter(node: NodeState, args: readonly string[]): CommandResult {
  const m = /^(\d+)$/.exec(args[1] ?? "");
  if (args[0] !== "-t" || !m || args[2] !== "-n" || args.length < 4) {
    return { stdout: "", stderr: "packetwalk: only `nsenter -t PID -n CMD…` is emulated\n", exitCode: 127 };
  }
  const pid = Number(m[1]);
  const container = node.containers.find((c) => c.pid === pid);
  if (!container)
    return {
      stdout: "",
      stderr: `nsenter: cannot open /proc/${pid}/ns/net: No such file or directory\n`,
      exitCode: 1,
    };
  const ns = node.netns.find((n) => n.id === container.pod) ?? node.netns[0]!;
  const [cmd, ...rest] = args.slice(3);
  if (cmd === "ip") return ip(ns, rest);
  if (cmd === "arp") return arp(ns, rest);
  return notEmulated(`${cmd} (inside nsenter)`, node);
}

/**
 * `xargs [CMD [ARGS…]]`: CMD (default echo) run once with the input's blank-separated words appended
 * (GNU xargs without -n; no quotes in our inputs). With no words GNU xargs still runs CMD once.
 */
function xargs(
  node: NodeState,
  twin: Twin,
  args: readonly string[],
  input: string,
  world: NodeWorld | undefined,
): CommandResult {
  const words = input.split(/\s+/).filter((w) => w !== "");
  if (args[0]?.startsWith("-"))
    return { stdout: "", stderr: `packetwalk: xargs ${args[0]} is not emulated\n`, exitCode: 1 };
  const cmd = args.length ? [...args] : ["echo"];
  if (cmd[0] === "echo") return { stdout: `${words.join(" ")}\n`, stderr: "", exitCode: 0 };
  const r = runStage(node, twin, stripSudo([...cmd, ...words]), null, world);
  // xargs exits 123 when the command exited 1-125, 127 when it was not found.
  return { ...r, exitCode: r.exitCode === 0 ? 0 : r.exitCode === 127 ? 127 : 123 };
}

function runStage(
  node: NodeState,
  twin: Twin,
  argv: readonly string[],
  input: string | null,
  world?: NodeWorld,
): CommandResult {
  const [cmd, ...args] = argv;
  if (cmd === undefined) return { stdout: "", stderr: "", exitCode: 0 };
  if (cmd === "xargs") return xargs(node, twin, args, input ?? "", world);
  if (FILTERS.includes(cmd)) {
    const r = runFilter(argv, input ?? "");
    if (r) return r;
  }
  if (cmd === "nsenter") return nsenter(node, args);
  const runner = RUNNERS[cmd];
  return runner ? runner(node, args, twin, world) : notEmulated(cmd, node);
}

/** The node a name or one of its addresses designates. */
export function findNode(twin: Twin, host: string): NodeState | null {
  return (
    twin.nodes.find((n) => n.name === host) ??
    twin.nodes.find(
      (n) => n.ip === host || n.netns[0]?.interfaces.some((i) => i.addresses.some((a) => a.address === host)),
    ) ??
    null
  );
}

export function runOnNode(twin: Twin, host: string, command: string, world?: NodeWorld): CommandResult {
  const node = findNode(twin, host);
  if (!node) {
    const known = twin.nodes.map((n) => `${n.name} (${n.ip})`).join(", ") || "none";
    return {
      stdout: "",
      stderr: `packetwalk: no node "${host}" in this twin; nodes: ${known}\n`,
      exitCode: 2,
    };
  }
  const split = splitPipeline(command);
  if (!split.ok) return { stdout: "", stderr: `packetwalk: ${split.error}\n`, exitCode: 2 };
  let input: string | null = null;
  let stderr = "";
  let last: CommandResult = { stdout: "", stderr: "", exitCode: 0 };
  for (const stage of split.value) {
    last = runStage(node, twin, stripSudo(stage), input, world);
    stderr += last.stderr;
    input = last.stdout;
  }
  return { stdout: last.stdout, stderr, exitCode: last.exitCode };
}
