import { formatIpv4 } from "../core/ip.ts";
import { probeAnswerer } from "../dataplane/sim/world/probe-answer.ts";
import { WALK_DELAY_US, type WalkPath, walkPaths } from "../dataplane/sim/world/walk-paths.ts";
import { World } from "../dataplane/sim/world/world.ts";
import type { Rule } from "../model/netfilter/ruleset.ts";
import type { Twin } from "../model/twin.ts";
import { ipv4Tables, kernelChains } from "../outputs/emulate/node/iptables-save.ts";
import { formatConntrackEntry } from "../outputs/render/conntrack-list.ts";
import { exactText, walkReport } from "../outputs/render/walk-json.ts";
import type { VerifyTarget } from "./verify-flows.ts";

/**
 * The simulator's side of `lab verify`: for one flow, every path the twin allows once the load
 * balancer's backend is the one the lab's hash chose (kube-proxy's coins enumerated exactly), each
 * with what the lab can be compared on: the exchange's outcome, the pod and node reached, the
 * source the pod saw, the conntrack entries left on each node and each rule's packet count. The
 * worlds run without the LB's probes (pinned backend, no probe packets in the counters: the lab
 * pauses its prober while it measures). Pure.
 */

export interface SimPath {
  readonly probability: number;
  readonly probabilityText: string;
  /** The TCP exchange's outcome: completed, refused, unreachable, reset, timeout... */
  readonly outcome: string;
  readonly pod: string | null;
  readonly node: string | null;
  readonly source: string | null;
  /** Per node, its conntrack entries as ctKey() writes them, sorted. */
  readonly conntrack: ReadonlyMap<string, readonly string[]>;
  /** Per node, packets per rule (ruleKey()), rules that counted only. */
  readonly counters: ReadonlyMap<string, ReadonlyMap<string, number>>;
}

/** A rule by position, as both iptables-save -c and the model can name it: `nat KUBE-SERVICES #3`. */
export function ruleKey(table: string, chain: string, index: number): string {
  return `${table} ${chain} #${index + 1}`;
}

/** A chain's policy counter: `filter FORWARD policy`. */
export function policyKey(table: string, chain: string): string {
  return `${table} ${chain} policy`;
}

/**
 * A conntrack -L line without what differs between two runs of the same flow: the seconds left
 * (the lab lists later than the twin), mark, zone, use and id.
 */
export function ctKey(line: string): string {
  const words = line.trim().split(/\s+/);
  // proto name, proto number, seconds left, then the rest.
  const rest = words.slice(3).filter((w) => !/^(mark|use|zone|id|secctx|labels)=/.test(w));
  return [words[0], ...rest].join(" ");
}

/** The fields of a ctKey line's two tuples: [orig, reply], each src, dst, sport, dport. */
function tuples(key: string): { src: string; dst: string; sport: string; dport: string }[] {
  const all = (name: string) =>
    [...key.matchAll(new RegExp(`\\b${name}=(\\S+)`, "g"))].map((m) => m[1] as string);
  const [src, dst, sport, dport] = [all("src"), all("dst"), all("sport"), all("dport")];
  return [0, 1].map((i) => ({
    src: src[i] ?? "",
    dst: dst[i] ?? "",
    sport: sport[i] ?? "",
    dport: dport[i] ?? "",
  }));
}

/**
 * A flow's entries among a node's (ctKey lines): those whose original direction leaves from the
 * client's port, then on the next node those a source NAT made of them (from the NAT's address and
 * port, as the first node's reply tuple says), each with a randomly drawn NAT port written `*`
 * (kube-proxy's MASQUERADE --random-fully: only that the port changed can agree, not the number).
 */
export function flowEntries(
  perNode: ReadonlyMap<string, readonly string[]>,
  sport: number,
): Map<string, string[]> {
  const found = new Map<string, string[]>();
  const natted = new Set<string>();
  const take = (node: string, line: string) => {
    const list = found.get(node) ?? [];
    if (!list.includes(line)) list.push(line);
    found.set(node, list);
  };
  for (const [node, lines] of perNode)
    for (const l of lines) {
      const [o, r] = tuples(l);
      if (o?.sport !== String(sport) || !r) continue;
      take(node, l);
      if (r.dport !== o.sport) natted.add(`${r.dst}:${r.dport}`);
    }
  for (const [node, lines] of perNode)
    for (const l of lines) {
      const [o] = tuples(l);
      if (o && natted.has(`${o.src}:${o.sport}`)) take(node, l);
    }
  const out = new Map<string, string[]>();
  for (const [node, lines] of found) out.set(node, lines.map((l) => starNatPort(l, natted)).sort());
  return out;
}

function starNatPort(line: string, natted: ReadonlySet<string>): string {
  let out = line;
  for (const hp of natted) {
    const port = hp.split(":")[1] as string;
    out = out.replaceAll(` sport=${port} `, " sport=* ").replaceAll(` dport=${port} `, " dport=* ");
    if (out.endsWith(` dport=${port}`)) out = `${out.slice(0, -` dport=${port}`.length)} dport=*`;
  }
  return out;
}

