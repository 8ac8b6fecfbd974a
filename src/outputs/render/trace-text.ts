import { toNumber } from "../../core/dyadic.ts";
import { formatIp } from "../../core/ip.ts";
import type { TraceOutcome } from "../../dataplane/sim/netfilter/trace.ts";
import { formatStoredProbability } from "../../model/netfilter/numbers.ts";
import { protoName } from "../../model/netfilter/protocols.ts";
import type { Packet } from "../../model/packet.ts";
import { formatConntrackEntry } from "./conntrack-list.ts";

/**
 * The human story of a trace, in the order the kernel does things: each table and chain the
 * packet crosses, the rules that matched (with their line in the dump), what they did, the NAT and
 * conntrack entry made, and the verdict. One section per distinct path with its probability.
 */

const TCP_NAMES: readonly [number, string][] = [
  [2, "SYN"],
  [16, "ACK"],
  [1, "FIN"],
  [4, "RST"],
  [8, "PSH"],
  [32, "URG"],
];

export function describePacket(p: Packet): string {
  const ports = p.proto === 6 || p.proto === 17 || p.proto === 132 || p.proto === 136;
  const src = formatIp(p.family, p.src);
  const dst = formatIp(p.family, p.dst);
  const addr = (a: string, port: number) => (p.family === 6 ? `[${a}]:${port}` : `${a}:${port}`);
  let s = `${protoName(p.proto)} ${ports ? addr(src, p.sport) : src} -> ${ports ? addr(dst, p.dport) : dst}`;
  if (p.proto === 6) {
    const flags = TCP_NAMES.filter(([b]) => p.tcpFlags & b).map(([, n]) => n);
    s += ` [${flags.join(",") || "none"}]`;
  }
  if (p.proto === 1 || p.proto === 58) s += ` type ${p.icmpType} code ${p.icmpCode}`;
  if (p.mark) s += ` mark 0x${p.mark.toString(16)}`;
  return s;
}

/** A probability both exactly (kernel odds) and readably. */
export function formatProbability(o: TraceOutcome): string {
  const n = toNumber(o.probability);
  const pct = `${(n * 100).toFixed(n === 1 || n === 0 ? 0 : 6).replace(/\.?0+$/, "")}%`;
  return `${n} (${pct})`;
}

export function renderTraceText(
  outcomes: readonly TraceOutcome[],
  opts: { input: Packet; where: string; now: number; truncated: boolean },
): string {
  const out: string[] = [];
  out.push(`Packet: ${describePacket(opts.input)} ${opts.where}`);
  const paths = outcomes.length === 1 ? "1 path" : `${outcomes.length} paths`;
  out.push(`${paths}${opts.truncated ? " (stopped: too many branches)" : ""}`);
  outcomes.forEach((o, i) => {
    const t = o.traversal;
    out.push("");
    out.push(
      `== Path ${i + 1} of ${outcomes.length}: probability ${formatProbability(o)}, ${t.verdict}${destination(o)}`,
    );
    for (const c of o.choices) {
      out.push(
        `   random: line ${c.rule.line} (${c.rule.chain}) ${c.matched ? "matched" : "did not match"}, p=${formatStoredProbability(Number(c.probability.num) * 2 ** (31 - c.probability.exp))}`,
      );
    }
    for (const step of t.steps) {
      if (step.kind === "table") {
        if (!step.hits || step.hits.length === 0) continue;
        out.push(`${step.table} ${step.hook}:`);
        for (const h of step.hits) {
          const at = h.line > 0 ? `line ${h.line}` : "policy";
          out.push(`   ${at.padEnd(9)} ${h.rule}`);
          out.push(`   ${"".padEnd(9)}   => ${h.effect}`);
        }
      } else {
        out.push(step.text());
        // The entry as `conntrack -L` would list it, right where it is confirmed.
        if (step.confirmed) out.push(`   ${formatConntrackEntry(step.confirmed, opts.now)}`);
      }
    }
    out.push(`Leaves as: ${describePacket(t.packet)}`);
    for (const u of t.uncertain) out.push(`uncertain at line ${u.line} (${u.chain}): ${u.reason}`);
  });
  return `${out.join("\n")}\n`;
}

function destination(o: TraceOutcome): string {
  const t = o.traversal;
  if (t.verdict !== "ACCEPT") return t.rejectWith ? ` (${t.rejectWith})` : "";
  const p = t.packet;
  const to = `${formatIp(p.family, p.dst)}${p.proto === 6 || p.proto === 17 ? `:${p.dport}` : ""}`;
  if (t.disposition === "local") return ` to local ${to}`;
  return ` to ${to} via ${t.outIface}`;
}
