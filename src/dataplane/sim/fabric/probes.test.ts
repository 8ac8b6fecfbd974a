import assert from "node:assert/strict";
import { test } from "node:test";
import { PROBE_SOURCE, ProbeScheduler, type ProbeTarget } from "./probes.ts";
import { SEED_RULE_ID, seedAzureState } from "./testdata/seed-lb.ts";
import { resolveTopology } from "./topology.ts";

test("the seed's probe: Tcp to the node port 30064 of 10.13.76.4 every 5 s from 168.63.129.16", () => {
  const seen: Array<[ProbeTarget, number]> = [];
  const s = new ProbeScheduler(
    resolveTopology(seedAzureState()),
    (t, now) => {
      seen.push([t, now]);
      return "up";
    },
    {
      seed: 1,
      start: 1_000_000,
    },
  );
  assert.equal(s.advance(999_999 + 0).length, 0);
  s.advance(1_000_000 + 20_000);
  const times = seen.map(([, now]) => now);
  assert.ok(times[0]! >= 1_000_000 && times[0]! < 1_005_000);
  assert.deepEqual(
    times.slice(1).map((t, i) => t - times[i]!),
    times.slice(1).map(() => 5000),
  );
  assert.ok(times.length === 4 || times.length === 5);
  const [t] = seen[0]!;
  assert.deepEqual(
    [t.source, t.nodeIp, t.port, t.protocol, t.path],
    [PROBE_SOURCE, "10.13.76.4", 30064, "Tcp", null],
  );
  assert.equal(s.events.length, times.length);
  assert.equal(s.time, 1_020_000);
});

test("probes run in time order across backends, and state can be asked for any past time", () => {
  const nodes = ["10.13.76.4", "10.13.76.5", "10.13.76.6"];
  const az = seedAzureState({ nodes });
  const topo = resolveTopology(az);
  const order: number[] = [];
  const s = new ProbeScheduler(
    topo,
    (t, now) => {
      order.push(now);
      return t.nodeIp === "10.13.76.5" ? "down" : "up";
    },
    {
      seed: 42,
      start: 0,
    },
  );
  s.advance(60_000);
  assert.deepEqual(
    order,
    [...order].sort((a, b) => a - b),
  );
  assert.equal(order.length, 36);
  const rule = topo.rules.find((r) => r.rule.id === SEED_RULE_ID)!;
  const downAt = s.events.find((e) => e.changed)!.time;
  assert.deepEqual(
    s.healthyBackends(rule, downAt - 1).map((b) => b.nodeIpText),
    nodes,
  );
  assert.deepEqual(
    s.healthyBackends(rule, downAt).map((b) => b.nodeIpText),
    ["10.13.76.4", "10.13.76.6"],
  );
  // Asking beyond the clock runs the probes due first.
  s.healthyBackends(rule, 70_000);
  assert.equal(s.time, 70_000);
});

test("recordAll: false keeps only the state changes", () => {
  const s = new ProbeScheduler(
    resolveTopology(seedAzureState()),
    (_t, now) => (now < 20_000 ? "down" : "up"),
    {
      seed: 3,
      start: 0,
      recordAll: false,
    },
  );
  const ran = s.advance(60_000);
  assert.equal(ran.length, 12);
  assert.deepEqual(
    s.events.map((e) => e.state),
    ["down", "up"],
  );
});

test("a rule without a probe balances to every pool member", () => {
  const topo = resolveTopology(seedAzureState({ withProbe: false, nodes: ["10.13.76.4", "10.13.76.5"] }));
  assert.equal(topo.probes.length, 0);
  const s = new ProbeScheduler(topo, () => "down", { seed: 0, start: 0 });
  assert.equal(s.healthyBackends(topo.rules[0]!, 100_000).length, 2);
});
