import { execFileSync } from "node:child_process";

/** Whether `cmd` is on PATH (tests that drive real tools skip, and say why, without them). */
export function hasCommand(cmd: string): boolean {
  try {
    execFileSync("which", [cmd], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}
