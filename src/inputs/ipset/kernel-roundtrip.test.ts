import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { after, describe, it } from "node:test";
import { parseIpNet, parseIpv4, parseIpv6 } from "../../core/ip.ts";
import type { IpSet, IpSetElement, IpSetMember, IpSetRegistry } from "../../model/ipset.ts";
import { parseIpsetSave } from "./parse.ts";
import { writeIpsetSave } from "./write.ts";

/**
 * Checks the parser and writer against the real ipset and kernel: sets are restored into a fresh
 * network namespace (never the host's), read back with `ipset save`, and compared with what our
 * writer prints for the same content. Needs root and the `ipset` package; skipped otherwise.
 */

const namespace = `pwt-ipset-${randomBytes(4).toString("hex")}`;

function sh(command: string, args: readonly string[], input?: string) {
  const result = spawnSync(command, args, { input, encoding: "utf8" });
  return {
    status: result.error ? null : result.status,
    stdout: result.stdout ?? "",
    stderr: result.stderr ?? "",
  };
}

/** Why the test cannot run here, or null; creates the namespace when it can. */
function skipReason(): string | null {
  if (process.getuid?.() !== 0) return "needs root to create a network namespace";
  if (sh("ipset", ["version"]).status !== 0) return "ipset is not installed (apt-get install -y ipset)";
  const added = sh("ip", ["netns", "add", namespace]);
  return added.status === 0 ? null : `cannot create a network namespace: ${added.stderr.trim()}`;
}

const skip = skipReason();

/** Runs ipset inside the test namespace only. */
function ipset(args: readonly string[], input?: string) {
  return sh("ip", ["netns", "exec", namespace, "ipset", ...args], input);
}

function restoreFresh(text: string): string {
  // Flush first: a list:set holds references to its members, and a referenced set is not destroyed.
  for (const command of ["flush", "destroy"]) {
    const result = ipset([command]);
    assert.equal(result.status, 0, result.stderr);
  }
  const restored = ipset(["restore"], text);
  assert.equal(restored.status, 0, restored.stderr);
  const saved = ipset(["save"]);
  assert.equal(saved.status, 0, saved.stderr);
  return saved.stdout;
}

/** Each set's create line with its add lines sorted: hash sets list members in hash order. */
function canonical(dump: string): string[] {
  const blocks: string[][] = [];
  for (const line of dump.split("\n").filter((l) => l !== "")) {
    if (line.startsWith("create ")) blocks.push([line]);
    else blocks.at(-1)?.push(line);
  }
  return blocks.map(([create, ...adds]) => [create, ...adds.sort()].join("\n"));
}

const testdata = (name: string) => readFileSync(new URL(`testdata/${name}`, import.meta.url), "utf8");

const m = (...elements: IpSetElement[]): IpSetMember => ({ elements, nomatch: false, wildcard: false });
const ip4 = (text: string): IpSetElement => ({ kind: "ip", addr: parseIpv4(text) ?? assert.fail(text) });
const ip6 = (text: string): IpSetElement => ({ kind: "ip", addr: parseIpv6(text) ?? assert.fail(text) });
const net = (text: string): IpSetElement => ({ kind: "net", net: parseIpNet(text) ?? assert.fail(text) });
const pp = (proto: number, port: number): IpSetElement => ({ kind: "proto-port", proto, port });
const hashOptions = [
  ["hashsize", "1024"],
  ["maxelem", "65536"],
] as const;

