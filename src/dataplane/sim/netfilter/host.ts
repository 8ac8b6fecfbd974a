import { formatIp } from "../../../core/ip.ts";
import type { Rng } from "../../../core/rng.ts";
import type { ConntrackEntry, CtDir, CtState } from "../../../model/conntrack.ts";
import type { Rule, TableName } from "../../../model/netfilter/ruleset.ts";
import { type Packet, PROTO } from "../../../model/packet.ts";
import { type ConntrackTable, tupleOf } from "../conntrack/table.ts";
import type { CompiledRule, CompiledRuleset } from "./compile.ts";
import type { EngineState, Env, Hook, HostAddresses } from "./env.ts";
import { type Binding, chooseDnat, chooseSnat } from "./nat.ts";
import { type RuleHit, runTable, type TableResult } from "./run-table.ts";

/**
 * One host's netfilter pipeline for one packet: the hooks and tables in the kernel's order
 * (net/ipv4/ip_input.c, ip_forward.c, ip_output.c; priorities in netfilter_ipv4.h), conntrack after
 * raw, NAT decided on a connection's first packet and replayed from its entry afterwards, and the
 * routing decision between PREROUTING and INPUT/FORWARD. The route of a packet that is not for
 * the host is asked of the caller (HostContext.route) after PREROUTING's DNAT, as ip_rcv_finish
 * routes the translated destination; without a router the caller's `outIface` stands.
 */

/** Tables of each hook, by priority: raw -300, mangle -150, nat (DNAT) -100, filter 0, security 50, nat (SNAT) 100. */
const HOOK_TABLES: Readonly<Record<Hook, readonly TableName[]>> = {
  PREROUTING: ["raw", "mangle", "nat"],
  INPUT: ["mangle", "filter", "security", "nat"],
  FORWARD: ["mangle", "filter", "security"],
  OUTPUT: ["raw", "mangle", "nat", "filter", "security"],
  POSTROUTING: ["mangle", "nat"],
};

export interface HostStep {
  readonly kind: "table" | "conntrack" | "nat" | "route" | "verdict" | "note";
  readonly hook?: Hook;
  readonly table?: TableName;
  /** What happened, in words. A function: the words are only built when someone reads them. */
  readonly text: () => string;
  /** The entry confirmed at this step, for the conntrack line a renderer may print. */
  readonly confirmed?: ConntrackEntry;
  readonly hits?: readonly RuleHit[];
}

export interface Uncertainty {
  readonly line: number;
  readonly chain: string;
  readonly reason: string;
}

export interface NatChange {
  readonly from: { readonly addr: string; readonly port: number };
  readonly to: { readonly addr: string; readonly port: number };
  readonly by: string;
}

export interface HostTraversal {
  readonly verdict: "ACCEPT" | "DROP" | "REJECT";
  /** Where an accepted packet went: to a local socket, forwarded, or sent out by the host. */
  readonly disposition: "local" | "forward" | "output" | "dropped" | "rejected";
  readonly rejectWith: string | null;
  readonly stoppedAt: { readonly hook: Hook; readonly table: TableName | null } | null;
  /** The packet as it left (or as it was when it was dropped or rejected). */
  readonly packet: Packet;
  readonly outIface: string | null;
  /** The bridge port a bridged packet leaves by (`-m physdev --physdev-out`), when known. */
  readonly physOut: string | null;
  /** An ICMP error's quoted packet after NAT's translation (HostInput.inner), else null. */
  readonly inner: Packet | null;
  readonly dnat: NatChange | null;
  readonly snat: NatChange | null;
  readonly ctState: CtState;
  readonly conntrack: ConntrackEntry | null;
  /** The packet's direction in that entry. */
  readonly ctDir: CtDir | null;
  readonly steps: readonly HostStep[];
  readonly hits: readonly RuleHit[];
  readonly uncertain: readonly Uncertainty[];
}

