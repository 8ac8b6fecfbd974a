import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { stringify } from "yaml";
import { parseScenario } from "../../src/inputs/scenario/parse.ts";
import { builtinPath } from "../../src/outputs/cli/commands/scenario.ts";
import { cliIn } from "../support/cli.ts";
import {
  ageing,
  ages,
  conntrackEntries,
  counters,
  dockerAges,
  expandTabs,
  outputLines,
  pingTimes,
  seedCommand,
  seedOutput,
  tcpdumpLines,
} from "../support/seed.ts";

/**
 * The seed replayed top to bottom as packetwalk commands on one kept twin: `up`, the author's
 * traffic, then every command the seed runs from line 88 on (SEED-COMMANDS.md), read from the seed
 * line itself: `k` and `az` through `packetwalk kubectl|az`, the node's through `packetwalk exec
 * NODE -- CMD` without `sudo` (the emulated shell runs as root). Each output is compared with the
 * seed's lines after normalising only what the seed itself shows to vary: ages, timestamps and
 * measured times, TCP sequence and timestamp values, packet/byte counters, conntrack timeouts,
 * bridge ageing timers, ephemeral ports and which endpoint kube-proxy's random rule picked; and what
 * the blog's paste changes (no-break spaces, tabs shown as spaces, trailing blanks). The steps share
 * the twin, so they run in the seed's order. Where the twin cannot yet print what the seed shows,
 * the exact comparison is a `todo` saying what is missing, next to a passing one over the parts it
 * does reproduce.
 */

const NODE = "aks-nodepool1-31351229-0";
/** What the seed's $noderg and $lb hold (lines 38 and 106). */
const NODERG = "MC_akstest_aksPacketWalkAzure_westeurope";
const LB = "kubernetes";

type Pw = ReturnType<typeof cliIn>;

/** A packetwalk run that must succeed; its stdout as lines. */
function ok(pw: Pw, ...args: string[]): string[] {
  const r = pw(...args);
  assert.equal(r.code, 0, `packetwalk ${args.join(" ")} failed (${r.code}): ${r.stderr}`);
  return outputLines(r.stdout);
}

/** packetwalk's words for the command typed at seed line `line`; `files` maps a typed path to ours. */
function argsOf(line: number, files: Readonly<Record<string, string>> = {}): string[] {
  const { where, command } = seedCommand(line);
  if (where === "node") return ["exec", NODE, "--", command.replaceAll("sudo ", "")];
  const [tool, ...words] = command
    .replaceAll("$noderg", NODERG)
    .replaceAll("$lb", LB)
    .split(" ")
    .map((w) => files[w] ?? w);
  assert.ok(tool === "k" || tool === "az", `seed line ${line}: ${command}`);
  return [tool === "k" ? "kubectl" : "az", ...words];
}

/** Runs the command of seed line `line` on the kept twin; it must succeed. */
function run(pw: Pw, line: number, files?: Readonly<Record<string, string>>) {
  const args = argsOf(line, files);
  const r = pw(...args);
  assert.equal(r.code, 0, `seed line ${line}, packetwalk ${args.join(" ")} failed (${r.code}): ${r.stderr}`);
  return r;
}

/** Its stdout as lines. */
const replay = (pw: Pw, line: number, files?: Readonly<Record<string, string>>): string[] =>
  outputLines(run(pw, line, files).stdout);

/** conntrack -L as the terminal showed it: the entries, then the summary it prints on stderr. */
function conntrackList(pw: Pw, line: number): string[] {
  const r = run(pw, line);
  return [...outputLines(r.stdout), ...outputLines(r.stderr)];
}

/**
 * tcpdump as the terminal showed it: its two header lines (stderr, at start), then the packets; the
 * counts it prints when stopped (stderr, at the end) the seed cut.
 */
function capture(pw: Pw, line: number): { header: string[]; packets: string[] } {
  const r = run(pw, line);
  return { header: outputLines(r.stderr).slice(0, 2), packets: r.stdout === "" ? [] : outputLines(r.stdout) };
}

