/** bin/packetwalk.js over the sources (tsx), for tests that run the CLI as a child process. */
import { run } from "../../src/outputs/cli/main.ts";

try {
  process.exitCode = run(process.argv.slice(2));
} catch (e) {
  process.stderr.write(`packetwalk: internal error: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 70;
}
