import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { parseIp } from "../../../core/ip.ts";
import { parseIpsetSave } from "../../../inputs/ipset/parse.ts";
import { type IpSet, type IpSetElement, type IpSetRegistry, ipSetDimensions } from "../../../model/ipset.ts";
import { makePacket, type Packet, PROTO } from "../../../model/packet.ts";
import { compileSetLookup, type SetFlag } from "./ipset-match.ts";

const testdata = new URL("../../../inputs/ipset/testdata/", import.meta.url);
const read = (name: string) => readFileSync(new URL(name, testdata), "utf8");

function registryOf(text: string): IpSetRegistry {
  const { value, diagnostics } = parseIpsetSave(text, "test");
  assert.deepEqual(diagnostics, []);
  return value;
}

function get(registry: IpSetRegistry, name: string): IpSet {
  const set = registry.get(name);
  assert.ok(set, name);
  return set;
}

const addr = (text: string) => parseIp(text)?.addr ?? assert.fail(text);

function packet(src: string, dst: string, init: Partial<Packet> = {}): Packet {
  const family = src.includes(":") ? 6 : 4;
  return makePacket({ family, proto: PROTO.tcp, src: addr(src), dst: addr(dst), ...init });
}

/** A lookup that must compile. */
function lookup(set: IpSet, flags: SetFlag[], registry?: IpSetRegistry) {
  const compiled = compileSetLookup(set, flags, registry);
  assert.ok(compiled, `${set.type} compiles`);
  return compiled;
}

/**
 * The packet an `ipset test` entry stands for: the first dimension of a multi-dimension set is the
 * source (flag src), every other dimension, and a lone one, the destination side (flag dst).
 */
function probePacket(set: IpSet, entry: string): { packet: Packet; flags: SetFlag[] } {
  const family = set.family ?? 4;
  const header = set.type.startsWith("hash:")
    ? `family ${family === 4 ? "inet" : "inet6"}`
    : set.type === "bitmap:port"
      ? "range 0-65535"
      : "range 0.0.0.0/0";
  const probe = registryOf(`create PROBE ${set.type} ${header}\nadd PROBE ${entry}\n`);
  const elements: readonly IpSetElement[] = get(probe, "PROBE").members[0]?.elements ?? [];
  const init: Partial<Packet> = { proto: PROTO.tcp };
  const flags: SetFlag[] = [];
  const dims = ipSetDimensions(set.type).length;
  elements.forEach((element, k) => {
    const side: SetFlag = k === 0 && dims > 1 ? "src" : "dst";
    flags.push(side);
    if (element.kind === "ip") init[side] = element.addr;
    else if (element.kind === "net") init[side] = element.net.addr;
    else if (element.kind === "port") init.dport = element.port;
    else if (element.kind === "proto-port") {
      init.proto = element.proto;
      if (element.proto === PROTO.icmp || element.proto === PROTO.icmpv6) {
        init.icmpType = element.port >> 8;
        init.icmpCode = element.port & 0xff;
      } else init.dport = element.port;
    }
  });
  const other = family === 4 ? addr("198.18.0.1") : addr("2001:db8:ffff::1");
  return { packet: makePacket({ family, src: other, dst: other, proto: PROTO.tcp, ...init }), flags };
}

describe("compileSetLookup agrees with the kernel", () => {
  const registry = registryOf(read("kernel-mixed.txt") + read("kube-proxy-ipvs.txt") + read("weave-npc.txt"));
  const probes = read("kernel-probes.txt")
    .split("\n")
    .filter((line) => line !== "" && !line.startsWith("#"))
    .map((line) => line.split(" "));
  for (const [name = "", entry = "", expected] of probes) {
    it(`${name} ${entry} -> ${expected}`, () => {
      const set = get(registry, name);
      const { packet: p, flags } = probePacket(set, entry);
      assert.equal(lookup(set, flags, registry)(p), expected === "match");
    });
  }
});

