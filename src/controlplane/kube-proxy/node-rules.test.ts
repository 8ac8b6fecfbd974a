import assert from "node:assert/strict";
import { test } from "node:test";
import { SEED_TEXT } from "../../../test/support/seed.ts";
import { formatRulesetFile } from "../../model/netfilter/save.ts";
import { buildNodeRuleset } from "./node-rules.ts";
import { endpoints, port, seedInput, service } from "./testing.ts";

/**
 * The seed's node, generated: `iptables-save | grep …` against the lines the seed prints (read from
 * the seed file itself), and the KUBE-MARK-MASQ reference counts it shows.
 */

const seed = SEED_TEXT.replace(/\r/g, "").split("\n");

/** The output lines under the n-th (0-based) prompt line ending with `command`, up to the next blank line. */
function seedOutput(command: string, nth = 0): string[] {
  const at = seed.map((l, i) => (l.endsWith(`$ ${command}`) ? i : -1)).filter((i) => i >= 0)[nth];
  assert.ok(at !== undefined, `the seed runs \`${command}\``);
  const out: string[] = [];
  for (let i = at + 1; i < seed.length && seed[i]?.trim() !== ""; i++) out.push(seed[i] as string);
  return out;
}

const save = (half: "cluster" | "local") => formatRulesetFile(buildNodeRuleset(seedInput(half))).split("\n");
const grep = (lines: string[], ...words: string[]) => lines.filter((l) => words.every((w) => l.includes(w)));
const chainOf = (line: string) => line.split(" ")[1] as string;

test("Cluster half: `iptables-save | grep whereami` prints the seed's lines", () => {
  const ours = grep(save("cluster"), "whereami");
  const theirs = seedOutput("sudo iptables-save | grep whereami");
  assert.deepEqual([...ours].sort(), [...theirs].sort(), "the same 14 lines");
  // Chain by chain the order is the seed's too, except inside KUBE-SERVICES: the seed shows the
  // load balancer rule first, but kube-proxy 1.11 writes the cluster IP rules before it
  // (syncProxyRules: "Capture the clusterIP" precedes "Capture load-balancer ingress",
  // openshift/origin@04746fd vendor/k8s.io/kubernetes/pkg/proxy/iptables/proxier.go) and
  // iptables-restore appends in that order; the seed's Local half shows that order. The author
  // rearranged this listing (its chains are not in libiptc's sorted order either).
  const byChain = (lines: string[]) => {
    const m = new Map<string, string[]>();
    for (const l of lines) m.set(chainOf(l), [...(m.get(chainOf(l)) ?? []), l]);
    return m;
  };
  const [o, t] = [byChain(ours), byChain(theirs)];
  for (const [chain, lines] of t) {
    if (chain === "KUBE-SERVICES") continue;
    assert.deepEqual(o.get(chain), lines, chain);
  }
  assert.deepEqual(o.get("KUBE-SERVICES"), [
    t.get("KUBE-SERVICES")?.[1],
    t.get("KUBE-SERVICES")?.[2],
    t.get("KUBE-SERVICES")?.[0],
  ]);
});

test("Local half: the seed's KUBE-SERVICES, KUBE-FW, KUBE-XLB and KUBE-SEP lines, in order", () => {
  const ours = save("local");
  const whereami = grep(ours, "whereami");
  assert.deepEqual(
    grep(whereami, "KUBE-SERVICES"),
    seedOutput("sudo iptables-save | grep whereami | grep KUBE-SERVICES"),
  );
  assert.deepEqual(
    grep(whereami, "KUBE-FW-7G2JV7LNOR6DDNIY"),
    seedOutput("sudo iptables-save | grep whereami | grep KUBE-FW-7G2JV7LNOR6DDNIY"),
  );
  // The seed then quotes the XLB and SEP chains (whereami lines only) before "The rest of the rules".
  const from = seed.findIndex((l) => l.includes("grep KUBE-FW-7G2JV7LNOR6DDNIY"));
  const to = seed.findIndex((l, i) => i > from && l.startsWith("The rest of the rules"));
  const quoted = seed.slice(from, to);
  for (const prefix of ["-A KUBE-XLB-", "-A KUBE-SEP-"]) {
    assert.deepEqual(
      whereami.filter((l) => l.startsWith(prefix)),
      quoted.filter((l) => l.startsWith(prefix)),
      prefix,
    );
  }
  // Not shown by `grep whereami`: the pod short-circuit, whose comment does not name the service.
  assert.ok(
    ours.includes(
      '-A KUBE-XLB-7G2JV7LNOR6DDNIY -s 10.13.76.0/24 -m comment --comment "Redirect pods trying to reach external loadbalancer VIP to clusterIP" -j KUBE-SVC-7G2JV7LNOR6DDNIY',
    ),
  );
});

test("`iptables-save | grep MASQUERADE` prints the seed's three lines, in both halves", () => {
  assert.deepEqual(
    grep(save("cluster"), "MASQUERADE"),
    seedOutput("sudo iptables-save | grep MASQUERADE", 0),
  );
  assert.deepEqual(grep(save("local"), "MASQUERADE"), seedOutput("sudo iptables-save | grep MASQUERADE", 1));
});

test("KUBE-MARK-MASQ has the seed's reference counts: 19 (Cluster) and 18 (Local)", () => {
  const shown = seed
    .map((l) => /^Chain KUBE-MARK-MASQ \((\d+) references\)/.exec(l)?.[1])
    .filter((n): n is string => n !== undefined)
    .map(Number);
  assert.equal(shown.length, 2);
  for (const [i, half] of (["cluster", "local"] as const).entries()) {
    const nat = buildNodeRuleset(seedInput(half)).dumps[0]?.tables.find((t) => t.name === "nat");
    const refs = nat?.chains
      .flatMap((c) => c.rules)
      .filter((r) => r.target?.kind === "jump" && r.target.chain === "KUBE-MARK-MASQ").length;
    assert.equal(refs, shown[i], half);
  }
});

