import assert from "node:assert/strict";
import { test } from "node:test";
import { filterInput, pkt, trace, verdictOf } from "../../../../test/support/netfilter.ts";

const LOCAL = { localIps: ["10.13.76.4"] };
const toNode = () => pkt({ src: "109.125.120.58", dst: "10.13.76.4" });
const first = (t: ReturnType<typeof trace>) => t.outcomes[0]!.traversal;

test("ACCEPT ends the table, DROP and REJECT end the packet", () => {
  assert.equal(
    verdictOf(trace(filterInput("-A INPUT -j ACCEPT\n-A INPUT -j DROP"), toNode(), LOCAL)),
    "ACCEPT",
  );
  assert.equal(verdictOf(trace(filterInput("-A INPUT -j DROP"), toNode(), LOCAL)), "DROP");
  const r = first(trace(filterInput("-A INPUT -p tcp -j REJECT --reject-with tcp-reset"), toNode(), LOCAL));
  assert.equal(r.verdict, "REJECT");
  assert.equal(r.rejectWith, "tcp-reset");
  assert.deepEqual(r.stoppedAt, { hook: "INPUT", table: "filter" });
});

test("a built-in chain ends in its policy; a DROP policy with no ACCEPT drops", () => {
  const t = first(trace(filterInput("", "DROP"), toNode(), LOCAL));
  assert.equal(t.verdict, "DROP");
  assert.equal(t.hits.at(-1)?.effect, "policy DROP");
});

test("jump, RETURN and the end of a user chain go back to the caller", () => {
  const rules = filterInput("-A INPUT -j A\n-A INPUT -j DROP\n-A A -j RETURN\n-A A -j ACCEPT", "ACCEPT", [
    "A",
  ]);
  assert.equal(verdictOf(trace(rules, toNode(), LOCAL)), "DROP");
  const fallOff = filterInput("-A INPUT -j A\n-A INPUT -j DROP\n-A A -p udp -j ACCEPT", "ACCEPT", ["A"]);
  assert.equal(verdictOf(trace(fallOff, toNode(), LOCAL)), "DROP");
});

test("goto: a RETURN in the target returns past the chain that did the goto", () => {
  // INPUT -> A (jump), A -> B (goto), B returns: back in INPUT after the jump to A, so A's DROP is skipped.
  const rules = filterInput(
    "-A INPUT -j A\n-A INPUT -j ACCEPT\n-A A -g B\n-A A -j DROP\n-A B -j RETURN",
    "DROP",
    ["A", "B"],
  );
  assert.equal(verdictOf(trace(rules, toNode(), LOCAL)), "ACCEPT");
});

test("MARK and a later mark match in the same traversal", () => {
  const rules = filterInput(
    "-A INPUT -j MARK --set-xmark 0x4000/0x4000\n-A INPUT -m mark --mark 0x4000/0x4000 -j DROP",
  );
  assert.equal(verdictOf(trace(rules, toNode(), LOCAL)), "DROP");
  assert.equal(first(trace(rules, toNode(), LOCAL)).packet.mark, 0x4000);
});

test("MARK forms as the kernel applies them: (mark & ~mask) ^ value", () => {
  const mark = (target: string, start: number) =>
    first(
      trace(
        filterInput(`-A INPUT -j MARK ${target}`),
        pkt({ src: "1.1.1.1", dst: "10.13.76.4", mark: start }),
        LOCAL,
      ),
    ).packet.mark;
  assert.equal(mark("--set-mark 0x5", 0xff00), 0x5);
  assert.equal(mark("--or-mark 0x4000", 0x1), 0x4001);
  assert.equal(mark("--xor-mark 0x4000", 0x4001), 0x1);
  assert.equal(mark("--and-mark 0xff", 0x41ff), 0xff);
});

