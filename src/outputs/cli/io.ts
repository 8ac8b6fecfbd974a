import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmdirSync,
  rmSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { dirname, join, resolve } from "node:path";

/** Everything the CLI touches outside itself, so tests can run it in-process. */
export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly readFile: (path: string) => string;
  /** Writes a file, creating its directory (`walk --pcap DIR`); absent: the CLI writes no files. */
  readonly writeFile?: (path: string, data: Uint8Array | string) => void;
  /** Where a twin kept by `packetwalk up` lives; absent: the CLI keeps nothing (stateless runs). */
  readonly store?: StoreIo;
}

/** The few file operations a kept twin needs (state/), all inside one directory. */
export interface StoreIo {
  /** Absolute path of the directory (`.packetwalk/` in the working directory, or $PACKETWALK_HOME). */
  readonly dir: string;
  readonly exists: (path: string) => boolean;
  readonly mkdir: (path: string) => void;
  /** Write to a temp file in the same directory, fsync, rename over `path`: readers see old or new. */
  readonly writeFileAtomic: (path: string, text: string) => void;
  /** Creates `path` with `text` only if it does not exist (O_EXCL); false if it does. */
  readonly createExclusive: (path: string, text: string) => boolean;
  /** Removes a file; nothing if it is not there. */
  readonly remove: (path: string) => void;
  /** Removes a directory if it is empty; nothing if it is not there or holds other files. */
  readonly removeDirIfEmpty: (path: string) => void;
  readonly pid: number;
  readonly pidAlive: (pid: number) => boolean;
  /** Wall-clock time (ISO 8601), only to tell the user when a lock was taken. */
  readonly wallClock: () => string;
}

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(message);
  }
}

function fsError(e: unknown, what: string, path: string): CliError {
  const code = (e as NodeJS.ErrnoException).code;
  const why =
    code === "EACCES" || code === "EPERM"
      ? "permission denied"
      : code === "ENOSPC"
        ? "no space left on device"
        : code === "ENOTDIR"
          ? "a parent is not a directory"
          : String((e as Error).message);
  return new CliError(`Cannot ${what} "${path}": ${why}`);
}

/** The kept twin's directory and file operations on the real disk, with node:fs. */
export function processStore(dir: string): StoreIo {
  return {
    dir,
    exists: (path) => existsSync(path),
    mkdir: (path) => {
      try {
        mkdirSync(path, { recursive: true });
      } catch (e) {
        throw fsError(e, "create directory", path);
      }
    },
    writeFileAtomic: (path, text) => {
      const tmp = `${path}.tmp-${process.pid}`;
      try {
        const fd = openSync(tmp, "w", 0o644);
        try {
          writeSync(fd, text);
          fsyncSync(fd);
        } finally {
          closeSync(fd);
        }
        renameSync(tmp, path);
      } catch (e) {
        rmSync(tmp, { force: true });
        throw fsError(e, "write", path);
      }
      // The rename itself is durable once the directory is synced (not possible on every platform).
      try {
        const d = openSync(join(path, ".."), "r");
        try {
          fsyncSync(d);
        } finally {
          closeSync(d);
        }
      } catch {}
    },
    createExclusive: (path, text) => {
      let fd: number;
      try {
        fd = openSync(path, "wx", 0o644);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "EEXIST") return false;
        throw fsError(e, "create", path);
      }
      try {
        writeSync(fd, text);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      return true;
    },
    remove: (path) => {
      try {
        rmSync(path, { force: true });
      } catch (e) {
        throw fsError(e, "remove", path);
      }
    },
    removeDirIfEmpty: (path) => {
      try {
        rmdirSync(path);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== "ENOENT" && code !== "ENOTEMPTY" && code !== "EEXIST") throw fsError(e, "remove", path);
      }
    },
    pid: process.pid,
    pidAlive: (pid) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch (e) {
        // EPERM: the process exists but belongs to someone else.
        return (e as NodeJS.ErrnoException).code === "EPERM";
      }
    },
    wallClock: () => new Date().toISOString(),
  };
}

/** `$PACKETWALK_HOME`, else `.packetwalk/` in the working directory. */
export function storeDir(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string {
  return env.PACKETWALK_HOME ? resolve(cwd, env.PACKETWALK_HOME) : join(cwd, ".packetwalk");
}

export const processIo: CliIo = {
  store: processStore(storeDir()),
  writeFile: (path, data) => {
    try {
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, data);
    } catch (e) {
      throw fsError(e, "write", path);
    }
  },
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  readFile: (path) => {
    try {
      return path === "-" ? readFileSync(0, "utf8") : readFileSync(path, "utf8");
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const why =
        code === "ENOENT"
          ? "no such file"
          : code === "EISDIR"
            ? "it is a directory"
            : code === "EACCES"
              ? "permission denied"
              : String((e as Error).message);
      throw new CliError(`Cannot read "${path}": ${why}`);
    }
  },
};
