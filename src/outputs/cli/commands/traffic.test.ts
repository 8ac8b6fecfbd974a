import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { cliIn } from "../../../../test/support/cli.ts";

const NODE = "aks-nodepool1-31351229-0";

describe("packetwalk curl/ping and the kept World", () => {
  let dir = "";
  let cli: ReturnType<typeof cliIn>;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "packetwalk-traffic-"));
    cli = cliIn(dir);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("with --scenario nothing is kept: the page comes back and conntrack on a fresh World has no such flow", () => {
    const r = cli("curl", "--scenario", "seed-cluster", "--from", "laptop", "http://51.144.176.251/");
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /<h1>whereami-564765b89-\w+<\/h1>/);
    const ct = cli(
      "exec",
      "--scenario",
      "seed-cluster",
      NODE,
      "--",
      "conntrack",
      "-L",
      "-d",
      "51.144.176.251",
    );
    assert.equal(ct.stdout, "");
    assert.match(ct.stderr, /conntrack v1\.4\.3 \(conntrack-tools\): 0 flow entries have been shown\./);
  });

  it("on a kept twin the curls are recorded and replayed: conntrack and tcpdump see them, the same each time", () => {
    assert.equal(cli("up", "--scenario", "seed-cluster").code, 0);
    for (let i = 0; i < 2; i++) {
      const r = cli("curl", "--from", "laptop", "http://51.144.176.251/");
      assert.equal(r.code, 0, r.stderr);
    }
    const state = JSON.parse(readFileSync(join(dir, ".packetwalk", "state.json"), "utf8"));
    const traffic = state.actions.filter((a: { type: string }) => a.type === "traffic");
    assert.equal(traffic.length, 2);
    assert.ok(traffic[1].time > traffic[0].time && traffic[0].seed !== traffic[1].seed);
    const ct = () => cli("exec", NODE, "--", "sudo conntrack -L -d 51.144.176.251");
    const first = ct();
    assert.equal(first.code, 0);
    const flows = first.stdout.trim().split("\n");
    assert.equal(flows.length, 2);
    for (const f of flows)
      assert.match(
        f,
        /^tcp +6 \d+ TIME_WAIT src=109\.125\.120\.58 dst=51\.144\.176\.251 sport=\d+ dport=80 src=10\.13\.76\.(7|26) dst=10\.13\.76\.4 /,
      );
    assert.match(first.stderr, /: 2 flow entries have been shown\.\n$/);
    assert.deepEqual(ct(), first);
    const dump = cli("exec", NODE, "--", "tcpdump -n -i eth0 port 80 and not host 168.63.129.16");
    assert.equal(dump.stdout.split("\n").filter((l) => / Flags \[S\],/.test(l)).length, 2);
    // The clock moves on: the TIME_WAIT entries (120 s) are gone.
    assert.equal(cli("clock", "advance", "5m").code, 0);
    assert.equal(ct().stdout, "");
  });

  it("ping from the node to a pod on the kept twin", () => {
    const r = cli("ping", "--from", NODE, "-c", "2", "10.13.76.26");
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /^PING 10\.13\.76\.26 \(10\.13\.76\.26\) 56\(84\) bytes of data\.\n64 bytes from 10\.13\.76\.26: icmp_seq=1 ttl=64 time=/,
    );
    assert.match(r.stdout, /2 packets transmitted, 2 received, 0% packet loss/);
    assert.equal(cli("curl", "--from", "nowhere", "http://10.0.0.1/").code, 2);
  });

  it("ping typed on the node goes through the World and is kept; without -c it stops at ^C after 3", () => {
    const actions = () =>
      JSON.parse(readFileSync(join(dir, ".packetwalk", "state.json"), "utf8")).actions.filter(
        (a: { type: string }) => a.type === "traffic",
      );
    const before = actions().length;
    const r = cli("exec", NODE, "--", "sudo ping 10.13.76.26");
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split("\n");
    assert.equal(lines.filter((l) => / bytes from 10\.13\.76\.26: icmp_seq=\d ttl=64 /.test(l)).length, 3);
    // The terminal's ^C echo takes the line ping's own newline ends (seed lines 266-268).
    assert.deepEqual(lines.slice(4, 6), ["^C", "--- 10.13.76.26 ping statistics ---"]);
    assert.equal(actions().length, before + 1);
    assert.equal(actions().at(-1).from, NODE);
    const counted = cli("exec", NODE, "--", "ping -c 2 10.13.76.26");
    assert.match(
      counted.stdout,
      / ms\n\n--- 10\.13\.76\.26 ping statistics ---\n2 packets transmitted, 2 received/,
    );
    assert.equal(cli("exec", NODE, "--", "ping -f 10.13.76.26").code, 2);
  });

  it("browse is kept too: its two connections ESTABLISHED now, CLOSE_WAIT once the clock passed httpd's 5 s", () => {
    const r = cli("browse", "--from", "laptop", "http://51.144.176.251/");
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /<li>Remote address: 10\.13\.76\.4<\/li>/);
    const state = JSON.parse(readFileSync(join(dir, ".packetwalk", "state.json"), "utf8"));
    assert.equal(state.actions.at(-1).tool, "browse");
    const states = () =>
      cli("exec", NODE, "--", "conntrack -L -d 51.144.176.251")
        .stdout.trim()
        .split("\n")
        .map((l) => / (ESTABLISHED|CLOSE_WAIT) src=109\.125\.120\.58 /.exec(l)?.[1]);
    assert.deepEqual(states(), ["ESTABLISHED", "ESTABLISHED"]);
    assert.equal(cli("clock", "advance", "10s").code, 0);
    assert.deepEqual(states(), ["CLOSE_WAIT", "CLOSE_WAIT"]);
    // Without -n, the node's own polls of the wire server show with port names (seed line 280).
    const dump = cli("exec", NODE, "--", "tcpdump -i eth0 port 80");
    assert.match(dump.stdout, / IP 10\.13\.76\.4\.\d+ > 168\.63\.129\.16\.http: Flags \[P\.\], seq 1:199, /);
  });

  it("browse --help says what the browser does", () => {
    const help = cli("browse", "--help");
    assert.equal(help.code, 0);
    assert.match(help.stdout, /two connections from adjacent source ports/);
    assert.match(help.stdout, /packetwalk clock advance 10s/);
  });
});