test("CONNMARK save then restore carries the mark through the connection", () => {
  const rules = [
    "*mangle",
    ":PREROUTING ACCEPT [0:0]",
    ":INPUT ACCEPT [0:0]",
    ":FORWARD ACCEPT [0:0]",
    ":OUTPUT ACCEPT [0:0]",
    ":POSTROUTING ACCEPT [0:0]",
    "-A PREROUTING -j MARK --set-xmark 0x7/0xffffffff",
    "-A PREROUTING -j CONNMARK --save-mark",
    "-A PREROUTING -j MARK --set-xmark 0x0/0xffffffff",
    "-A INPUT -j CONNMARK --restore-mark --mask 0x3",
    "COMMIT",
    "",
  ].join("\n");
  const t = first(trace(rules, toNode(), LOCAL));
  assert.equal(t.conntrack?.mark, 7);
  assert.equal(t.packet.mark, 3);
  const set = rules.replace(
    "-A PREROUTING -j CONNMARK --save-mark",
    "-A PREROUTING -j CONNMARK --set-xmark 0x10/0xf0",
  );
  assert.equal(first(trace(set, toNode(), LOCAL)).conntrack?.mark, 0x10);
});

test("LOG, NFLOG and TRACE go on to the next rule", () => {
  const rules = filterInput(
    '-A INPUT -j LOG --log-prefix "x: "\n-A INPUT -j NFLOG --nflog-group 2\n-A INPUT -j DROP',
  );
  const t = first(trace(rules, toNode(), LOCAL));
  assert.equal(t.verdict, "DROP");
  assert.deepEqual(
    t.hits.map((h) => h.effect),
    ["LOG", "NFLOG", "DROP"],
  );
});

const nat = (body: string) =>
  [
    "*nat",
    ":PREROUTING ACCEPT [0:0]",
    ":INPUT ACCEPT [0:0]",
    ":OUTPUT ACCEPT [0:0]",
    ":POSTROUTING ACCEPT [0:0]",
    body,
    "COMMIT",
    "",
  ].join("\n");

test("DNAT rewrites the destination, routing then forwards, the conntrack reply source is the new destination", () => {
  const t = first(
    trace(nat("-A PREROUTING -p tcp -j DNAT --to-destination 10.13.76.26:8080"), toNode(), LOCAL),
  );
  assert.equal(t.disposition, "forward");
  assert.deepEqual(t.dnat?.to, { addr: "10.13.76.26", port: 8080 });
  assert.equal(t.conntrack?.status.dstNat, true);
  assert.equal(t.conntrack?.reply.sport, 8080);
});

test("SNAT and MASQUERADE rewrite the source on the way out; MASQUERADE takes the out interface's address", () => {
  const out = { ...LOCAL, in: "eth0", out: "eth1", ifaceAddrs: { eth1: "192.168.1.5" } };
  const p = pkt({ src: "10.13.76.26", dst: "8.8.8.8", sport: 33000 });
  const m = first(trace(nat("-A POSTROUTING -o eth1 -j MASQUERADE"), p, out));
  assert.deepEqual(m.snat?.to, { addr: "192.168.1.5", port: 33000 }, "the port is kept when free");
  const s = first(trace(nat("-A POSTROUTING -p tcp -j SNAT --to-source 1.2.3.4:1000-1000"), p, out));
  assert.deepEqual(s.snat?.to, { addr: "1.2.3.4", port: 1000 });
  assert.equal(s.conntrack?.reply.dst, 0x01020304);
  const rf = first(trace(nat("-A POSTROUTING -p tcp -j MASQUERADE --random-fully"), p, out));
  assert.ok(rf.snat && rf.snat.to.port >= 1024, "--random-fully picks a port from 1024-65535");
});

test("REDIRECT sends to the receiving interface's address", () => {
  const t = first(
    trace(
      nat("-A PREROUTING -p tcp -j REDIRECT --to-ports 15001"),
      pkt({ src: "10.13.76.26", dst: "1.2.3.4" }),
      {
        in: "azure0",
        ifaceAddrs: { azure0: "10.13.76.4" },
      },
    ),
  );
  assert.deepEqual(t.dnat?.to, { addr: "10.13.76.4", port: 15001 });
  assert.equal(t.disposition, "local");
});

