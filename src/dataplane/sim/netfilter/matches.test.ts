import assert from "node:assert/strict";
import { test } from "node:test";
import { filterInput, pkt, trace, verdictOf } from "../../../../test/support/netfilter.ts";

/**
 * Each match module's semantics, one DROP rule at a time: a packet that matches is dropped, one that
 * does not falls through to the ACCEPT policy.
 */
const LOCAL = { localIps: ["10.13.76.4"] };
function drops(
  rule: string,
  packet: ReturnType<typeof pkt>,
  opts: Parameters<typeof trace>[2] = LOCAL,
): boolean {
  return verdictOf(trace(filterInput(`-A INPUT ${rule} -j DROP`), packet, { ...LOCAL, ...opts })) === "DROP";
}
const toNode = (f: Partial<Parameters<typeof pkt>[0]> = {}) =>
  pkt({ src: "109.125.120.58", dst: "10.13.76.4", ...f });

test("-s/-d with prefixes, masks and negation", () => {
  assert.equal(drops("-s 109.125.0.0/16", toNode()), true);
  assert.equal(drops("-s 109.126.0.0/16", toNode()), false);
  assert.equal(drops("! -s 109.126.0.0/16", toNode()), true);
  assert.equal(drops("-d 10.0.76.4/255.0.255.255", toNode()), true, "non-contiguous mask");
  assert.equal(drops("-d 10.0.0.4/255.0.255.255", toNode()), false);
});

test("-i with + wildcards, -p, -f", () => {
  assert.equal(drops("-i eth+", toNode()), true);
  assert.equal(drops("-i azv+", toNode()), false);
  assert.equal(drops("! -i azv+", toNode()), true);
  assert.equal(drops("-p udp", toNode()), false);
  assert.equal(drops("! -p udp", toNode()), true);
  assert.equal(drops("-f", toNode()), false);
  assert.equal(drops("-f", toNode({ fragment: true })), true);
});

test("tcp ports, ranges, flags; non-first fragments never match a port", () => {
  assert.equal(drops("-p tcp -m tcp --dport 80", toNode()), true);
  assert.equal(drops("-p tcp -m tcp --dport 81:90", toNode()), false);
  assert.equal(drops("-p tcp -m tcp ! --sport 1:1024", toNode()), true);
  assert.equal(drops("-p tcp --syn", toNode({ tcpFlags: 2 })), true);
  assert.equal(drops("-p tcp --syn", toNode({ tcpFlags: 18 })), false, "SYN,ACK is not --syn");
  assert.equal(drops("-p tcp -m tcp --tcp-flags SYN,ACK SYN,ACK", toNode({ tcpFlags: 18 })), true);
  assert.equal(drops("-p tcp -m tcp --dport 80", toNode({ fragment: true })), false);
});

test("udp and icmp", () => {
  assert.equal(drops("-p udp -m udp --dport 53", toNode({ proto: 17, dport: 53 })), true);
  assert.equal(drops("-p udp -m udp --dport 53", toNode({ proto: 6, dport: 53 })), false);
  const echo = toNode({ proto: 1, icmpType: 8, icmpCode: 0, sport: 0, dport: 0 });
  assert.equal(drops("-p icmp -m icmp --icmp-type 8", echo), true);
  assert.equal(drops("-p icmp -m icmp --icmp-type 0", echo), false);
  assert.equal(drops("-p icmp -m icmp --icmp-type any", echo), true);
  assert.equal(
    drops("-p icmp -m icmp --icmp-type 3/4", toNode({ proto: 1, icmpType: 3, icmpCode: 4 })),
    true,
  );
  assert.equal(
    drops("-p icmp -m icmp --icmp-type 3/4", toNode({ proto: 1, icmpType: 3, icmpCode: 3 })),
    false,
  );
});

test("multiport sports, dports and ports", () => {
  assert.equal(drops("-p tcp -m multiport --dports 22,80:90", toNode()), true);
  assert.equal(drops("-p tcp -m multiport ! --dports 22,80:90", toNode()), false);
  assert.equal(drops("-p tcp -m multiport --ports 40000", toNode()), true, "--ports matches either side");
  assert.equal(drops("-p tcp -m multiport --sports 80", toNode()), false);
});

test("mark with and without mask", () => {
  assert.equal(drops("-m mark --mark 0x4000/0x4000", toNode({ mark: 0x4001 })), true);
  assert.equal(drops("-m mark --mark 0x4000", toNode({ mark: 0x4001 })), false);
  assert.equal(drops("-m mark ! --mark 0x4000/0x4000", toNode({ mark: 0 })), true);
});

