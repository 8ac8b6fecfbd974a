import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { buildTwin } from "../controlplane/build-twin.ts";
import { ProbeScheduler } from "../dataplane/sim/fabric/probes.ts";
import { resolveTopology } from "../dataplane/sim/fabric/topology.ts";
import { loadScenario } from "../outputs/cli/commands/scenario.ts";
import { processIo } from "../outputs/cli/io.ts";
import { configBatch, type LabProber, type LabProbeTarget, labPlan } from "./plan.ts";
import {
  initialProbeState,
  markRouted,
  type ProbeState,
  probeStatePath,
  recordProbe,
  routeChanges,
  setPaused,
} from "./probe-state.ts";

const T0 = "2026-01-01T00:00:00.000Z";

function target(key: string, nodeIp: string, o: Partial<LabProbeTarget> = {}): LabProbeTarget {
  return {
    key,
    lb: "kubernetes",
    probe: key,
    protocol: "Http",
    nodeIp,
    port: 32005,
    path: "/healthz",
    intervalMs: 5000,
    threshold: 2,
    offsetMs: 0,
    timeoutMs: 5000,
    initiallyUp: true,
    ...o,
  };
}

/** Two nodes behind one VIP (HTTP probe), one of them also behind another VIP without a probe. */
const PROBER: LabProber = {
  ns: "pwl-az",
  source: "168.63.129.16",
  targets: [target("p|10.0.0.4", "10.0.0.4"), target("p|10.0.0.5", "10.0.0.5")],
  frontends: [
    {
      vip: "20.0.0.1",
      backends: [
        { nodeIp: "10.0.0.4", dev: "pwl-n0", target: "p|10.0.0.4" },
        { nodeIp: "10.0.0.5", dev: "pwl-n1", target: "p|10.0.0.5" },
      ],
    },
    { vip: "20.0.0.2", backends: [{ nodeIp: "10.0.0.5", dev: "pwl-n1", target: null }] },
  ],
};

/** Records results and installs whatever route they call for, as the prober does. */
function feed(state: ProbeState, results: readonly [string, boolean][], prober = PROBER): ProbeState {
  let s = state;
  for (const [key, ok] of results) {
    s = recordProbe(prober, s, key, ok, ok ? "HTTP 200" : "HTTP 503", T0);
    for (const c of routeChanges(prober, s)) s = markRouted(s, c.vip, c.text, null);
  }
  return s;
}

const A = "p|10.0.0.4";
const B = "p|10.0.0.5";
const MULTI = "20.0.0.1/32 nexthop via 10.0.0.4 dev pwl-n0 nexthop via 10.0.0.5 dev pwl-n1";

