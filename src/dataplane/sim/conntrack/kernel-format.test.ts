/**
 * The simulator against the real thing: two network namespaces joined by a veth pair, real traffic,
 * and `conntrack -L` from the kernel compared with what our table and formatter print for the same
 * packets. Needs root, iproute2, iptables, conntrack-tools, ping and bash; skipped otherwise. Nothing
 * is created in the host namespace: the veth pair is made from inside the first namespace.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { test } from "node:test";
import { parseIpv4 } from "../../../core/ip.ts";
import type { ConntrackEntry } from "../../../model/conntrack.ts";
import { makePacket, PROTO } from "../../../model/packet.ts";
import * as render from "../../../outputs/render/conntrack-list.ts";
import { ConntrackTable, tupleOf } from "./table.ts";
import { DEFAULT_TIMEOUTS, TIMEOUT_SYSCTLS } from "./timeouts.ts";

const SENDER = "10.99.0.1";
const RECEIVER = "10.99.0.2";

/** A tool is there unless exec fails with ENOENT (a non-zero exit still means it exists). */
function available(cmd: string, versionArg: string): boolean {
  try {
    execFileSync(cmd, [versionArg], { stdio: "ignore" });
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== "ENOENT";
  }
}

function skipReason(): string | null {
  if (process.platform !== "linux") return "needs Linux network namespaces";
  if (process.getuid?.() !== 0) return "needs root to create network namespaces";
  const tools: [string, string][] = [
    ["ip", "-V"],
    ["conntrack", "--version"],
    ["iptables", "--version"],
    ["ping", "-V"],
    ["bash", "--version"],
  ];
  const missing = tools.filter(([cmd, arg]) => !available(cmd, arg)).map(([cmd]) => cmd);
  return missing.length > 0 ? `missing ${missing.join(", ")}` : null;
}