test("comment never changes the outcome", () => {
  assert.equal(drops('-m comment --comment "default/whereami:"', toNode()), true);
});

test("conntrack and state on a first packet: NEW, no reply, original direction", () => {
  assert.equal(drops("-m conntrack --ctstate NEW", toNode()), true);
  assert.equal(drops("-m conntrack --ctstate ESTABLISHED,RELATED", toNode()), false);
  assert.equal(drops("-m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT", toNode()), true);
  assert.equal(drops("-m state --state NEW", toNode()), true);
  assert.equal(drops("-m conntrack --ctorigsrc 109.125.120.58 --ctorigdst 10.13.76.4", toNode()), true);
  assert.equal(drops("-m conntrack --ctorigsrcport 40000 --ctorigdstport 80", toNode()), true);
  assert.equal(
    drops("-m conntrack --ctreplsrc 10.13.76.4", toNode()),
    true,
    "reply src is the original dst without NAT",
  );
  assert.equal(drops("-m conntrack --ctdir ORIGINAL", toNode()), true);
  assert.equal(drops("-m conntrack --ctdir REPLY", toNode()), false);
  assert.equal(drops("-m conntrack --ctstatus SEEN_REPLY", toNode()), false);
  assert.equal(drops("-m conntrack --ctproto tcp", toNode()), true);
  assert.equal(drops("-m conntrack --ctexpire 1:120", toNode()), true, "SYN_SENT starts with 120 s");
});

test("a TCP packet that cannot start a connection is INVALID", () => {
  assert.equal(drops("-m conntrack --ctstate INVALID", toNode({ tcpFlags: 4 })), true, "a bare RST");
  assert.equal(drops("-m conntrack --ctstate INVALID", toNode({ tcpFlags: 2 })), false);
});

test("addrtype LOCAL, UNICAST, BROADCAST, MULTICAST and --limit-iface-in", () => {
  assert.equal(drops("-m addrtype --dst-type LOCAL", toNode()), true);
  assert.equal(drops("-m addrtype --src-type UNICAST", toNode()), true);
  assert.equal(drops("-m addrtype --src-type LOCAL", toNode()), false);
  assert.equal(drops("-m addrtype ! --dst-type LOCAL", toNode()), false);
  assert.equal(drops("-m addrtype --dst-type BROADCAST", toNode({ dst: "255.255.255.255" })), true);
  assert.equal(drops("-m addrtype --dst-type MULTICAST", toNode({ dst: "224.0.0.251" })), true);
  assert.equal(drops("-m addrtype --dst-type LOCAL", toNode({ dst: "127.0.0.1" })), true);
  const byIface = { localIps: [], ifaceAddrs: { azure0: "10.13.76.4" } };
  assert.equal(
    drops("-m addrtype --dst-type LOCAL --limit-iface-in", toNode(), { ...byIface, in: "azure0" }),
    true,
  );
  assert.equal(
    drops("-m addrtype --dst-type LOCAL --limit-iface-in", toNode(), { ...byIface, in: "eth0" }),
    false,
  );
});

test("iprange, inclusive at both ends", () => {
  assert.equal(drops("-m iprange --src-range 109.125.120.58-109.125.120.60", toNode()), true);
  assert.equal(drops("-m iprange --src-range 109.125.120.59-109.125.120.60", toNode()), false);
  assert.equal(drops("-m iprange ! --dst-range 168.63.129.16-168.63.129.16", toNode()), true);
});

test("physdev: bridge ports in and out", () => {
  const fwd = pkt({ src: "10.13.76.26", dst: "10.13.76.7" });
  const rule = (r: string) => filterInput(`-A FORWARD ${r} -j DROP`);
  const v = (r: string, o: Parameters<typeof trace>[2]) =>
    verdictOf(trace(rule(r), fwd, { in: "azure0", ...o }));
  assert.equal(
    v("-m physdev --physdev-in azv+ --physdev-out azv+", { physIn: "azva41", physOut: "azv022" }),
    "DROP",
  );
  assert.equal(v("-m physdev --physdev-is-bridged", { physIn: "azva41", physOut: "azv022" }), "DROP");
  assert.equal(v("-m physdev --physdev-is-bridged", {}), "ACCEPT", "routed, not bridged");
  assert.equal(v("-m physdev ! --physdev-is-in", {}), "DROP");
});

