import { join } from "node:path";
import type { Command } from "commander";
import { type LabPlan, LabPlanError, labPlan, resolveHost } from "../../../lab/plan.ts";
import {
  LabError,
  type Ledger,
  labCurl,
  labDown,
  labExec,
  labPreflight,
  labStatus,
  labUpInterruptible,
  readLedger,
} from "../../../lab/run.ts";
import { CliError, type CliIo, storeDir } from "../io.ts";
import { currentTwin } from "../state/current.ts";
import { BUILTIN_SCENARIOS } from "./scenario.ts";

/**
 * `packetwalk lab up|status|exec|curl|down`: the twin built for real in Linux network namespaces
 * (src/lab/). `lab up` returns from run() once the plan is made and builds the lab asynchronously
 * (so Ctrl-C can stop it between two steps and remove what it made); its exit status is the
 * process's. The others are synchronous. All need root on Linux: without, exit 1 and why.
 */

function ledgerPath(io: CliIo): string {
  return join(io.store?.dir ?? storeDir(), "lab.json");
}

function preflight(tools?: readonly string[]): void {
  const why = labPreflight(tools);
  if (why) throw new CliError(why, 1);
}

function ledgerOrFail(io: CliIo): Ledger {
  const l = readLedger(ledgerPath(io));
  if (!l) throw new CliError("No lab is up: start one with `packetwalk lab up`", 1);
  return l;
}

function hostNs(ledger: Ledger, host: string): string {
  const h = resolveHost(ledger.hosts, host);
  if (!h)
    throw new CliError(
      `No lab host "${host}": use a node, pod (name or namespace/name) or outside host name, or a namespace (${ledger.hosts
        .filter((n) => n.role !== "pod")
        .map((n) => n.twinName)
        .join(", ")}, ...; see \`packetwalk lab status\`)`,
      1,
    );
  return h.name;
}

function summary(plan: LabPlan): string {
  const lines = [`Lab of ${plan.scenario} is up (${plan.cniMode} mode):`];
  for (const n of plan.namespaces)
    lines.push(`  ${n.name.padEnd(10)} ${n.role.padEnd(6)} ${n.twinName}${n.ip ? ` ${n.ip}` : ""}`);
  for (const f of plan.frontends)
    lines.push(
      `  LB ${f.vip} -> ${f.backends.length > 0 ? f.backends.join(", ") : "no healthy backend"} (${f.probes
        .map((p) => `${p.nodeIp}: ${p.why}`)
        .join("; ")})`,
    );
  lines.push("Try: packetwalk lab curl --from <host> http://<VIP>/   packetwalk lab down");
  return `${lines.join("\n")}\n`;
}

