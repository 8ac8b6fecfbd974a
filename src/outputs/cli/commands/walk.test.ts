import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import { cli } from "../../../../test/support/cli.ts";
import { run } from "../main.ts";

const NODE = "aks-nodepool1-31351229-0";

interface JsonHop {
  at: string;
  iface: string | null;
  action: string;
  before: string;
  after: string;
  rules: { line: number | null; table: string; chain: string; rule: string }[];
}
interface JsonPath {
  probability: number;
  endpoint: string;
  pod: string;
  node: string;
  sourceSeenByPod: string;
  hops: JsonHop[];
}
interface JsonWalk {
  verdict: string;
  paths: JsonPath[];
  reply: { sourceSeenByClient: string; hops: JsonHop[] };
}

const walkJson = (...args: string[]): JsonWalk => {
  const r = cli(["walk", ...args, "-o", "json"]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as JsonWalk;
};

const rulesOf = (p: JsonPath) => p.hops.flatMap((h) => h.rules);

describe("packetwalk walk", () => {
  it("seed-cluster: two paths of 1/2, the pods see the node's address, rules at their iptables-save lines", () => {
    const w = walkJson();
    assert.equal(w.verdict, "delivered");
    assert.deepEqual(w.paths.map((p) => p.probability).sort(), [0.5, 0.5]);
    assert.deepEqual(w.paths.map((p) => p.endpoint).sort(), ["10.13.76.26:80", "10.13.76.7:80"]);
    for (const p of w.paths) {
      assert.equal(p.sourceSeenByPod, "10.13.76.4");
      assert.equal(p.node, NODE);
      const chains = new Set(rulesOf(p).map((r) => r.chain));
      assert.ok(chains.has("KUBE-FW-7G2JV7LNOR6DDNIY") && chains.has("KUBE-MARK-MASQ"));
    }
    // Every rule's line is that rule in what `iptables-save` prints on the node.
    const saved = cli(["exec", NODE, "--", "iptables-save"]).stdout.split("\n");
    const rules = w.paths.flatMap(rulesOf);
    const fw = rules.find((r) => r.chain === "KUBE-SERVICES" && r.rule.includes("KUBE-FW-7G2JV7LNOR6DDNIY"));
    assert.ok(fw?.line);
    assert.equal(saved[fw.line - 1], fw.rule);
    for (const r of rules) assert.equal(saved[(r.line as number) - 1], r.rule);
    // The reply leaves with the VIP as its source (DSR: the LB does not rewrite it).
    assert.equal(w.reply.sourceSeenByClient, "51.144.176.251:80");
  });

  it("the text tells the same story", () => {
    const r = cli(["walk"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Path 1 of 2, probability 1\/2 \(0\.5\)/);
    assert.match(r.stdout, /the pod sees the source 10\.13\.76\.4/);
    assert.match(r.stdout, /nat +line +\d+: -A KUBE-FW-7G2JV7LNOR6DDNIY .* -j KUBE-MARK-MASQ/);
  });

  it("seed-local: the pods see the laptop's address and nothing marks for SNAT", () => {
    const w = walkJson("--scenario", "seed-local");
    assert.equal(w.verdict, "delivered");
    assert.equal(w.paths.length, 2);
    for (const p of w.paths) {
      assert.equal(p.sourceSeenByPod, "167.220.196.180");
      assert.ok(
        !rulesOf(p).some((r) => r.chain === "KUBE-MARK-MASQ" || r.rule.includes("-j KUBE-MARK-MASQ")),
      );
    }
  });

  it("-o json has the documented shape", () => {
    const w = walkJson();
    for (const k of ["verdict", "paths", "reply"]) assert.ok(k in w, k);
    for (const p of w.paths) {
      for (const k of ["probability", "endpoint", "pod", "node", "sourceSeenByPod", "hops"])
        assert.ok(k in p, k);
      for (const h of p.hops)
        for (const k of ["at", "iface", "action", "before", "after", "rules"]) assert.ok(k in h, k);
    }
  });

  it("--from HOST:PORT sets the client's port; a bad --to is a usage error", () => {
    const w = walkJson("--from", "laptop:62538", "--to", "http://51.144.176.251/");
    assert.match(w.paths[0]!.hops[0]!.before, /^109\.125\.120\.58:62538 > 51\.144\.176\.251:80$/);
    const bad = cli(["walk", "--to", "nowhere"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--to nowhere/);
  });

  it("--compare seed-local shows the differences", () => {
    const r = cli(["walk", "--compare", "seed-local"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /source seen by pod +10\.13\.76\.4 +167\.220\.196\.180/);
    assert.match(r.stdout, /health probe +Tcp 30064 .* Http 32364 \/healthz/);
    const onlyCluster = r.stdout.split("Rules hit only in seed-local:")[0]!;
    assert.match(onlyCluster, /KUBE-FW-7G2JV7LNOR6DDNIY -> KUBE-MARK-MASQ/);
  });

  it("--pcap writes one capture per interface crossed, which tshark reads cleanly", (t) => {
    const dir = mkdtempSync(join(tmpdir(), "walk-pcap-"));
    try {
      let stderr = "";
      const code = run(["walk", "--pcap", dir], {
        stdout: () => {},
        stderr: (s) => {
          stderr += s;
        },
        readFile: (p) => readFileSync(p, "utf8"),
        writeFile: (p, data) => {
          mkdirSync(dirname(p), { recursive: true });
          writeFileSync(p, data);
        },
      });
      assert.equal(code, 0, stderr);
      const files = readdirSync(dir, { recursive: true })
        .map(String)
        .filter((f) => f.endsWith(".pcap"));
      assert.ok(files.includes(join("path-1", `${NODE}_eth0.pcap`)), files.join(" "));
      assert.ok(files.some((f) => f.includes("whereami")));
      for (const f of files) assert.ok(statSync(join(dir, f)).size > 24);
      const probe = spawnSync("tshark", ["--version"]);
      if (probe.error) {
        t.skip("no tshark");
        return;
      }
      for (const f of files) {
        const r = spawnSync("tshark", ["-r", join(dir, f)], { encoding: "utf8" });
        assert.equal(r.status, 0, r.stderr);
        // tshark's only remark as root is that it runs as root.
        const warnings = r.stderr.split("\n").filter((l) => l.trim() && !/Running as user/.test(l));
        assert.deepEqual(warnings, []);
        // Wireshark's expert info at warning level and above: malformed frames, bad checksums, lost segments.
        const expert = spawnSync("tshark", ["-r", join(dir, f), "-q", "-z", "expert,warn"], {
          encoding: "utf8",
        });
        assert.equal(expert.stdout.trim(), "", `${f}: ${expert.stdout}`);
        assert.match(r.stdout, /SYN/);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
