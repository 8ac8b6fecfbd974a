import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { buildTwin } from "../../../controlplane/build-twin.ts";
import { seedCluster } from "../../../controlplane/testdata/seed-scenario.ts";
import { add, isOne, toNumber } from "../../../core/dyadic.ts";
import { formatIpv4, parseIpv4 } from "../../../core/ip.ts";
import { placeFor, walkPaths } from "./walk-paths.ts";

const twin = buildTwin(seedCluster);
const laptop = placeFor(twin, "laptop")!;
const req = {
  from: laptop.place,
  ip: laptop.ip,
  sport: 51535,
  to: { ip: parseIpv4("51.144.176.251")!, port: 80 },
  proto: "tcp" as const,
  seed: 7,
};

describe("walkPaths", () => {
  it("one concrete run per branch of kube-proxy's coins; the odds sum to 1", () => {
    const { paths, truncated } = walkPaths(twin, req);
    assert.equal(truncated, false);
    assert.ok(isOne(paths.reduce((s, p) => add(s, p.probability), { num: 0n, exp: 0 })));
    const pods = paths.map((p) => formatIpv4(p.request.delivered!.frame.packet.dst as number)).sort();
    assert.deepEqual(pods, ["10.13.76.26", "10.13.76.7"]);
    // The coin decided each path: the first path took the statistic rule, the second did not.
    assert.deepEqual(
      paths.map((p) => p.choices.map((c) => c.matched)),
      [[true], [false]],
    );
    for (const p of paths) {
      assert.equal(toNumber(p.probability), 0.5);
      assert.equal(p.outcome, "completed");
      assert.ok(p.reply?.delivered);
    }
  });

  it("is deterministic: the same request gives the same hops", () => {
    const a = walkPaths(twin, req).paths.map((p) => p.request.hops.map((h) => h.note));
    const b = walkPaths(twin, req).paths.map((p) => p.request.hops.map((h) => h.note));
    assert.deepEqual(a, b);
  });

  it("the client runs its host's own stack (hosts[].os): the corporate laptop's SYN has the clamped MSS", () => {
    const mssOf = (t: typeof twin) =>
      walkPaths(t, req).paths[0]!.request.hops[0]!.before.tcp!.options.find((o) => o.kind === "mss");
    assert.deepEqual(mssOf(twin), { kind: "mss", value: 1420 });
    const corp = {
      ...twin,
      hosts: twin.hosts.map((h) => (h.name === "laptop" ? { ...h, os: "windows-10-corpnet" as const } : h)),
    };
    assert.deepEqual(mssOf(corp), { kind: "mss", value: 1300 });
  });

  it("places: hosts, nodes and pods by name or address", () => {
    assert.deepEqual(placeFor(twin, "109.125.120.58")?.place, { kind: "host", name: "laptop" });
    assert.equal(placeFor(twin, "10.13.76.4")?.place.kind, "node");
    assert.equal(placeFor(twin, "10.13.76.26")?.place.kind, "pod");
    assert.equal(placeFor(twin, "192.0.2.1"), null);
  });
});