/** The first three packets (the handshake) of the connection whose SYN a capture shows last. */
function lastHandshake(packets: readonly string[]): string[] {
  const syn = packets.filter((l) => l.includes("Flags [S],")).at(-1) ?? "";
  const port = /\d+\.\d+\.\d+\.\d+\.(\d+) >/.exec(syn)?.[1];
  assert.ok(port, "the capture holds no SYN");
  return packets.filter((l) => l.includes(`.${port} >`) || l.includes(`.${port}:`)).slice(0, 3);
}

/**
 * The endpoint kube-proxy's `statistic --mode random` rule picked for each connection (the reply
 * tuple's source): the seed shows either pod being picked, so which one a run picks is a draw.
 */
const pickedPod = (pods: RegExp) => (lines: readonly string[]) =>
  lines.map((l) => l.replace(new RegExp(`(dport=80 )src=${pods.source} `), "$1src=<pod> "));

/** whereami's endpoints in the first half (10.13.76.7, .26) and in the second (10.13.76.15, .30). */
const clusterPod = pickedPod(/10\.13\.76\.(?:7|26)/);
const localPod = pickedPod(/10\.13\.76\.(?:15|30)/);

/** An entry's TCP state left out, to compare the tuples (the NAT an entry records) on their own. */
const anyState = (lines: readonly string[]) =>
  lines.map((l) => l.replace(/^(tcp +6 <timeout>) [A-Z_]+ /, "$1 <state> "));

/**
 * `grep whereami` also matches the pods' pause sandboxes (`k8s_POD_whereami-…`), which the blog
 * left out of both listings (the IMAGE column's width shows the pause image was listed): the
 * whereami containers are compared.
 */
const appContainers = (lines: readonly string[]) => lines.filter((l) => !l.includes(" k8s_POD_"));

/** seed-local's nginx-elb.yaml (its `later:` manifests) written as the file the author applied. */
function nginxElb(dir: string): string {
  const text = readFileSync(builtinPath("seed-local"), "utf8");
  const later = parseScenario(text, builtinPath("seed-local")).value?.later ?? [];
  assert.ok(later.length > 0, "seed-local holds nginx-elb.yaml in later:");
  const path = join(dir, "nginx-elb.yaml");
  writeFileSync(path, later.map((m) => stringify(m.object)).join("---\n"));
  return path;
}

/** The seed's second capture at a pod (line 382): two fetches, so one reaches the second pod. */
const FETCHES = 2;

