import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { formatRulesetFile } from "../../model/netfilter/save.ts";
import { parseIptablesSave } from "./parse-save.ts";

/**
 * Property: any rule written in iptables-save's canonical form parses without a problem and writes
 * back to the same text. Rules are drawn from every match and target we model, with random values.
 */

const octet = fc.integer({ min: 0, max: 255 });
const ipv4 = fc.tuple(octet, octet, octet, octet).map((o) => o.join("."));
const prefix = fc.integer({ min: 0, max: 32 });
const net = fc.tuple(ipv4, prefix).map(([a, p]) => {
  const n = a.split(".").reduce((acc, x) => acc * 256 + Number(x), 0);
  const mask = p === 0 ? 0 : (0xffffffff << (32 - p)) >>> 0;
  const m = (n & mask) >>> 0;
  return `${[m >>> 24, (m >>> 16) & 255, (m >>> 8) & 255, m & 255].join(".")}/${p}`;
});
const neg = fc.boolean().map((b) => (b ? "! " : ""));
const port = fc.integer({ min: 0, max: 65535 });
const portRange = fc
  .tuple(port, port)
  .map(([a, b]) => (a === b ? `${a}` : `${Math.min(a, b)}:${Math.max(a, b)}`));
const hex = fc.integer({ min: 0, max: 0xffffffff }).map((v) => `0x${v.toString(16)}`);
const word = fc.stringMatching(/^[A-Za-z0-9_-]{1,12}$/);
const commentText = fc
  .string({ maxLength: 40 })
  .filter((s) => !s.includes("\n") && !s.includes("\r") && !s.includes("\0"));
const quote = (s: string) => (/^[A-Za-z0-9_-]+$/.test(s) ? s : `"${s.replace(/["\\']/g, (c) => `\\${c}`)}"`);
const stored = fc.integer({ min: 0, max: 0x80000000 });
const prob = stored.map((s) => {
  const scaled = BigInt(s) * 10n ** 11n;
  const d = 2n ** 31n;
  let q = scaled / d;
  const r2 = (scaled % d) * 2n;
  if (r2 > d || (r2 === d && (q & 1n) === 1n)) q += 1n;
  const digits = q.toString().padStart(12, "0");
  return `${digits.slice(0, -11)}.${digits.slice(-11)}`;
});
const ctStates = fc
  .subarray(["INVALID", "NEW", "RELATED", "ESTABLISHED", "UNTRACKED", "SNAT", "DNAT"], { minLength: 1 })
  .map((s) => s.join(","));
const addrTypes = fc
  .subarray(["UNSPEC", "UNICAST", "LOCAL", "BROADCAST", "ANYCAST", "MULTICAST"], { minLength: 1 })
  .map((s) => s.join(","));

/** A match with the `-p` it needs (or "" for none). */
const match: fc.Arbitrary<[string, string]> = fc.oneof(
  fc
    .tuple(neg, portRange, neg, portRange)
    .map(([a, s, b, d]): [string, string] => [
      "tcp",
      ` -m tcp ${a}--sport ${s} ${b}--dport ${d}`.replace(/ +/g, " "),
    ]),
  fc
    .tuple(neg, portRange)
    .map(([a, d]): [string, string] => ["udp", ` -m udp ${a}--dport ${d}`.replace(/ +/g, " ")]),
  fc
    .constantFrom("8", "0", "3/4", "any", "11/0")
    .map((t): [string, string] => ["icmp", ` -m icmp --icmp-type ${t}`]),
  commentText.map((c): [string, string] => ["", ` -m comment --comment ${quote(c)}`]),
  fc
    .tuple(neg, fc.array(portRange, { minLength: 1, maxLength: 15 }))
    .map(([n, ps]): [string, string] => [
      "tcp",
      ` -m multiport ${n}--dports ${ps.join(",")}`.replace(/ +/g, " "),
    ]),
  fc
    .tuple(neg, prob)
    .map(([n, p]): [string, string] => [
      "",
      ` -m statistic --mode random ${n}--probability ${p}`.replace(/ +/g, " "),
    ]),
  fc
    .tuple(neg, hex, fc.option(hex))
    .map(([n, v, m]): [string, string] => [
      "",
      ` -m mark ${n}--mark ${v}${m && m !== "0xffffffff" ? `/${m}` : ""}`.replace(/ +/g, " "),
    ]),
  fc
    .tuple(neg, ctStates)
    .map(([n, s]): [string, string] => ["", ` -m conntrack ${n}--ctstate ${s}`.replace(/ +/g, " ")]),
  fc
    .tuple(neg, addrTypes, fc.boolean())
    .map(([n, t, lim]): [string, string] => [
      "",
      ` -m addrtype ${n}--dst-type ${t}${lim ? " --limit-iface-in" : ""}`.replace(/ +/g, " "),
    ]),
  fc
    .tuple(neg, ipv4, ipv4)
    .map(([n, a, b]): [string, string] => ["", ` -m iprange ${n}--src-range ${a}-${b}`.replace(/ +/g, " ")]),
  fc
    .tuple(word, fc.constantFrom("src", "dst", "dst,dst", "src,dst"))
    .map(([n, f]): [string, string] => ["", ` -m set --match-set ${n} ${f}`]),
  fc
    .tuple(fc.constantFrom("set", "rcheck", "update"), word)
    .map(([c, n]): [string, string] => [
      "",
      ` -m recent --${c} --name ${n} --mask 255.255.255.255 --rsource`,
    ]),
);

