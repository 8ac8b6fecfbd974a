import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { stringify } from "yaml";
import { cliIn } from "../../../../test/support/cli.ts";
import { parseScenario } from "../../../inputs/scenario/parse.ts";
import { builtinPath } from "../commands/scenario.ts";
import { LB_UPDATE_SECONDS } from "./replay.ts";

/** seed-local's nginx-elb.yaml (its `later:` manifests) as a file, the way the seed applies it. */
function nginxFile(dir: string): string {
  const text = readFileSync(builtinPath("seed-local"), "utf8");
  const later = parseScenario(text, builtinPath("seed-local")).value?.later ?? [];
  const path = join(dir, "nginx-elb.yaml");
  writeFileSync(path, later.map((m) => stringify(m.object)).join("---\n"));
  return path;
}

const LB = [
  "network",
  "lb",
  "probe",
  "list",
  "-g",
  "MC_akstest_aksPacketWalkAzure_westeurope",
  "--lb-name",
  "kubernetes",
  "-o",
  "table",
];

describe("a kept twin", () => {
  let dir = "";
  let cli: ReturnType<typeof cliIn>;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "packetwalk-state-"));
    cli = cliIn(dir);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("up, status, down; down twice is fine; up refuses twice without --force", () => {
    assert.equal(cli("status").code, 2);
    const up = cli("up", "--scenario", "seed-local");
    assert.equal(up.code, 0, up.stderr);
    assert.equal(cli("up").code, 2);
    assert.match(cli("up").stderr, /already kept/);
    const st = cli("status");
    assert.equal(st.code, 0, st.stderr);
    assert.match(st.stdout, /^scenario: seed-local$/m);
    assert.match(st.stdout, /^clock: +2019-01-22T23:40:00Z \(\+0s since up\)$/m);
    assert.match(st.stdout, /^actions: +0$/m);
    assert.match(st.stdout, /default\/whereami/);
    assert.equal(cli("down").code, 0);
    assert.equal(cli("down").code, 0);
    assert.match(cli("down").stdout, /No twin is kept/);
    assert.equal(cli("status").code, 2);
  });

  it("kubectl apply adds the seed's nginx service, its probe, and says what kubectl 1.11 said", () => {
    assert.equal(cli("up", "--force", "--scenario", "seed-local").code, 0);
    const before = cli("az", ...LB);
    assert.equal(before.code, 0, before.stderr);
    assert.equal(before.stdout.trim().split("\n").length, 3); // header, rule, one probe
    assert.doesNotMatch(cli("kubectl", "get", "svc").stdout, /^nginx /m);
    const file = nginxFile(dir);
    const apply = cli("kubectl", "apply", "-f", file);
    assert.equal(apply.code, 0, apply.stderr);
    assert.equal(apply.stdout, "deployment.apps/nginx created\nservice/nginx created\n"); // seed 485-486
    assert.match(cli("kubectl", "get", "svc").stdout, /^nginx +LoadBalancer /m);
    assert.equal(
      cli("az", ...LB)
        .stdout.trim()
        .split("\n").length,
      4,
    );
    // The file's later edits do not change the twin; applying the same again is `unchanged`.
    assert.equal(
      cli("kubectl", "apply", "-f", file).stdout,
      "deployment.apps/nginx unchanged\nservice/nginx unchanged\n",
    );
    // Right after the apply the cloud provider is still updating the LB: every probe is Updating
    // (seed line 491), until the update is done.
    const states = () =>
      cli("az", ...LB)
        .stdout.trim()
        .split("\n")
        .slice(2)
        .map((l) => l.split(/ {2,}/)[5]);
    assert.deepEqual(states(), ["Updating", "Updating"]);
    assert.equal(cli("clock", "advance", `${LB_UPDATE_SECONDS}s`).code, 0);
    assert.deepEqual(states(), ["Succeeded", "Succeeded"]);
    writeFileSync(file, "garbage: [");
    assert.match(cli("kubectl", "get", "svc").stdout, /^nginx +LoadBalancer /m);
    const del = cli("kubectl", "delete", "svc", "nginx");
    assert.equal(del.stdout, 'service "nginx" deleted\n');
    assert.doesNotMatch(cli("kubectl", "get", "svc").stdout, /^nginx /m);
    const again = cli("kubectl", "delete", "svc", "nginx");
    assert.equal(again.code, 1);
    assert.equal(again.stderr, 'Error from server (NotFound): services "nginx" not found\n');
  });

  it("scale whereami to 3 gives 3 pods; the clock ages what was there and not the new pod", () => {
    assert.equal(cli("up", "--force", "--scenario", "seed-local").code, 0);
    const pods = () =>
      cli("kubectl", "get", "pod")
        .stdout.split("\n")
        .filter((l) => l.startsWith("whereami-"));
    assert.equal(pods().length, 2);
    assert.equal(cli("clock", "advance", "5m").code, 0);
    const sc = cli("kubectl", "scale", "deploy", "whereami", "--replicas", "3");
    assert.equal(sc.code, 0, sc.stderr);
    assert.equal(sc.stdout, "deployment.extensions/whereami scaled\n");
    assert.equal(pods().length, 3);
    const svcAge = () => /^whereami .* (\S+)$/m.exec(cli("kubectl", "get", "svc").stdout)?.[1];
    assert.equal(svcAge(), "16m");
    assert.equal(cli("clock", "advance", "2m").code, 0);
    assert.equal(svcAge(), "18m");
    // The scenario's two replicas are 18 minutes old; the one scale added, 2 minutes.
    assert.deepEqual(
      pods()
        .map((l) => l.split(/\s+/).at(-1))
        .sort(),
      ["18m", "18m", "2m"],
    );
    assert.match(cli("clock", "show").stdout, /^2019-01-22T23:47:00Z \(\+420s since up\)$/m);
    assert.equal(cli("kubectl", "get", "deploy", "whereami").stdout.split("\n")[1]?.split(/\s+/)[1], "3");
    assert.equal(
      cli("kubectl", "--scenario", "seed-local", "get", "pod")
        .stdout.split("\n")
        .filter((l) => l.startsWith("whereami-")).length,
      2,
    );
  });

  it("a second command while one holds the lock fails clearly; a stale lock is taken over", () => {
    assert.equal(cli("up", "--force").code, 0);
    const lock = join(dir, ".packetwalk", "lock");
    writeFileSync(lock, `${process.pid} 2026-12-02T13:00:00.000Z\n`);
    const r = cli("clock", "advance", "30s");
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      new RegExp(`Another packetwalk command \\(pid ${process.pid}, since 2026-12-02T13:00:00.000Z\\)`),
    );
    assert.match(cli("clock", "show").stdout, /\+0s/);
    writeFileSync(lock, "2147483646 2026-12-02T13:00:00.000Z\n");
    assert.equal(cli("clock", "advance", "30s").code, 0);
    assert.match(cli("clock", "show").stdout, /\+30s/);
  });

  it("a damaged state.json is named, explained, and left as it was", () => {
    assert.equal(cli("up", "--force").code, 0);
    const path = join(dir, ".packetwalk", "state.json");
    const good = JSON.parse(readFileSync(path, "utf8"));
    const cases: [string, RegExp][] = [
      ["{ not json", /not valid JSON/],
      [JSON.stringify({ ...good, version: 7 }), /version 7 is not one this packetwalk reads/],
      [
        JSON.stringify({ ...good, actions: [{ type: "teleport", at: 0 }] }),
        /actions\[0\] is an unknown action "teleport"/,
      ],
      [
        JSON.stringify({
          ...good,
          actions: [
            { type: "traffic", at: 0, time: 1, seed: 1, tool: "wget", from: "laptop", target: "x", count: 1 },
          ],
        }),
        /actions\[0\]\.tool must be curl, ping, browse, found "wget"/,
      ],
    ];
    for (const [text, why] of cases) {
      writeFileSync(path, text);
      for (const args of [["status"], ["kubectl", "get", "svc"], ["clock", "advance", "1m"], ["up"]]) {
        const r = cli(...args);
        assert.equal(r.code, 2, args.join(" "));
        if (args[0] !== "up") {
          assert.ok(r.stderr.includes(`state ${path} is damaged`), r.stderr);
          assert.match(r.stderr, why);
        }
        assert.doesNotMatch(r.stderr, /at .*\.ts:\d+/);
        assert.equal(readFileSync(path, "utf8"), text);
      }
    }
    assert.equal(cli("down").code, 0);
  });

  it("apply without a kept twin says so", () => {
    cli("down");
    const r = cli("kubectl", "apply", "-f", "x.yaml");
    assert.equal(r.code, 2);
    assert.match(r.stderr, /apply needs a twin kept with `packetwalk up`/);
  });
});
