import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { BUILTIN_SCENARIOS, builtinPath } from "../cli/commands/scenario.ts";
import { type CliIo, processIo } from "../cli/io.ts";
import { freshTwin } from "../cli/state/current.ts";
import type { WalkReport } from "../render/walk-json.ts";
import { type ApiState, createApiState, handleApi, Lru } from "./api.ts";
import type { Difference } from "./compare.ts";
import type { ApiError, TwinResponse } from "./contract.ts";
import { type RunningServer, startServer } from "./server.ts";

const NODE = "aks-nodepool1-31351229-0";
const io: CliIo = { stdout: () => {}, stderr: () => {}, readFile: processIo.readFile };
const cluster = freshTwin(io, "seed-cluster");
const local = freshTwin(io, "seed-local");

function seedState(keep?: number): ApiState {
  return createApiState({
    main: { scenario: "seed-cluster", twin: cluster },
    compare: { scenario: "seed-local", twin: local },
    builtIn: BUILTIN_SCENARIOS,
    ...(keep === undefined ? {} : { keep }),
  });
}

interface Capture {
  path: number;
  where: string;
  iface: string;
  frames: number;
  url: string;
}
interface WalkAnswer {
  id: string;
  side: string;
  report: WalkReport;
  captures: Capture[];
}

let server: RunningServer;
const url = (path: string): string => new URL(path, server.url).href;
const get = (path: string): Promise<Response> => fetch(url(path));
const post = (path: string, body: unknown): Promise<Response> =>
  fetch(url(path), {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });

/** A JSON answer with its status; its Content-Type must be JSON. */
async function answer<T>(r: Response | Promise<Response>, status: number): Promise<T> {
  const res = await r;
  const text = await res.text();
  assert.equal(res.status, status, text.slice(0, 500));
  assert.equal(res.headers.get("content-type"), "application/json; charset=utf-8");
  return JSON.parse(text) as T;
}

const apiError = async (r: Promise<Response>, status: number, message: RegExp): Promise<ApiError> => {
  const e = await answer<ApiError>(r, status);
  assert.match(e.error, message);
  return e;
};

before(async () => {
  server = await startServer({ port: 0, state: seedState() });
});
after(() => server.close());

describe("GET /api/scenarios and /api/twin", () => {
  it("names the built-ins and the two twins", async () => {
    assert.deepEqual(await answer(get("/api/scenarios"), 200), {
      builtIn: ["seed-cluster", "seed-local", "aks-today"],
      main: "seed-cluster",
      compare: "seed-local",
    });
  });

  it("answers each side's topology and layout", async () => {
    const main = await answer<TwinResponse>(get("/api/twin"), 200);
    assert.equal(main.topology.scenario, "seed-cluster");
    assert.deepEqual(
      main.topology.nodes.map((n) => n.name),
      [NODE],
    );
    assert.ok(main.layout.boxes.some((b) => b.id === NODE));
    const other = await answer<TwinResponse>(get("/api/twin?side=compare"), 200);
    assert.equal(other.topology.scenario, "seed-local");
    assert.deepEqual(other.topology.hosts.find((h) => h.name === "laptop")?.ip, "167.220.196.180");
  });

  it("a side that does not exist is a 400 that names the choices", async () => {
    await apiError(get("/api/twin?side=left"), 400, /^side=left: expected main or compare$/);
  });
});