export interface HostInput {
  readonly packet: Packet;
  /** Receiving interface; null for a packet the host itself sends (starts at OUTPUT). */
  readonly inIface: string | null;
  /** Interface a forwarded or sent packet leaves by. */
  readonly outIface: string | null;
  readonly physIn?: string | null;
  readonly physOut?: string | null;
  /**
   * A frame a bridge is switching (br_netfilter): it keeps `outIface`/`physOut` unless DNAT changed
   * its destination, which makes br_nf_pre_routing_finish route it (HostContext.route).
   */
  readonly bridged?: boolean;
  /** An ICMP error's quoted packet: conntrack relates the error by it and NAT translates it. */
  readonly inner?: Packet;
  /**
   * A packet the host makes in answer to another (REJECT's RST or ICMP error): nf_ct_attach gives it
   * that packet's entry, RELATED, in the other direction, instead of a conntrack lookup.
   */
  readonly attached?: { readonly entry: ConntrackEntry; readonly dir: CtDir };
}

/** Where the routing decision sends a packet: the device, and for a bridge the port (by the next hop's MAC). */
export interface RouteDecision {
  readonly out: string;
  readonly physOut?: string | null;
}

export interface HostContext {
  readonly rules: CompiledRuleset;
  readonly host: HostAddresses;
  readonly conntrack: ConntrackTable;
  readonly state: EngineState;
  readonly now: number;
  readonly rng: Rng;
  /** net.ipv4.ip_forward; a node forwarding pod traffic has it on. */
  readonly forwarding?: boolean;
  readonly choose: (stored: number, rule: Rule) => boolean;
  /**
   * The routing table: where a packet that is not for this host goes (ip_route_input after
   * PREROUTING, ip_route_me_harder after OUTPUT's DNAT), given the packet as NAT left it; null: no
   * route (the packet is dropped). Absent: the caller's `outIface` is the route.
   */
  readonly route?: (packet: Packet, input: HostInput) => RouteDecision | null;
}