function run(argv: readonly string[]): string {
  const [cmd, ...args] = argv;
  return execFileSync(cmd ?? "", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/** `conntrack -L` inside a namespace, both streams. */
function conntrackList(ns: string, args: readonly string[] = []): { stdout: string; stderr: string } {
  const r = spawnSync("ip", ["netns", "exec", ns, "conntrack", "-L", ...args], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`conntrack -L ${args.join(" ")} failed: ${r.stderr}`);
  return { stdout: r.stdout, stderr: r.stderr };
}

/** The seconds-left field is the only one that depends on when the command ran. */
function normalise(line: string): string {
  return line.replace(/^(\S+ +\d+ )\d+ /, "$1<secs> ");
}

function lines(stdout: string): string[] {
  return stdout
    .split("\n")
    .filter((l) => l !== "")
    .map(normalise)
    .sort();
}

test("conntrack -L of a live kernel matches our table and formatter", async (t) => {
  const why = skipReason();
  if (why !== null) {
    t.skip(why);
    return;
  }
  const a = `pwt-ct-${process.pid}-a`;
  const b = `pwt-ct-${process.pid}-b`;
  try {
    run(["ip", "netns", "add", a]);
    run(["ip", "netns", "add", b]);
    // Created from inside `a`, with the peer moved straight into `b`: never in the host namespace.
    run(["ip", "-n", a, "link", "add", "pwt0", "type", "veth", "peer", "name", "pwt1", "netns", b]);
    run(["ip", "-n", a, "addr", "add", `${SENDER}/24`, "dev", "pwt0"]);
    run(["ip", "-n", b, "addr", "add", `${RECEIVER}/24`, "dev", "pwt1"]);
    run(["ip", "-n", a, "link", "set", "pwt0", "up"]);
    run(["ip", "-n", b, "link", "set", "pwt1", "up"]);
    // Any conntrack match makes the namespace register the IPv4 conntrack hooks.
    run([
      "ip",
      "netns",
      "exec",
      b,
      "iptables",
      "-A",
      "INPUT",
      "-m",
      "conntrack",
      "--ctstate",
      "NEW",
      "-j",
      "ACCEPT",
    ]);
    run(["ip", "netns", "exec", a, "ping", "-c1", "-W2", RECEIVER]);
    run(["ip", "netns", "exec", a, "bash", "-c", `echo x > /dev/udp/${RECEIVER}/9999`]);

    const real = conntrackList(b);
    const realLines = real.stdout.split("\n").filter((l) => l !== "");
    const udpLine = realLines.find((l) => l.startsWith("udp "));
    const icmpLine = realLines.find((l) => l.startsWith("icmp "));
    assert.ok(udpLine && icmpLine, `expected a udp and an icmp entry, got:\n${real.stdout}`);
    const sport = Number(/ sport=(\d+) /.exec(udpLine)?.[1]);
    const echoId = Number(/ id=(\d+) /.exec(icmpLine)?.[1]);

    // The same traffic through the simulator.
    const now = 1_000_000;
    const ct = new ConntrackTable({ now: () => now });
    const src = parseIpv4(SENDER)!;
    const dst = parseIpv4(RECEIVER)!;
    const icmp = (s: number, d: number, icmpType: number, icmpCode = 0) =>
      makePacket({ family: 4, proto: PROTO.icmp, src: s, dst: d, icmpType, icmpCode, icmpId: echoId });
    const ping = ct.classify(icmp(src, dst, 8));
    assert.ok(ping.entry && ct.confirm(ping.entry));
    assert.equal(ct.classify(icmp(dst, src, 0)).ctstate, "ESTABLISHED");
    const datagram = makePacket({ family: 4, proto: PROTO.udp, src, dst, sport, dport: 9999 });
    const udp = ct.classify(datagram);
    assert.ok(udp.entry && ct.confirm(udp.entry));
    // Nothing listens on 9999: the receiver answers with a port unreachable, RELATED, not a reply.
    assert.equal(ct.classify(icmp(dst, src, 3, 3), tupleOf(datagram)).ctstate, "RELATED");

    await t.test("each entry prints the kernel's line", () => {
      assert.equal(normalise(render.formatConntrackEntry(udp.entry!, now)), normalise(udpLine));
      assert.equal(normalise(render.formatConntrackEntry(ping.entry!, now)), normalise(icmpLine));
      for (const line of [udpLine, icmpLine]) {
        const secs = Number(line.split(/ +/)[2]);
        assert.ok(secs <= DEFAULT_TIMEOUTS.udpUnreplied && secs >= 0, `seconds left in ${line}`);
      }
    });

    const ours = ct.list();
    await t.test("the whole listing and its trailer match", () => {
      const version = /^conntrack v(\S+) \(conntrack-tools\)/.exec(real.stderr)?.[1];
      assert.ok(version, `no version in ${JSON.stringify(real.stderr)}`);
      const sim = render.formatConntrackList(ours, now, { version });
      assert.deepEqual(lines(sim.stdout), lines(real.stdout));
      assert.equal(sim.stderr, real.stderr);
    });

    await t.test("filters select what conntrack -L selects", () => {
      const cases: [string[], render.ConntrackFilter][] = [
        [["-p", "udp"], { proto: "udp" }],
        [["-p", "udp", "--dport", "9999"], { proto: "udp", dport: 9999 }],
        [["-s", SENDER, "-p", "icmp"], { src: SENDER, proto: "icmp" }],
        [["-s", RECEIVER], { src: RECEIVER }],
        [["-d", "10.99.0.0/24"], { dst: "10.99.0.0/24" }],
        [["-q", SENDER], { replyDst: SENDER }],
        [["-r", SENDER], { replySrc: SENDER }],
      ];
      for (const [args, filter] of cases) {
        const want = conntrackList(b, args);
        const got: ConntrackEntry[] = render.filterEntries(ours, filter);
        const sim = render.formatConntrackList(got, now, { version: /v(\S+) /.exec(want.stderr)?.[1] ?? "" });
        assert.deepEqual(lines(sim.stdout), lines(want.stdout), `conntrack -L ${args.join(" ")}`);
        assert.equal(sim.stderr, want.stderr, `trailer of conntrack -L ${args.join(" ")}`);
      }
    });

    await t.test("a fresh namespace has the kernel defaults we model", () => {
      for (const [field, sysctl] of Object.entries(TIMEOUT_SYSCTLS)) {
        if (sysctl === null) continue;
        const value = run(["ip", "netns", "exec", b, "cat", `/proc/sys/net/netfilter/${sysctl}`]).trim();
        assert.equal(Number(value), DEFAULT_TIMEOUTS[field as keyof typeof DEFAULT_TIMEOUTS], sysctl);
      }
      const loose = run([
        "ip",
        "netns",
        "exec",
        b,
        "cat",
        "/proc/sys/net/netfilter/nf_conntrack_tcp_loose",
      ]).trim();
      assert.equal(loose, "1");
    });
  } finally {
    // Deleting a namespace also removes the veth pair and the iptables rule inside it.
    for (const ns of [a, b]) spawnSync("ip", ["netns", "del", ns], { stdio: "ignore" });
  }
});
