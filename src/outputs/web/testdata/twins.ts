import { readFileSync } from "node:fs";
import { buildTwin } from "../../../controlplane/build-twin.ts";
import { parseScenario } from "../../../inputs/scenario/parse.ts";
import type { Twin } from "../../../model/twin.ts";
import { BUILTIN_SCENARIOS, builtinPath } from "../../cli/commands/scenario.ts";
import { manyNodesYaml } from "./many-nodes.ts";

/** A scenario's text and its twin, built the way `packetwalk --scenario` builds it. */
export interface Fixture {
  readonly name: string;
  /** The scenario file's path and text: the CLI reads it from here (a virtual file for generated ones). */
  readonly path: string;
  readonly text: string;
  readonly twin: Twin;
}

function fixture(name: string, path: string, text: string): Fixture {
  const parsed = parseScenario(text, path, () => null);
  if (!parsed.value) throw new Error(parsed.diagnostics.map((d) => d.message).join("\n"));
  return { name, path, text, twin: buildTwin(parsed.value) };
}

export function builtins(): Fixture[] {
  return BUILTIN_SCENARIOS.map((name) =>
    fixture(name, builtinPath(name), readFileSync(builtinPath(name), "utf8")),
  );
}

export function manyNodes(options: Parameters<typeof manyNodesYaml>[0] = {}): Fixture {
  const { nodes = 10, podsPerNode = 30, era = "today" } = options;
  const name = `many-${nodes}x${podsPerNode}-${era}`;
  return fixture(name, `/virtual/${name}.yaml`, manyNodesYaml(options));
}