describe("POST /api/walk", () => {
  it("walks the seed's packet: delivered, two paths of 1/2, captures with their URLs", async () => {
    const w = await answer<WalkAnswer>(post("/api/walk", {}), 200);
    assert.match(w.id, /^w\d+$/);
    assert.equal(w.report.scenario, "seed-cluster");
    assert.equal(w.report.verdict, "delivered");
    assert.deepEqual(
      w.report.paths.map((p) => p.probabilityExact),
      ["1/2", "1/2"],
    );
    assert.equal(w.report.paths[0]?.sourceSeenByPod, "10.13.76.4");
    const eth0 = w.captures.find((c) => c.path === 1 && c.where === NODE && c.iface === "eth0");
    assert.ok(eth0, JSON.stringify(w.captures));
    assert.ok(eth0.frames > 0);
    assert.equal(eth0.url, `/api/walks/${w.id}/pcap?path=1&where=${NODE}&iface=eth0`);
    assert.ok(w.captures.some((c) => c.path === 2));
  });

  it("the same JSON as `packetwalk walk -o json`", async () => {
    const w = await answer<WalkAnswer>(post("/api/walk", { proto: "tcp" }), 200);
    const { cli } = await import("../../../test/support/cli.ts");
    const r = cli(["walk", "--scenario", "seed-cluster", "-o", "json"]);
    assert.deepEqual(w.report, JSON.parse(r.stdout));
  });

  it("walks the compare side, with from and to", async () => {
    const w = await answer<WalkAnswer>(
      post("/api/walk", { side: "compare", from: "laptop:62538", to: "http://13.93.66.174/" }),
      200,
    );
    assert.equal(w.side, "compare");
    assert.equal(w.report.scenario, "seed-local");
    assert.equal(w.report.from, "laptop 167.220.196.180:62538");
    assert.equal(w.report.paths[0]?.sourceSeenByPod, "167.220.196.180");
  });

  it("null and empty fields take the defaults", async () => {
    const w = await answer<WalkAnswer>(post("/api/walk", { from: "", to: null, proto: null }), 200);
    assert.equal(w.report.from, "laptop 109.125.120.58:51535");
  });

  it("answers mistakes with a 400 and what was wrong", async () => {
    await apiError(post("/api/walk", "{not json"), 400, /^The request body is not JSON: /);
    await apiError(post("/api/walk", [1]), 400, /^The request body must be a JSON object$/);
    await apiError(post("/api/walk", { from: 5 }), 400, /^Field "from" must be a string$/);
    await apiError(post("/api/walk", { proto: "icmp" }), 400, /^Field "proto": expected "tcp" or "udp"$/);
    await apiError(post("/api/walk", { side: "left" }), 400, /^Field "side": expected "main" or "compare"$/);
    await apiError(post("/api/walk", { speed: 1 }), 400, /^Unknown field "speed": expected from, to, proto/);
    await apiError(
      post("/api/walk", { to: "the moon" }),
      400,
      /^to the moon: expected IP:PORT or http:\/\/IP\[:PORT\]\/path$/,
    );
    await apiError(
      post("/api/walk", { from: "nobody" }),
      400,
      /^from nobody: no host, node, pod or address of the twin$/,
    );
    await apiError(post("/api/walk", { from: "laptop:70000" }), 400, /^from laptop:70000: bad port$/);
  });
});

describe("POST /api/compare", () => {
  it("walks both twins and lists what differs", async () => {
    const c = await answer<{ main: WalkAnswer; compare: WalkAnswer; differences: Difference[] }>(
      post("/api/compare", {}),
      200,
    );
    assert.equal(c.main.report.scenario, "seed-cluster");
    assert.equal(c.compare.report.scenario, "seed-local");
    assert.notEqual(c.main.id, c.compare.id);
    const source = c.differences.find((d) => d.field === "sourceSeenByPod" && d.path === 1);
    assert.deepEqual([source?.main, source?.compare], ["10.13.76.4", "167.220.196.180"]);
    assert.ok(c.differences.some((d) => d.field === "probe"));
    assert.ok(c.differences.some((d) => d.chain?.name.startsWith("KUBE-XLB-") && d.main === null));
    // The compare walk's downloads are its own.
    const cap = c.compare.captures[0];
    assert.ok(cap);
    assert.equal((await get(cap.url)).status, 200);
  });

  it("a client the compared twin does not have: 400 naming that twin", async () => {
    // A pod of seed-cluster by name: seed-local's replicas have other names.
    await apiError(
      post("/api/compare", { from: "whereami-564765b89-qfq2k" }),
      400,
      /^seed-local: from whereami-564765b89-qfq2k: no host, node, pod or address of the twin$/,
    );
  });
});

