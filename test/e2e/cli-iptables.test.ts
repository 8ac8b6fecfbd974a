import assert from "node:assert/strict";
import { test } from "node:test";
import { cli } from "../support/cli.ts";

const SEED = [
  "iptables",
  "trace",
  "--rules",
  "examples/seed-cluster.rules",
  "--src",
  "109.125.120.58",
  "--sport",
  "51535",
  "--dst",
  "51.144.176.251",
  "--dport",
  "80",
  "--in",
  "azure0",
  "--local-ip",
  "10.13.76.4",
];

test("packetwalk --help and every subcommand's --help show usage with an example", () => {
  for (const args of [
    ["--help"],
    ["iptables", "--help"],
    ["iptables", "trace", "--help"],
    ["iptables", "check", "--help"],
    ["iptables", "save", "--help"],
  ]) {
    const r = cli(args);
    assert.equal(r.code, 0, args.join(" "));
    assert.match(r.stdout, /Usage: packetwalk/);
    assert.match(r.stdout, /packetwalk iptables (trace|check|save) --rules/, args.join(" "));
  }
});

test("the seed's packet, as text: both paths, the rules with their lines, NAT, conntrack, verdict", () => {
  const r = cli(SEED);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, "");
  const out = r.stdout;
  assert.match(
    out,
    /^Packet: tcp 109\.125\.120\.58:51535 -> 51\.144\.176\.251:80 \[SYN\] arriving on azure0\n2 paths\n/,
  );
  assert.match(out, /== Path 1 of 2: probability 0\.5 \(50%\), ACCEPT to 10\.13\.76\.26:80 via azure0/);
  assert.match(out, /== Path 2 of 2: probability 0\.5 \(50%\), ACCEPT to 10\.13\.76\.7:80 via azure0/);
  assert.match(
    out,
    /line 37 +-A KUBE-SERVICES -d 51\.144\.176\.251\/32 -p tcp -m comment --comment "default\/whereami: loadbalancer IP" -m tcp --dport 80 -j KUBE-FW-7G2JV7LNOR6DDNIY/,
  );
  assert.match(out, /=> MARK 0x0 -> 0x4000/);
  assert.match(out, /MASQUERADE: source 109\.125\.120\.58:51535 -> 10\.13\.76\.4:51535/);
  assert.match(out, /src=10\.13\.76\.7 dst=10\.13\.76\.4 sport=80 dport=51535/);
});

test("-o json has the documented shape, one outcome per path", () => {
  const r = cli([...SEED, "-o", "json"]);
  assert.equal(r.code, 0);
  const j = JSON.parse(r.stdout);
  assert.equal(j.outcomes.length, 2);
  const o = j.outcomes[0];
  for (const key of ["probability", "verdict", "packet", "dnat", "snat", "mark", "rules"])
    assert.ok(key in o, key);
  assert.equal(o.probability, 0.5);
  assert.equal(o.verdict, "ACCEPT");
  assert.deepEqual(o.packet, {
    proto: "tcp",
    src: "10.13.76.4",
    sport: 51535,
    dst: "10.13.76.26",
    dport: 80,
  });
  assert.deepEqual(o.dnat, { from: "51.144.176.251:80", to: "10.13.76.26:80" });
  assert.deepEqual(o.snat, { from: "109.125.120.58:51535", to: "10.13.76.4:51535" });
  assert.equal(o.mark, "0x4000");
  assert.deepEqual(o.rules[1], {
    table: "nat",
    chain: "KUBE-SERVICES",
    line: 37,
    rule: '-A KUBE-SERVICES -d 51.144.176.251/32 -p tcp -m comment --comment "default/whereami: loadbalancer IP" -m tcp --dport 80 -j KUBE-FW-7G2JV7LNOR6DDNIY',
    effect: "jump to KUBE-FW-7G2JV7LNOR6DDNIY",
  });
  assert.equal(j.outcomes[0].probability + j.outcomes[1].probability, 1);
});

test("--sample takes one path, reproducibly for a seed", () => {
  const a = cli([...SEED, "--sample", "--seed", "3", "-o", "json"]);
  const b = cli([...SEED, "--sample", "--seed", "3", "-o", "json"]);
  assert.equal(JSON.parse(a.stdout).outcomes.length, 1);
  assert.equal(a.stdout, b.stdout);
});

test("a dropped path exits 1", () => {
  const r = cli([
    "iptables",
    "trace",
    "--rules",
    "examples/seed-cluster.rules",
    "--src",
    "10.13.76.26",
    "--dst",
    "168.63.129.16",
    "--in",
    "azure0",
    "--local-ip",
    "10.13.76.4",
  ]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /DROP/);
  assert.match(r.stdout, /-A FORWARD -d 168\.63\.129\.16\/32 -p tcp -m tcp --dport 80 -j DROP/);
});