export function traverseHost(ctx: HostContext, input: HostInput): HostTraversal {
  const p: Packet = { ...input.packet };
  const steps: HostStep[] = [];
  const hits: RuleHit[] = [];
  const uncertain: Uncertainty[] = [];
  const fam = p.family;
  const local = input.inIface === null;
  let dnat: NatChange | null = null;
  let snat: NatChange | null = null;
  let outIface: string | null = input.outIface;
  let physOut: string | null = input.physOut ?? null;
  const inner: Packet | null = input.inner ? { ...input.inner } : null;

  const env: Env = {
    hook: local ? "OUTPUT" : "PREROUTING",
    inIface: input.inIface,
    outIface: local ? outIface : null,
    physIn: input.physIn ?? null,
    physOut: input.physOut ?? null,
    ct: null,
    ctDir: "ORIGINAL",
    ctState: "INVALID",
    untracked: false,
    now: ctx.now,
    host: ctx.host,
    choose: ctx.choose,
    uncertain: (rule, reason) => {
      if (!uncertain.some((u) => u.line === rule.line && u.chain === rule.chain && u.reason === reason)) {
        uncertain.push({ line: rule.line, chain: rule.chain, reason });
      }
    },
    state: ctx.state,
  };

  const addrPort = (addr: number | bigint, port: number) => ({ addr: formatIp(fam, addr), port });
  let dstManipDone = false;
  let srcManipDone = false;

  const finish = (
    verdict: HostTraversal["verdict"],
    disposition: HostTraversal["disposition"],
    stoppedAt: HostTraversal["stoppedAt"],
    rejectWith: string | null = null,
  ): HostTraversal => {
    const out = outIface;
    steps.push({ kind: "verdict", text: () => verdictText(verdict, disposition, stoppedAt, out) });
    return {
      verdict,
      disposition,
      rejectWith,
      stoppedAt,
      packet: p,
      outIface: disposition === "forward" || disposition === "output" ? outIface : null,
      physOut,
      inner,
      dnat,
      snat,
      ctState: env.untracked ? "UNTRACKED" : env.ctState,
      conntrack: env.ct,
      ctDir: env.ct ? env.ctDir : null,
      steps,
      hits,
      uncertain,
    };
  };

  /** NAT of an established connection: rewrite from the entry (nf_nat_packet). */
  const replayNat = (manip: "dst" | "src") => {
    const ct = env.ct;
    if (!ct) return;
    const original = env.ctDir === "ORIGINAL";
    if (manip === "dst") {
      // Original direction: apply DNAT. Reply direction: undo SNAT.
      const applies = original ? ct.status.dstNat : ct.status.srcNat;
      if (!applies) return;
      const from = addrPort(p.dst, p.dport);
      p.dst = original ? ct.reply.src : ct.orig.src;
      p.dport = original ? ct.reply.sport : ct.orig.sport;
      const change = {
        from,
        to: addrPort(p.dst, p.dport),
        by: `conntrack entry (${original ? "DNAT" : "reverse SNAT"})`,
      };
      if (original) dnat = change;
      steps.push({
        kind: "nat",
        text: () =>
          `destination ${from.addr}:${from.port} -> ${change.to.addr}:${change.to.port} from the ${change.by}`,
      });
    } else {
      const applies = original ? ct.status.srcNat : ct.status.dstNat;
      if (!applies) return;
      const from = addrPort(p.src, p.sport);
      p.src = original ? ct.reply.dst : ct.orig.dst;
      p.sport = original ? ct.reply.dport : ct.orig.dport;
      const change = {
        from,
        to: addrPort(p.src, p.sport),
        by: `conntrack entry (${original ? "SNAT" : "reverse DNAT"})`,
      };
      if (original) snat = change;
      steps.push({
        kind: "nat",
        text: () =>
          `source ${from.addr}:${from.port} -> ${change.to.addr}:${change.to.port} from the ${change.by}`,
      });
    }
  };

  /**
   * NAT of a related packet. An ICMP error (nf_nat_icmp_reply_translation): when the entry has the
   * NAT this hook undoes in the packet's direction, the quoted packet gets the opposite manip from
   * the other direction's tuple, and the outer header is made the reply to it. Anything else (REJECT's
   * RST) is rewritten as a packet of the connection in its direction (nf_nat_packet).
   */
  const relatedNat = (manip: "dst" | "src") => {
    const ct = env.ct;
    if (!ct) return;
    if (p.proto !== PROTO.icmp && p.proto !== PROTO.icmpv6) {
      replayNat(manip);
      return;
    }
    const original = env.ctDir === "ORIGINAL";
    // The NAT this hook does in the original direction; in the reply direction it undoes the other.
    if (!ct.status[(manip === "src") === original ? "srcNat" : "dstNat"]) return;
    const other = original ? ct.reply : ct.orig;
    if (inner) {
      if (manip === "dst") {
        inner.src = other.src;
        if (inner.proto !== PROTO.icmp && inner.proto !== PROTO.icmpv6) inner.sport = other.sport;
      } else {
        inner.dst = other.dst;
        if (inner.proto !== PROTO.icmp && inner.proto !== PROTO.icmpv6) inner.dport = other.dport;
      }
    }
    // The outer header: the inverse of the other direction's tuple, this hook's manip.
    const from = addrPort(manip === "dst" ? p.dst : p.src, 0);
    if (manip === "dst") p.dst = other.src;
    else p.src = other.dst;
    const to = addrPort(manip === "dst" ? p.dst : p.src, 0);
    steps.push({
      kind: "nat",
      text: () =>
        `${manip === "dst" ? "destination" : "source"} ${from.addr} -> ${to.addr} of a related ICMP error, and its quoted packet, from conntrack entry #${ct.id}`,
    });
  };

  /** Runs a hook's tables; returns a terminal traversal or null to go on. */
  const runHook = (hook: Hook, tables: readonly TableName[] = HOOK_TABLES[hook]): HostTraversal | null => {
    env.hook = hook;
    for (const table of tables) {
      if (table === "nat") {
        const isDnatHook = hook === "PREROUTING" || hook === "OUTPUT";
        const done = isDnatHook ? dstManipDone : srcManipDone;
        if (env.untracked || !env.ct) continue; // NAT needs a conntrack entry
        if (env.ctState === "RELATED") {
          // nf_nat_inet_fn: a related packet never walks the nat table; its entry's NAT applies.
          if (!done) relatedNat(isDnatHook ? "dst" : "src");
          if (isDnatHook) dstManipDone = true;
          else srcManipDone = true;
          continue;
        }
        if (done || env.ct.status.confirmed) {
          if (!done) replayNat(isDnatHook ? "dst" : "src");
          if (isDnatHook) dstManipDone = true;
          else srcManipDone = true;
          continue;
        }
      }
      if (!ctx.rules.tables.has(table)) continue;
      const tableHits: RuleHit[] = [];
      const result: TableResult = runTable(ctx.rules, table, hook, p, env, tableHits);
      for (const h of tableHits) hits.push(h);
      steps.push(new TableStep(hook, table, tableHits));
      if (result.verdict === "DROP") return finish("DROP", "dropped", { hook, table });
      if (result.verdict === "REJECT")
        return finish("REJECT", "rejected", { hook, table }, result.reject ?? null);
      if (table === "nat") {
        const isDnatHook = hook === "PREROUTING" || hook === "OUTPUT";
        if (isDnatHook) dstManipDone = true;
        else srcManipDone = true;
        if (result.verdict === "NAT") {
          const stop = applyNat(result, hook, isDnatHook);
          if (stop) return stop;
        }
      }
    }
    return null;
  };

  const applyNat = (
    result: Extract<TableResult, { verdict: "NAT" }>,
    hook: Hook,
    isDnatHook: boolean,
  ): HostTraversal | null => {
    const ct = env.ct as ConntrackEntry;
    const t = result.target;
    const natCtx = {
      rng: ctx.rng,
      isTaken: (reply: Parameters<ConntrackTable["isTupleTaken"]>[0]) =>
        ctx.conntrack.isTupleTaken(reply, ct),
    };
    const wantsDst = t.kind === "DNAT" || t.kind === "REDIRECT";
    if (wantsDst !== isDnatHook) {
      env.uncertain(
        result.rule.rule,
        `-j ${t.kind} is not valid in nat ${hook}; the kernel refuses this ruleset`,
      );
      return null;
    }
    let binding: Binding | null;
    if (isDnatHook) {
      const redirectTo =
        hook === "OUTPUT" ? (fam === 4 ? 0x7f000001 : 1n) : ctx.host.addressOf(fam, input.inIface);
      binding = chooseDnat(ct, p, t, redirectTo, natCtx);
    } else {
      binding = chooseSnat(ct, p, t, ctx.host.addressOf(fam, outIface), natCtx);
    }
    const cr = result.rule;
    if (!binding) {
      steps.push({
        kind: "nat",
        text: () => `${t.kind} found no address or free port (${ruleWhere(cr)}); the packet is dropped`,
      });
      return finish("DROP", "dropped", { hook, table: "nat" });
    }
    if (isDnatHook) {
      const from = addrPort(p.dst, p.dport);
      ctx.conntrack.setReply(ct, { ...ct.reply, src: binding.addr, sport: binding.port }, "DNAT");
      p.dst = binding.addr;
      p.dport = binding.port;
      const change = new RuleNatChange(from, addrPort(p.dst, p.dport), t.kind, cr);
      dnat = change;
      steps.push({
        kind: "nat",
        text: () => `${t.kind}: destination ${from.addr}:${from.port} -> ${change.to.addr}:${change.to.port}`,
      });
    } else {
      const from = addrPort(p.src, p.sport);
      ctx.conntrack.setReply(ct, { ...ct.reply, dst: binding.addr, dport: binding.port }, "SNAT");
      p.src = binding.addr;
      p.sport = binding.port;
      const change = new RuleNatChange(from, addrPort(p.src, p.sport), t.kind, cr);
      snat = change;
      steps.push({
        kind: "nat",
        text: () => `${t.kind}: source ${from.addr}:${from.port} -> ${change.to.addr}:${change.to.port}`,
      });
    }
    return null;
  };

  const track = () => {
    if (env.untracked) {
      steps.push({ kind: "conntrack", text: () => "conntrack: untracked (CT --notrack in raw)" });
      return;
    }
    if (input.attached) {
      const a = input.attached;
      env.ct = a.entry;
      env.ctDir = a.dir;
      env.ctState = "RELATED";
      steps.push({
        kind: "conntrack",
        text: () =>
          `conntrack: RELATED, attached to entry #${a.entry.id} (nf_ct_attach), ${a.dir === "REPLY" ? "reply" : "original"} direction`,
      });
      return;
    }
    const c = ctx.conntrack.classify(p, inner ? tupleOf(inner) : undefined);
    env.ct = c.entry;
    env.ctDir = (c.dir ?? "ORIGINAL") as CtDir;
    env.ctState = c.ctstate;
    const known = c.entry?.status.confirmed ?? false;
    const text = () =>
      !c.entry
        ? `conntrack: ${c.ctstate} (no entry)`
        : known
          ? `conntrack: ${c.ctstate}, entry #${c.entry.id}, ${c.dir === "REPLY" ? "reply" : "original"} direction`
          : `conntrack: ${c.ctstate}, a new connection (entry #${c.entry.id}, confirmed when the packet leaves the hooks)`;
    steps.push({ kind: "conntrack", text });
  };

  const confirm = (): HostTraversal | null => {
    // __nf_conntrack_confirm: only the packet that made the entry confirms it, never REJECT's answer
    // attached to it in the other direction.
    if (!env.ct || env.ct.status.confirmed || env.ctDir !== "ORIGINAL") return null;
    if (!ctx.conntrack.confirm(env.ct)) {
      steps.push({
        kind: "conntrack",
        text: () => "conntrack: the entry clashes with an existing one; the kernel drops the packet",
      });
      return finish("DROP", "dropped", { hook: env.hook, table: null });
    }
    const entry = env.ct;
    steps.push({
      kind: "conntrack",
      text: () => `conntrack: entry #${entry.id} confirmed`,
      confirmed: entry,
    });
    return null;
  };

  // Local delivery: the host's own addresses, and the limited broadcast and multicast groups
  // (route type BROADCAST/MULTICAST in the local table; we assume the host listens to them).
  const isLocalDst = () => {
    if (ctx.host.isLocal(fam, p.dst)) return true;
    if (fam === 4) {
      const d = Number(p.dst);
      return d === 0xffffffff || d >>> 28 === 0xe;
    }
    return BigInt(p.dst) >> 120n === 0xffn;
  };

  const deliverLocally = (): HostTraversal => {
    const r = runHook("INPUT") ?? confirm();
    return r ?? finish("ACCEPT", "local", null);
  };

  const noRoute = (hook: Hook): HostTraversal => {
    const dst = p.dst;
    steps.push({
      kind: "route",
      text: () => `routing: no route to ${formatIp(fam, dst)}; the packet is dropped`,
    });
    return finish("DROP", "dropped", { hook, table: null });
  };

  if (local) {
    // ip_output path: OUTPUT (raw, conntrack, mangle, nat, filter, security), reroute, POSTROUTING.
    env.hook = "OUTPUT";
    // OUTPUT sees the device of the route to the original destination (__ip_local_out passes
    // skb_dst(skb)->dev), even after nat OUTPUT re-routes; only POSTROUTING sees the new route.
    env.outIface = isLocalDst() ? "lo" : input.outIface;
    const raw = runHook("OUTPUT", ["raw"]);
    if (raw) return raw;
    track();
    const rest = runHook("OUTPUT", ["mangle", "nat", "filter", "security"]);
    if (rest) return rest;
    outIface = isLocalDst() ? "lo" : input.outIface;
    // nf_nat_ipv4_local_fn: a destination NAT changed routes the packet again (ip_route_me_harder).
    if (outIface !== "lo" && ctx.route && p.dst !== input.packet.dst) {
      const r = ctx.route(p, input);
      if (!r) return noRoute("OUTPUT");
      outIface = r.out;
    }
    const [dst, out] = [p.dst, outIface];
    steps.push({
      kind: "route",
      text: () =>
        `routing: ${formatIp(fam, dst)} ${out === "lo" ? "is local: out via lo" : `leaves by ${out ?? "(no interface given)"}`}`,
    });
    env.outIface = outIface;
    const post = runHook("POSTROUTING") ?? confirm();
    if (post) return post;
    if (outIface !== "lo") return finish("ACCEPT", "output", null);
    // Looped back: in again on lo, with the same conntrack entry (nf_conntrack_in skips it).
    env.inIface = "lo";
    env.outIface = null;
    const pre = runHook("PREROUTING", ["raw", "mangle", "nat"]);
    if (pre) return pre;
    return deliverLocally();
  }

  const raw = runHook("PREROUTING", ["raw"]);
  if (raw) return raw;
  track();
  const pre = runHook("PREROUTING", ["mangle", "nat"]);
  if (pre) return pre;
  const routedDst = p.dst;
  if (isLocalDst()) {
    steps.push({
      kind: "route",
      text: () => `routing: ${formatIp(fam, routedDst)} is a local address: INPUT`,
    });
    return deliverLocally();
  }
  if (ctx.forwarding === false) {
    steps.push({
      kind: "route",
      text: () => `routing: ${formatIp(fam, routedDst)} is not local and forwarding is off`,
    });
    return finish("DROP", "dropped", { hook: "PREROUTING", table: null });
  }
  // ip_rcv_finish routes the destination NAT left; a bridged frame keeps its port unless DNAT moved it.
  const switched = input.bridged === true && p.dst === input.packet.dst;
  if (ctx.route && !switched) {
    const r = ctx.route(p, input);
    if (!r) return noRoute("PREROUTING");
    // Only a frame bridged again (out of the bridge it came in by) has a known out port: a routed
    // packet's bridge port is chosen after the hooks (physdev-out never matches it).
    physOut = input.bridged === true && r.out === input.outIface ? (r.physOut ?? null) : null;
    outIface = r.out;
    env.physOut = physOut;
  }
  const forwardOut = outIface ?? input.inIface;
  outIface = forwardOut;
  env.outIface = forwardOut;
  steps.push({
    kind: "route",
    text: () => `routing: ${formatIp(fam, routedDst)} is not local: FORWARD, out via ${forwardOut}`,
  });
  const fwd = runHook("FORWARD") ?? runHook("POSTROUTING") ?? confirm();
  return fwd ?? finish("ACCEPT", "forward", null);
}