test("the 1.11 node keeps kubelet's, docker's and AKS's chains in libiptc's sorted order", () => {
  const text = formatRulesetFile(
    buildNodeRuleset({
      ...seedInput("cluster"),
      saveHeader: { version: "v1.6.0", time: "Tue Jan 22 23:40:00 2019" },
    }),
  );
  const decl = text.split("\n").filter((l) => l.startsWith(":"));
  assert.deepEqual(decl.slice(0, 10), [
    ":PREROUTING ACCEPT [0:0]",
    ":INPUT ACCEPT [0:0]",
    ":OUTPUT ACCEPT [0:0]",
    ":POSTROUTING ACCEPT [0:0]",
    ":DOCKER - [0:0]",
    ":KUBE-FW-7G2JV7LNOR6DDNIY - [0:0]",
    ":KUBE-MARK-DROP - [0:0]",
    ":KUBE-MARK-MASQ - [0:0]",
    ":KUBE-NODEPORTS - [0:0]",
    ":KUBE-POSTROUTING - [0:0]",
  ]);
  const names = decl.map((l) => l.slice(1).split(" ")[0] as string);
  const users = names.slice(4, names.indexOf("INPUT", 4));
  assert.deepEqual(users, [...users].sort());
  assert.match(text, /^# Generated by iptables-save v1\.6\.0 on Tue Jan 22 23:40:00 2019\n\*nat\n/);
  assert.match(text, /COMMIT\n# Completed on Tue Jan 22 23:40:00 2019\n$/);
  assert.match(
    text,
    /\n-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES\n-A INPUT -j KUBE-FIREWALL\n/,
  );
  assert.match(
    text,
    /\n-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD\n-A FORWARD -j DOCKER-USER\n/,
  );
});

test("service order: sorted by namespace/name/port unless the input order is asked for", () => {
  const input = seedInput("cluster");
  const order = (o: "sorted" | "as-given") =>
    grep(
      formatRulesetFile(buildNodeRuleset({ ...input, serviceOrder: o })).split("\n"),
      "-A KUBE-SERVICES",
      "cluster IP",
      "-j KUBE-SVC",
    ).map((l) => /--comment "([^ ]+) cluster IP"/.exec(l)?.[1]);
  assert.deepEqual(order("sorted"), [
    "default/kubernetes:https",
    "default/whereami:",
    "kube-system/heapster:",
    "kube-system/kube-dns:dns",
    "kube-system/kube-dns:dns-tcp",
    "kube-system/kubernetes-dashboard:",
    "kube-system/metrics-server:",
  ]);
  assert.deepEqual(order("as-given").slice(-1), ["default/whereami:"]);
});

test("services without endpoints: filter REJECT rules (1.11) and REJECT/DROP (current)", () => {
  const svc = service("ns", "web", "10.0.50.5", [port("http", 80, "TCP", 31000)], {
    type: "LoadBalancer",
    externalTrafficPolicy: "Local",
    healthCheckNodePort: 31500,
    loadBalancerIngress: ["20.1.2.3"],
  });
  const base = { ...seedInput("cluster"), services: [svc], endpoints: [] };
  const old = formatRulesetFile(buildNodeRuleset(base));
  assert.ok(
    old.includes(
      '-A KUBE-SERVICES -d 10.0.50.5/32 -p tcp -m comment --comment "ns/web:http has no endpoints" -m tcp --dport 80 -j REJECT --reject-with icmp-port-unreachable',
    ),
  );
  assert.ok(
    old.includes(
      '-A KUBE-EXTERNAL-SERVICES -p tcp -m comment --comment "ns/web:http has no endpoints" -m addrtype --dst-type LOCAL -m tcp --dport 31000 -j REJECT --reject-with icmp-port-unreachable',
    ),
  );
  assert.ok(
    old.includes(":KUBE-XLB-"),
    "1.11 declares the XLB chain of a Local service even without endpoints",
  );

  const cur = {
    ...base,
    layout: "current" as const,
    kubernetesVersion: "1.28.3",
    dockerBridgeCidr: null,
    masqueradeExcept: null,
    ipMasqAgentCidrs: ["10.13.0.0/16"],
  };
  const remoteOnly = formatRulesetFile(
    buildNodeRuleset({
      ...cur,
      endpoints: [
        endpoints(
          "ns",
          "web",
          ["10.13.76.50"],
          [{ name: "http", port: 8080, protocol: "TCP" }],
          ["10.13.76.50"],
        ),
      ],
    }),
  );
  assert.ok(
    remoteOnly.includes(
      '-A KUBE-EXTERNAL-SERVICES -d 20.1.2.3/32 -p tcp -m comment --comment "ns/web:http has no local endpoints" -m tcp --dport 80 -j DROP',
    ),
  );
  assert.ok(
    remoteOnly.includes(
      '-A KUBE-NODEPORTS -p tcp -m comment --comment "ns/web:http health check node port" -m tcp --dport 31500 -j ACCEPT',
    ),
  );
  assert.ok(!remoteOnly.includes(":KUBE-SVL-"), "no SVL chain without local endpoints");
  const none = formatRulesetFile(buildNodeRuleset(cur));
  assert.ok(
    none.includes(
      '-A KUBE-SERVICES -d 10.0.50.5/32 -p tcp -m comment --comment "ns/web:http has no endpoints" -m tcp --dport 80 -j REJECT --reject-with icmp-port-unreachable',
    ),
  );
  assert.ok(!none.includes(":KUBE-EXT-"));
});