test("usage mistakes exit 2 with a clear message and no stack trace", () => {
  const cases: [string[], RegExp][] = [
    [
      ["iptables", "trace", "--src", "1.1.1.1", "--dst", "2.2.2.2", "--in", "eth0"],
      /required option '--rules <file>'/,
    ],
    [
      ["iptables", "trace", "--rules", "nope.txt", "--src", "1.1.1.1", "--dst", "2.2.2.2", "--in", "eth0"],
      /Cannot read "nope\.txt"/,
    ],
    [
      [
        "iptables",
        "trace",
        "--rules",
        "examples/seed-cluster.rules",
        "--src",
        "1.1.1.x",
        "--dst",
        "2.2.2.2",
        "--in",
        "eth0",
      ],
      /Invalid --src "1\.1\.1\.x"/,
    ],
    [
      ["iptables", "trace", "--rules", "examples/seed-cluster.rules", "--src", "1.1.1.1", "--dst", "2.2.2.2"],
      /--in IFACE, or --from-host/,
    ],
    [
      [
        "iptables",
        "trace",
        "--rules",
        "examples/seed-cluster.rules",
        "--src",
        "1.1.1.1",
        "--dst",
        "2.2.2.2",
        "--in",
        "e",
        "--dport",
        "99999",
      ],
      /Invalid --dport "99999"/,
    ],
    [
      [
        "iptables",
        "trace",
        "--rules",
        "examples/seed-cluster.rules",
        "--src",
        "1.1.1.1",
        "--dst",
        "2.2.2.2",
        "--in",
        "e",
        "--iface-addr",
        "azure0",
      ],
      /expected IFACE=IP/,
    ],
    [
      ["iptables", "trace", "--rules", "x", "--src", "1.1.1.1", "--dst", "2.2.2.2", "--in", "e"],
      /holds no iptables table/,
    ],
    [["iptables", "frobnicate"], /unknown command 'frobnicate'/],
  ];
  for (const [args, re] of cases) {
    const r = cli(args, { x: "hello\n" });
    assert.equal(r.code, 2, args.join(" "));
    assert.match(r.stderr, re, args.join(" "));
    assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
  }
});

test("a redacted line is reported with file, line, column and a caret; the rest still traces, and the trace says when it reaches it", () => {
  const text = [
    "*nat",
    ":PREROUTING ACCEPT [0:0]",
    ":INPUT ACCEPT [0:0]",
    ":OUTPUT ACCEPT [0:0]",
    ":POSTROUTING ACCEPT [0:0]",
    "-A PREROUTING -d x.x.x.x/32 -p tcp -m tcp --dport 80 -j DNAT --to-destination 10.0.0.1:80",
    "-A PREROUTING -d 51.144.176.251/32 -p tcp -m tcp --dport 80 -j DNAT --to-destination 10.13.76.7:80",
    "COMMIT",
    "",
  ].join("\n");
  const r = cli(
    [
      "iptables",
      "trace",
      "--rules",
      "redacted.rules",
      "--src",
      "1.1.1.1",
      "--dst",
      "51.144.176.251",
      "--in",
      "eth0",
    ],
    { "redacted.rules": text },
  );
  assert.equal(r.code, 0);
  assert.match(
    r.stderr,
    /^redacted\.rules:6:18: error: Cannot parse rule at line 6: "x\.x\.x\.x\/32" is not an IPv4 address or network \[iptables\.bad-rule\]\n {4}-A PREROUTING -d x\.x\.x\.x.*\n {21}\^\n/,
  );
  assert.match(r.stdout, /uncertain at line 6 \(PREROUTING\): cannot parse/);
  assert.match(r.stdout, /DNAT: destination 51\.144\.176\.251:80 -> 10\.13\.76\.7:80/);
});

test("check: a 10,000-line dump full of problems still fits a screen", () => {
  const lines = ["*filter", ":INPUT ACCEPT [0:0]"];
  for (let i = 0; i < 10000; i++)
    lines.push(
      i % 2 ? `-A INPUT -s 10.0.${i % 256}.x -j ACCEPT` : `-A INPUT -m owner --uid-owner ${i} -j ACCEPT`,
    );
  lines.push("COMMIT", "");
  const r = cli(["iptables", "check", "--rules", "big.rules"], { "big.rules": lines.join("\n") });
  assert.equal(r.code, 2);
  const out = r.stdout.split("\n");
  assert.ok(out.length < 80, `${out.length} lines`);
  assert.match(
    r.stdout,
    /\.\.\. and 9980 more \(iptables\.(bad-rule|unknown-match) \d+, iptables\.(bad-rule|unknown-match) \d+\)/,
  );
  assert.match(r.stdout, /5000 errors, 5000 warnings/);
});

test("save: kube-proxy's restore input comes out as iptables-save prints it", () => {
  const input =
    '*nat\n:KUBE-SERVICES - [0:0]\n:KUBE-MARK-MASQ - [0:0]\n-A KUBE-MARK-MASQ -j MARK --or-mark 0x00004000\n-A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ\nCOMMIT\n';
  const r = cli(["iptables", "save", "--rules", "in.txt", "--kernel-order"], { "in.txt": input });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    r.stdout,
    '*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n:KUBE-MARK-MASQ - [0:0]\n:KUBE-SERVICES - [0:0]\n-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000\n-A KUBE-SERVICES ! -s 10.0.0.0/8 -d 172.30.0.41/32 -p tcp -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp --dport 80 -j KUBE-MARK-MASQ\nCOMMIT\n'.replace(
      ":PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n",
      "",
    ),
  );
});
