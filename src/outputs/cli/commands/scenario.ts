import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import { stringify } from "yaml";
import { GEN_MAX_NODES, GEN_MIN_NODES, generateScenario } from "../../../inputs/scenario/generate.ts";
import { parseScenario } from "../../../inputs/scenario/parse.ts";
import type { Scenario } from "../../../model/scenario.ts";
import { renderDiagnostics } from "../diagnostics.ts";
import { CliError, type CliIo } from "../io.ts";

/**
 * `packetwalk scenario list|show|generate`: the built-in scenarios, any scenario file (raw or
 * resolved), and random valid scenarios for checking the simulator against the kernel.
 */

/** The files in scenarios/, in the order `list` prints them. */
export const BUILTIN_SCENARIOS = ["seed-cluster", "seed-local", "aks-today"] as const;

/** scenarios/ at the package root: four levels up from src/outputs/cli/commands (or dist/...). */
export const SCENARIOS_DIR = fileURLToPath(new URL("../../../../scenarios/", import.meta.url));

export function builtinPath(name: string): string {
  return `${SCENARIOS_DIR}${name}.yaml`;
}

/** A built-in's name, or a path to a scenario file (anything with a slash or a .yaml/.yml suffix). */
function locate(nameOrFile: string): string {
  if ((BUILTIN_SCENARIOS as readonly string[]).includes(nameOrFile)) return builtinPath(nameOrFile);
  if (nameOrFile === "-" || /[\\/]/.test(nameOrFile) || /\.ya?ml$/.test(nameOrFile)) return nameOrFile;
  throw new CliError(
    `Unknown scenario "${nameOrFile}": expected a built-in (${BUILTIN_SCENARIOS.join(", ")}) or a file path like ./my-cluster.yaml`,
  );
}

/** Reads and checks a scenario; prints its problems; a CliError (exit 2) if it has errors. */
export function loadScenario(
  io: CliIo,
  nameOrFile: string,
): { scenario: Scenario; path: string; text: string } {
  const path = locate(nameOrFile);
  const text = io.readFile(path);
  const readFile = (p: string): string | null => {
    try {
      return io.readFile(p);
    } catch {
      return null;
    }
  };
  const parsed = parseScenario(text, path, readFile);
  if (parsed.diagnostics.length) io.stderr(renderDiagnostics(parsed.diagnostics, text));
  if (!parsed.value) throw new CliError(`Cannot use scenario "${nameOrFile}": fix the errors above`);
  return { scenario: parsed.value, path, text };
}

/** The normalised scenario as a scenario file: every default written out, manifests inline. */
export function resolvedYaml(s: Scenario): string {
  const { later = [], ...rest } = s;
  const doc = {
    ...rest,
    manifests: s.manifests.map((m) => m.object),
    later: later.map((m) => m.object),
  };
  return stringify(doc, { lineWidth: 0, aliasDuplicateObjects: false });
}

/** A whole number from `lo` to `hi` given to `flag`, or a CliError saying what was expected. */
function intFlag(flag: string, text: string, lo: number, hi: number): number {
  const n = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < lo || n > hi)
    throw new CliError(`${flag} must be an integer from ${lo} to ${hi}, not "${text}"`);
  return n;
}

function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows
    .map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]! + 3))).join(""))
    .join("\n");
}

export function registerScenario(program: Command, io: CliIo, setExit: (code: number) => void): void {
  const cmd = program
    .command("scenario")
    .description("The clusters packetwalk can build: list the built-in scenarios, show one, check your own")
    .addHelpText(
      "after",
      `
A scenario is a YAML file: the az aks create parameters, the VNet, the Kubernetes manifests, the
hosts outside the cluster, and optional pins that reproduce one real cluster. Omitted fields take
today's AKS defaults (Kubernetes before 1.19: the 2019 ones).

Examples:
  packetwalk scenario list
  packetwalk scenario show seed-cluster
  packetwalk scenario show aks-today --resolved
  packetwalk scenario show ./my-cluster.yaml --resolved
  packetwalk scenario generate --seed 7 -o gen-7.yaml
`,
    );

  cmd
    .command("list")
    .description("List the built-in scenarios")
    .addHelpText("after", "\nExample:\n  packetwalk scenario list\n")
    .action(() => {
      const rows = [["NAME", "DESCRIPTION"]];
      for (const name of BUILTIN_SCENARIOS) rows.push([name, loadScenario(io, name).scenario.description]);
      io.stdout(`${table(rows)}\n`);
      setExit(0);
    });

  cmd
    .command("show")
    .description(
      "Print a scenario file (a built-in's name or a path); --resolved: with every default filled in",
    )
    .argument("<name|file>", `a built-in (${BUILTIN_SCENARIOS.join(", ")}) or a scenario file`)
    .option("--resolved", "print the checked, normalised scenario (defaults applied) as YAML")
    .addHelpText(
      "after",
      `
Exit status: 0, or 2 when the scenario cannot be read or has errors (printed with file:line:column).

Examples:
  packetwalk scenario show seed-local
  packetwalk scenario show aks-today --resolved
  packetwalk scenario show ./my-cluster.yaml --resolved > my-cluster.resolved.yaml
`,
    )
    .action((nameOrFile: string, o: { resolved?: boolean }) => {
      const { scenario, text } = loadScenario(io, nameOrFile);
      io.stdout(o.resolved ? resolvedYaml(scenario) : text);
      setExit(0);
    });

  cmd
    .command("generate")
    .description(
      "Print a random but valid scenario for lab verify: 2 to 4 nodes, pods spread over them, Cluster and Local LoadBalancers, a ClusterIP service and one without endpoints",
    )
    .option("--seed <n>", "the seed: the same seed always gives the same file (default 1)")
    .option(`--nodes <n>`, `node count, ${GEN_MIN_NODES} to ${GEN_MAX_NODES} (default: drawn from the seed)`)
    .option("-o, --output <file>", "write the scenario to FILE instead of printing it")
    .addHelpText(
      "after",
      `
The file's header says what it holds: the version, CNI mode and LB SKU drawn, where each pod runs,
which node has no endpoint of the Local service, which pods may hairpin through their own service.

Exit status: 0, or 2 on a bad --seed, --nodes or output file.

Examples:
  packetwalk scenario generate --seed 7
  packetwalk scenario generate --seed 7 --nodes 4 -o gen-7.yaml
  packetwalk walk --scenario gen-7.yaml --from laptop
`,
    )
    .action((o: { seed?: string; nodes?: string; output?: string }) => {
      const seed = o.seed === undefined ? 1 : intFlag("--seed", o.seed, 0, 0xffffffff);
      const nodes =
        o.nodes === undefined ? undefined : intFlag("--nodes", o.nodes, GEN_MIN_NODES, GEN_MAX_NODES);
      const { yaml } = generateScenario(seed, nodes === undefined ? {} : { nodes });
      if (o.output === undefined) io.stdout(yaml);
      else {
        if (!io.writeFile) throw new CliError("-o: this CLI cannot write files");
        io.writeFile(o.output, yaml);
      }
      setExit(0);
    });
}