test("set: --match-set with an ipset save dump", () => {
  const sets =
    "create KUBE-CLUSTER-IP hash:ip,port family inet hashsize 1024 maxelem 65536\nadd KUBE-CLUSTER-IP 10.13.76.4,tcp:80\n";
  assert.equal(
    drops("-m set --match-set KUBE-CLUSTER-IP dst,dst", toNode(), { ...LOCAL, ipsets: sets }),
    true,
  );
  assert.equal(
    drops("-m set --match-set KUBE-CLUSTER-IP dst,dst", toNode({ dport: 81 }), { ...LOCAL, ipsets: sets }),
    false,
  );
  assert.equal(
    drops("-m set ! --match-set KUBE-CLUSTER-IP dst,dst", toNode({ dport: 81 }), { ...LOCAL, ipsets: sets }),
    true,
  );
});

test("a set that is not given makes the trace uncertain instead of guessing", () => {
  const t = trace(filterInput("-A INPUT -m set --match-set NOPE src -j DROP"), toNode(), LOCAL);
  assert.equal(t.outcomes[0]?.traversal.verdict, "ACCEPT");
  assert.match(t.outcomes[0]?.traversal.uncertain[0]?.reason ?? "", /NOPE/);
  assert.equal(t.outcomes[0]?.traversal.uncertain[0]?.line, 5);
});

test("recent: --set then --rcheck in the same chain", () => {
  const rules = filterInput(
    "-A INPUT -m recent --set --name SSH\n-A INPUT -m recent --rcheck --seconds 60 --name SSH -j DROP",
  );
  assert.equal(verdictOf(trace(rules, toNode(), LOCAL)), "DROP");
  const unset = filterInput("-A INPUT -m recent --rcheck --seconds 60 --name SSH -j DROP");
  assert.equal(verdictOf(trace(unset, toNode(), LOCAL)), "ACCEPT");
});

test("limit: a fresh bucket lets the first packet through", () => {
  assert.equal(drops("-m limit --limit 1/min --limit-burst 1", toNode()), true);
});

test("statistic nth: packet k matches when k % every == packet (as the kernel did with ping)", async () => {
  const { compileMatch } = await import("./compile-match.ts");
  const { newEngineState } = await import("./env.ts");
  const matchesOf = (every: number, packet: number) => {
    const rule = { chain: "INPUT", line: 1 } as never;
    const pred = compileMatch(
      { module: "statistic", mode: "nth", every, packet, invert: false },
      {
        family: 4,
        rule,
        ipsets: null,
        unsupported: () => {},
      },
    );
    const env = { state: newEngineState() } as never;
    return Array.from({ length: 6 }, (_, k) => (pred?.(toNode(), env) ? k + 1 : 0)).filter(Boolean);
  };
  // iptables -A OUTPUT ... --every 3 --packet 0 -j DROP; ping -c 6: replies lost for icmp_seq 1 and 4.
  assert.deepEqual(matchesOf(3, 0), [1, 4]);
  assert.deepEqual(matchesOf(3, 2), [3, 6]);
  assert.deepEqual(matchesOf(1, 0), [1, 2, 3, 4, 5, 6]);
  assert.equal(drops("-m statistic --mode nth --every 2 --packet 0", toNode()), true, "the first packet");
  assert.equal(drops("-m statistic --mode nth --every 2 --packet 1", toNode()), false);
});

test("an unknown match is reported as uncertain at its line and assumed not to match", () => {
  const t = trace(filterInput("-A INPUT -p tcp -m owner --uid-owner 0 -j DROP"), toNode(), LOCAL);
  const o = t.outcomes[0];
  assert.equal(o?.traversal.verdict, "ACCEPT");
  assert.deepEqual(o?.traversal.uncertain, [
    { line: 5, chain: "INPUT", reason: "-m owner; assumed not to match" },
  ]);
  // When what we can evaluate already fails, there is nothing uncertain.
  const t2 = trace(filterInput("-A INPUT -p udp -m owner --uid-owner 0 -j DROP"), toNode(), LOCAL);
  assert.deepEqual(t2.outcomes[0]?.traversal.uncertain, []);
});

test("a line that could not be parsed is reported when a trace reaches it", () => {
  const t = trace(filterInput("-A INPUT -d x.x.x.x/32 -j DROP"), toNode(), LOCAL);
  assert.equal(t.outcomes[0]?.traversal.uncertain[0]?.line, 5);
  assert.match(t.outcomes[0]?.traversal.uncertain[0]?.reason ?? "", /cannot parse/);
});