test("CT --notrack in raw leaves the packet untracked: no conntrack entry, no NAT", () => {
  const rules = [
    "*raw",
    ":PREROUTING ACCEPT [0:0]",
    ":OUTPUT ACCEPT [0:0]",
    "-A PREROUTING -j CT --notrack",
    "COMMIT",
    nat("-A PREROUTING -p tcp -j DNAT --to-destination 10.13.76.26"),
  ].join("\n");
  const t = first(trace(rules, toNode(), LOCAL));
  assert.equal(t.ctState, "UNTRACKED");
  assert.equal(t.conntrack, null);
  assert.equal(t.dnat, null);
});

test("an unknown target is reported and assumed to continue", () => {
  const rules = "*mangle\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -p tcp -j TPROXY --on-port 1\nCOMMIT\n";
  const t = first(trace(rules, toNode(), LOCAL));
  assert.equal(t.verdict, "ACCEPT");
  assert.match(t.uncertain[0]?.reason ?? "", /-j TPROXY is not modelled/);
});

test("tables run in the kernel's order at each hook", () => {
  const t = ["raw", "mangle", "nat", "filter"].map((table) => {
    const chains = {
      raw: ["PREROUTING", "OUTPUT"],
      mangle: ["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"],
      nat: ["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"],
      filter: ["INPUT", "FORWARD", "OUTPUT"],
    }[table] as string[];
    return [
      `*${table}`,
      ...chains.map((c) => `:${c} ACCEPT [0:0]`),
      ...chains.map((c) => `-A ${c} -j LOG --log-prefix "${table}-${c}"`),
      "COMMIT",
    ].join("\n");
  });
  const order = (opts: Parameters<typeof trace>[2], p = toNode()) =>
    first(trace(`${t.join("\n")}\n`, p, opts))
      .hits.filter((h) => h.effect === "LOG")
      .map((h) => `${h.table}-${h.chain}`);
  assert.deepEqual(order(LOCAL), [
    "raw-PREROUTING",
    "mangle-PREROUTING",
    "nat-PREROUTING",
    "mangle-INPUT",
    "filter-INPUT",
    "nat-INPUT",
  ]);
  assert.deepEqual(order({ localIps: [] }), [
    "raw-PREROUTING",
    "mangle-PREROUTING",
    "nat-PREROUTING",
    "mangle-FORWARD",
    "filter-FORWARD",
    "mangle-POSTROUTING",
    "nat-POSTROUTING",
  ]);
  assert.deepEqual(
    order({ localIps: ["10.13.76.4"], in: null, out: "eth0" }, pkt({ src: "10.13.76.4", dst: "8.8.8.8" })),
    ["raw-OUTPUT", "mangle-OUTPUT", "nat-OUTPUT", "filter-OUTPUT", "mangle-POSTROUTING", "nat-POSTROUTING"],
  );
});

test("a packet the host sends to itself goes out through lo and back in, nat not run twice", () => {
  const rules = nat(
    "-A OUTPUT -p tcp -j DNAT --to-destination 10.13.76.4:9090\n-A PREROUTING -p tcp -j DNAT --to-destination 1.1.1.1",
  );
  const t = first(trace(rules, pkt({ src: "10.13.76.4", dst: "10.13.76.4" }), { ...LOCAL, in: null }));
  assert.equal(t.disposition, "local");
  assert.deepEqual(t.dnat?.to, { addr: "10.13.76.4", port: 9090 });
});

test("rule and policy counters count packets and bytes", () => {
  const t = trace(
    filterInput("-A INPUT -p tcp -j ACCEPT"),
    pkt({ src: "1.1.1.1", dst: "10.13.76.4", length: 60 }),
    LOCAL,
  );
  const counters = [...t.outcomes[0]!.state.ruleCounters.values()];
  assert.deepEqual(counters, [{ packets: 1n, bytes: 60n }]);
});

test("chains that jump in a loop are reported", async () => {
  const { compileRuleset } = await import("./compile.ts");
  const { parseIptablesSave } = await import("../../../inputs/iptables/parse-save.ts");
  const parsed = parseIptablesSave(
    filterInput("-A INPUT -j A\n-A A -j B\n-A B -j A", "ACCEPT", ["A", "B"]),
    "loop",
  );
  const c = compileRuleset(parsed.value);
  assert.equal(c.diagnostics[0]?.code, "iptables.chain-loop");
  assert.match(c.diagnostics[0]?.message ?? "", /A -> B -> A/);
});
