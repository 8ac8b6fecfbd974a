import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { filterInput, pkt, trace } from "../../../../test/support/netfilter.ts";
import { add, type Dyadic, isOne, ONE } from "../../../core/dyadic.ts";
import { formatStoredProbability, probabilityToStored } from "../../../model/netfilter/numbers.ts";

/** kube-proxy's balancing chain for n endpoints, with its probability strings (1.11: %0.5f; newer: %0.10f). */
function svcChain(n: number, digits: 5 | 10): string {
  const lines = [
    "*nat",
    ":PREROUTING ACCEPT [0:0]",
    ":INPUT ACCEPT [0:0]",
    ":OUTPUT ACCEPT [0:0]",
    ":POSTROUTING ACCEPT [0:0]",
    ":SVC - [0:0]",
  ];
  for (let i = 0; i < n; i++) lines.push(`:SEP${i} - [0:0]`);
  lines.push("-A PREROUTING -j SVC");
  for (let i = 0; i < n; i++) {
    const p = (1 / (n - i)).toFixed(digits);
    const printed = formatStoredProbability(probabilityToStored(Number(p)));
    lines.push(
      i < n - 1
        ? `-A SVC -m statistic --mode random --probability ${printed} -j SEP${i}`
        : `-A SVC -j SEP${i}`,
    );
    lines.push(`-A SEP${i} -p tcp -j DNAT --to-destination 10.13.76.${i + 10}:80`);
  }
  return `${[...lines, "COMMIT"].join("\n")}\n`;
}

const sum = (ps: Dyadic[]) => ps.reduce(add, { num: 0n, exp: 0 });
const toVip = pkt({ src: "109.125.120.58", dst: "51.144.176.251" });

test("two endpoints: 0.5 each", () => {
  const t = trace(svcChain(2, 5), toVip);
  assert.deepEqual(t.probabilities, [0.5, 0.5]);
});

test("three endpoints: 1/3 each to the kernel's precision, summing to exactly 1", () => {
  const t = trace(svcChain(3, 10), toVip);
  assert.equal(t.outcomes.length, 3);
  for (const p of t.probabilities) assert.ok(Math.abs(p - 1 / 3) < 1e-9, String(p));
  assert.ok(isOne(sum(t.outcomes.map((o) => o.probability))));
  // kube-proxy 1.11's %0.5f is coarser: the kernel stores 0.33332999982, so the split is uneven.
  const old = trace(svcChain(3, 5), toVip);
  assert.ok(Math.abs((old.probabilities[0] ?? 0) - 0.33332999982) < 1e-11);
  assert.ok(isOne(sum(old.outcomes.map((o) => o.probability))));
});

test("property: any kube-proxy chain of 1-16 endpoints gives one path per endpoint, summing to exactly 1", () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 16 }), fc.constantFrom<5 | 10>(5, 10), (n, digits) => {
      const t = trace(svcChain(n, digits), toVip);
      const endpoints = new Set(t.outcomes.map((o) => o.traversal.dnat?.to.addr));
      return (
        t.outcomes.length === n && endpoints.size === n && isOne(sum(t.outcomes.map((o) => o.probability)))
      );
    }),
    { numRuns: 40 },
  );
});

test("property: any probabilities, any nesting of random rules: the paths sum to exactly 1", () => {
  const rule = fc.record({
    stored: fc.integer({ min: 0, max: 0x80000000 }),
    target: fc.constantFrom("ACCEPT", "DROP", "MARK", "A", "B"),
  });
  fc.assert(
    fc.property(
      fc.array(rule, { minLength: 1, maxLength: 7 }),
      fc.array(rule, { maxLength: 3 }),
      (inputRules, subRules) => {
        const line = (r: { stored: number; target: string }, chain: string) =>
          `-A ${chain} -m statistic --mode random --probability ${formatStoredProbability(r.stored)} ${r.target === "MARK" ? "-j MARK --set-xmark 0x1/0x0" : `-j ${r.target}`}`;
        const body = [
          ...inputRules.map((r) => line(r, "INPUT")),
          ...subRules.map((r) =>
            line({ ...r, target: r.target === "A" || r.target === "B" ? "RETURN" : r.target }, "A"),
          ),
        ].join("\n");
        const t = trace(filterInput(body, "DROP", ["A", "B"]), pkt({ src: "1.1.1.1", dst: "10.13.76.4" }), {
          localIps: ["10.13.76.4"],
        });
        const total = sum(t.outcomes.map((o) => o.probability));
        // Up to 7 + 7 x 3 coins can exceed the enumeration cap (4096 paths): then the paths found
        // must say so and cover less than everything (fast-check seed 1310644534 found such a tree).
        const complete = t.truncated ? total.num < 1n << BigInt(total.exp) : isOne(total);
        return complete && t.outcomes.every((o) => o.probability.num > 0n);
      },
    ),
    { numRuns: 150 },
  );
});

test("property: a DROP-policy chain whose rules never ACCEPT drops every packet", () => {
  const nonAccepting = fc.constantFrom(
    "-j MARK --set-xmark 0x4000/0x4000",
    "-j LOG",
    "-p tcp -j RETURN",
    "-j A",
    "-m statistic --mode random --probability 0.50000000000 -j A",
    "-m conntrack --ctstate NEW -j A",
    "-s 10.0.0.0/8 -j CONNMARK --save-mark",
  );
  const packet = fc.record({
    src: fc.ipV4(),
    dst: fc.ipV4(),
    proto: fc.constantFrom(1, 6, 17),
    dport: fc.integer({ min: 1, max: 65535 }),
    tcpFlags: fc.constantFrom(2, 16, 18),
  });
  fc.assert(
    fc.property(
      fc.array(nonAccepting, { maxLength: 8 }),
      fc.array(nonAccepting, { maxLength: 4 }),
      packet,
      (input, sub, p) => {
        const body = [
          ...input.map((r) => `-A INPUT ${r}`),
          ...sub.filter((r) => !r.includes("-j A")).map((r) => `-A A ${r}`),
        ].join("\n");
        const t = trace(filterInput(body, "DROP", ["A"]), pkt({ ...p, icmpType: 8, icmpCode: 0 }), {
          localIps: [p.dst],
        });
        return t.outcomes.every((o) => o.traversal.verdict === "DROP");
      },
    ),
    { numRuns: 150 },
  );
});

test("the sampled mode follows the same odds (seeded, reproducible)", async () => {
  const { traceSampled } = await import("./trace.ts");
  const { compileRuleset } = await import("./compile.ts");
  const { parseIptablesSave } = await import("../../../inputs/iptables/parse-save.ts");
  const { staticHost } = await import("./static-host.ts");
  const rules = compileRuleset(parseIptablesSave(svcChain(2, 5), "x").value);
  const host = staticHost({ localIps: [], ifaceAddrs: new Map() });
  const pick = (seed: number) =>
    traceSampled(rules, { packet: toVip, inIface: "eth0", outIface: "eth0" }, { host, seed }).traversal.dnat
      ?.to.addr;
  assert.equal(pick(7), pick(7), "same seed, same path");
  const seen = new Set(Array.from({ length: 32 }, (_, i) => pick(i)));
  assert.deepEqual([...seen].sort(), ["10.13.76.10", "10.13.76.11"]);
  void ONE;
});
