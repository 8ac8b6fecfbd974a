import type { Command } from "commander";
import type { Diagnostic } from "../../../core/diagnostic.ts";
import { type Family, parseIp } from "../../../core/ip.ts";
import { compileRuleset } from "../../../dataplane/sim/netfilter/compile.ts";
import { staticHost } from "../../../dataplane/sim/netfilter/static-host.ts";
import { traceExact, traceSampled } from "../../../dataplane/sim/netfilter/trace.ts";
import { parseIpsetSave } from "../../../inputs/ipset/parse.ts";
import { parseTcpFlags } from "../../../inputs/iptables/matches-l4.ts";
import { parseIptablesSave } from "../../../inputs/iptables/parse-save.ts";
import type { IpSetRegistry } from "../../../model/ipset.ts";
import { parseU32 } from "../../../model/netfilter/numbers.ts";
import { parseProto } from "../../../model/netfilter/protocols.ts";
import type { RulesetFile } from "../../../model/netfilter/ruleset.ts";
import { formatRulesetFile } from "../../../model/netfilter/save.ts";
import { makePacket, type Packet } from "../../../model/packet.ts";
import { traceJson } from "../../render/trace-json.ts";
import { renderTraceText } from "../../render/trace-text.ts";
import { renderDiagnostics } from "../diagnostics.ts";
import { CliError, type CliIo } from "../io.ts";

/** `packetwalk iptables trace|check|save`: the netfilter engine on any iptables-save dump. */

const collect = (value: string, previous: string[]) => [...previous, value];

interface TraceOpts {
  rules: string;
  src: string;
  dst: string;
  proto: string;
  sport?: string;
  dport?: string;
  tcpFlags: string;
  icmpType?: string;
  in?: string;
  fromHost?: boolean;
  out?: string;
  physdevIn?: string;
  physdevOut?: string;
  localIp: string[];
  ifaceAddr: string[];
  mark?: string;
  ipset?: string;
  length: string;
  sample?: boolean;
  seed: string;
  output: string;
  maxPaths: string;
}

function loadRules(
  io: CliIo,
  path: string,
  family?: Family,
): { file: RulesetFile; text: string; diagnostics: readonly Diagnostic[] } {
  const text = io.readFile(path);
  const parsed = parseIptablesSave(text, path, family ? { family } : {});
  if (parsed.value.dumps.every((d) => d.tables.length === 0)) {
    io.stderr(renderDiagnostics(parsed.diagnostics, text));
    throw new CliError(
      `Cannot trace "${path}": it holds no iptables table (expected iptables-save output with "*nat", "*filter", ...)`,
    );
  }
  return { file: parsed.value, text, diagnostics: parsed.diagnostics };
}

function address(text: string, what: string): { family: Family; addr: number | bigint } {
  const a = parseIp(text);
  if (!a) throw new CliError(`Invalid ${what} "${text}": expected an IPv4 or IPv6 address`);
  return a;
}

function number(text: string | undefined, what: string, max: number, fallback: number): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text) || Number(text) > max)
    throw new CliError(`Invalid ${what} "${text}": expected a number from 0 to ${max}`);
  return Number(text);
}

export function buildPacket(o: TraceOpts): Packet {
  const src = address(o.src, "--src");
  const dst = address(o.dst, "--dst");
  if (src.family !== dst.family) throw new CliError("--src and --dst must be of the same IP family");
  const proto = parseProto(o.proto);
  if (proto === null)
    throw new CliError(
      `Unknown protocol "${o.proto}": expected tcp, udp, icmp, a name from /etc/protocols or a number`,
    );
  const ports = proto === 6 || proto === 17 || proto === 132 || proto === 136;
  const isIcmp = proto === 1 || proto === 58;
  let icmpType = -1;
  let icmpCode = -1;
  if (isIcmp) {
    const m = /^(\d+)(?:\/(\d+))?$/.exec(o.icmpType ?? (proto === 1 ? "8" : "128"));
    if (!m) throw new CliError(`Invalid --icmp-type "${o.icmpType}": expected TYPE or TYPE/CODE`);
    icmpType = Number(m[1]);
    icmpCode = Number(m[2] ?? 0);
  }
  const flags = proto === 6 ? parseTcpFlags(o.tcpFlags) : 0;
  if (flags === null)
    throw new CliError(`Invalid --tcp-flags "${o.tcpFlags}": expected names like SYN or SYN,ACK`);
  const mark = o.mark === undefined ? 0 : parseU32(o.mark);
  if (mark === null)
    throw new CliError(`Invalid --mark "${o.mark}": expected a 32-bit number (0x4000 or 16384)`);
  return makePacket({
    family: src.family,
    proto,
    src: src.addr,
    dst: dst.addr,
    sport: ports ? number(o.sport, "--sport", 65535, 50000) : 0,
    dport: ports ? number(o.dport, "--dport", 65535, 80) : 0,
    tcpFlags: flags,
    icmpType,
    icmpCode,
    icmpId: isIcmp ? number(o.sport, "--sport (the ICMP id)", 65535, 1) : -1,
    length: number(o.length, "--length", 65535, 60),
    mark,
  });
}