describe("probe-state: Azure's probe semantics, as the simulator's scheduler", () => {
  it("starts from the static judgement, with the routes lab up installed", () => {
    const s = initialProbeState(PROBER, 42, T0);
    assert.equal(s.paused, false);
    assert.equal(s.round, 0);
    assert.deepEqual(
      s.frontends.map((f) => [f.vip, f.healthy, f.route]),
      [
        ["20.0.0.1", ["10.0.0.4", "10.0.0.5"], MULTI],
        ["20.0.0.2", ["10.0.0.5"], "20.0.0.2/32 via 10.0.0.5 dev pwl-n1"],
      ],
    );
    assert.deepEqual(routeChanges(PROBER, s), []);
    const down = initialProbeState(
      { ...PROBER, targets: PROBER.targets.map((t) => ({ ...t, initiallyUp: false })) },
      42,
      T0,
    );
    assert.equal(down.frontends[0]?.route, "blackhole 20.0.0.1/32");
  });

  it("threshold consecutive failures mark a backend down, as many successes mark it up again", () => {
    let s = initialProbeState(PROBER, 42, T0);
    s = feed(s, [[A, false]]);
    assert.deepEqual(s.targets[A], {
      up: true,
      result: "down",
      consecutive: 1,
      failures: 1,
      text: "HTTP 503",
      time: T0,
      probes: 1,
    });
    assert.equal(s.frontends[0]?.route, MULTI, "one failure changes nothing");
    s = recordProbe(PROBER, s, A, false, "HTTP 503", T0);
    assert.equal(s.targets[A]?.up, false);
    assert.deepEqual(routeChanges(PROBER, s), [
      {
        vip: "20.0.0.1",
        healthy: ["10.0.0.5"],
        args: ["20.0.0.1/32", "via", "10.0.0.5", "dev", "pwl-n1"],
        text: "20.0.0.1/32 via 10.0.0.5 dev pwl-n1",
      },
    ]);
    s = markRouted(s, "20.0.0.1", "20.0.0.1/32 via 10.0.0.5 dev pwl-n1", null);
    assert.deepEqual(routeChanges(PROBER, s), []);
    // Further failures keep counting; one success does not bring it back.
    s = feed(s, [
      [A, false],
      [A, true],
    ]);
    assert.deepEqual([s.targets[A]?.up, s.targets[A]?.consecutive, s.targets[A]?.failures], [false, 1, 0]);
    s = feed(s, [[A, true]]);
    assert.equal(s.targets[A]?.up, true);
    assert.equal(s.frontends[0]?.route, MULTI);
  });

  it("alternating results never flip a backend (the run starts again at each change)", () => {
    let s = initialProbeState(PROBER, 42, T0);
    for (let i = 0; i < 10; i++) s = feed(s, [[B, i % 2 === 1]]);
    assert.equal(s.targets[B]?.up, true);
    assert.equal(s.targets[B]?.probes, 10);
  });

  it("no healthy backend: a blackhole; a backend without a probe stays up", () => {
    const s = feed(initialProbeState(PROBER, 42, T0), [
      [A, false],
      [B, false],
      [A, false],
      [B, false],
    ]);
    assert.deepEqual(
      s.frontends.map((f) => [f.route, f.healthy]),
      [
        ["blackhole 20.0.0.1/32", []],
        ["20.0.0.2/32 via 10.0.0.5 dev pwl-n1", ["10.0.0.5"]],
      ],
    );
    assert.equal(s.frontends[1]?.backends[0]?.text, "no probe");
  });

  it("threshold 1 (and 3) as the probe says", () => {
    const one: LabProber = { ...PROBER, targets: PROBER.targets.map((t) => ({ ...t, threshold: 1 })) };
    assert.equal(feed(initialProbeState(one, 1, T0), [[A, false]], one).targets[A]?.up, false);
    const three: LabProber = { ...PROBER, targets: PROBER.targets.map((t) => ({ ...t, threshold: 3 })) };
    const s = feed(
      initialProbeState(three, 1, T0),
      [
        [A, false],
        [A, false],
      ],
      three,
    );
    assert.equal(s.targets[A]?.up, true);
    assert.equal(feed(s, [[A, false]], three).targets[A]?.up, false);
  });

  it("a round completes when every target has been probed; a resume starts a fresh one", () => {
    let s = initialProbeState(PROBER, 42, T0);
    s = feed(s, [
      [A, true],
      [A, true],
    ]);
    assert.equal(s.round, 0);
    s = feed(s, [[B, true]]);
    assert.deepEqual([s.round, s.roundSeen], [1, []]);
    s = feed(s, [[B, true]]);
    assert.deepEqual(s.roundSeen, [B]);
    s = setPaused(s, true, T0);
    assert.deepEqual([s.paused, s.pauses], [true, 1]);
    s = setPaused(s, false, T0);
    assert.deepEqual([s.paused, s.pauses, s.roundSeen], [false, 1, []]);
    assert.equal(recordProbe(PROBER, s, "unknown", false, "", T0), s);
  });

  it("a failed route change is kept as the error and tried again", () => {
    let s = recordProbe(PROBER, initialProbeState(PROBER, 42, T0), A, false, "x", T0);
    s = recordProbe(PROBER, s, A, false, "x", T0);
    s = markRouted(s, "20.0.0.1", null, "ip route replace ...: RTNETLINK answers: No such device");
    assert.match(s.error ?? "", /No such device/);
    assert.equal(routeChanges(PROBER, s).length, 1);
  });

  it("the state file lives next to the ledger", () => {
    assert.equal(probeStatePath("/var/lib/pw/lab.json"), "/var/lib/pw/lab-probes.json");
  });

  it("aks-today: the same probe results give the same states as ProbeScheduler, probe after probe", () => {
    const twin = buildTwin(loadScenario(processIo, "aks-today").scenario);
    const plan = labPlan(twin);
    const prober = plan.prober as LabProber;
    assert.equal(prober.targets.length, 6);
    // Results from a fixed pattern per node, flaky enough to flip states both ways.
    const counts = new Map<string, number>();
    const pattern = (nodeIp: string, port: number): boolean => {
      const k = `${nodeIp}:${port}`;
      const n = counts.get(k) ?? 0;
      counts.set(k, n + 1);
      return ((n * 7 + nodeIp.length * 3 + port) % 5) % 3 !== 0;
    };
    const start = 1_000_000;
    const sched = new ProbeScheduler(
      resolveTopology(twin.azure),
      (t) => (pattern(t.nodeIp, t.port) ? "up" : "down"),
      { seed: twin.scenario.seed, start },
    );
    const events = sched.advance(start + 120_000);
    assert.ok(events.some((e) => e.changed && e.state === "down"));
    assert.ok(events.some((e) => e.changed && e.state === "up"));
    let s = initialProbeState(prober, 1, T0);
    const firstAt = new Map<string, number>();
    for (const e of events) {
      const key = `${e.probeId.toLowerCase()}|${e.nodeIp}`;
      if (!firstAt.has(key)) firstAt.set(key, e.time - start);
      s = recordProbe(prober, s, key, e.result === "up", e.result, T0);
      assert.equal(s.targets[key]?.up, e.state === "up", `${key} at ${e.time}`);
      assert.equal(s.targets[key]?.consecutive, e.consecutive);
    }
    // The first probes come at the simulator's offsets.
    for (const t of prober.targets) assert.equal(firstAt.get(t.key), t.offsetMs, t.key);
    // And the routes say the healthy sets the scheduler's healthyBackends give.
    for (const f of s.frontends) {
      const rule = resolveTopology(twin.azure).rules.find((r) => r.frontendIpText === f.vip);
      assert.ok(rule);
      assert.deepEqual(
        f.healthy,
        sched.healthyBackends(rule, start + 120_000).map((b) => b.nodeIpText),
      );
    }
    // lab up's own route for a VIP is the prober's starting point, word for word.
    for (const f of initialProbeState(prober, 1, T0).frontends)
      assert.ok(configBatch(plan, "pwl-az").includes(`route add ${f.route}`), f.route);
  });
});