export interface SimContext {
  readonly twin: Twin;
  readonly seed: number;
  /** Per node: each rule object's position key. */
  readonly keys: ReadonlyMap<string, ReadonlyMap<Rule, string>>;
  /** Per node: each key's rule as iptables-save writes it (for the report). */
  readonly texts: ReadonlyMap<string, ReadonlyMap<string, string>>;
  readonly saved: ReadonlyMap<string, string>;
}

export function simContext(twin: Twin, seed: number, saved: ReadonlyMap<string, string>): SimContext {
  const keys = new Map<string, Map<Rule, string>>();
  const texts = new Map<string, Map<string, string>>();
  for (const n of twin.nodes) {
    const k = new Map<Rule, string>();
    for (const t of ipv4Tables(n))
      for (const c of kernelChains(t)) {
        c.rules.forEach((r, i) => {
          k.set(r, ruleKey(t.name, c.name, i));
        });
      }
    keys.set(n.name, k);
    texts.set(n.name, saveTexts(saved.get(n.name) ?? ""));
  }
  return { twin, seed, keys, texts, saved };
}

/** iptables-save text → each rule's (and policy's) key → its line. */
export function saveTexts(save: string): Map<string, string> {
  const out = new Map<string, string>();
  let table = "";
  const seen = new Map<string, number>();
  for (const raw of save.split("\n")) {
    const l = raw.replace(/^\[\d+:\d+\] /, "");
    if (l.startsWith("*")) {
      table = l.slice(1);
      seen.clear();
    } else if (l.startsWith(":")) {
      const [chain] = l.slice(1).split(" ");
      out.set(policyKey(table, chain as string), l);
    } else if (l.startsWith("-A ")) {
      const chain = l.split(" ")[1] as string;
      const i = seen.get(chain) ?? 0;
      seen.set(chain, i + 1);
      out.set(ruleKey(table, chain, i), l);
    }
  }
  return out;
}

/**
 * The flow's paths in the twin, with `backend` (a node IP) as the LB's choice when it goes through
 * one. With `probes` the LB's probes run (a frontend with no healthy backend drops the flow); their
 * packets then count too, so the caller leaves such a run's counters out.
 */
export function simFlow(
  ctx: SimContext,
  target: VerifyTarget,
  sport: number,
  backend?: number,
  probes = false,
): SimPath[] {
  const { paths } = walkPaths(ctx.twin, {
    from: target.from,
    ip: target.fromIp,
    sport,
    to: target.to,
    proto: "tcp",
    seed: ctx.seed,
    probes,
    ...(backend === undefined ? {} : { backend }),
  });
  const report = walkReport({
    twin: ctx.twin,
    scenario: ctx.twin.scenario.name,
    from: `${formatIpv4(target.fromIp)}:${sport}`,
    to: target.to,
    proto: "tcp",
    paths,
    truncated: false,
    saved: ctx.saved,
  });
  return paths.map((p, i) => {
    const r = report.paths[i];
    return {
      probability: r?.probability ?? 0,
      probabilityText: exactText(p.probability),
      outcome: p.outcome,
      pod: r?.pod ?? null,
      node: r?.node ?? null,
      source: r?.sourceSeenByPod ?? null,
      conntrack: conntrackOf(p, sport),
      counters: countersOf(ctx, p),
    };
  });
}

/** Each node's entries of the flow, chosen as the lab's are (flowEntries). */
function conntrackOf(p: WalkPath, sport: number): Map<string, string[]> {
  const nowMs = Math.floor(p.time / 1000);
  const all = new Map<string, string[]>();
  for (const [name, stack] of p.world.nodes)
    all.set(
      name,
      stack.conntrack.list().map((e) => ctKey(formatConntrackEntry(e, nowMs))),
    );
  return flowEntries(all, sport);
}

function countersOf(ctx: SimContext, p: WalkPath): Map<string, Map<string, number>> {
  const out = new Map<string, Map<string, number>>();
  for (const [name, stack] of p.world.nodes) {
    const keys = ctx.keys.get(name);
    const m = new Map<string, number>();
    for (const [compiled, c] of stack.state.ruleCounters) {
      const key = keys?.get(compiled.rule);
      if (key && c.packets > 0n) m.set(key, (m.get(key) ?? 0) + Number(c.packets));
    }
    for (const [k, c] of stack.state.policyCounters) {
      const [table, chain] = k.split("/");
      if (c.packets > 0n) m.set(policyKey(table as string, chain as string), Number(c.packets));
    }
    if (m.size > 0) out.set(name, m);
  }
  return out;
}

/**
 * The backends the twin's probes find healthy for a frontend when the walk starts (node IPs, pool
 * order); null when the address and port are no floating-IP rule's.
 */
export function simHealthy(twin: Twin, seed: number, vip: number, port: number): string[] | null {
  const start = twin.now * 1_000_000;
  const world = new World(twin, { seed, start, probe: probeAnswerer(seed) });
  const probes = world.fabric.probes;
  const rule = world.fabric.topology.rules.find(
    (r) => r.frontendIp === vip && r.rule.frontendPort === port && r.rule.protocol.toLowerCase() !== "udp",
  );
  if (!rule) return null;
  const nowMs = Math.floor((start + WALK_DELAY_US) / 1000);
  if (!probes) return rule.backends.map((b) => b.nodeIpText);
  probes.advance(nowMs);
  return probes.healthyBackends(rule, nowMs).map((b) => b.nodeIpText);
}