describe("GET /api/walks/:id/pcap", () => {
  it("downloads a capture as walk --pcap names it; tshark reads it", async (t) => {
    const w = await answer<WalkAnswer>(post("/api/walk", {}), 200);
    const cap = w.captures.find((c) => c.path === 2 && c.iface === "eth0" && c.where === NODE);
    assert.ok(cap);
    const res = await get(cap.url);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "application/vnd.tcpdump.pcap");
    assert.equal(
      res.headers.get("content-disposition"),
      `attachment; filename="path-2_aks-nodepool1-31351229-0_eth0.pcap"`,
    );
    const bytes = new Uint8Array(await res.arrayBuffer());
    assert.deepEqual([...bytes.subarray(0, 4)], [0xa1, 0xb2, 0xc3, 0xd4]);
    if (spawnSync("tshark", ["--version"]).status !== 0) return t.skip("tshark not installed");
    const dir = mkdtempSync(join(tmpdir(), "packetwalk-web-pcap-"));
    try {
      const file = join(dir, "eth0.pcap");
      writeFileSync(file, bytes);
      const r = spawnSync("tshark", ["-r", file, "-T", "fields", "-e", "ip.src", "-e", "tcp.dstport"], {
        encoding: "utf8",
      });
      assert.equal(r.status, 0, r.stderr);
      const lines = r.stdout.trim().split("\n");
      assert.equal(lines.length, cap.frames);
      assert.deepEqual(lines[0]?.split("\t"), ["109.125.120.58", "80"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("an interface the walk did not cross, a walk that is not kept: 404", async () => {
    const w = await answer<WalkAnswer>(post("/api/walk", {}), 200);
    await apiError(
      get(`/api/walks/${w.id}/pcap?path=1&where=${NODE}&iface=docker0`),
      404,
      new RegExp(`^Walk ${w.id} path 1 crossed no ${NODE} docker0`),
    );
    await apiError(get(`/api/walks/${w.id}/pcap?path=1`), 400, /^Give the capture's where= and iface=/);
    await apiError(get("/api/walks/w999999/pcap?path=1&where=x&iface=y"), 404, /^No walk "w999999"/);
  });
});

describe("GET /api/nodes/:node/iptables-save", () => {
  it("its lines are the walk's rule lines", async () => {
    const w = await answer<WalkAnswer>(post("/api/walk", {}), 200);
    const { text } = await answer<{ text: string }>(get(`/api/nodes/${NODE}/iptables-save`), 200);
    assert.match(text, /^# Generated by iptables-save v1\.6\.0 on /);
    const lines = text.split("\n");
    const rules = w.report.paths.flatMap((p) => p.hops.flatMap((h) => h.rules));
    assert.ok(rules.some((r) => r.chain.startsWith("KUBE-FW-")));
    for (const r of rules) {
      assert.ok(r.line !== null, r.rule);
      assert.equal(lines[r.line - 1], r.rule);
    }
  });

  it("the compare side's node has the Local chains", async () => {
    const { text } = await answer<{ text: string }>(
      get(`/api/nodes/${NODE}/iptables-save?side=compare`),
      200,
    );
    assert.match(text, /^-A KUBE-XLB-/m);
  });

  it("a node that is not there: 404 naming the nodes", async () => {
    await apiError(
      get("/api/nodes/aks-nodepool1-0/iptables-save"),
      404,
      new RegExp(`^No node "aks-nodepool1-0" in seed-cluster: its nodes are ${NODE}$`),
    );
  });
});

describe("GET /api/walks/:id/conntrack", () => {
  it("conntrack -L of the node after that path's walk, as the tool prints it", async () => {
    const w = await answer<WalkAnswer>(post("/api/walk", {}), 200);
    const c = await answer<{ node: string; text: string }>(
      get(`/api/walks/${w.id}/conntrack?path=2&node=${NODE}`),
      200,
    );
    assert.equal(c.node, NODE);
    const endpoint = w.report.paths[1]?.endpoint?.split(":")[0];
    const entry = c.text
      .split("\n")
      .find((l) => l.includes("src=109.125.120.58 dst=51.144.176.251 sport=51535 dport=80"));
    assert.ok(entry, c.text);
    assert.match(entry, /^tcp {6}6 \d+ \w+ src=109\.125\.120\.58 /);
    assert.match(entry, new RegExp(`src=${endpoint} dst=10\\.13\\.76\\.4 sport=80 dport=\\d+ `));
    assert.match(c.text, /conntrack v1\.4\.3 \(conntrack-tools\): \d+ flow entries have been shown\.\n$/);
  });

  it("a path or node that is not there", async () => {
    const w = await answer<WalkAnswer>(post("/api/walk", {}), 200);
    await apiError(
      get(`/api/walks/${w.id}/conntrack?path=3`),
      404,
      new RegExp(`^path=3: walk ${w.id} has 2 paths$`),
    );
    await apiError(
      get(`/api/walks/${w.id}/conntrack?path=first`),
      400,
      /^path=first: expected a path number/,
    );
    await apiError(
      get(`/api/walks/${w.id}/conntrack?path=1&node=nope`),
      404,
      /^No node "nope" in seed-cluster$/,
    );
  });
});

describe("POST /api/scenario", () => {
  const seedCluster = readFileSync(builtinPath("seed-cluster"), "utf8");

  it("a YAML error: 400 with the line and column", async () => {
    const e = await apiError(
      post("/api/scenario", { text: "name: x\nseed: 1\nhosts: [a, b\n" }),
      400,
      /^The scenario has 1 error at line 4: /,
    );
    assert.deepEqual(
      e.diagnostics?.map((d) => [d.line, d.column]),
      [[4, 1]],
    );
  });

  it("a schema error: at its line", async () => {
    const e = await apiError(
      post("/api/scenario", { text: seedCluster.replace("seed: 1", "seed: one"), side: "compare" }),
      400,
      /at line 7: .*seed must be an integer/,
    );
    assert.equal(e.diagnostics?.[0]?.line, 7);
    // The twins are what they were.
    assert.equal((await answer<{ compare: string }>(get("/api/scenarios"), 200)).compare, "seed-local");
  });

  it("manifests in files are not read", async () => {
    const text = seedCluster.replace(
      /^manifests:\n/m,
      `manifests:\n  - file: ${join(process.cwd(), "package.json")}\n`,
    );
    assert.notEqual(text, seedCluster);
    const e = await apiError(post("/api/scenario", { text }), 400, /error/);
    assert.ok(
      e.diagnostics?.some((d) => /package\.json/.test(d.message)),
      JSON.stringify(e),
    );
  });

  it("no text: 400", async () => {
    await apiError(post("/api/scenario", {}), 400, /^Give the scenario as \{"text": "<YAML>"\}$/);
    await apiError(post("/api/scenario", { text: 1 }), 400, /^Field "text" must be a string$/);
  });

  it("a good scenario replaces that side's twin in memory", async () => {
    const own = await startServer({ port: 0, state: seedState() });
    try {
      const text = readFileSync(builtinPath("seed-local"), "utf8").replace(
        "name: seed-local",
        "name: my-local",
      );
      const view = await answer<TwinResponse>(
        fetch(new URL("/api/scenario", own.url), {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ text }),
        }),
        200,
      );
      assert.equal(view.topology.scenario, "my-local");
      assert.deepEqual(await answer(fetch(new URL("/api/scenarios", own.url)), 200), {
        builtIn: ["seed-cluster", "seed-local", "aks-today"],
        main: "my-local",
        compare: "seed-local",
      });
      const w = await answer<WalkAnswer>(
        fetch(new URL("/api/walk", own.url), { method: "POST", body: "{}" }),
        200,
      );
      assert.equal(w.report.scenario, "my-local");
      assert.equal(w.report.probe, "Http 32364 /healthz every 5s");
    } finally {
      await own.close();
    }
  });
});

describe("routes and methods", () => {
  it("an unknown API route: 404; a wrong method: 405 with Allow", async () => {
    await apiError(get("/api/nothing"), 404, /^No API route \/api\/nothing$/);
    const res = await get("/api/walk");
    assert.equal(res.headers.get("allow"), "POST");
    await apiError(Promise.resolve(res), 405, /^GET \/api\/walk: use POST$/);
    await apiError(post("/api/twin", {}), 405, /^POST \/api\/twin: use GET$/);
  });

  it("only the last walks are kept", () => {
    const state = seedState(1);
    const walk = () =>
      JSON.parse(
        handleApi(state, { method: "POST", path: "/api/walk", query: new URLSearchParams(), body: "{}" })
          .body as string,
      ) as WalkAnswer;
    const first = walk();
    const pcap = (w: WalkAnswer) =>
      handleApi(state, {
        method: "GET",
        path: `/api/walks/${w.id}/conntrack`,
        query: new URLSearchParams("path=1"),
        body: null,
      });
    assert.equal(pcap(first).status, 200);
    const second = walk();
    assert.equal(pcap(second).status, 200);
    const gone = pcap(first);
    assert.equal(gone.status, 404);
    assert.match(gone.body as string, /not one of the last 1 walks/);
  });

  it("Lru keeps the most recently used", () => {
    const l = new Lru<number>(2);
    l.set("a", 1);
    l.set("b", 2);
    l.get("a");
    l.set("c", 3);
    assert.deepEqual([l.get("a"), l.get("b"), l.get("c"), l.size], [1, undefined, 3, 2]);
  });
});
