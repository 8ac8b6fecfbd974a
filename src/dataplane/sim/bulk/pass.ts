import type { ConntrackEntry, CtStatus } from "../../../model/conntrack.ts";
import type { Rule, TableName } from "../../../model/netfilter/ruleset.ts";
import type { Packet } from "../../../model/packet.ts";
import type { ConntrackTable } from "../conntrack/table.ts";
import type { CompiledChain, CompiledRule, CompiledRuleset } from "../netfilter/compile.ts";
import type { EngineState, Env, Hook, HostAddresses } from "../netfilter/env.ts";
import { type Binding, chooseDnat, chooseSnat, type NatContext } from "../netfilter/nat.ts";
import { TableWalker, WALK } from "./table-walk.ts";

/**
 * One host's netfilter for a packet arriving on an interface, without narration: the same hooks,
 * tables, conntrack and NAT as traverseHost (netfilter/host.ts) in the same order with the same
 * calls (classify, chooseDnat/chooseSnat, setReply, confirm; tables walked by table-walk.ts as
 * run-table.ts walks them), so rule counters, statistic draws, NAT bindings and conntrack entries
 * come out as the World's, but no steps, no hit list and no result object per packet. The packet is
 * rewritten in place. Packets a host sends itself (OUTPUT) and ICMP errors are not taken: bulk
 * traffic is TCP arriving from outside or from pods.
 */

/** The conntrack operations a pass makes: ConntrackTable's. */
export type PassConntrack = Pick<ConntrackTable, "classify" | "isTupleTaken" | "setReplyNat" | "confirm">;

/** The routing decision for a packet that is not for the host (host.ts RouteDecision), kept by the caller. */
export interface PassRoute {
  readonly dev: string;
  /** For a bridge, the port the next hop's MAC is learned on (null: none). */
  readonly physOut: string | null;
}

/** The host's routing table as the pass asks it (host.ts HostContext.route), by destination. */
export interface PassRouter {
  routeTo(dst: number): PassRoute | null;
}

/** Where an arriving packet went. */
export const PASS = {
  /** Up to a socket of the host (INPUT). */
  local: 1,
  /** Routed on (FORWARD, POSTROUTING). */
  forward: 2,
  dropped: 3,
  rejected: 4,
} as const;
export type PassResult = (typeof PASS)[keyof typeof PASS];

/** Not a verdict: the hook goes on to its next table. */
const GO = 0;

/** One table of one hook, looked up once: whether the dump has the table, and its built-in chain. */
interface Stage {
  readonly hook: Hook;
  readonly table: TableName;
  readonly present: boolean;
  readonly chain: CompiledChain | undefined;
}

/** The tables of each hook a packet arriving at a host walks (host.ts HOOK_TABLES). */
function stagesOf(rules: CompiledRuleset, walker: TableWalker) {
  const stage = (hook: Hook, table: TableName): Stage => ({
    hook,
    table,
    present: rules.tables.has(table),
    chain: walker.builtin(table, hook),
  });
  return {
    preRaw: stage("PREROUTING", "raw"),
    preMangle: stage("PREROUTING", "mangle"),
    preNat: stage("PREROUTING", "nat"),
    inMangle: stage("INPUT", "mangle"),
    inFilter: stage("INPUT", "filter"),
    inSecurity: stage("INPUT", "security"),
    inNat: stage("INPUT", "nat"),
    fwdMangle: stage("FORWARD", "mangle"),
    fwdFilter: stage("FORWARD", "filter"),
    fwdSecurity: stage("FORWARD", "security"),
    postMangle: stage("POSTROUTING", "mangle"),
    postNat: stage("POSTROUTING", "nat"),
  };
}
type Stages = ReturnType<typeof stagesOf>;

export class NodePass {
  /** The Env the rules see; reused for every packet (host.ts makes one per traversal). */
  readonly env: Env;
  /** Where a dropped or rejected packet stopped (the table is null when conntrack dropped it). */
  stoppedHook: Hook | null = null;
  stoppedTable: TableName | null = null;
  /** How many times a rule could not be evaluated faithfully (host.ts lists them; bulk counts). */
  uncertain = 0;
  /** The tables' walker, with the rule counters. */
  readonly walker: TableWalker;
  /** The tables of each hook, in host.ts's order (HOOK_TABLES). */
  private readonly stages: Stages;
  private p: Packet | null = null;
  /** Where a forwarded packet leaves (host.ts's outIface and physOut after routing). */
  outIface: string | null = null;
  physOut: string | null = null;
  private inIface: string | null = null;
  private dstDone = false;
  private srcDone = false;
  /** The entry a NAT binding is being chosen for (isTaken ignores it), as host.ts's closure holds it. */
  private natEntry: ConntrackEntry | null = null;
  private readonly nat: NatContext;
  /**
   * env.ct's status, read once per packet (a flat table's entry makes a new object per read). Within
   * a pass only setReply (on an unconfirmed entry, which replays nothing) and confirm (the last step)
   * change it, so what track() read is what the later steps would read.
   */
  private ctStatus: CtStatus | null = null;

