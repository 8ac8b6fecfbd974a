import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import { cli } from "../../../../test/support/cli.ts";
import { readPcap } from "../../pcap/read-pcap.ts";
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
  verdict: string;
  reason: string | null;
  outcome: string;
  endpoint: string;
  pod: string;
  node: string;
  sourceSeenByPod: string;
  hops: JsonHop[];
}
interface JsonReply {
  answer: string | null;
  sentBy: string;
  frame: string;
  verdict: string;
  sourceSeenByClient: string;
  hops: JsonHop[];
}
interface JsonWalk {
  verdict: string;
  paths: JsonPath[];
  reply: JsonReply;
}

const walkJson = (...args: string[]): JsonWalk => walkJsonIn({}, 0, ...args);

/** The walk's JSON with `files` standing in for the disk, and the exit status it must end with. */
function walkJsonIn(files: Record<string, string>, code: number, ...args: string[]): JsonWalk {
  const r = cli(["walk", ...args, "-o", "json"], files);
  assert.equal(r.code, code, r.stderr);
  return JSON.parse(r.stdout) as JsonWalk;
}

/** aks-today with a LoadBalancer service whose Deployment has no replicas: kube-proxy REJECTs its traffic. */
function nothingScenario(): string {
  const item = (yaml: string) =>
    `  - |\n${yaml
      .trim()
      .split("\n")
      .map((l) => `    ${l}`)
      .join("\n")}\n`;
  const deployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: nothing
spec:
  replicas: 0
  selector:
    matchLabels:
      app: nothing
  template:
    metadata:
      labels:
        app: nothing
    spec:
      containers:
      - name: web
        image: nginx
        ports:
        - containerPort: 80`;
  const service = `apiVersion: v1
kind: Service
metadata:
  name: nothing
spec:
  type: LoadBalancer
  ports:
  - port: 80
  selector:
    app: nothing`;
  const base = readFileSync(new URL("../../../../scenarios/aks-today.yaml", import.meta.url), "utf8");
  return base.replace("\nhosts:", `\n${item(deployment)}${item(service)}hosts:`);
}

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
    for (const k of ["answer", "sentBy", "frame", "verdict", "sourceSeenByClient", "hops"])
      assert.ok(k in w.reply, k);
    // The server's SYN-ACK: no kernel answer, and the frame as the laptop's tcpdump -n prints it.
    assert.equal(w.reply.answer, null);
    assert.match(w.reply.frame, /^IP 51\.144\.176\.251\.80 > 109\.125\.120\.58\.51535: Flags \[S\.\]/);
    for (const p of w.paths) {
      for (const k of [
        "probability",
        "verdict",
        "reason",
        "endpoint",
        "pod",
        "node",
        "sourceSeenByPod",
        "hops",
      ])
        assert.ok(k in p, k);
      assert.equal(p.reason, null);
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

  it("a UDP datagram to a pod's closed port is rejected: the pod's kernel answers ICMP port unreachable", () => {
    const w = walkJsonIn({}, 1, "--from", "testvm", "--to", "10.13.76.26:80", "-p", "udp");
    assert.equal(w.verdict, "rejected");
    const [p] = w.paths;
    assert.equal(p!.verdict, "rejected");
    assert.equal(p!.outcome, "rejected");
    assert.match(p!.reason!, /whereami-564765b89-qfq2k: no socket bound to udp 10\.13\.76\.26:80$/);
    // The hop that handed it to the pod's stack says so instead of "delivered".
    const last = p!.hops.at(-1)!;
    assert.equal(last.action, "rejected");
    assert.match((last as unknown as { note: string }).note, /ICMP port unreachable/);
    assert.equal(w.reply.answer, "icmp-port-unreachable");
    assert.match(w.reply.sentBy, /whereami-564765b89-qfq2k$/);
    // As the client's tcpdump -n prints it: from the address the datagram was sent to, quoting it.
    assert.equal(
      w.reply.frame,
      "IP 10.13.76.26 > 10.13.1.4: ICMP 10.13.76.26 udp port 80 unreachable, length 47",
    );
    assert.equal(w.reply.verdict, "delivered");
    const text = cli(["walk", "--from", "testvm", "--to", "10.13.76.26:80", "-p", "udp"]);
    assert.equal(text.code, 1);
    assert.match(text.stdout, /\): rejected, 1 path/);
    assert.match(
      text.stdout,
      /\n {2}\S+whereami-564765b89-qfq2k eth0 +rejected +10\.13\.1\.4:51535 > 10\.13\.76\.26:80\n/,
    );
    assert.match(
      text.stdout,
      /\nAnswer \(path 1\): ICMP port unreachable from \S+whereami-564765b89-qfq2k: delivered/,
    );
    assert.match(
      text.stdout,
      /\n {2}IP 10\.13\.76\.26 > 10\.13\.1\.4: ICMP 10\.13\.76\.26 udp port 80 unreachable, length 47\n/,
    );
  });

  it("a UDP walk to the TCP-only VIP: no health probe of a TCP rule, dropped at the LB, and why", () => {
    const w = walkJsonIn({}, 1, "-p", "udp") as JsonWalk & { probe: string | null };
    assert.equal(w.probe, null);
    assert.equal(w.verdict, "dropped");
    assert.match(w.paths[0]!.reason!, /^azure-lb: no load-balancing rule/);
  });

  it("a UDP datagram to a bound port stays delivered (kube-dns listens on 53)", () => {
    const w = walkJson("--from", "testvm", "--to", "10.13.76.16:53", "-p", "udp");
    assert.equal(w.verdict, "delivered");
    assert.equal(w.paths[0]!.reason, null);
    assert.equal(w.paths[0]!.hops.at(-1)!.action, "delivered");
  });

  it("a SYN to a closed port is rejected with the pod's RST", () => {
    const w = walkJsonIn({}, 1, "--from", "testvm", "--to", "10.13.76.26:81");
    assert.equal(w.paths[0]!.verdict, "rejected");
    assert.equal(w.paths[0]!.outcome, "refused");
    assert.match(w.paths[0]!.reason!, /no socket listening on tcp 10\.13\.76\.26:81$/);
    assert.equal(w.reply.answer, "tcp-reset");
    assert.match(
      w.reply.frame,
      /^IP 10\.13\.76\.26\.81 > 10\.13\.1\.4\.51535: Flags \[R\.\], seq 0, ack \d+, win 0, length 0$/,
    );
  });

  it("kube-proxy's REJECT for a service without endpoints: the rule, the verdict and the ICMP error", () => {
    const files = { "/virtual/nothing.yaml": nothingScenario() };
    const scenario = ["--scenario", "/virtual/nothing.yaml"];
    const svc = JSON.parse(
      cli(["kubectl", "get", "svc", "nothing", "-o", "json", ...scenario], files).stdout,
    );
    const pods = JSON.parse(cli(["kubectl", "get", "pod", "-o", "json", ...scenario], files).stdout);
    const client = pods.items[0].status.podIP as string;
    const clusterIp = svc.spec.clusterIP as string;
    const args = [...scenario, "--from", client, "--to", `${clusterIp}:80`];
    const w = walkJsonIn(files, 1, ...args);
    assert.equal(w.verdict, "rejected");
    const [p] = w.paths;
    assert.match(p!.reason!, /: REJECT in filter FORWARD \(--reject-with icmp-port-unreachable\)$/);
    const reject = p!.hops.flatMap((h) => h.rules).find((r) => r.rule.includes("-j REJECT"))!;
    assert.match(reject.rule, /--comment "default\/nothing has no endpoints"/);
    assert.ok(reject.line, "the REJECT rule's line in iptables-save");
    assert.equal(w.reply.answer, "icmp-port-unreachable");
    // The node answers from its own address; the quote names the ClusterIP the pod asked for.
    assert.match(
      w.reply.frame,
      new RegExp(
        `^IP [\\d.]+ > ${client.replaceAll(".", "\\.")}: ICMP ${clusterIp.replaceAll(".", "\\.")} tcp port 80 unreachable, length 68$`,
      ),
    );
    const text = cli(["walk", ...args], files).stdout;
    assert.match(text, /\nAnswer \(path 1\): ICMP port unreachable from aks-nodepool1-\S+: delivered/);
    assert.match(text, /filter line +\d+: -A KUBE-SERVICES .* -j REJECT --reject-with icmp-port-unreachable/);
    // The error leaves the node with icmp_send's TOS, and --pcap keeps it in the pod's capture.
    const dir = mkdtempSync(join(tmpdir(), "walk-pcap-reject-"));
    try {
      const code = run(["walk", ...args, "--pcap", dir], {
        stdout: () => {},
        stderr: () => {},
        readFile: (f) => files[f as keyof typeof files] ?? readFileSync(f, "utf8"),
        writeFile: (f, data) => {
          mkdirSync(dirname(f), { recursive: true });
          writeFileSync(f, data);
        },
      });
      assert.equal(code, 1);
      const pcaps = readdirSync(dir).filter((f) => f.includes("_default_"));
      assert.equal(pcaps.length, 1, pcaps.join(" "));
      const { frames } = readPcap(readFileSync(join(dir, pcaps[0]!)));
      assert.deepEqual(
        frames.map((f) => [f.packet.proto, f.packet.icmpType, f.tos ?? 0]),
        [
          [6, -1, 0],
          [1, 3, 0xc0],
        ],
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("--pcap keeps the ICMP errors about the flow, with the kernel's TOS 0xc0", () => {
    const dir = mkdtempSync(join(tmpdir(), "walk-pcap-icmp-"));
    try {
      const code = run(["walk", "--from", "testvm", "--to", "10.13.76.26:80", "-p", "udp", "--pcap", dir], {
        stdout: () => {},
        stderr: () => {},
        readFile: (p) => readFileSync(p, "utf8"),
        writeFile: (p, data) => {
          mkdirSync(dirname(p), { recursive: true });
          writeFileSync(p, data);
        },
      });
      assert.equal(code, 1);
      const { frames, problems } = readPcap(readFileSync(join(dir, "testvm_eth0.pcap")));
      assert.deepEqual(problems, []);
      assert.deepEqual(
        frames.map((f) => [f.packet.proto, f.tos ?? 0]),
        [
          [17, 0],
          [1, 0xc0],
        ],
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
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
