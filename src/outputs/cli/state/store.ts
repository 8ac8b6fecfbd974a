import { join } from "node:path";
import { CliError, type StoreIo } from "../io.ts";
import { DamagedState, type KeptTwin, parseState, serialise } from "./format.ts";

/**
 * The kept twin's directory: `state.json` (written atomically, so a reader sees the old or the new
 * state, never half of one) and `lock` (created with O_EXCL by every command that changes the state,
 * holding its pid and time; a lock whose pid is gone is stale and taken over).
 */

export function statePath(store: StoreIo): string {
  return join(store.dir, "state.json");
}

function lockPath(store: StoreIo): string {
  return join(store.dir, "lock");
}

/** null when no twin is kept; a CliError naming the file and the problem when it is damaged. */
export function readState(store: StoreIo, readFile: (path: string) => string): KeptTwin | null {
  const path = statePath(store);
  if (!store.exists(path)) return null;
  try {
    return parseState(readFile(path));
  } catch (e) {
    if (!(e instanceof DamagedState)) throw e;
    throw new CliError(
      `The kept twin's state ${path} is damaged: ${e.message}. It was left as it is: fix it, or start again with \`packetwalk up --force\` (or \`packetwalk down\`).`,
    );
  }
}

export function writeState(store: StoreIo, state: KeptTwin): void {
  store.writeFileAtomic(statePath(store), serialise(state));
}

/** Runs `body` holding the lock; a CliError if another live command holds it. */
export function withLock<T>(store: StoreIo, readFile: (path: string) => string, body: () => T): T {
  const path = lockPath(store);
  const mine = `${store.pid} ${store.wallClock()}\n`;
  store.mkdir(store.dir);
  if (!store.createExclusive(path, mine)) {
    let holder = "";
    try {
      holder = readFile(path);
    } catch {
      // Removed between our attempt and this read: the holder finished.
    }
    const m = /^(\d+) (\S+)/.exec(holder);
    if (holder && !m)
      throw new CliError(
        `The lock ${path} is damaged (${JSON.stringify(holder.slice(0, 40))}): remove it if no packetwalk command is running`,
      );
    if (m && store.pidAlive(Number(m[1])))
      throw new CliError(
        `Another packetwalk command (pid ${m[1]}, since ${m[2]}) is changing the twin in ${store.dir}: try again when it has finished (or remove ${path} if it is not running)`,
      );
    // The holder is gone without releasing the lock (killed): take it over.
    store.remove(path);
    if (!store.createExclusive(path, mine))
      throw new CliError(`Another packetwalk command took the lock ${path} at the same moment: try again`);
  }
  try {
    return body();
  } finally {
    store.remove(path);
  }
}
