/**
 * The stateful and process commands of the seed on a node of the twin: docker ps/inspect, netstat,
 * xargs (static, from the twin), then conntrack and tcpdump after a curl from the laptop went through
 * the World. Expected lines are read from the seed itself.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SEED_TEXT } from "../../../../test/support/seed.ts";
import { buildTwin } from "../../../controlplane/build-twin.ts";
import { seedCluster, seedLocal } from "../../../controlplane/testdata/seed-scenario.ts";
import { humanDuration } from "./docker.ts";
import { runOnNode } from "./run-on-node.ts";
import { curlThrough, pingThrough, trafficWorld } from "./world-traffic.ts";

const SEED = SEED_TEXT.split("\n");
const NODE = "aks-nodepool1-31351229-0";
const PROMPT = `jose@${NODE}:~$ `;
/** The blog's HTML turned runs of blanks into no-break spaces and dropped trailing blanks. */
const clean = (l: string): string => l.replaceAll("\u00a0", " ").trimEnd();

/** The seed's output of the command typed at `line` (1-based), up to the next blank line or prompt. */
function seedOutput(line: number, command: string): string[] {
  assert.equal(clean(SEED[line - 1]!), `${PROMPT}${command}`);
  const out: string[] = [];
  for (let i = line; i < SEED.length && clean(SEED[i]!) !== "" && !SEED[i]!.startsWith(PROMPT); i++)
    out.push(clean(SEED[i]!));
  return out;
}

const lines = (text: string): string[] =>
  text
    .split("\n")
    .filter((l) => l !== "")
    .map(clean);

describe("docker, netstat and xargs on the seed's node", () => {
  it("docker ps | grep whereami: the seed's two containers (seed lines 204-206)", () => {
    const twin = buildTwin(seedCluster);
    const r = runOnNode(twin, NODE, "sudo docker ps | grep whereami");
    assert.equal(r.exitCode, 0);
    // Column widths depend on every container of the node (the twin schedules add-ons the seed's node
    // did not have) and the ages on when the blog was written: cells are compared, ages apart.
    const cells = (l: string) => l.split(/ {2,}/);
    const got = lines(r.stdout)
      .filter((l) => !l.includes("k8s_POD_"))
      .map(cells);
    const want = seedOutput(204, "sudo docker ps | grep whereami").map(cells);
    assert.equal(got.length, want.length);
    got.forEach((g, i) => {
      const w = want[i]!;
      assert.deepEqual([g[0], g[1], g[2], g[5]], [w[0], w[1], w[2], w[5]]);
      assert.match(g[3]!, /^(\d+ \w+|About an? \w+) ago$/);
      assert.equal(g[4], `Up ${g[3]!.replace(/ ago$/, "")}`);
    });
    // The header and the truncated command keep docker's 20-column minimum and 3 spaces of padding.
    assert.match(r.stdout, /"\/bin\/sh -c '\/usr\/sb…" {3}/);
    assert.match(
      runOnNode(twin, NODE, "docker ps").stdout.split("\n")[0]!,
      /^CONTAINER ID {8}IMAGE {2,}COMMAND {2,}CREATED {13}STATUS {14}PORTS {15}NAMES$/,
    );
  });

  it("go-units' HumanDuration: the seed's `About an hour` and `11 minutes`", () => {
    assert.equal(humanDuration(3600), "About an hour");
    assert.equal(humanDuration(5399), "About an hour");
    assert.equal(humanDuration(5400), "2 hours");
    assert.equal(humanDuration(660), "11 minutes");
    assert.equal(humanDuration(90), "About a minute");
  });

  it("docker inspect --format '{{ .State.Pid }}' cd299e883674 → 29634 (seed line 208)", () => {
    const twin = buildTwin(seedCluster);
    const r = runOnNode(twin, NODE, "sudo docker inspect --format '{{ .State.Pid }}' cd299e883674");
    assert.deepEqual(
      lines(r.stdout),
      seedOutput(207, "sudo docker inspect --format '{{ .State.Pid }}' cd299e883674"),
    );
    const missing = runOnNode(twin, NODE, "docker inspect --format '{{.ID}}' ffffffffffff");
    assert.equal(missing.exitCode, 1);
    assert.equal(missing.stderr, "Error: No such object: ffffffffffff\n");
  });

  it("netstat -l -p | grep 32364 on seed-local (seed line 477)", () => {
    const twin = buildTwin(seedLocal);
    const r = runOnNode(twin, NODE, "sudo netstat -l -p | grep 32364");
    assert.deepEqual(lines(r.stdout), seedOutput(476, "sudo netstat -l -p | grep 32364"));
  });

  it("docker ps -q | xargs docker inspect … | grep ^4372, (seed line 480)", () => {
    const twin = buildTwin(seedLocal);
    const cmd = `sudo docker ps -q | xargs sudo docker inspect --format '{{.State.Pid}}, {{.ID}}, {{.Name}}' | grep "^4372,"`;
    const r = runOnNode(twin, NODE, cmd);
    assert.equal(r.exitCode, 0);
    assert.deepEqual(lines(r.stdout), seedOutput(479, cmd));
  });
});

