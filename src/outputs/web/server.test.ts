import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { cli } from "../../../test/support/cli.ts";
import { BUILTIN_SCENARIOS } from "../cli/commands/scenario.ts";
import { type CliIo, processIo } from "../cli/io.ts";
import { freshTwin } from "../cli/state/current.ts";
import { createApiState } from "./api.ts";
import { MAX_BODY, type RunningServer, startServer } from "./server.ts";

const io: CliIo = { stdout: () => {}, stderr: () => {}, readFile: processIo.readFile };
const state = () =>
  createApiState({
    main: { scenario: "seed-cluster", twin: freshTwin(io, "seed-cluster") },
    compare: null,
    builtIn: BUILTIN_SCENARIOS,
  });

/** A page directory with one file of each kind, and a file beside it that must never be served. */
const root = mkdtempSync(join(tmpdir(), "packetwalk-web-"));
const ui = join(root, "ui");
mkdirSync(join(ui, "sub"), { recursive: true });
const PAGE = {
  "index.html": "<!doctype html><title>packetwalk</title>",
  "app.js": "export {};",
  "style.css": "body{}",
  "icon.svg": "<svg xmlns='http://www.w3.org/2000/svg'/>",
  "font.woff2": "wOF2",
  "notes.txt": "not a page file",
  "Upper.js": "upper case",
};
for (const [name, text] of Object.entries(PAGE)) writeFileSync(join(ui, name), text);
writeFileSync(join(ui, "sub", "x.js"), "nested");
writeFileSync(join(root, "secret.js"), "outside");

let server: RunningServer;
const twin = state();
before(async () => {
  server = await startServer({ port: 0, state: twin, uiDir: ui });
});
after(async () => {
  await server.close();
  rmSync(root, { recursive: true, force: true });
});