function runTrace(io: CliIo, o: TraceOpts): number {
  if (o.in && o.fromHost)
    throw new CliError(
      "Give either --in IFACE (a packet arriving) or --from-host (a packet the host sends), not both",
    );
  if (!o.in && !o.fromHost) throw new CliError("Say where the packet comes from: --in IFACE, or --from-host");
  if (!["text", "json"].includes(o.output))
    throw new CliError(`Invalid -o "${o.output}": expected text or json`);
  const packet = buildPacket(o);
  const family = packet.family;
  const { file, text, diagnostics } = loadRules(io, o.rules, family);
  let ipsets: IpSetRegistry | null = null;
  const allDiags: Diagnostic[] = [...diagnostics];
  if (o.ipset) {
    const ipText = io.readFile(o.ipset);
    const parsed = parseIpsetSave(ipText, o.ipset);
    ipsets = parsed.value;
    if (parsed.diagnostics.length) io.stderr(renderDiagnostics(parsed.diagnostics, ipText));
  }
  const compiled = compileRuleset(file, { family, ipsets, sourceName: o.rules });
  allDiags.push(...compiled.diagnostics);
  if (allDiags.length) io.stderr(renderDiagnostics(allDiags, text));
  if (compiled.tables.size === 0)
    throw new CliError(`"${o.rules}" holds no IPv${family} tables for this IPv${family} packet`);

  const localIps = o.localIp.map((t) => address(t, "--local-ip"));
  const ifaceAddrs = new Map<string, { family: Family; addr: number | bigint }>();
  for (const spec of o.ifaceAddr) {
    const eq = spec.indexOf("=");
    if (eq <= 0)
      throw new CliError(`Invalid --iface-addr "${spec}": expected IFACE=IP, e.g. azure0=10.13.76.4`);
    ifaceAddrs.set(spec.slice(0, eq), address(spec.slice(eq + 1), "--iface-addr address"));
  }
  const host = staticHost({ localIps, ifaceAddrs });
  const input = {
    packet,
    inIface: o.fromHost ? null : (o.in as string),
    outIface: o.out ?? (o.fromHost ? "eth0" : (o.in as string)),
    physIn: o.physdevIn ?? null,
    physOut: o.physdevOut ?? null,
  };
  const seed = number(o.seed, "--seed", 0xffffffff, 1);
  const traceOpts = { host, seed, maxBranches: number(o.maxPaths, "--max-paths", 1_000_000, 4096) };
  const result = o.sample
    ? { outcomes: [traceSampled(compiled, input, traceOpts)], truncated: false }
    : traceExact(compiled, input, traceOpts);
  const where = o.fromHost ? "sent by the host" : `arriving on ${o.in}`;
  if (o.output === "json") {
    io.stdout(
      `${JSON.stringify(traceJson(result.outcomes, 0, { truncated: result.truncated, input: packet }), null, 2)}\n`,
    );
  } else {
    io.stdout(
      renderTraceText(result.outcomes, { input: packet, where, now: 0, truncated: result.truncated }),
    );
  }
  return result.outcomes.every((x) => x.traversal.verdict === "ACCEPT") ? 0 : 1;
}