describe("conntrack and tcpdump after traffic through the World", () => {
  const twin = buildTwin(seedCluster);
  const start = twin.now * 1_000_000;

  function afterCurl() {
    const world = trafficWorld(twin, 11, start);
    const c = curlThrough(world, "laptop", "http://51.144.176.251/", start + 10_000_000, 5);
    return { world, c, nw: { world, nowUs: c.end } };
  }

  it("the laptop's curl gets whereami's page; conntrack -L -d VIP shows the seed's tuple shape (seed line 191)", () => {
    const { c, nw } = afterCurl();
    assert.equal(c.result.exitCode, 0);
    assert.match(c.result.stdout, /Remote address: 10\.13\.76\.4</);
    const r = runOnNode(twin, NODE, "sudo conntrack -L -d 51.144.176.251", nw);
    const seed = seedOutput(190, "sudo conntrack -L -d 51.144.176.251");
    // The seed's browser left CLOSE_WAIT; curl closes, so TIME_WAIT: the tuples' shape must agree.
    const shape = (l: string) =>
      l
        .replace(/^(tcp +6) \d+ [A-Z_]+ /, "$1 T S ")
        .replace(/sport=\d+ dport=80 src=10\.13\.76\.\d+ dst=10\.13\.76\.4 sport=80 dport=\d+/, "TUPLE");
    const got = lines(r.stdout);
    assert.equal(got.length, 1);
    assert.equal(shape(got[0]!), shape(seed[0]!));
    assert.equal(r.stderr, "conntrack v1.4.3 (conntrack-tools): 1 flow entries have been shown.\n");
    // The source port is the client's, unchanged by the node's MASQUERADE.
    const sport = /sport=(\d+)/.exec(got[0]!)![1];
    assert.match(got[0]!, new RegExp(`sport=80 dport=${sport} \\[ASSURED\\]`));
  });

  it("tcpdump -n -i eth0 port 80 and not host 168.63.129.16: the handshake as the seed shows it (lines 293-298)", () => {
    const { nw } = afterCurl();
    const cmd = "sudo tcpdump -n -i eth0 port 80 and not host 168.63.129.16";
    const r = runOnNode(twin, NODE, cmd, nw);
    assert.equal(r.exitCode, 0);
    const seed = seedOutput(292, cmd);
    assert.deepEqual(lines(r.stderr).slice(0, 2), seed.slice(0, 2));
    // Times, ports and sequence numbers are the run's; everything else is the seed's.
    const shape = (l: string) =>
      l
        .replace(/^\d\d:\d\d:\d\d\.\d{6} /, "T ")
        .replace(/109\.125\.120\.58\.\d+/, "CLIENT")
        .replace(/seq \d+/, "seq N")
        .replace(/ack \d{3,}/, "ack N");
    assert.deepEqual(lines(r.stdout).slice(0, 3).map(shape), seed.slice(2, 5).map(shape));
    // The probes went to eth0 too (the first capture of the seed, line 277), and the filter hid them.
    const all = runOnNode(twin, NODE, "tcpdump -n -i eth0", nw);
    assert.match(all.stdout, /168\.63\.129\.16\.\d+ > 10\.13\.76\.4\.30064/);
    assert.equal(runOnNode(twin, NODE, "tcpdump -i nosuch0", nw).exitCode, 1);
    // -v: tcpdump's IP header line under each packet's first line, and no "verbose output suppressed".
    const v = runOnNode(twin, NODE, "tcpdump -n -v -i eth0 port 80 and not host 168.63.129.16", nw);
    assert.equal(v.exitCode, 0);
    assert.doesNotMatch(v.stderr, /verbose output suppressed/);
    assert.match(
      lines(v.stdout)[0] ?? "",
      /^\d\d:\d\d:\d\d\.\d{6} IP \(tos 0x0, ttl \d+, id \d+, offset 0, flags \[DF\], proto TCP \(6\), length \d+\)$/,
    );
    assert.equal(runOnNode(twin, NODE, "tcpdump -x -i eth0", nw).exitCode, 2);
  });

  it("ping from the node to a pod prints iputils' lines and statistics, consistent with each other", () => {
    const world = trafficWorld(twin, 11, start);
    const p = pingThrough(world, NODE, "10.13.76.26", 3, start + 1_000_000, 9);
    const out = lines(p.result.stdout);
    assert.equal(out[0], seedOutput(262, "ping 10.13.76.26")[0]);
    const rtts = out.slice(1, 4).map((l, i) => {
      const m = new RegExp(
        `^64 bytes from 10\\.13\\.76\\.26: icmp_seq=${i + 1} ttl=64 time=(\\d+\\.\\d{3}) ms$`,
      ).exec(l);
      assert.ok(m, l);
      return Math.round(Number(m[1]) * 1000);
    });
    assert.equal(out[4], "--- 10.13.76.26 ping statistics ---");
    assert.match(out[5]!, /^3 packets transmitted, 3 received, 0% packet loss, time 200\dms$/);
    const ms = (us: number) => (us / 1000).toFixed(3);
    const avg = Math.floor(rtts.reduce((a, b) => a + b) / 3);
    assert.equal(
      out[6]?.startsWith(
        `rtt min/avg/max/mdev = ${ms(Math.min(...rtts))}/${ms(avg)}/${ms(Math.max(...rtts))}/`,
      ),
      true,
    );
    // The echo left an ICMP entry in the node's conntrack.
    const ct = runOnNode(twin, NODE, "conntrack -L -p icmp", { world, nowUs: p.end });
    assert.match(ct.stdout, /^icmp +1 \d+ src=10\.13\.76\.4 dst=10\.13\.76\.26 type=8 code=0 id=\d+ /);
  });

  it("a ping nobody answers: 100% loss, no rtt line, exit 1", () => {
    const world = trafficWorld(twin, 11, start);
    const p = pingThrough(world, NODE, "10.13.76.250", 2, start + 1_000_000, 9);
    assert.equal(p.result.exitCode, 1);
    assert.match(p.result.stdout, /2 packets transmitted, 0 received, 100% packet loss, time 1000ms\n$/);
  });
});
