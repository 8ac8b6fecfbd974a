import jmespath from "jmespath";
import type { Twin } from "../../../model/twin.ts";
import type { CommandResult } from "../types.ts";
import { type Args, COMMANDS, NotFound } from "./commands.ts";
import { formatJson, formatTable, formatTsv, type Json, type Originals } from "./knack.ts";

/**
 * `az` over the twin: the read-only network/vm/aks commands of the seed, with the CLI's global
 * --query (JMESPath) and --output handling. Order of work as in azure-cli/knack: the command's
 * result, the resourceGroup transform, the query, then the formatter (a table transformer only
 * when no query is active); a null result prints nothing.
 */

const SHORT: Readonly<Record<string, string>> = { "-g": "resource-group", "-n": "name", "-o": "output" };
const FORMATS = ["json", "jsonc", "table", "tsv", "none"] as const;

function supported(): string {
  return `Supported: ${Object.keys(COMMANDS)
    .map((c) => `az ${c}`)
    .join(
      ", ",
    )}; options -g/--resource-group, --lb-name, --nic-name, -n/--name, --query JMESPATH, -o ${FORMATS.join("|")}`;
}

function usage(message: string): CommandResult {
  return { stdout: "", stderr: `ERROR: ${message}\n${supported()}\n`, exitCode: 2 };
}

/** `resourceGroup` from an ARM id (`/subscriptions/<s>/resourceGroups/<rg>/...`, any case). */
function groupOf(id: string): string | null {
  const parts = id.split("/");
  return parts.length > 4 && parts[3]!.toLowerCase() === "resourcegroups" ? parts[4]! : null;
}

/**
 * azure-cli's _resource_group_transform: every dict with a truthy id and no resourceGroup key
 * (any case) gains one, recursively. Also copies the result into fresh objects, sorted by key,
 * remembering them as the command's own (see Originals).
 */
function transform(value: Json, originals: Originals): Json {
  if (Array.isArray(value)) return value.map((v) => transform(v, originals));
  if (value === null || typeof value !== "object") return value;
  const out: { [k: string]: Json } = {};
  const keys = Object.keys(value);
  const id = value.id;
  if (!keys.some((k) => k.toLowerCase() === "resourcegroup") && typeof id === "string" && id) {
    const rg = groupOf(id);
    if (rg !== null) keys.push("resourceGroup");
    for (const k of keys.sort())
      out[k] = k === "resourceGroup" && !(k in value) ? rg! : transform(value[k]!, originals);
  } else for (const k of keys.sort()) out[k] = transform(value[k]!, originals);
  originals.add(out);
  return out;
}

interface Parsed {
  readonly path: string;
  readonly args: Args;
  readonly query: string | null;
  readonly output: (typeof FORMATS)[number];
}

function parse(argv: readonly string[]): Parsed | CommandResult {
  const words: string[] = [];
  let i = 0;
  while (i < argv.length && !argv[i]!.startsWith("-")) words.push(argv[i++]!);
  const path = words.join(" ");
  const command = COMMANDS[path];
  if (!command) return usage(`'${path}' is not a command the twin answers.`);
  const args: Record<string, string> = {};
  const allowed = new Set([...command.required, ...command.optional, "query", "output"]);
  for (; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf("=");
    const flag = eq > 0 && arg.startsWith("--") ? arg.slice(0, eq) : arg;
    const name = SHORT[flag] ?? (flag.startsWith("--") ? flag.slice(2) : null);
    if (name === null || !allowed.has(name)) return usage(`unrecognized arguments: ${arg}`);
    const value = eq > 0 && arg.startsWith("--") ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined) return usage(`argument ${flag}: expected one argument`);
    args[name] = value;
  }
  const missing = command.required.filter((r) => args[r] === undefined);
  if (missing.length > 0) {
    const spell = (r: string): string =>
      r === "resource-group" ? "--resource-group/-g" : r === "name" ? "--name/-n" : `--${r}`;
    return usage(`the following arguments are required: ${missing.map(spell).join(", ")}`);
  }
  const output = (args.output ?? "json").toLowerCase();
  if (!(FORMATS as readonly string[]).includes(output)) {
    return usage(
      `argument --output/-o: invalid choice: '${args.output}' (choose from ${FORMATS.map((f) => `'${f}'`).join(", ")})`,
    );
  }
  return { path, args, query: args.query ?? null, output: output as Parsed["output"] };
}

export function runAz(twin: Twin, argv: readonly string[]): CommandResult {
  const parsed = parse(argv);
  if ("exitCode" in parsed) return parsed;
  const command = COMMANDS[parsed.path]!;
  const raw = command.run(twin, twin.azure.apiEra, parsed.args);
  if (raw instanceof NotFound) return { stdout: "", stderr: `ERROR: ${raw.message}\n`, exitCode: 1 };

  const originals: Originals = new WeakSet();
  let result = transform(raw, originals);
  if (parsed.query !== null) {
    try {
      result = jmespath.search(result, parsed.query) as Json;
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      return usage(`argument --query: invalid jmespath_type value: '${parsed.query}' (${why})`);
    }
  }
  if (result === null || result === undefined) return { stdout: "", stderr: "", exitCode: 0 };

  switch (parsed.output) {
    case "json":
    case "jsonc": // jsonc is json when stdout is not a terminal, as here
      return { stdout: formatJson(result), stderr: "", exitCode: 0 };
    case "tsv":
      return { stdout: formatTsv(result, originals), stderr: "", exitCode: 0 };
    case "none":
      return { stdout: "", stderr: "", exitCode: 0 };
    case "table": {
      const transformer = parsed.query === null ? command.tableQuery : undefined;
      const shaped = transformer ? (jmespath.search(result, transformer) as Json) : result;
      try {
        return {
          stdout: formatTable(shaped, parsed.query === null && !transformer),
          stderr: "",
          exitCode: 0,
        };
      } catch {
        const msg =
          "Table output unavailable. Use the --query option to specify an appropriate query. Use --debug for more info.";
        return { stdout: "", stderr: `ERROR: ${msg}\n`, exitCode: 1 };
      }
    }
  }
}
