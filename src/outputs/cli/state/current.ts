import { buildTwin } from "../../../controlplane/build-twin.ts";
import type { World } from "../../../dataplane/sim/world/world.ts";
import type { Twin } from "../../../model/twin.ts";
import {
  browseThrough,
  curlThrough,
  pingThrough,
  type TrafficRun,
  trafficWorld,
} from "../../emulate/node/world-traffic.ts";
import { loadScenario } from "../commands/scenario.ts";
import { CliError, type CliIo } from "../io.ts";
import type { Action, KeptTwin } from "./format.ts";
import { keptScenario, replay } from "./replay.ts";
import { readState, statePath } from "./store.ts";

/** The scenario a read command uses when neither `--scenario` nor a kept twin says otherwise. */
export const FALLBACK_SCENARIO = "seed-cluster";

/** A fresh twin of a scenario, kept nowhere. */
export function freshTwin(io: CliIo, scenario: string): Twin {
  return twinOfLoaded(loadScenario(io, scenario));
}

function twinOfLoaded(loaded: ReturnType<typeof loadScenario>): Twin {
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

/** The twin's data plane as the kept traffic left it; `nowUs` is the virtual clock (never before the last frame). */
export interface CurrentWorld {
  readonly twin: Twin;
  readonly world: World;
  /** The scenario's seed: the World's and, mixed with a count, each traffic action's. */
  readonly seed: number;
  /** µs when the last traffic ended (0 when there was none). */
  readonly lastEnd: number;
  /**
   * The data plane's now (µs): the twin's clock, pushed on by the time traffic took (a clock advance
   * after traffic counts from its end).
   */
  readonly nowUs: number;
  /** The kept state, or null for a fresh twin (`--scenario`, or nothing kept). */
  readonly state: KeptTwin | null;
}

/** How long before the first traffic the World starts (its probes' history). */
const WORLD_LEAD_US = 60_000_000;

type TrafficAction = Extract<Action, { type: "traffic" }>;

/** The world as it is at the virtual now: its timeline run up to then (for conntrack, tcpdump). */
export function settled(w: CurrentWorld): World {
  w.world.advance(w.nowUs);
  return w.world;
}

/** When new traffic starts: now, and never before a second after the last traffic ended. */
export function nextTrafficTime(w: CurrentWorld): number {
  return w.lastEnd === 0 ? w.nowUs : Math.max(w.nowUs, w.lastEnd + 1_000_000);
}

/** Sends one traffic action through the world. */
export function runTraffic(world: World, a: Omit<TrafficAction, "type" | "at">): TrafficRun {
  switch (a.tool) {
    case "curl":
      return curlThrough(world, a.from, a.target, a.time, a.seed);
    case "browse":
      return browseThrough(world, a.from, a.target, a.time, a.seed);
    case "ping":
      return pingThrough(world, a.from, a.target, a.count, a.time, a.seed);
  }
}

/**
 * The World of the twin currentTwin gives, with the kept traffic actions replayed in order at their
 * times and seeds: deterministic, so conntrack and the captures are what they were when recorded.
 * What goes on by itself (connections the traffic left open, the nodes' guest agents) has run up
 * to the last action; a reader lets it run on to the virtual now (settled()), new traffic starts
 * from where the last action left it, so recording and replaying move the clock the same way. The
 * World is built over the final twin (objects changed between two traffic actions are not replayed
 * in between).
 */
export function currentWorld(io: CliIo, scenarioArg: string | undefined): CurrentWorld {
  if (scenarioArg === undefined && io.store) {
    const state = readState(io.store, io.readFile);
    if (state) {
      const path = statePath(io.store);
      const twin = replay(state, path);
      const seed = keptScenario(state, path).seed;
      const upUs = (twin.now - state.clock) * 1_000_000;
      // The World starts a little before the first traffic (or now, where the next one will start),
      // not at `up`: the LB's probes run over the lead only, enough for them to judge every backend
      // (interval 5 s, azure.md §1.3 and §2), instead of every probe of the hours in between.
      const first = state.actions.find((a) => a.type === "traffic")?.time ?? twin.now * 1_000_000;
      const world = trafficWorld(twin, seed, Math.max(upUs, first - WORLD_LEAD_US));
      // The data plane's now: traffic takes the time it takes, and `clock advance` counts from where
      // it left the clock (a wait after a browse is a wait after the page came).
      let lastEnd = 0;
      let nowUs = upUs;
      for (const a of state.actions) {
        if (a.type === "clock") nowUs += a.seconds * 1_000_000;
        else if (a.type === "traffic") {
          lastEnd = runTraffic(world, a).end;
          nowUs = Math.max(nowUs, lastEnd);
        }
      }
      return { twin, world, seed, lastEnd, nowUs: Math.max(twin.now * 1_000_000, nowUs), state };
    }
  }
  const loaded = loadScenario(io, scenarioArg ?? FALLBACK_SCENARIO);
  const twin = twinOfLoaded(loaded);
  const now = twin.now * 1_000_000;
  return {
    twin,
    world: trafficWorld(twin, loaded.scenario.seed, now),
    seed: loaded.scenario.seed,
    lastEnd: 0,
    nowUs: now,
    state: null,
  };
}
