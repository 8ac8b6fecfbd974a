#!/usr/bin/env node
// Thin launcher: the CLI is compiled to dist/ by `npm run build` (run by `npm ci` through `prepare`).
import { run } from "../dist/outputs/cli/main.js";

try {
  process.exitCode = run(process.argv.slice(2));
} catch (e) {
  process.stderr.write(`packetwalk: internal error: ${e instanceof Error ? e.message : String(e)}\n`);
  process.stderr.write("This is a bug in packetwalk; please report it with the command you ran.\n");
  process.exitCode = 70;
}