describe("compileSetLookup semantics", () => {
  it("picks source or destination per flag, for each dimension in order", () => {
    const sets = registryOf("create S hash:ip,port family inet\nadd S 10.0.0.10,udp:53\n");
    const s = get(sets, "S");
    const query = packet("10.244.1.7", "10.0.0.10", { proto: PROTO.udp, sport: 40000, dport: 53 });
    assert.equal(lookup(s, ["dst", "dst"])(query), true);
    assert.equal(lookup(s, ["src", "dst"])(query), false);
    assert.equal(lookup(s, ["dst", "src"])(query), false);
    const reply = packet("10.0.0.10", "10.244.1.7", { proto: PROTO.udp, sport: 53, dport: 40000 });
    assert.equal(lookup(s, ["src", "src"])(reply), true);
    assert.equal(
      lookup(s, ["dst", "dst"])(packet("10.244.1.7", "10.0.0.10", { proto: PROTO.tcp, dport: 53 })),
      false,
    );
  });

  it("never matches with fewer flags than dimensions; extra flags are ignored", () => {
    const s = get(registryOf("create S hash:ip,port family inet\nadd S 10.0.0.10,tcp:80\n"), "S");
    const p = packet("10.244.1.7", "10.0.0.10", { dport: 80 });
    assert.equal(lookup(s, ["dst"])(p), false);
    assert.equal(lookup(s, ["dst", "dst", "src"])(p), true);
  });

  it("never matches a packet of the other family, except for family-less types", () => {
    const sets = registryOf(
      "create V4 hash:net family inet\nadd V4 0.0.0.0/1\ncreate P bitmap:port range 0-65535\nadd P 443\n",
    );
    assert.equal(lookup(get(sets, "V4"), ["src"])(packet("::1", "::2")), false);
    assert.equal(lookup(get(sets, "P"), ["dst"])(packet("fd00::1", "fd00::2", { dport: 443 })), true);
    assert.equal(lookup(get(sets, "P"), ["dst"])(packet("10.0.0.1", "10.0.0.2", { dport: 443 })), true);
  });

  it("reads ports only where the kernel finds them", () => {
    const sets = registryOf(
      "create S hash:ip,port family inet\nadd S 10.0.0.1,tcp:80\nadd S 10.0.0.1,gre:0\n" +
        "create P bitmap:port range 0-65535\nadd P 80\n" +
        "create S6 hash:ip,port family inet6\nadd S6 fd00::1,gre:0\n",
    );
    const s = lookup(get(sets, "S"), ["dst", "dst"]);
    assert.equal(s(packet("10.9.9.9", "10.0.0.1", { dport: 80 })), true);
    assert.equal(
      s(packet("10.9.9.9", "10.0.0.1", { dport: 80, fragment: true })),
      false,
      "no port in a later fragment",
    );
    assert.equal(
      s(packet("10.9.9.9", "10.0.0.1", { proto: 47, fragment: true })),
      true,
      "GRE has no port to miss",
    );
    const s6 = lookup(get(sets, "S6"), ["dst", "dst"]);
    assert.equal(s6(packet("fd00::9", "fd00::1", { proto: 47 })), true);
    assert.equal(
      s6(packet("fd00::9", "fd00::1", { proto: 47, fragment: true })),
      false,
      "IPv6 fragments never",
    );
    const p = lookup(get(sets, "P"), ["dst"]);
    assert.equal(p(packet("10.9.9.9", "10.0.0.1", { proto: PROTO.udp, dport: 80 })), true);
    assert.equal(
      p(packet("10.9.9.9", "10.0.0.1", { proto: PROTO.sctp, dport: 80 })),
      false,
      "TCP and UDP only",
    );
    assert.equal(
      lookup(get(sets, "P"), ["src"])(packet("10.9.9.9", "10.0.0.1", { sport: 80, dport: 1 })),
      true,
    );
  });

  it("lets the first net of hash:net,net take precedence over the second (ipset(8))", () => {
    const sets = registryOf(
      "create NN hash:net,net family inet\nadd NN 10.1.1.0/24,20.0.0.0/8\nadd NN 10.1.0.0/16,20.1.1.0/24 nomatch\n",
    );
    const nn = lookup(get(sets, "NN"), ["src", "dst"]);
    assert.equal(nn(packet("10.1.1.5", "20.1.1.5")), true, "the /24 first net wins over the nomatch pair");
    assert.equal(nn(packet("10.1.2.5", "20.1.1.5")), false, "only the nomatch pair covers it");
    assert.equal(nn(packet("10.1.2.5", "20.1.2.5")), false, "nothing covers it");
  });

  it("evaluates hash:net,port,net and hash:ip,mark", () => {
    const sets = registryOf(
      "create NPN hash:net,port,net family inet\nadd NPN 10.0.0.0/8,tcp:443,0.0.0.0/0\nadd NPN 10.0.0.0/8,tcp:443,192.168.0.0/16 nomatch\n" +
        "create IM hash:ip,mark family inet markmask 0xff00\nadd IM 10.0.0.1,0x4300\n",
    );
    const npn = lookup(get(sets, "NPN"), ["src", "dst", "dst"]);
    assert.equal(npn(packet("10.2.3.4", "8.8.8.8", { dport: 443 })), true);
    assert.equal(npn(packet("10.2.3.4", "192.168.1.1", { dport: 443 })), false);
    assert.equal(npn(packet("10.2.3.4", "8.8.8.8", { dport: 80 })), false);
    const im = lookup(get(sets, "IM"), ["src", "src"]);
    assert.equal(
      im(packet("10.0.0.1", "10.0.0.2", { mark: 0x4321 })),
      true,
      "the mark is ANDed with markmask",
    );
    assert.equal(im(packet("10.0.0.1", "10.0.0.2", { mark: 0x4421 })), false);
  });

  it("masks the packet address with a hash:ip netmask", () => {
    const s = get(registryOf("create H hash:ip family inet netmask 8\nadd H 10.20.30.40\n"), "H");
    assert.equal(lookup(s, ["dst"])(packet("1.1.1.1", "10.200.1.1")), true);
    assert.equal(lookup(s, ["dst"])(packet("1.1.1.1", "11.0.0.1")), false);
  });

  it("matches a list:set when a member set does, skipping members that need more flags", () => {
    const sets = registryOf(
      "create IPP hash:ip,port family inet\nadd IPP 10.0.0.1,tcp:80\n" +
        "create NET hash:net family inet\nadd NET 10.0.0.0/8\n" +
        "create V6 hash:net family inet6\nadd V6 fd00::/8\n" +
        "create L list:set size 8\nadd L IPP\nadd L NET\nadd L V6\n",
    );
    const list = get(sets, "L");
    assert.equal(lookup(list, ["dst"], sets)(packet("1.1.1.1", "10.9.9.9")), true);
    assert.equal(lookup(list, ["dst"], sets)(packet("1.1.1.1", "11.0.0.1")), false);
    assert.equal(
      lookup(list, ["dst"], sets)(packet("fd00::9", "fd00::1")),
      true,
      "members keep their own family",
    );
    const onlyIpp = registryOf(
      "create IPP hash:ip,port family inet\nadd IPP 10.0.0.1,tcp:80\ncreate L list:set size 8\nadd L IPP\n",
    );
    const p = packet("1.1.1.1", "10.0.0.1", { dport: 80 });
    assert.equal(lookup(get(onlyIpp, "L"), ["dst"], onlyIpp)(p), false, "IPP needs two flags");
    assert.equal(lookup(get(onlyIpp, "L"), ["dst", "dst"], onlyIpp)(p), true);
    assert.equal(compileSetLookup(list, ["dst"]), null, "members cannot be resolved without the registry");
  });

  it("returns null for what a Packet cannot answer", () => {
    const sets = registryOf(
      "create M hash:mac\nadd M 00:11:22:33:44:55\n" +
        "create IM hash:ip,mac family inet\n" +
        "create BM bitmap:ip,mac range 10.0.0.0/24\n" +
        "create IF hash:net,iface family inet\nadd IF 10.0.0.0/8,eth0\n" +
        "create L list:set size 8\nadd L M\n",
    );
    for (const name of ["M", "IM", "BM", "IF"])
      assert.equal(compileSetLookup(get(sets, name), ["src", "src"]), null, name);
    assert.equal(compileSetLookup(get(sets, "L"), ["src"], sets), null, "a list holding one");
    const unknown = parseIpsetSave("create X hash:ip,port,ip,port family inet\n", "t").value;
    assert.equal(compileSetLookup(get(unknown, "X"), ["src", "src", "src", "src"]), null);
  });
});