export function registerIptables(program: Command, io: CliIo, setExit: (code: number) => void): void {
  const ipt = program
    .command("iptables")
    .description("Work with iptables-save dumps: trace a packet, check a dump, write it back")
    .addHelpText(
      "after",
      "\nExample:\n  packetwalk iptables trace --rules examples/seed-cluster.rules --src 109.125.120.58 --dst 51.144.176.251 --dport 80 --in azure0 --local-ip 10.13.76.4\n",
    );

  ipt
    .command("trace")
    .description(
      "Trace one packet through an iptables-save dump: every table, chain and rule it hits, NAT, conntrack, verdict",
    )
    .requiredOption("--rules <file>", "iptables-save or ip6tables-save output (- for stdin)")
    .requiredOption("--src <ip>", "source address")
    .requiredOption("--dst <ip>", "destination address")
    .option("-p, --proto <proto>", "protocol: tcp, udp, icmp, or a number", "tcp")
    .option("--sport <port>", "source port (ICMP: the echo id)", undefined)
    .option("--dport <port>", "destination port (default 80)")
    .option("--tcp-flags <flags>", "TCP flags of the packet", "SYN")
    .option("--icmp-type <type[/code]>", "ICMP type and code (default echo-request)")
    .option("--in <iface>", "interface the packet arrives on (starts at PREROUTING)")
    .option("--from-host", "the host itself sends the packet (starts at OUTPUT)")
    .option("--out <iface>", "interface a forwarded or sent packet leaves by (default: --in, or eth0)")
    .option("--physdev-in <port>", "bridge port the packet came in by (-m physdev)")
    .option("--physdev-out <port>", "bridge port it goes out by (-m physdev)")
    .option("--local-ip <ip>", "one of the host's own addresses (repeatable)", collect, [])
    .option("--iface-addr <iface=ip>", "an interface's address, used by MASQUERADE (repeatable)", collect, [])
    .option("--mark <mark>", "the packet's skb mark on arrival")
    .option("--ipset <file>", "ipset save output, for -m set")
    .option("--length <bytes>", "packet length for counters", "60")
    .option("--sample", "one run with random choices drawn from --seed, instead of every path")
    .option("--seed <n>", "seed for random draws and NAT port choice", "1")
    .option("--max-paths <n>", "stop enumerating after this many paths", "4096")
    .option("-o, --output <format>", "text or json", "text")
    .addHelpText(
      "after",
      `
Every statistic --mode random match is a branch: the output lists each distinct path with its
exact probability (the kernel's 31-bit odds), and the paths sum to 1. Exit status: 0 when every
path is accepted, 1 when some path is dropped or rejected, 2 for bad input.

Examples:
  # The seed's packet: the author's laptop to the LoadBalancer VIP, on the AKS node
  packetwalk iptables trace --rules examples/seed-cluster.rules \\
    --src 109.125.120.58 --sport 51535 --dst 51.144.176.251 --dport 80 --in azure0 --local-ip 10.13.76.4

  # The same with externalTrafficPolicy: Local, as JSON
  packetwalk iptables trace --rules examples/seed-local.rules \\
    --src 167.220.196.180 --dst 13.93.66.174 --dport 80 --in azure0 --local-ip 10.13.76.4 -o json

  # The node itself calling the node port
  packetwalk iptables trace --rules examples/seed-cluster.rules --from-host \\
    --src 10.13.76.4 --dst 10.13.76.4 --dport 30064 --local-ip 10.13.76.4
`,
    )
    .action((o: TraceOpts) => setExit(runTrace(io, o)));

  ipt
    .command("check")
    .description("Parse a dump and report every line that cannot be read or modelled")
    .requiredOption("--rules <file>", "iptables-save output (- for stdin)")
    .option("--limit <n>", "how many problems to show in full", "20")
    .addHelpText("after", "\nExample:\n  packetwalk iptables check --rules /tmp/node.iptables\n")
    .action((o: { rules: string; limit: string }) => {
      const text = io.readFile(o.rules);
      const parsed = parseIptablesSave(text, o.rules);
      const rules = parsed.value.dumps
        .flatMap((d) => d.tables)
        .flatMap((t) => t.chains)
        .reduce((n, c) => n + c.rules.length, 0);
      const tables = parsed.value.dumps.flatMap((d) =>
        d.tables.map((t) => `${t.name}${d.family === 6 ? " (IPv6)" : ""}`),
      );
      io.stdout(
        `${o.rules}: ${parsed.value.dumps.length} dump(s), tables ${tables.join(", ") || "none"}, ${rules} rules\n`,
      );
      const text2 = renderDiagnostics(parsed.diagnostics, text, number(o.limit, "--limit", 100000, 20));
      io.stdout(text2 || "no problems found\n");
      setExit(parsed.diagnostics.some((d) => d.severity === "error") ? 2 : 0);
    });

  ipt
    .command("save")
    .description("Write a dump back the way iptables-save prints it (normalises iptables-restore input)")
    .requiredOption("--rules <file>", "iptables-save or iptables-restore input (- for stdin)")
    .option("-c, --counters", "print [packets:bytes] before each rule, as iptables-save -c")
    .option("--kernel-order", "built-in chains first, then user chains by name, as iptables-legacy-save")
    .addHelpText(
      "after",
      "\nExample:\n  packetwalk iptables save --rules kube-proxy-restore-input.txt --kernel-order\n",
    )
    .action((o: { rules: string; counters?: boolean; kernelOrder?: boolean }) => {
      const text = io.readFile(o.rules);
      const parsed = parseIptablesSave(text, o.rules);
      if (parsed.diagnostics.length) io.stderr(renderDiagnostics(parsed.diagnostics, text));
      io.stdout(
        formatRulesetFile(parsed.value, {
          counters: !!o.counters,
          order: o.kernelOrder ? "kernel" : "declared",
        }),
      );
      setExit(parsed.diagnostics.some((d) => d.severity === "error") ? 2 : 0);
    });
}