export function registerLab(program: Command, io: CliIo, setExit: (code: number) => void): void {
  /** Runs a real command in a lab host's namespace and passes on its output and exit status. */
  const inHost = (
    host: string,
    run: (ns: string) => { stdout: string; stderr: string; status: number | null },
  ) => {
    const ns = hostNs(ledgerOrFail(io), host);
    try {
      const r = run(ns);
      io.stdout(r.stdout);
      io.stderr(r.stderr);
      setExit(r.status ?? 1);
    } catch (e) {
      if (e instanceof LabError) throw new CliError(e.message, 1);
      throw e;
    }
  };
  const lab = program
    .command("lab")
    .description(
      "Build the twin for real in Linux network namespaces (root): real iptables, conntrack, packets",
    )
    .enablePositionalOptions();

  lab
    .command("up")
    .description("Create the lab: a namespace per node, pod and outside host, and one for Azure's side")
    .option(
      "--scenario <name>",
      `a built-in (${BUILTIN_SCENARIOS.join(", ")}) or a scenario file (default: the kept twin, else seed-cluster)`,
    )
    .action((o: { scenario?: string }) => {
      preflight();
      let plan: LabPlan;
      try {
        plan = labPlan(currentTwin(io, o.scenario));
      } catch (e) {
        if (e instanceof LabPlanError) throw new CliError(`Cannot build a lab of this twin: ${e.message}`, 1);
        throw e;
      }
      const path = ledgerPath(io);
      void labUpInterruptible(
        plan,
        path,
        (l) => io.stderr(`lab: ${l}\n`),
        (l) => io.stderr(`packetwalk: ${l}\n`),
      ).then((code) => {
        if (code === 0) {
          const warnings = readLedger(path)?.warnings ?? [];
          for (const w of warnings) io.stderr(`packetwalk: warning: ${w}\n`);
          io.stdout(summary(plan));
        }
        process.exitCode = code;
      });
      setExit(0);
    });

  lab
    .command("status")
    .description(
      "What the lab holds: namespaces, servers, load balancer; exit 1 when no lab is up or it is damaged",
    )
    .action(() => {
      preflight(["ip"]);
      const s = labStatus(ledgerPath(io));
      if (!s.ledger) {
        io.stdout(
          s.strays.length > 0
            ? `No lab ledger, but leftover namespaces: ${s.strays.join(", ")} (run \`packetwalk lab down\`)\n`
            : "No lab is up\n",
        );
        setExit(1);
        return;
      }
      const l = s.ledger;
      const lines = [`Lab of ${l.scenario}: ${l.state}, started ${l.startedAt} by pid ${l.pid}`];
      for (const n of l.hosts) {
        const present = s.namespacesPresent.includes(n.name) ? "" : "  (missing)";
        lines.push(
          `  ${n.name.padEnd(10)} ${n.role.padEnd(6)} ${n.twinName}${n.ip ? ` ${n.ip}` : ""}${present}`,
        );
      }
      for (const p of l.processes) {
        const ok = s.serversAlive.includes(p);
        lines.push(`  server ${p.pod} :${p.port} pid ${p.pid ?? "-"} ${ok ? "listening" : "NOT RUNNING"}`);
      }
      for (const f of l.frontends)
        lines.push(
          `  LB ${f.vip} -> ${f.backends.length > 0 ? f.backends.join(", ") : "no healthy backend"}`,
        );
      for (const w of l.warnings) lines.push(`  warning: ${w}`);
      if (s.strays.length > 0) lines.push(`  stray namespaces: ${s.strays.join(", ")}`);
      io.stdout(`${lines.join("\n")}\n`);
      const healthy =
        l.state === "up" &&
        s.namespacesMissing.length === 0 &&
        s.serversDead.length === 0 &&
        s.strays.length === 0;
      setExit(healthy ? 0 : 1);
    });

  lab
    .command("exec")
    .description(
      "Run a real command in a lab host's namespace (iptables-save, conntrack -L, ip, tcpdump, curl...)",
    )
    .usage("HOST -- COMMAND [ARGS...]")
    .argument(
      "<host>",
      "a node name, a pod (name or namespace/name), an outside host's name, or a pwl- namespace",
    )
    .argument("[command...]")
    .allowUnknownOption()
    .passThroughOptions()
    .addHelpText(
      "after",
      `
Examples:
  packetwalk lab exec aks-nodepool1-31351229-0 -- iptables-save -t nat
  packetwalk lab exec aks-nodepool1-31351229-0 -- conntrack -L
  packetwalk lab exec laptop -- ip route`,
    )
    .action((host: string, command: string[]) => {
      preflight(["ip"]);
      const words = command[0] === "--" ? command.slice(1) : command;
      if (words.length === 0) throw new CliError("lab exec: no command given (HOST -- COMMAND ...)");
      inHost(host, (ns) => labExec(ns, words));
    });

  lab
    .command("curl")
    .description("curl a URL from a lab host (the pods answer with the source address they saw)")
    .requiredOption("--from <host>", "a node, pod or outside host")
    .argument("<url>")
    .addHelpText("after", "\nExample:\n  packetwalk lab curl --from laptop http://51.144.176.251/\n")
    .action((url: string, o: { from: string }) => {
      preflight(["ip"]);
      inHost(o.from, (ns) => labCurl(ns, url));
    });

  lab
    .command("down")
    .description(
      "Remove the lab: its processes, namespaces and links; also what a crashed run left (idempotent)",
    )
    .action(() => {
      preflight(["ip"]);
      const r = labDown(ledgerPath(io));
      if (r.left.length > 0) {
        io.stderr(`packetwalk: lab down could not remove: ${r.left.join(", ")}\n`);
        setExit(1);
        return;
      }
      io.stdout(
        r.namespaces.length === 0 && r.processes.length === 0
          ? "No lab was up: nothing to remove\n"
          : `Lab removed: ${r.namespaces.length} namespace(s), ${r.processes.length} process(es)\n`,
      );
      setExit(0);
    });
}
