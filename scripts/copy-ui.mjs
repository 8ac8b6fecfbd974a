// After tsc: the web view's page (src/outputs/web/ui/) next to the compiled server, which serves it
// from "./ui/" relative to itself. Only the page's own kinds of file; the directory always exists.
import { copyFileSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const from = join(root, "src/outputs/web/ui");
const to = join(root, "dist/outputs/web/ui");
const PAGE_FILE = /^[a-z0-9-]+\.(html|css|js|svg|woff2)$/;

mkdirSync(to, { recursive: true });
let names = [];
try {
  names = readdirSync(from).filter((n) => PAGE_FILE.test(n));
} catch (e) {
  if (e.code !== "ENOENT") throw e;
}
for (const n of names) copyFileSync(join(from, n), join(to, n));
console.log(`copy-ui: ${names.length} file${names.length === 1 ? "" : "s"} to dist/outputs/web/ui/`);
