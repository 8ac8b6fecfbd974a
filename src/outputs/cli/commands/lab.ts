import { join } from "node:path";
import type { Command } from "commander";
import { type LabPlan, LabPlanError, labPlan, resolveHost } from "../../../lab/plan.ts";
import { readProbeState } from "../../../lab/probes.ts";
import {
  LabError,
  LabInterrupted,
  type Ledger,
  labCurl,
  labDown,
  labExec,
  labPreflight,
  labStatus,
  labUpInterruptible,
  readLedger,
} from "../../../lab/run.ts";
import { labVerify, verifyProbeHooks } from "../../../lab/verify.ts";
import { verifyJson, verifyText } from "../../../lab/verify-report.ts";
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
        const what = p.kind === "prober" ? `prober ${p.pod}` : `server ${p.pod} :${p.port}`;
        lines.push(
          `  ${what} pid ${p.pid ?? "-"} ${ok ? (p.kind === "prober" ? "running" : "listening") : "NOT RUNNING"}`,
        );
      }
      // The prober's verdicts when it has written any, else the plan's static judgement.
      const probes = readProbeState(ledgerPath(io));
      if (probes)
        lines.push(
          `  LB probes from ${probes.source}: round ${probes.round}${probes.paused ? ", paused" : ""}`,
        );
      for (const f of l.frontends) {
        const p = probes?.frontends.find((x) => x.vip === f.vip);
        const healthy = p ? p.healthy : f.backends;
        lines.push(`  LB ${f.vip} -> ${healthy.length > 0 ? healthy.join(", ") : "no healthy backend"}`);
        for (const b of p?.backends ?? [])
          lines.push(
            `    ${b.nodeIp} ${b.up ? "up" : "down"}: ${b.text}${b.result ? ` (${b.consecutive} in a row, ${b.time})` : ""}`,
          );
      }
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
    .command("verify")
    .description(
      "Send the same flows through the lab and the simulator and compare them; exit 1 on any disagreement",
    )
    .option(
      "--scenario <name>",
      `a built-in (${BUILTIN_SCENARIOS.join(", ")}) or a scenario file (default: the kept twin, else seed-cluster)`,
    )
    .option("--flows <n>", "how many flows (each with its own client port)", "200")
    .option("--timeout <seconds>", "curl's --max-time per flow: what a dropped flow costs", "2")
    .option("-o, --output <format>", "text or json", "text")
    .addHelpText(
      "after",
      `
Builds the lab first when none is up and removes it afterwards; a lab that is up must be of the
same twin. Compared per flow: the outcome, the pod reached, the source address it saw and the
conntrack entries on every node; over the flows: the spread over pods against the twin's exact
probabilities, the rules whose iptables-save -c counters moved, and each frontend's healthy backends.

Example:
  packetwalk lab verify --scenario seed-local --flows 400`,
    )
    .action((o: { scenario?: string; flows: string; timeout: string; output: string }) => {
      preflight(["ip", "iptables-restore", "iptables-save", "conntrack", "curl", "sysctl"]);
      const flows = Number(o.flows);
      const timeoutS = Number(o.timeout);
      if (!Number.isInteger(flows) || flows < 1 || flows > 10000)
        throw new CliError(`--flows ${o.flows}: expected a whole number from 1 to 10000`);
      if (!Number.isFinite(timeoutS) || timeoutS <= 0 || timeoutS > 60)
        throw new CliError(`--timeout ${o.timeout}: expected seconds, more than 0 and at most 60`);
      if (o.output !== "text" && o.output !== "json")
        throw new CliError(`-o ${o.output}: expected text or json`);
      const twin = currentTwin(io, o.scenario);
      let plan: LabPlan;
      try {
        plan = labPlan(twin);
      } catch (e) {
        if (e instanceof LabPlanError) throw new CliError(`Cannot build a lab of this twin: ${e.message}`, 1);
        throw e;
      }
      let aborted = false;
      const onSignal = () => {
        aborted = true;
      };
      const signals = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
      for (const s of signals) process.on(s, onSignal);
      const path = ledgerPath(io);
      void labVerify(twin, plan, path, {
        flows,
        timeoutS,
        seed: twin.scenario.seed,
        log: (l) => io.stderr(`lab verify: ${l}\n`),
        aborted: () => aborted,
        ...verifyProbeHooks(path),
      })
        .then((report) => {
          io.stdout(o.output === "json" ? verifyJson(report) : verifyText(report));
          process.exitCode = report.disagreements.length === 0 ? 0 : 1;
        })
        .catch((e: unknown) => {
          if (e instanceof LabInterrupted || aborted) {
            io.stderr("packetwalk: lab verify interrupted\n");
            process.exitCode = 130;
          } else if (e instanceof LabError) {
            io.stderr(`packetwalk: ${e.message}\n`);
            process.exitCode = 1;
          } else throw e;
        })
        .finally(() => {
          for (const s of signals) process.removeListener(s, onSignal);
        });
      setExit(0);
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
