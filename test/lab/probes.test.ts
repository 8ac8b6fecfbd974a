import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { buildTwin } from "../../src/controlplane/build-twin.ts";
import { serviceHealthBody } from "../../src/dataplane/sim/endpoints/apps/kube-proxy-health.ts";
import { probeAnswerer } from "../../src/dataplane/sim/world/probe-answer.ts";
import { World } from "../../src/dataplane/sim/world/world.ts";
import { pauseProbes, readProbeState, resumeProbes, waitForProbeRound } from "../../src/lab/probes.ts";
import { labExec, readLedger } from "../../src/lab/run.ts";
import { loadScenario } from "../../src/outputs/cli/commands/scenario.ts";
import { processIo } from "../../src/outputs/cli/io.ts";
import { finished, labCli, labLeftovers, labSkipReason, startCli } from "./support.ts";

/**
 * The LB's probes for real (issue 6): kube-proxy's health check servers in the nodes, the prober
 * in pwl-az probing them and the node ports from 168.63.129.16 and rewriting the VIP routes.
 * aks-today: three nodes, a Cluster service (Tcp probe of its node port) and a Local one (Http
 * probe of healthCheckNodePort 32005). Needs root; skipped when a lab is already up here.
 */

const LOCAL_VIP = "104.227.181.208";
const CLUSTER_VIP = "104.5.254.119";
const NODE1 = "10.224.0.35";

const SKIP = labSkipReason(["ip", "iptables-restore", "iptables-save", "curl", "sysctl"]);

let home = "";
const ledger = () => join(home, "lab.json");

const cli = labCli(() => home);

async function up(scenario: string): Promise<string> {
  const r = await finished(startCli(home, "lab", "up", "--scenario", scenario));
  if (r.code !== 0) throw new Error(`lab up: ${r.code}\n${r.stdout}${r.stderr}`);
  return r.stdout + r.stderr;
}

function down(): void {
  const r = cli("lab", "down");
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(labLeftovers(), []);
}

function vipRoute(vip: string): string {
  return labExec("pwl-az", ["ip", "route", "show", `${vip}/32`])
    .stdout.replace(/\s+/g, " ")
    .trim();
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("lab: the LB's probes (real kernel)", { skip: SKIP ?? false, concurrency: false }, () => {
  before(() => {
    home = mkdtempSync(join(tmpdir(), "pwl-probes-"));
  });
  after(() => {
    if (home) cli("lab", "down");
    rmSync(home, { recursive: true, force: true });
  });

  it("aks-today: health servers answer as the model, the prober agrees with the simulator, a dead health server takes its node out", async () => {
    await up("aks-today");
    try {
      // kube-proxy's health check server, asked from inside its node.
      const body = serviceHealthBody(
        { namespace: "default", name: "web-local", localEndpoints: 1 },
        "current",
      );
      const got = labExec("pwl-n0", [
        "curl",
        "-sS",
        "-i",
        "--max-time",
        "5",
        "http://localhost:32005/healthz",
      ]);
      assert.equal(got.status, 0, got.stderr);
      const [head = "", rest] = got.stdout.split("\r\n\r\n");
      assert.equal(rest, body);
      assert.match(
        head,
        /^HTTP\/1\.1 200 OK\r\nContent-Type: application\/json\r\nX-Content-Type-Options: nosniff\r\nX-Load-Balancing-Endpoint-Weight: 1\r\nDate: \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT\r\nContent-Length: 120$/,
      );

      // Two rounds: every backend probed for real; the verdicts are the simulator's.
      const settled = await waitForProbeRound(ledger(), 2);
      assert.ok(settled);
      assert.equal(settled.paused, false);
      assert.equal(settled.error, null);
      const twin = buildTwin(loadScenario(processIo, "aks-today").scenario);
      const world = new World(twin, {
        seed: twin.scenario.seed,
        start: twin.now * 1_000_000,
        probe: probeAnswerer(twin.scenario.seed),
      });
      const probes = world.fabric.probes;
      assert.ok(probes);
      const nowMs = twin.now * 1000 + 30_000;
      probes.advance(nowMs);
      for (const f of settled.frontends) {
        const rule = world.fabric.topology.rules.find((r) => r.frontendIpText === f.vip);
        assert.ok(rule, f.vip);
        assert.deepEqual(
          f.healthy,
          probes.healthyBackends(rule, nowMs).map((b) => b.nodeIpText),
          f.vip,
        );
        for (const b of f.backends) {
          assert.ok(b.probes >= 1, `${f.vip} ${b.nodeIp} probed`);
          assert.equal(b.text, f.vip === LOCAL_VIP ? "HTTP 200" : "connected");
        }
      }
      assert.match(vipRoute(LOCAL_VIP), new RegExp(`nexthop via ${NODE1.replaceAll(".", "\\.")} dev pwl-n1`));

      // Paused: no probe packet moves a counter of the nodes' rules.
      await pauseProbes(ledger());
      assert.equal(readProbeState(ledger())?.paused, true);
      const counters = () => labExec("pwl-n1", ["iptables-save", "-c"]).stdout.replace(/^#.*\n/gm, "");
      const before = counters();
      await sleep(6000);
      assert.equal(counters(), before, "no probe while paused");
      resumeProbes(ledger());
      const resumed = await waitForProbeRound(ledger(), 1);
      assert.equal(resumed?.paused, false);
      assert.notEqual(counters(), before, "probing again");

      // Kill node 1's health check server: down after `threshold` failed probes, out of the Local VIP.
      const l = readLedger(ledger());
      const hc = l?.processes.find((p) => p.kind === "health" && p.ns === "pwl-n1");
      assert.ok(hc?.pid);
      process.kill(hc.pid, "SIGKILL");
      const killedAt = Date.now();
      let state = readProbeState(ledger());
      const node1 = () =>
        state?.frontends.find((f) => f.vip === LOCAL_VIP)?.backends.find((b) => b.nodeIp === NODE1);
      while (node1()?.up !== false && Date.now() - killedAt < 25_000) {
        await sleep(200);
        state = readProbeState(ledger());
      }
      const b = node1();
      assert.equal(b?.up, false, JSON.stringify(b));
      assert.ok((b?.failures ?? 0) >= 2, "two failures in a row (probeThreshold 2)");
      assert.equal(b?.text, "ECONNREFUSED");
      // Marked down no sooner than one interval after the first failure could come.
      assert.ok(Date.now() - killedAt >= 5000 - 200);
      await sleep(300);
      assert.equal(
        vipRoute(LOCAL_VIP),
        `${LOCAL_VIP} nexthop via 10.224.0.4 dev pwl-n0 weight 1 nexthop via 10.224.0.66 dev pwl-n2 weight 1`,
      );
      assert.match(vipRoute(CLUSTER_VIP), /dev pwl-n1/, "the Cluster VIP's Tcp probe still passes on node 1");
      const status = cli("lab", "status");
      assert.match(status.stdout, new RegExp(`^ {4}${NODE1.replaceAll(".", "\\.")} down: ECONNREFUSED`, "m"));
      assert.equal(status.code, 1, "a lab process is not running");
      for (let i = 0; i < 6; i++) {
        const r = labExec("pwl-h0", ["curl", "-sS", "--max-time", "5", `http://${LOCAL_VIP}/`]);
        assert.equal(r.status, 0, r.stderr);
        assert.doesNotMatch(r.stdout, /vmss000001/, "no flow goes to the node that is down");
      }
    } finally {
      down();
    }
  });
});

if (SKIP) {
  describe("lab: the LB's probes (real kernel)", () => {
    it(`skipped: ${SKIP}`, { skip: SKIP }, () => {});
  });
}
