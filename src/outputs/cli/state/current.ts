import { buildTwin } from "../../../controlplane/build-twin.ts";
import type { Twin } from "../../../model/twin.ts";
import { loadScenario } from "../commands/scenario.ts";
import { CliError, type CliIo } from "../io.ts";
import { replay } from "./replay.ts";
import { readState, statePath } from "./store.ts";

/** The scenario a read command uses when neither `--scenario` nor a kept twin says otherwise. */
export const FALLBACK_SCENARIO = "seed-cluster";

/** A fresh twin of a scenario, kept nowhere. */
export function freshTwin(io: CliIo, scenario: string): Twin {
  const loaded = loadScenario(io, scenario);
  try {
    return buildTwin(loaded.scenario);
  } catch (e) {
    // What the scenario checks cannot see before the controllers run (a node out of pod addresses).
    throw new CliError(
      `Cannot build the twin of ${loaded.path}: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
}

/**
 * The twin a read command (kubectl get, az, exec) looks at: `--scenario S` builds a fresh one and
 * keeps nothing; without it, the twin kept by `packetwalk up` if there is one, else the fallback.
 */
export function currentTwin(io: CliIo, scenarioArg: string | undefined): Twin {
  if (scenarioArg === undefined && io.store) {
    const state = readState(io.store, io.readFile);
    if (state) return replay(state, statePath(io.store));
  }
  return freshTwin(io, scenarioArg ?? FALLBACK_SCENARIO);
}