/** A request with the path exactly as written (fetch would normalise `..` away before sending). */
function raw(
  path: string,
  o: { method?: string; headers?: Record<string, string>; body?: Buffer | string } = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((done, fail) => {
    const u = new URL(server.url);
    const req = request(
      { host: u.hostname, port: u.port, path, method: o.method ?? "GET", headers: o.headers ?? {} },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => {
          body += c;
        });
        res.on("end", () => done({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on("error", fail);
    req.end(o.body);
  });
}

describe("startServer", () => {
  it("listens on 127.0.0.1 unless told otherwise", () => {
    assert.equal(server.host, "127.0.0.1");
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    assert.ok(server.port > 0);
  });

  it("serves the page at / and its files under /ui/ with their types, never cached", async () => {
    const types: [string, string, string][] = [
      ["/", "text/html; charset=utf-8", PAGE["index.html"]],
      ["/ui/index.html", "text/html; charset=utf-8", PAGE["index.html"]],
      ["/ui/app.js", "text/javascript; charset=utf-8", PAGE["app.js"]],
      ["/ui/style.css", "text/css; charset=utf-8", PAGE["style.css"]],
      ["/ui/icon.svg", "image/svg+xml", PAGE["icon.svg"]],
      ["/ui/font.woff2", "font/woff2", PAGE["font.woff2"]],
    ];
    for (const [path, type, text] of types) {
      const res = await fetch(new URL(path, server.url));
      assert.equal(res.status, 200, path);
      assert.equal(res.headers.get("content-type"), type, path);
      assert.equal(res.headers.get("cache-control"), "no-store", path);
      assert.equal(res.headers.get("x-content-type-options"), "nosniff", path);
      assert.equal(await res.text(), text, path);
    }
  });

  it("allows the page nothing but itself (Content-Security-Policy), API answers included", async () => {
    for (const path of ["/", "/api/scenarios", "/nothing"]) {
      const res = await fetch(new URL(path, server.url));
      const csp = res.headers.get("content-security-policy") ?? "";
      assert.match(csp, /^default-src 'self';/, path);
      assert.doesNotMatch(csp, /https?:|\*|'unsafe-/, path);
      assert.equal(res.headers.get("x-content-type-options"), "nosniff", path);
    }
  });

  it("serves no file outside ui/, nor any name that is not a plain page file", async () => {
    for (const path of [
      "/ui/../package.json",
      "/ui/%2e%2e/package.json",
      "/ui/..%2fsecret.js",
      "/ui/%2e%2e%2fsecret.js",
      "/ui/../secret.js",
      "/ui/..\\secret.js",
      "/ui/sub/x.js",
      "/ui/sub%2fx.js",
      "/ui/notes.txt",
      "/ui/Upper.js",
      "/ui/.hidden.js",
      "/ui/",
      "/ui/missing.js",
      "/package.json",
      "/secret.js",
      "/../secret.js",
    ]) {
      const r = await raw(path);
      assert.equal(r.status, 404, path);
      assert.doesNotMatch(r.body, /outside|nested|"name": "packetwalk"|not a page file|upper case/, path);
      assert.equal(r.headers["content-type"], "application/json; charset=utf-8", path);
      assert.ok((JSON.parse(r.body) as { error: string }).error.length > 0, path);
    }
  });

  it("a page file answers GET and HEAD only", async () => {
    const r = await raw("/", { method: "POST", body: "" });
    assert.equal(r.status, 405);
    assert.equal(r.headers.allow, "GET, HEAD");
    const head = await raw("/ui/app.js", { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(head.headers["content-type"], "text/javascript; charset=utf-8");
    assert.equal(head.body, "");
  });

  it("a body over 1 MiB: 413, with or without its length announced", async () => {
    const big = "x".repeat(2 * 1024 * 1024);
    const res = await fetch(new URL("/api/scenario", server.url), {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ text: big }),
    });
    assert.equal(res.status, 413);
    assert.match(((await res.json()) as { error: string }).error, /larger than 1048576 bytes/);
    // Chunked: the server counts as it reads.
    const r = await raw("/api/walk", {
      method: "POST",
      headers: { "Transfer-Encoding": "chunked", "Content-Type": "application/json" },
      body: Buffer.alloc(MAX_BODY + 1, 0x20),
    });
    assert.equal(r.status, 413);
    // Exactly the limit is read (and is then only a JSON mistake).
    const ok = await raw("/api/walk", { method: "POST", body: Buffer.alloc(MAX_BODY, 0x20) });
    assert.equal(ok.status, 200, ok.body);
    // The server goes on serving.
    assert.equal((await fetch(new URL("/api/scenarios", server.url))).status, 200);
  });

  it("a body that is not UTF-8: 400", async () => {
    const r = await raw("/api/walk", { method: "POST", body: Buffer.from([0x7b, 0xff, 0x7d]) });
    assert.equal(r.status, 400);
    assert.match(r.body, /not UTF-8/);
  });

  it("answers only to this machine's names, and takes changes only from its own page", async () => {
    const evil = await raw("/api/scenarios", { headers: { Host: "evil.example:80" } });
    assert.equal(evil.status, 403);
    assert.match(evil.body, /Host \\"evil\.example:80\\" is not this machine/);
    const port = new URL(server.url).port;
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`])
      assert.equal((await raw("/api/scenarios", { headers: { Host: host } })).status, 200, host);
    const cross = await raw("/api/walk", {
      method: "POST",
      headers: { Origin: "http://evil.example", "Content-Type": "text/plain" },
      body: "{}",
    });
    assert.equal(cross.status, 403);
    assert.match(cross.body, /Requests from http:\/\/evil\.example are not allowed/);
    const own = await raw("/api/walk", {
      method: "POST",
      headers: { Origin: server.url.replace(/\/$/, "") },
      body: "{}",
    });
    assert.equal(own.status, 200);
  });

  it("anything else: 404 with a JSON error", async () => {
    const r = await raw("/favicon.ico");
    assert.equal(r.status, 404);
    assert.deepEqual(JSON.parse(r.body), { error: "Nothing at /favicon.ico: the page is at /" });
  });

  it("no compare twin: the compare side is a 404 that says how to get one", async () => {
    const r = await raw("/api/twin?side=compare");
    assert.equal(r.status, 404);
    assert.match(r.body, /no twin to compare with/);
  });

  it("a port in use rejects with EADDRINUSE", async () => {
    await assert.rejects(startServer({ port: server.port, state: twin }), { code: "EADDRINUSE" });
  });
});

describe("the real page directory", () => {
  it("is ui/ next to the server module", async () => {
    const s = await startServer({ port: 0, state: twin });
    try {
      const dir = fileURLToPath(new URL("./ui/", import.meta.url));
      const r = await fetch(new URL("/ui/does-not-exist.js", s.url));
      assert.equal(r.status, 404);
      // Whatever the page holds is served from there (index.html may be written later).
      const file = readdirSync(dir).find((n) => /^[a-z0-9-]+\.(js|css|html)$/.test(n));
      if (file) assert.equal((await fetch(new URL(`/ui/${file}`, s.url))).status, 200, file);
    } finally {
      await s.close();
    }
  });
});

describe("packetwalk serve", () => {
  const main = fileURLToPath(new URL("../cli/main.ts", import.meta.url));
  const home = mkdtempSync(join(tmpdir(), "packetwalk-serve-"));
  after(() => rmSync(home, { recursive: true, force: true }));

  /** The CLI in a process of its own, as `packetwalk` runs it (the server keeps it alive). */
  function start(...args: string[]): ChildProcess {
    const script = `import { run } from ${JSON.stringify(main)}; process.exitCode = run(process.argv.slice(1));`;
    return spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script, ...args], {
      env: { ...process.env, PACKETWALK_HOME: home },
      stdio: ["ignore", "pipe", "pipe"],
    });
  }

  function output(p: ChildProcess): { stdout: () => string; stderr: () => string } {
    let out = "";
    let err = "";
    p.stdout?.on("data", (c: Buffer) => {
      out += c.toString();
    });
    p.stderr?.on("data", (c: Buffer) => {
      err += c.toString();
    });
    return { stdout: () => out, stderr: () => err };
  }

  const exited = (p: ChildProcess): Promise<number | null> =>
    new Promise((done) => (p.exitCode !== null ? done(p.exitCode) : p.on("exit", (code) => done(code))));

  it("says where it serves, keeps running, answers the API", { timeout: 60_000 }, async () => {
    const p = start("serve", "--port", "0");
    const o = output(p);
    try {
      const line = await new Promise<string>((done, fail) => {
        p.stdout?.on("data", () => {
          if (o.stdout().includes("\n")) done(o.stdout());
        });
        p.on("exit", (code) => fail(new Error(`exited ${code}: ${o.stderr()}`)));
      });
      const m =
        /^packetwalk: serving seed-cluster on (http:\/\/127\.0\.0\.1:\d+\/) \(compare: seed-local\); Ctrl-C stops\n$/.exec(
          line,
        );
      assert.ok(m, line);
      const res = await fetch(new URL("/api/scenarios", m[1]));
      assert.deepEqual(await res.json(), {
        builtIn: ["seed-cluster", "seed-local", "aks-today"],
        main: "seed-cluster",
        compare: "seed-local",
      });
      assert.equal(p.exitCode, null);
    } finally {
      p.kill("SIGTERM");
      await exited(p);
    }
  });

  it("a port in use: a clear error, exit status 1, no stack trace", { timeout: 60_000 }, async () => {
    const busy = createServer();
    await new Promise<void>((done) => busy.listen(0, "127.0.0.1", done));
    const port = (busy.address() as { port: number }).port;
    try {
      const p = start("serve", "--port", String(port), "--scenario", "seed-local");
      const o = output(p);
      assert.equal(await exited(p), 1);
      assert.equal(
        o.stderr(),
        `packetwalk: Cannot listen on 127.0.0.1:${port}: the port is in use (choose another with --port)\n`,
      );
      assert.equal(o.stdout(), "");
    } finally {
      busy.close();
    }
  });

  it("bad options: exit status 2 before anything listens", () => {
    const r = cli(["serve", "--port", "http"]);
    assert.equal(r.code, 2);
    assert.equal(r.stderr, "packetwalk: --port http: expected a port number (0-65535)\n");
    const s = cli(["serve", "--scenario", "nowhere"]);
    assert.equal(s.code, 2);
    assert.match(s.stderr, /^packetwalk: Unknown scenario "nowhere"/);
  });

  it("the compare twin defaults to the seed's other half", async () => {
    const { defaultCompare } = await import("../cli/commands/serve.ts");
    assert.equal(defaultCompare("seed-cluster"), "seed-local");
    assert.equal(defaultCompare("seed-local"), "seed-cluster");
    assert.equal(defaultCompare("aks-today"), "seed-cluster");
  });
});