/** Sets built in code, with values chosen to exercise every formatting rule of the writer. */
function generatedRegistry(): IpSetRegistry {
  const sets: IpSet[] = [];
  const icmp: IpSetMember[] = [];
  for (let type = 0; type < 20; type++)
    for (let code = 0; code < 17; code++) icmp.push(m(ip4("10.0.0.1"), pp(1, (type << 8) | code)));
  const protos: IpSetMember[] = [pp(6, 0), pp(6, 65535), pp(17, 1), pp(132, 2), pp(136, 3)].map((e) =>
    m(ip4("10.0.0.2"), e),
  );
  for (let proto = 2; proto < 256; proto++) {
    if (![6, 17, 58, 132, 136].includes(proto)) protos.push(m(ip4("10.0.0.2"), pp(proto, 0)));
  }
  sets.push({ name: "ICMP", type: "hash:ip,port", family: 4, options: hashOptions, members: icmp });
  sets.push({ name: "PROTOS", type: "hash:ip,port", family: 4, options: hashOptions, members: protos });
  const icmp6: IpSetMember[] = [];
  for (const type of [1, 2, 3, 4, 128, 129, 130, 133, 134, 135, 136, 137, 200]) {
    for (const code of [0, 1, 2, 3, 4]) icmp6.push(m(ip6("fd00::1"), pp(58, (type << 8) | code)));
  }
  sets.push({ name: "ICMP6", type: "hash:ip,port", family: 6, options: hashOptions, members: icmp6 });
  const v6 = [
    "::1",
    "1::",
    "1:0:0:1::",
    "1::1:0:0:1",
    "::ffff:1.2.3.4",
    "::1.2.3.4",
    "fd00:0:1:0:0:1:0:1",
    "1:2:3:4:5:6:7:8",
  ];
  sets.push({
    name: "V6",
    type: "hash:ip",
    family: 6,
    options: hashOptions,
    members: v6.map((a) => m(ip6(a))),
  });
  const nets: IpSetMember[] = [];
  for (let prefix = 1; prefix <= 32; prefix++)
    nets.push({ ...m(net(`10.20.30.40/${prefix}`)), nomatch: prefix % 3 === 0 });
  sets.push({ name: "NETS", type: "hash:net", family: 4, options: hashOptions, members: nets });
  const nets6: IpSetMember[] = [];
  for (let prefix = 1; prefix <= 128; prefix += 9)
    nets6.push(m(net(`fd12:3456:789a:bcde:f012:3456:789a:bcde/${prefix}`)));
  sets.push({ name: "NETS6", type: "hash:net", family: 6, options: hashOptions, members: nets6 });
  sets.push({
    name: "MACS",
    type: "bitmap:ip,mac",
    family: 4,
    options: [["range", "10.1.0.0-10.1.0.255"]],
    members: [
      m(ip4("10.1.0.1"), { kind: "mac", mac: 0x0a0b0c0d0e0f }),
      m(ip4("10.1.0.2"), { kind: "mac", mac: 0xfeffffffffff }),
      m(ip4("10.1.0.3")),
    ],
  });
  sets.push({
    name: "PORTS",
    type: "bitmap:port",
    family: null,
    options: [["range", "0-65535"]],
    members: [0, 1, 65535].map((port) => m({ kind: "port", port })),
  });
  const iface = (name: string, physdev: boolean): IpSetElement => ({ kind: "iface", name, physdev });
  sets.push({
    name: "IFACES",
    type: "hash:net,iface",
    family: 4,
    options: hashOptions,
    members: [
      m(net("10.0.0.0/8"), iface("eth0", false)),
      { ...m(net("10.0.0.0/8"), iface("br", true)), wildcard: true },
      { ...m(net("10.9.9.9/32"), iface("azv0123456789ab", false)), nomatch: true },
    ],
  });
  sets.push({
    name: "EXTENSIONS",
    type: "hash:ip",
    family: 4,
    options: [...hashOptions, ["timeout", "100"], ["counters", null], ["comment", null], ["skbinfo", null]],
    members: [
      {
        ...m(ip4("10.3.0.1")),
        timeout: 0,
        packets: 7n,
        bytes: 1234567890123n,
        comment: "a\\b; $x  y",
        skbmark: { mark: 0xabc, mask: 0xff0 },
      },
      {
        ...m(ip4("10.3.0.2")),
        timeout: 0,
        packets: 0n,
        bytes: 0n,
        skbmark: { mark: 1, mask: 0xffffffff },
        skbprio: { major: 0xffff, minor: 0xa },
        skbqueue: 65535,
      },
    ],
  });
  sets.push({
    name: "LIST",
    type: "list:set",
    family: null,
    options: [["size", "8"]],
    members: [m({ kind: "set", name: "NETS" }), m({ kind: "set", name: "PORTS" })],
  });
  return new Map(sets.map((s) => [s.name, s]));
}

/** The kernel adds bucketsize and a random initval to hash sets; they are not ours to compare. */
function withoutKernelDefaults(registry: IpSetRegistry): IpSetRegistry {
  const stripped = [...registry.values()].map((s) => ({
    ...s,
    options: s.options.filter(([key]) => key !== "bucketsize" && key !== "initval"),
  }));
  return new Map(stripped.map((s) => [s.name, s]));
}

describe("ipset save on a real kernel", { skip: skip ?? false }, () => {
  after(() => {
    sh("ip", ["netns", "del", namespace]);
  });

  for (const name of ["kube-proxy-ipvs.txt", "weave-npc.txt", "kernel-mixed.txt"]) {
    it(`${name}: the kernel's save reads cleanly and writes back byte for byte`, () => {
      const saved = restoreFresh(testdata(name));
      assert.deepEqual(canonical(saved), canonical(testdata(name)), "the fixture is what this kernel saves");
      const { value, diagnostics } = parseIpsetSave(saved, "ipset save");
      assert.deepEqual(diagnostics, []);
      assert.equal(writeIpsetSave(value), saved);
    });
  }

  it("prints what our writer prints for sets built in code", () => {
    const ours = writeIpsetSave(generatedRegistry());
    const saved = restoreFresh(ours);
    const { value, diagnostics } = parseIpsetSave(saved, "ipset save");
    assert.deepEqual(diagnostics, []);
    assert.deepEqual(canonical(writeIpsetSave(withoutKernelDefaults(value))), canonical(ours));
  });

  it("finds exactly the entries testdata/kernel-probes.txt says it finds", () => {
    restoreFresh(testdata("kernel-mixed.txt") + testdata("kube-proxy-ipvs.txt") + testdata("weave-npc.txt"));
    const probes = testdata("kernel-probes.txt")
      .split("\n")
      .filter((line) => line !== "" && !line.startsWith("#"));
    assert.ok(probes.length > 50);
    for (const probe of probes) {
      const [set = "", entry = "", expected] = probe.split(" ");
      const tested = ipset(["test", set, entry]);
      // `ipset test` exits 0 with "is in set" and 1 with "is NOT in set"; anything else is an error.
      assert.match(tested.stderr, /is (NOT )?in set/, `${probe}: ${tested.stderr}`);
      assert.equal(tested.status === 0 ? "match" : "nomatch", expected, probe);
    }
  });
});
