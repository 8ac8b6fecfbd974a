import { isAbsolute, resolve } from "node:path";
import type { Command } from "commander";
import { buildTwin } from "../../../controlplane/build-twin.ts";
import { CliError, type CliIo, type StoreIo } from "../io.ts";
import { FALLBACK_SCENARIO } from "../state/current.ts";
import { type KeptTwin, parseDuration, STATE_VERSION } from "../state/format.ts";
import { replay } from "../state/replay.ts";
import { readState, statePath, withLock, writeState } from "../state/store.ts";
import { BUILTIN_SCENARIOS, loadScenario } from "./scenario.ts";

/**
 * `packetwalk up|down|status|clock`: a twin kept between commands in `.packetwalk/` (or
 * $PACKETWALK_HOME). `up` records the scenario as read; kubectl apply/delete/scale and clock advance
 * append actions; every command rebuilds the twin by replaying them (state/).
 */

function storeOf(io: CliIo): StoreIo {
  if (!io.store) throw new CliError("This run of packetwalk cannot keep a twin (no state directory)");
  return io.store;
}

function utc(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace(".000Z", "Z");
}

function kept(io: CliIo, store: StoreIo): KeptTwin {
  const state = readState(store, io.readFile);
  if (!state) throw new CliError(`No twin is kept in ${store.dir}: start one with \`packetwalk up\``);
  return state;
}

export function registerTwinState(program: Command, io: CliIo, setExit: (code: number) => void): void {
  program
    .command("up")
    .description("Start a twin that keeps its state between commands (in .packetwalk/ or $PACKETWALK_HOME)")
    .option(
      "--scenario <name>",
      `a built-in (${BUILTIN_SCENARIOS.join(", ")}) or a scenario file`,
      FALLBACK_SCENARIO,
    )
    .option("--force", "replace a twin already kept there")
    .addHelpText("after", "\nExamples:\n  packetwalk up --scenario seed-local\n  packetwalk up --force\n")
    .action((o: { scenario: string; force?: boolean }) => {
      const store = storeOf(io);
      withLock(store, io.readFile, () => {
        if (!o.force && store.exists(statePath(store)))
          throw new CliError(
            `A twin is already kept in ${store.dir}: \`packetwalk down\` first, or \`packetwalk up --force\` to replace it`,
          );
        // Freeze every file the scenario reads, so editing them later does not change this twin.
        const files: Record<string, string> = {};
        const recording: CliIo = {
          ...io,
          readFile: (p) => {
            const text = io.readFile(p);
            files[p] = text;
            return text;
          },
        };
        const builtin = (BUILTIN_SCENARIOS as readonly string[]).includes(o.scenario);
        const loaded = loadScenario(recording, o.scenario);
        delete files[loaded.path];
        const path =
          builtin || loaded.path === "-" || isAbsolute(loaded.path) ? loaded.path : resolve(loaded.path);
        let twin: ReturnType<typeof buildTwin>;
        try {
          twin = buildTwin(loaded.scenario);
        } catch (e) {
          throw new CliError(
            `Cannot build the twin of ${loaded.path}: ${e instanceof Error ? e.message : String(e)}`,
          );
        }
        writeState(store, {
          version: STATE_VERSION,
          scenario: { ref: builtin ? o.scenario : path, path: loaded.path, text: loaded.text, files },
          clock: 0,
          actions: [],
        });
        io.stdout(
          `Twin of ${o.scenario} is up in ${store.dir}: ${twin.k8s.nodes.length} node(s), ${twin.k8s.pods.length} pods, ${twin.k8s.services.length} services, clock ${utc(twin.now)}\n`,
        );
      });
      setExit(0);
    });

  program
    .command("down")
    .description("Remove the kept twin (nothing to do if there is none)")
    .action(() => {
      const store = storeOf(io);
      if (!store.exists(statePath(store))) {
        io.stdout(`No twin is kept in ${store.dir}\n`);
        store.removeDirIfEmpty(store.dir);
        setExit(0);
        return;
      }
      withLock(store, io.readFile, () => store.remove(statePath(store)));
      store.removeDirIfEmpty(store.dir);
      io.stdout(`The twin kept in ${store.dir} is down\n`);
      setExit(0);
    });

  program
    .command("status")
    .description("The kept twin: scenario, virtual clock, nodes, pods, services, actions")
    .action(() => {
      const store = storeOf(io);
      const state = kept(io, store);
      const twin = replay(state, statePath(store));
      const rows: [string, string][] = [
        ["scenario", state.scenario.ref],
        ["state", statePath(store)],
        ["clock", `${utc(twin.now)} (+${state.clock}s since up)`],
        ["nodes", twin.k8s.nodes.map((n) => `${n.name} ${n.internalIP}`).join(", ")],
        ["pods", String(twin.k8s.pods.length)],
        ["services", twin.k8s.services.map((s) => `${s.meta.namespace}/${s.meta.name}`).join(", ")],
        ["actions", String(state.actions.length)],
      ];
      io.stdout(rows.map(([k, v]) => `${`${k}:`.padEnd(10)}${v}\n`).join(""));
      setExit(0);
    });

  const clock = program
    .command("clock")
    .description("The kept twin's virtual clock: show it, or move it forward");
  clock
    .command("show")
    .description("Print the virtual time")
    .action(() => {
      const store = storeOf(io);
      const state = kept(io, store);
      io.stdout(`${utc(replay(state, statePath(store)).now)} (+${state.clock}s since up)\n`);
      setExit(0);
    });
  clock
    .command("advance")
    .description("Move the virtual clock forward: 30s, 5m, 1h, 1h30m")
    .argument("<duration>")
    .action((text: string) => {
      const seconds = parseDuration(text);
      if (seconds === null || seconds === 0)
        throw new CliError(
          `Cannot advance the clock by "${text}": expected a duration like 30s, 5m, 1h or 1h30m`,
        );
      const store = storeOf(io);
      withLock(store, io.readFile, () => {
        const state = kept(io, store);
        const next: KeptTwin = {
          ...state,
          clock: state.clock + seconds,
          actions: [...state.actions, { type: "clock", at: state.clock, seconds }],
        };
        writeState(store, next);
        io.stdout(`${utc(replay(next, statePath(store)).now)} (+${next.clock}s since up)\n`);
      });
      setExit(0);
    });
}