  constructor(
    rules: CompiledRuleset,
    private readonly host: HostAddresses,
    private readonly conntrack: PassConntrack,
    state: EngineState,
    rng: NatContext["rng"],
    choose: (stored: number, rule: Rule) => boolean,
    private readonly router: PassRouter,
  ) {
    this.env = {
      hook: "PREROUTING",
      inIface: null,
      outIface: null,
      physIn: null,
      physOut: null,
      ct: null,
      ctDir: "ORIGINAL",
      ctState: "INVALID",
      untracked: false,
      now: 0,
      host,
      choose,
      uncertain: () => {
        this.uncertain++;
      },
      state,
    };
    this.walker = new TableWalker(rules);
    this.stages = stagesOf(rules, this.walker);
    this.nat = { rng, isTaken: (reply) => this.conntrack.isTupleTaken(reply, this.natEntry ?? undefined) };
  }

  /**
   * An IPv4 packet in on `inIface` (host.ts's arriving path): PREROUTING (raw, conntrack, mangle,
   * nat), then INPUT for a local destination, else the route of the destination NAT left (the
   * router; a bridged frame whose destination DNAT kept stays on `outIface`/`physOut`), FORWARD and
   * POSTROUTING; conntrack confirms at the end. `env.ct` holds the packet's entry afterwards.
   */
  arrive(
    p: Packet,
    inIface: string,
    outIface: string | null,
    physIn: string | null,
    physOut: string | null,
    bridged: boolean,
    now: number,
  ): PassResult {
    const env = this.env;
    env.hook = "PREROUTING";
    env.inIface = inIface;
    env.outIface = null;
    env.physIn = physIn;
    env.physOut = physOut;
    env.ct = null;
    this.ctStatus = null;
    env.ctDir = "ORIGINAL";
    env.ctState = "INVALID";
    env.untracked = false;
    env.now = now;
    this.p = p;
    this.inIface = inIface;
    this.outIface = outIface;
    this.physOut = physOut;
    this.dstDone = false;
    this.srcDone = false;
    this.stoppedHook = null;
    this.stoppedTable = null;
    const dst = p.dst;

    const st = this.stages;
    let v = this.table(st.preRaw);
    if (v !== GO) return v;
    this.track();
    v = this.table(st.preMangle);
    if (v === GO) v = this.table(st.preNat);
    if (v !== GO) return v;
    if (this.isLocalDst()) {
      v = this.table(st.inMangle);
      if (v === GO) v = this.table(st.inFilter);
      if (v === GO) v = this.table(st.inSecurity);
      if (v === GO) v = this.table(st.inNat);
      if (v === GO) v = this.confirm();
      if (v !== GO) return v;
      this.outIface = null;
      return PASS.local;
    }
    // The World's nodes forward (net.ipv4.ip_forward=1), so host.ts's forwarding-off branch is not needed.
    // ip_rcv_finish routes the destination NAT left; a bridged frame keeps its port unless DNAT moved it.
    if (!(bridged && p.dst === dst)) {
      const r = this.router.routeTo(p.dst as number);
      if (r === null) return this.stop("PREROUTING", null, PASS.dropped);
      this.outIface = r.dev;
      this.physOut = r.physOut;
      env.physOut = r.physOut;
    }
    const out = this.outIface ?? inIface;
    this.outIface = out;
    env.outIface = out;
    v = this.table(st.fwdMangle);
    if (v === GO) v = this.table(st.fwdFilter);
    if (v === GO) v = this.table(st.fwdSecurity);
    if (v === GO) v = this.table(st.postMangle);
    if (v === GO) v = this.table(st.postNat);
    if (v === GO) v = this.confirm();
    return v === GO ? PASS.forward : v;
  }