describe("the seed replayed as packetwalk commands", () => {
  let dir = "";
  let pw: Pw;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "packetwalk-replay-"));
    pw = cliIn(dir);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  describe("first half: externalTrafficPolicy Cluster (seed-cluster, VIP 51.144.176.251)", () => {
    it("up, and the author's laptop fetches the VIP", () => {
      ok(pw, "up", "--scenario", "seed-cluster");
      const page = ok(pw, "curl", "--from", "laptop", "http://51.144.176.251/").join("\n");
      // Cluster: the pod sees the node's address, not the laptop's (seed lines 195-198).
      assert.match(page, /<li>Remote address: 10\.13\.76\.4<\/li>/);
    });

    it("88 k get svc, 93 k get ep whereami, 97 k get pod -o wide", () => {
      assert.deepEqual(ages(replay(pw, 88)), ages(seedOutput(88, 3)));
      assert.deepEqual(ages(replay(pw, 93)), ages(seedOutput(93, 2)));
      assert.deepEqual(ages(replay(pw, 97)), ages(seedOutput(97, 3)));
    });

    it("106 az network lb list … --query [0].name (kept in $lb), 107 lb rule list, 112 lb probe list", () => {
      assert.deepEqual(replay(pw, 106), [LB]);
      assert.deepEqual(replay(pw, 107), seedOutput(107, 3));
      assert.deepEqual(replay(pw, 112), seedOutput(112, 3));
    });

    it("123 lb address-pool list -o table (output not shown), 124 its ip configurations, 127 the NIC's IP", () => {
      // Line 124 follows 123 at once: the seed shows no table, so this one only has to work.
      assert.match(replay(pw, 123)[0] ?? "", /^Name +ProvisioningState +ResourceGroup$/);
      assert.deepEqual(replay(pw, 124), seedOutput(124, 1));
      assert.deepEqual(replay(pw, 127), seedOutput(127, 1));
    });

    it("134 iptables-save | grep whereami: the seed's 14 rules (the blog lists KUBE-SERVICES in its own order)", () => {
      // iptables-save prints chains sorted by name and kube-proxy 1.11 writes the cluster IP rules
      // before the load balancer rule (the Local half, line 392, shows both in that order); the
      // Cluster listing was rearranged by the author, so it is compared as a set.
      assert.deepEqual([...replay(pw, 134)].sort(), seedOutput(134, 14).sort());
    });

    it("176 iptables -t nat -L KUBE-MARK-MASQ, 181 iptables -L -t nat -v | grep -i masquerade", () => {
      assert.deepEqual(replay(pw, 176), seedOutput(176, 3));
      assert.deepEqual(counters(replay(pw, 181)), counters(seedOutput(181, 3)));
    });

    it("188: the author's browser opens the VIP, and looks at the node a little later", () => {
      // Five minutes: long enough for the first fetch's TIME_WAIT entry (120 s) to expire, as the
      // seed lists only the browser's connections. The browser opens two and keeps them open.
      ok(pw, "clock", "advance", "5m");
      const page = ok(pw, "browse", "--from", "laptop", "http://51.144.176.251/").join("\n");
      assert.match(page, /<li>Remote address: 10\.13\.76\.4<\/li>/);
      // The seed's 3577 s left of kube-proxy's 3600 s CLOSE_WAIT: the author looked some seconds
      // after httpd's KeepAliveTimeout (5 s) had closed the server's side.
      ok(pw, "clock", "advance", "10s");
    });

    it("190 conntrack -L -d 51.144.176.251: the browser's two connections, CLOSE_WAIT", () => {
      const norm = (lines: string[]) => clusterPod(conntrackEntries(lines));
      assert.deepEqual(norm(conntrackList(pw, 190)), norm(seedOutput(190, 3)));
    });

    it("190 conntrack -L -d 51.144.176.251: each entry's tuples (the laptop, the VIP, a pod, the node)", () => {
      // Everything but the TCP state: the NAT the entries record, and the trailer.
      const tuples = (lines: string[]) => anyState(clusterPod(conntrackEntries(lines)));
      assert.deepEqual(tuples(conntrackList(pw, 190)), tuples(seedOutput(190, 3)));
    });

    it("204 docker ps | grep whereami: the two whereami containers, created from the digest a pull returned", () => {
      // The IMAGE column is 29 wide: its widest cell is the pause image's tag (26), as the add-ons'
      // pre-pulled images print as 12-digit image IDs; the whereami image was pulled.
      assert.deepEqual(dockerAges(appContainers(replay(pw, 204))), dockerAges(seedOutput(204, 2)));
    });

    it("207 docker inspect --format '{{ .State.Pid }}', 212 nsenter -t 29634 -n ip addr, 224 ip a | grep 20:", () => {
      assert.deepEqual(replay(pw, 207), seedOutput(207, 1));
      assert.deepEqual(replay(pw, 212), seedOutput(212, 8));
      assert.deepEqual(replay(pw, 224), seedOutput(224, 1));
    });

    it("231 apt install -y bridge-utils (the seed elides its output) works", () => {
      assert.match(
        replay(pw, 231).join("\n"),
        /^bridge-utils is already the newest version \(1\.5-9ubuntu1\)\.$/m,
      );
    });

    it("235 brctl show, 252 brctl showstp azure0 | grep, 255 brctl showmacs azure0 | grep -E", () => {
      assert.deepEqual(expandTabs(replay(pw, 235)), seedOutput(235, 11));
      assert.deepEqual(replay(pw, 252), seedOutput(252, 1));
      assert.deepEqual(ageing(expandTabs(replay(pw, 255))), ageing(seedOutput(255, 3)));
    });

    it("262 ping 10.13.76.26 (stopped with ^C after three replies), 272 arp -a 10.13.76.26", () => {
      assert.deepEqual(pingTimes(replay(pw, 262)), pingTimes(seedOutput(262, 8)));
      assert.deepEqual(replay(pw, 272), seedOutput(272, 1));
    });

    it("277 tcpdump -i eth0 port 80: the header", () => {
      assert.deepEqual(capture(pw, 277).header, seedOutput(277, 2));
    });

    it("277 tcpdump -i eth0 port 80: the node's guest agent fetching its goal state from the wire server", () => {
      // WALinuxAgent polls http://168.63.129.16/machine/?comp=goalstate every 3 s: the capture shows
      // the polls (names, not numbers: no -n), each one the seed's seven packets (lines 280-286).
      const ours = capture(pw, 277).packets.filter((l) => l.includes("168.63.129.16"));
      assert.deepEqual(tcpdumpLines(ours.slice(0, 7)), tcpdumpLines(seedOutput(277, 9).slice(2)));
    });

    it("292 tcpdump -n -i eth0 port 80 and not host 168.63.129.16: the browser's handshake with the VIP", () => {
      // The author browsed to the VIP again while capturing (line 295, another connection); the
      // seed shows its first three packets and cuts the rest ("...").
      ok(pw, "curl", "--from", "laptop", "http://51.144.176.251/");
      const { header, packets } = capture(pw, 292);
      const seed = seedOutput(292, 5);
      assert.deepEqual(header, seed.slice(0, 2));
      assert.deepEqual(tcpdumpLines(lastHandshake(packets)), tcpdumpLines(seed.slice(2)));
    });

    it("down", () => {
      assert.match(ok(pw, "down").join("\n"), /is down$/);
    });
  });

  describe("second half: externalTrafficPolicy Local (seed-local, VIP 13.93.66.174), then nginx", () => {
    it("up, and the author's (new) laptop fetches the VIP", () => {
      ok(pw, "up", "--scenario", "seed-local");
      const page = ok(pw, "curl", "--from", "laptop", "http://13.93.66.174/").join("\n");
      // Local: the pod sees the client's own address (seed line 358).
      assert.match(page, /<li>Remote address: 167\.220\.196\.180<\/li>/);
    });

    it("342 k get svc, 347 k get ep whereami", () => {
      assert.deepEqual(ages(replay(pw, 342)), ages(seedOutput(342, 3)));
      assert.deepEqual(ages(replay(pw, 347)), ages(seedOutput(347, 2)));
    });

    it("351: the author's browser opens the VIP", () => {
      ok(pw, "clock", "advance", "5m");
      const page = ok(pw, "browse", "--from", "laptop", "http://13.93.66.174/").join("\n");
      assert.match(page, /<li>Remote address: 167\.220\.196\.180<\/li>/);
    });

    it("353 conntrack -L -d 13.93.66.174: the browser's two connections, still ESTABLISHED", () => {
      // Looked at right after the page loaded, within httpd's 5 s keep-alive.
      const norm = (lines: string[]) => localPod(conntrackEntries(lines));
      assert.deepEqual(norm(conntrackList(pw, 353)), norm(seedOutput(353, 3)));
    });

    it("353 conntrack -L -d 13.93.66.174: each entry's tuples (no SNAT: the reply goes to the laptop)", () => {
      const tuples = (lines: string[]) => anyState(localPod(conntrackEntries(lines)));
      assert.deepEqual(tuples(conntrackList(pw, 353)), tuples(seedOutput(353, 3)));
    });

    it("362 docker ps | grep whereami: the two whereami containers, created from image ID c8e4ff7df026", () => {
      // erjosito/whereami:1.3 was on the node already (the first half pulled it; seed-local pins its
      // ID): the kubelet passed docker the image ID, which docker ps cuts to 12 digits.
      assert.deepEqual(dockerAges(appContainers(replay(pw, 362))), dockerAges(seedOutput(362, 2)));
    });

    it("366 docker inspect, 369 nsenter -t 11232 -n ip addr, 379 ip a | grep 22:", () => {
      assert.deepEqual(replay(pw, 366), seedOutput(366, 1));
      assert.deepEqual(replay(pw, 369), seedOutput(369, 8));
      assert.deepEqual(replay(pw, 379), seedOutput(379, 1));
    });

    it("382 tcpdump -n -i azv47c3ee9d512 …: the browser's handshake with the second pod, seen at its veth", () => {
      // The author browsed while capturing on the second pod's veth; the connection the seed shows
      // came from 167.220.197.180 (the scenario's laptop-capture) and reached 10.13.76.30 unchanged.
      // The client is the laptop on the corporate network (hosts[].os windows-10-corpnet): a Windows
      // SYN with the MSS clamped to 1300, then win 512; the pod answers as Linux 4.x (win 29200, its
      // MSS, no timestamps since the SYN offered none).
      for (let i = 0; i < FETCHES; i++) ok(pw, "curl", "--from", "laptop-capture", "http://13.93.66.174/");
      const { header, packets } = capture(pw, 382);
      const seed = seedOutput(382, 5);
      assert.deepEqual(header, seed.slice(0, 2));
      const mine = lastHandshake(packets.filter((l) => l.includes("167.220.197.180")));
      assert.deepEqual(tcpdumpLines(mine), tcpdumpLines(seed.slice(2)));
    });

    it("391 iptables-save | grep whereami | grep KUBE-SERVICES, 398 … | grep KUBE-FW-…", () => {
      assert.deepEqual(replay(pw, 391), seedOutput(391, 3));
      assert.deepEqual(replay(pw, 398), seedOutput(398, 3));
    });

    it("416 iptables-save | grep MASQUERADE, 421 iptables -t nat -L KUBE-MARK-MASQ, 426 the first again", () => {
      assert.deepEqual(replay(pw, 416), seedOutput(416, 3));
      assert.deepEqual(replay(pw, 421), seedOutput(421, 3));
      assert.deepEqual(replay(pw, 426), seedOutput(426, 3));
    });

    it("435 lb rule list, 442 lb probe list (Http on the health check port), 449 the pool's ip configurations", () => {
      assert.deepEqual(replay(pw, 435), seedOutput(435, 3));
      assert.deepEqual(replay(pw, 442), seedOutput(442, 3));
      assert.deepEqual(replay(pw, 449), seedOutput(449, 1));
    });

    it("454 curl localhost:32364/healthz (kube-proxy's tabs shown as spaces)", () => {
      assert.deepEqual(expandTabs(replay(pw, 454)), seedOutput(454, 7));
    });

    it("465 k get svc --all-namespaces, 476 netstat -l -p | grep 32364, 479 docker ps -q | xargs … | grep", () => {
      assert.deepEqual(ages(replay(pw, 465)), ages(seedOutput(465, 7)));
      assert.deepEqual(replay(pw, 476), seedOutput(476, 1));
      assert.deepEqual(replay(pw, 479), seedOutput(479, 1));
    });

    it("484 k apply -f ./nginx-elb.yaml, 488 lb probe list right after (both probes Updating)", () => {
      assert.deepEqual(replay(pw, 484, { "./nginx-elb.yaml": nginxElb(dir) }), seedOutput(484, 2));
      assert.deepEqual(replay(pw, 488), seedOutput(488, 4));
    });

    it("494 curl localhost:32364/healthz, 503 curl localhost:31322/healthz (nginx's health check port)", () => {
      assert.deepEqual(expandTabs(replay(pw, 494)), seedOutput(494, 7));
      assert.deepEqual(expandTabs(replay(pw, 503)), seedOutput(503, 7));
    });

    it("down", () => {
      assert.match(ok(pw, "down").join("\n"), /is down$/);
    });
  });
});