/** A table's step; a class, so its text needs no closure per table and packet. */
class TableStep implements HostStep {
  readonly kind = "table";
  constructor(
    readonly hook: Hook,
    readonly table: TableName,
    readonly hits: readonly RuleHit[],
  ) {}

  text(): string {
    return `${this.table} ${this.hook}`;
  }
}

function ruleWhere(cr: CompiledRule): string {
  return `${cr.rule.chain} line ${cr.line}`;
}

/** A rewrite by a NAT rule. `by` names the rule, printed only when read (most traces never are). */
class RuleNatChange implements NatChange {
  constructor(
    readonly from: NatChange["from"],
    readonly to: NatChange["to"],
    private readonly kind: string,
    private readonly cr: CompiledRule,
  ) {}

  get by(): string {
    return `${this.kind} (${ruleWhere(this.cr)})`;
  }

  toJSON(): NatChange {
    return { from: this.from, to: this.to, by: this.by };
  }
}

function verdictText(
  verdict: HostTraversal["verdict"],
  disposition: HostTraversal["disposition"],
  stoppedAt: HostTraversal["stoppedAt"],
  out: string | null,
): string {
  if (verdict === "ACCEPT") {
    if (disposition === "local") return "verdict: ACCEPT, delivered to a local socket";
    if (disposition === "forward") return `verdict: ACCEPT, forwarded out of ${out}`;
    return `verdict: ACCEPT, sent out of ${out}`;
  }
  const where = stoppedAt ? ` in ${stoppedAt.table ?? "conntrack"} ${stoppedAt.hook}` : "";
  return `verdict: ${verdict}${where}`;
}