const target = fc.oneof(
  fc.constantFrom(
    " -j ACCEPT",
    " -j DROP",
    " -j RETURN",
    " -j REJECT --reject-with icmp-port-unreachable",
    " -j C",
  ),
  fc.tuple(hex, hex).map(([v, m]) => ` -j MARK --set-xmark ${v}/${m}`),
  fc.constantFrom(" -j LOG", ' -j LOG --log-prefix "KUBE: " --log-level 6', " -j NFLOG --nflog-group 5"),
);

const rule = fc.record({
  src: fc.option(fc.tuple(neg, net)),
  dst: fc.option(fc.tuple(neg, net)),
  inIface: fc.option(fc.tuple(neg, fc.stringMatching(/^[a-z][a-z0-9]{0,8}\+?$/))),
  matches: fc.array(match, { maxLength: 4 }),
  target: fc.option(target),
});

test("property: canonical rules round-trip through parse and write", () => {
  fc.assert(
    fc.property(fc.array(rule, { minLength: 1, maxLength: 6 }), (rules) => {
      const lines = rules.map((r) => {
        const protos = new Set(r.matches.map(([p]) => p).filter(Boolean));
        if (protos.size > 1) return null;
        const proto = [...protos][0];
        let s = "-A INPUT";
        if (r.src) s += ` ${r.src[0]}-s ${r.src[1]}`;
        if (r.dst) s += ` ${r.dst[0]}-d ${r.dst[1]}`;
        if (r.inIface) s += ` ${r.inIface[0]}-i ${r.inIface[1]}`;
        if (proto) s += ` -p ${proto}`;
        return s + r.matches.map(([, m]) => m).join("") + (r.target ?? "");
      });
      const kept = lines.filter((l): l is string => l !== null);
      const text = `*filter\n:INPUT ACCEPT [0:0]\n:C - [0:0]\n${kept.join("\n")}${kept.length ? "\n" : ""}COMMIT\n`;
      const { value, diagnostics } = parseIptablesSave(text, "p");
      assert.deepEqual(diagnostics, [], text);
      assert.equal(formatRulesetFile(value), text);
    }),
    { numRuns: 300 },
  );
});

test("property: any text parses without throwing, and every problem has a line", () => {
  const junkLine = fc.oneof(
    fc.string({ maxLength: 60 }),
    fc.constantFrom(
      "*filter",
      "*nat",
      "COMMIT",
      ":INPUT ACCEPT [0:0]",
      ":X - [1:2]",
      "-A INPUT -j X",
      "-A INPUT -m",
      "-A INPUT !",
    ),
    fc
      .array(
        fc.constantFrom(
          "-A",
          "INPUT",
          "-s",
          "!",
          "-m",
          "tcp",
          "--dport",
          "80",
          "-j",
          "DNAT",
          '"',
          "--to-destination",
          "1.2.3.4:5",
        ),
        { maxLength: 10 },
      )
      .map((w) => w.join(" ")),
  );
  fc.assert(
    fc.property(fc.array(junkLine, { maxLength: 20 }), (lines) => {
      const { diagnostics } = parseIptablesSave(lines.join("\n"), "junk");
      return diagnostics.every(
        (d) => (d.source?.line ?? 0) >= 1 && (d.source?.line ?? 0) <= Math.max(1, lines.length),
      );
    }),
    { numRuns: 300 },
  );
});
