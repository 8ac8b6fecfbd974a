import { readFileSync } from "node:fs";
import { join } from "node:path";
import { run } from "../../src/outputs/cli/main.ts";

/** Runs the CLI in-process with captured output; `files` stand in for the disk (else the real one). */
export function cli(
  args: string[],
  files: Record<string, string> = {},
): { code: number; stdout: string; stderr: string } {
  let stdout = "";
  let stderr = "";
  const code = run(args, {
    stdout: (t) => {
      stdout += t;
    },
    stderr: (t) => {
      stderr += t;
    },
    readFile: (p) => {
      if (p in files) return files[p] as string;
      try {
        return readFileSync(p, "utf8");
      } catch {
        throw new (require_cli_error())(`Cannot read "${p}": no such file`);
      }
    },
  });
  return { code, stdout, stderr };
}

import { CliError, processIo, processStore } from "../../src/outputs/cli/io.ts";

function require_cli_error() {
  return CliError;
}

/** The CLI in-process with a kept twin under `dir` (real node:fs, as a user's run has). */
export function cliIn(dir: string) {
  return cliStore(() => join(dir, ".packetwalk"));
}

/** The CLI in-process with its kept state in the directory `store()` names when it runs. */
export function cliStore(store: () => string) {
  return (...args: string[]) => {
    let stdout = "";
    let stderr = "";
    const code = run(args, {
      stdout: (t) => {
        stdout += t;
      },
      stderr: (t) => {
        stderr += t;
      },
      readFile: processIo.readFile,
      store: processStore(store()),
    });
    return { code, stdout, stderr };
  };
}