  /** One table of a hook, with host.ts's NAT bookkeeping (runHook). */
  private table(stage: Stage): typeof GO | PassResult {
    const env = this.env;
    const { hook, table } = stage;
    env.hook = hook;
    const p = this.p as Packet;
    const isNat = table === "nat";
    const dnatHook = hook === "PREROUTING" || hook === "OUTPUT";
    if (isNat) {
      const ct = env.ct;
      if (env.untracked || !ct) return GO; // NAT needs a conntrack entry
      const done = dnatHook ? this.dstDone : this.srcDone;
      // A known connection replays its entry's NAT; so does a RELATED packet (nf_nat_inet_fn), which
      // for bulk's TCP is never an ICMP error (host.ts relatedNat's other case).
      const status = this.ctStatus as CtStatus;
      if (done || status.confirmed || env.ctState === "RELATED") {
        if (!done) this.replayNat(ct, status, dnatHook);
        if (dnatHook) this.dstDone = true;
        else this.srcDone = true;
        return GO;
      }
    }
    if (!stage.present) return GO;
    const result = this.walker.walk(stage.chain, p, env);
    if (result === WALK.drop) return this.stop(hook, table, PASS.dropped);
    if (result === WALK.reject) return this.stop(hook, table, PASS.rejected);
    if (isNat) {
      if (dnatHook) this.dstDone = true;
      else this.srcDone = true;
      if (result === WALK.nat) return this.applyNat(hook, dnatHook);
    }
    return GO;
  }

  private stop(hook: Hook, table: TableName | null, v: PassResult): PassResult {
    this.stoppedHook = hook;
    this.stoppedTable = table;
    return v;
  }

  /** nf_nat_packet for a known connection: rewrite from the entry (host.ts replayNat). */
  private replayNat(ct: ConntrackEntry, status: CtStatus, dnatHook: boolean): void {
    const p = this.p as Packet;
    const original = this.env.ctDir === "ORIGINAL";
    if (dnatHook) {
      if (!(original ? status.dstNat : status.srcNat)) return;
      const t = original ? ct.reply : ct.orig;
      p.dst = t.src;
      p.dport = t.sport;
    } else {
      if (!(original ? status.srcNat : status.dstNat)) return;
      const t = original ? ct.reply : ct.orig;
      p.src = t.dst;
      p.sport = t.dport;
    }
  }

  /** A connection's first NAT rule: choose the binding and rewrite the reply tuple (host.ts applyNat). */
  private applyNat(hook: Hook, dnatHook: boolean): typeof GO | PassResult {
    const env = this.env;
    const p = this.p as Packet;
    const ct = env.ct as ConntrackEntry;
    const t = this.walker.natTarget as NonNullable<TableWalker["natTarget"]>;
    if ((t.kind === "DNAT" || t.kind === "REDIRECT") !== dnatHook) {
      env.uncertain((this.walker.natRule as CompiledRule).rule, `-j ${t.kind} is not valid in nat ${hook}`);
      return GO;
    }
    this.natEntry = ct;
    let binding: Binding | null;
    if (dnatHook) {
      // REDIRECT's address is the receiving interface's; DNAT brings its own.
      const redirectTo = "range" in t ? null : this.host.addressOf(4, this.inIface);
      binding = chooseDnat(ct, p, t, redirectTo, this.nat);
    } else binding = chooseSnat(ct, p, t, this.host.addressOf(4, this.outIface), this.nat);
    this.natEntry = null;
    if (!binding) return this.stop(hook, "nat", PASS.dropped);
    if (dnatHook) {
      this.conntrack.setReplyNat(ct, "DNAT", binding.addr, binding.port);
      p.dst = binding.addr;
      p.dport = binding.port;
    } else {
      this.conntrack.setReplyNat(ct, "SNAT", binding.addr, binding.port);
      p.src = binding.addr;
      p.sport = binding.port;
    }
    return GO;
  }

  private track(): void {
    const env = this.env;
    if (env.untracked) return;
    const c = this.conntrack.classify(this.p as Packet);
    env.ct = c.entry;
    this.ctStatus = c.entry === null ? null : c.entry.status;
    env.ctDir = c.dir ?? "ORIGINAL";
    env.ctState = c.ctstate;
  }

  private confirm(): typeof GO | PassResult {
    const ct = this.env.ct;
    // Only the packet that made the entry confirms it (host.ts confirm).
    if (!ct || (this.ctStatus as CtStatus).confirmed || this.env.ctDir !== "ORIGINAL") return GO;
    return this.conntrack.confirm(ct) ? GO : this.stop(this.env.hook, null, PASS.dropped);
  }

  /** The host's own addresses, limited broadcast and multicast (host.ts isLocalDst, IPv4). */
  private isLocalDst(): boolean {
    const d = (this.p as Packet).dst as number;
    return this.host.isLocal(4, d) || d === 0xffffffff || d >>> 28 === 0xe;
  }
}
