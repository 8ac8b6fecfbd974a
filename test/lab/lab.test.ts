import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  finished as finishedBoth,
  labCli,
  labSkipReason,
  labLeftovers as leftovers,
  startCli,
} from "./support.ts";

/**
 * The real-kernel lab end to end (issue 6's first slice): `packetwalk lab up` run as a child process
 * (it is asynchronous and handles signals), the synchronous commands in-process. Needs root on
 * Linux with ip, iptables-restore, conntrack and curl; skipped otherwise, and skipped when a lab is
 * already up on this machine (its namespace names are fixed: the test would take it down).
 */

const NODE = "aks-nodepool1-31351229-0";
const SKIP = labSkipReason(["ip", "iptables-restore", "conntrack", "curl", "sysctl"]);

let home = "";
const cli = labCli(() => home);
const startUp = (scenario: string) => startCli(home, "lab", "up", "--scenario", scenario);
const finished = async (child: ReturnType<typeof startUp>) => {
  const r = await finishedBoth(child);
  return { ...r, out: r.stdout + r.stderr };
};

async function up(scenario: string): Promise<void> {
  const r = await finished(startUp(scenario));
  assert.equal(r.code, 0, r.out);
}

function down(): void {
  const r = cli("lab", "down");
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(leftovers(), []);
}

interface Whereami {
  pod: string;
  pod_ip: string;
  source: string;
}

function curl(from: string, url: string): Whereami {
  const r = cli("lab", "curl", "--from", from, url);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Whereami;
}

describe("packetwalk lab (real kernel)", { skip: SKIP ?? false, concurrency: false }, () => {
  before(() => {
    home = mkdtempSync(join(tmpdir(), "pwl-test-"));
  });
  after(() => {
    // Whatever happened, leave nothing behind.
    if (home) cli("lab", "down");
    rmSync(home, { recursive: true, force: true });
  });

  it("seed-cluster: the twin's rules in the kernel, the LB's VIP answered by a pod, SNATed to the node", async () => {
    await up("seed-cluster");
    try {
      const status = cli("lab", "status");
      assert.equal(status.code, 0, status.stdout);
      const save = cli("lab", "exec", NODE, "--", "iptables-save", "-t", "nat");
      assert.equal(save.code, 0, save.stderr);
      assert.match(save.stdout, /^:KUBE-SVC-\w+ - \[0:0\]$/m);
      assert.match(save.stdout, /^-A KUBE-SEP-\w+ -p tcp .*-j DNAT --to-destination 10\.13\.76\.(7|26):80$/m);
      const seen = new Set<string>();
      for (let i = 0; i < 6; i++) {
        const w = curl("laptop", "http://51.144.176.251/");
        assert.match(w.pod, /^default\/whereami-/);
        assert.equal(w.source, "10.13.76.4", "externalTrafficPolicy Cluster: SNAT to the node's IP");
        seen.add(w.pod);
      }
      assert.ok(seen.size >= 1);
      const ct = cli(
        "lab",
        "exec",
        NODE,
        "--",
        "conntrack",
        "-L",
        "-p",
        "tcp",
        "--orig-dst",
        "51.144.176.251",
      );
      assert.equal(ct.code, 0, ct.stderr);
      assert.match(
        ct.stdout,
        /src=109\.125\.120\.58 dst=51\.144\.176\.251 sport=\d+ dport=80 src=10\.13\.76\.(7|26) dst=10\.13\.76\.4 sport=80/,
      );
      const nope = cli("lab", "exec", "no-such-host", "--", "true");
      assert.equal(nope.code, 1);
    } finally {
      down();
    }
    assert.equal(existsSync(join(home, "lab.json")), false);
    // Idempotent.
    assert.equal(cli("lab", "down").code, 0);
  });

  it("seed-local: the pod sees the laptop's own address", async () => {
    await up("seed-local");
    try {
      const w = curl("laptop", "http://13.93.66.174/");
      assert.match(w.pod, /^default\/whereami-/);
      assert.equal(w.source, "167.220.196.180");
    } finally {
      down();
    }
  });

  it("aks-today: transparent mode, three nodes behind a multipath VIP, Cluster and Local", async () => {
    await up("aks-today");
    try {
      const nodes = new Set<string>();
      for (let i = 0; i < 12; i++) {
        const w = curl("laptop", "http://104.5.254.119/");
        assert.match(w.pod, /^default\/web-/);
        assert.match(w.source, /^10\.224\.0\.(4|35|66)$/, "Cluster: SNAT to the receiving node");
        nodes.add(w.source);
      }
      assert.ok(nodes.size > 1, "the 5-tuple hash spreads flows over the nodes");
      for (let i = 0; i < 4; i++)
        assert.equal(curl("laptop", "http://104.227.181.208/").source, "203.0.113.10");
    } finally {
      down();
    }
  });

  it("20 rounds of up and down, some interrupted by SIGINT mid-way, leave nothing behind", async () => {
    let interrupted = 0;
    for (let round = 0; round < 20; round++) {
      const child = startUp("seed-local");
      const done = finished(child);
      const interrupt = round % 2 === 1;
      if (interrupt) setTimeout(() => child.kill("SIGINT"), 700 + ((round * 137) % 1500));
      const r = await done;
      const ledger = existsSync(join(home, "lab.json"));
      if (r.code === 130) {
        assert.ok(interrupt);
        assert.deepEqual(leftovers(), [], `round ${round}: interrupted up left something\n${r.out}`);
        assert.equal(ledger, false, `round ${round}: ledger left`);
        interrupted += 1;
        continue;
      }
      if (r.signal === "SIGINT" && !ledger) {
        // Killed before it installed its handlers, i.e. before it created anything.
        assert.deepEqual(leftovers(), [], `round ${round}\n${r.out}`);
        continue;
      }
      // It finished before the signal (or the signal came after up was complete).
      assert.ok(r.code === 0 || r.signal === "SIGINT", `round ${round}: ${r.code} ${r.signal}\n${r.out}`);
      down();
    }
    assert.deepEqual(leftovers(), []);
    assert.ok(interrupted >= 3, `only ${interrupted} up(s) were interrupted mid-way`);
  });
});

if (SKIP) {
  describe("packetwalk lab (real kernel)", () => {
    it(`skipped: ${SKIP}`, { skip: SKIP }, () => {});
  });
}
