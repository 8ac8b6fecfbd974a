import type { Family } from "../../../core/ip.ts";
import type { ConntrackEntry, CtDir, CtState, CtTuple, TcpState } from "../../../model/conntrack.ts";
import { type Packet, PROTO, TCP } from "../../../model/packet.ts";
import { newTcpTrack, type TcpIndex, type TcpTrack, tcpNewState, tcpStep } from "./tcp-state.ts";
import { type CtTimeouts, tcpStateTimeout, withTimeouts } from "./timeouts.ts";

/**
 * The connection tracking table of one network namespace, as nf_conntrack keeps it: every confirmed
 * entry is hashed twice, under its original and its reply tuple, so a packet in either direction finds
 * it with one lookup. Pure and deterministic: time comes from the injected clock, ids count up.
 *
 * Kernel references are to upstream net/netfilter/ (6.x): nf_conntrack_core.c (nf_conntrack_in,
 * resolve_normal_ct, __nf_conntrack_confirm), nf_conntrack_proto_{tcp,udp,icmp,icmpv6}.c.
 * Not modelled: zones (every entry is in zone 0), expectations/helpers (so never IP_CT_RELATED from
 * an expectation), NAT clash resolution, accounting, and the trackers of SCTP, DCCP and GRE, which
 * are handled like the generic tracker (ports in the tuple, the generic timeout).
 */

export interface ConntrackTableOptions {
  /** Virtual time in milliseconds. */
  readonly now: () => number;
  /** Overrides of the kernel defaults, e.g. KUBE_PROXY_TIMEOUTS. */
  readonly timeouts?: Partial<CtTimeouts>;
  /** net.netfilter.nf_conntrack_tcp_loose (default 1): pick up connections from a mid-stream ACK. */
  readonly tcpLoose?: boolean;
}

/** What the packet carries after conntrack (skb->_nfct and ctinfo); `entry` is null unless tracked. */
export interface Classified {
  readonly entry: ConntrackEntry | null;
  readonly dir: CtDir | null;
  readonly ctstate: CtState;
}

export interface UpdateResult {
  readonly ctstate: CtState;
  /** The tracker rejected the packet: it is INVALID and the entry is unchanged. */
  readonly invalid: boolean;
  /** The entry was removed while handling the packet (a RST before any reply, or a reopening SYN). */
  readonly killed: boolean;
  /** A SYN reopened a closed connection: the old entry is gone and the packet must be tracked anew
   * (the kernel's -NF_REPEAT). classify() does that by itself. */
  readonly repeat: boolean;
}

/** Both directions of query/reply type pairs: invmap[] maps each type to its partner. */
function pairs(...list: readonly (readonly [number, number])[]): ReadonlyMap<number, number> {
  return new Map(list.flatMap(([q, r]) => [[q, r] as const, [r, q] as const]));
}
/** invmap[] in nf_conntrack_proto_icmp.c (echo, timestamp, info, address mask) and _icmpv6.c (echo, node info). */
const ICMP_INVERSE = pairs([8, 0], [13, 14], [15, 16], [17, 18]);
const ICMPV6_INVERSE = pairs([128, 129], [139, 140]);
/** Types that may open an ICMP "connection": valid_new[] in the same files. */
const ICMP_VALID_NEW = new Set([8, 13, 15, 17]);
const ICMPV6_VALID_NEW = new Set([128, 139]);
/** icmp_is_err(): destination unreachable, source quench, redirect, time exceeded, parameter problem. */
const ICMP_ERRORS = new Set([3, 4, 5, 11, 12]);
/** noct_valid_new[] in nf_conntrack_icmpv6_error(): MLD and neighbour discovery are never tracked. */
const ICMPV6_UNTRACKED = new Set([130, 131, 132, 133, 134, 135, 136, 143, 151, 152]);
/** NR_ICMP_TYPES: nf_conntrack_icmpv4_error() rejects anything above. */
const NR_ICMP_TYPES = 18;

function isIcmp(proto: number): boolean {
  return proto === PROTO.icmp || proto === PROTO.icmpv6;
}

function hasPorts(proto: number): boolean {
  return proto === PROTO.tcp || proto === PROTO.udp || proto === PROTO.udplite || proto === PROTO.sctp;
}

/**
 * The tuple the kernel builds from a packet (nf_ct_get_tuple). ICMP keeps the identifier where ports
 * go (`src.u.icmp.id`) and its type and code apart; protocols without ports get zeros (generic).
 */
export function tupleOf(p: Packet): CtTuple {
  const icmp = isIcmp(p.proto);
  const ports = hasPorts(p.proto);
  return {
    family: p.family,
    proto: p.proto,
    src: p.src,
    dst: p.dst,
    sport: icmp ? Math.max(0, p.icmpId) : ports ? p.sport : 0,
    dport: icmp ? 0 : ports ? p.dport : 0,
    icmpType: icmp ? p.icmpType : -1,
    icmpCode: icmp ? p.icmpCode : -1,
  };
}

/** Whether nf_ct_invert_tuple() succeeds: always, except for ICMP types that are not queries or replies. */
export function canInvert(t: CtTuple): boolean {
  if (!isIcmp(t.proto)) return true;
  return (t.proto === PROTO.icmp ? ICMP_INVERSE : ICMPV6_INVERSE).has(t.icmpType);
}

/** The tuple of the other direction (nf_ct_invert_tuple): addresses and ports swap, ICMP type pairs map. */
export function invert(t: CtTuple): CtTuple {
  if (isIcmp(t.proto)) {
    const type = (t.proto === PROTO.icmp ? ICMP_INVERSE : ICMPV6_INVERSE).get(t.icmpType);
    if (type === undefined) throw new RangeError(`Cannot invert an ICMP tuple of type ${t.icmpType}`);
    // The id stays where it is and the code is copied (nf_conntrack_invert_icmp_tuple).
    return { ...t, src: t.dst, dst: t.src, icmpType: type };
  }
  return { ...t, src: t.dst, dst: t.src, sport: t.dport, dport: t.sport };
}

/**
 * The index key of a tuple. A string, not a number: family+proto+two addresses+two ports is 104 bits
 * for IPv4 (more for IPv6), too wide for a double, and a short string is V8's fastest composite Map key.
 * ICMP tuples add type and code, which the kernel compares too (dst.u.all holds both).
 */
export function tupleKey(t: CtTuple): string {
  const base = `${t.family}|${t.proto}|${t.src}|${t.dst}|${t.sport}|${t.dport}`;
  return isIcmp(t.proto) ? `${base}|${t.icmpType}|${t.icmpCode}` : base;
}

/** tupleKey(a) === tupleKey(b), without building the keys. */
function sameTuple(a: CtTuple, b: CtTuple): boolean {
  return (
    a.family === b.family &&
    a.proto === b.proto &&
    sameAddress(a.src, b.src) &&
    sameAddress(a.dst, b.dst) &&
    a.sport === b.sport &&
    a.dport === b.dport &&
    (!isIcmp(a.proto) || (a.icmpType === b.icmpType && a.icmpCode === b.icmpCode))
  );
}

function sameAddress(a: number | bigint, b: number | bigint): boolean {
  return typeof a === typeof b ? a === b : BigInt(a) === BigInt(b);
}

interface Slot {
  readonly entry: ConntrackEntry;
  readonly dir: CtDir;
}

/** What the kernel keeps per entry beyond what `conntrack -L` shows. */
interface Internals {
  /** When the first packet was seen; UDP's stream_ts is two seconds later. */
  readonly createdAt: number;
  /** The last refresh, relative: an unconfirmed entry's timer starts at confirmation. */
  timeoutMs: number;
  tcp: TcpTrack;
  /** The index keys, fixed at confirmation. */
  keys: readonly [string, string] | null;
}

/** A packet that leaves conntrack without an entry attached. */
function untracked(ctstate: CtState): Classified {
  return { entry: null, dir: null, ctstate };
}

type IcmpClass = "query" | "error" | "untracked" | "invalid";

function icmpClass(family: Family, type: number): IcmpClass {
  if (family === 4) {
    if (type < 0 || type > NR_ICMP_TYPES) return "invalid";
    return ICMP_ERRORS.has(type) ? "error" : "query";
  }
  if (ICMPV6_UNTRACKED.has(type)) return "untracked";
  // Types below 128 are errors; a redirect (137) quotes a packet too (nf_conntrack_icmpv6_redirect;
  // its hop-limit and option checks are not modelled).
  if (type < 128 || type === 137) return "error";
  return "query";
}

/** The kernel defaults, merged once: most tables (one per trace) override nothing. Never mutated. */
const DEFAULT_TABLE_TIMEOUTS = withTimeouts();

export class ConntrackTable {
  static readonly tupleOf = tupleOf;
  static readonly invert = invert;

  private readonly now: () => number;
  private readonly timeouts: CtTimeouts;
  private readonly tcpLoose: boolean;
  private readonly index = new Map<string, Slot>();
  private readonly live = new Set<ConntrackEntry>();
  private readonly internals = new WeakMap<ConntrackEntry, Internals>();
  private nextId = 0;

  constructor(options: ConntrackTableOptions) {
    this.now = options.now;
    this.timeouts = options.timeouts ? withTimeouts(options.timeouts) : DEFAULT_TABLE_TIMEOUTS;
    this.tcpLoose = options.tcpLoose ?? true;
  }

  /** The confirmed, unexpired entry a packet belongs to, and its direction. Expired entries are dropped here. */
  lookup(p: Packet): { entry: ConntrackEntry; dir: CtDir } | null {
    // A trace starts from an empty table: no need to build the key.
    return this.index.size === 0 ? null : this.find(tupleKey(tupleOf(p)));
  }

  /** Whether a packet without an entry may start one (nf_conntrack_in would keep the new conntrack). */
  canCreate(p: Packet): boolean {
    if (p.proto === PROTO.tcp) return tcpNewState(p.tcpFlags, this.tcpLoose) !== "INVALID";
    if (isIcmp(p.proto)) {
      const t = tupleOf(p);
      const validNew = p.proto === PROTO.icmp ? ICMP_VALID_NEW : ICMPV6_VALID_NEW;
      return canInvert(t) && validNew.has(t.icmpType);
    }
    return true;
  }

  /**
   * A new, unconfirmed entry for the first packet of a connection (init_conntrack plus the protocol
   * tracker's handling of that packet): reply = inverted tuple, TCP state and timeout already set.
   * It is not indexed until confirm(). Throws when canCreate(p) is false.
   */
  create(p: Packet): ConntrackEntry {
    if (!this.canCreate(p)) {
      throw new RangeError(
        `Cannot create a conntrack entry: protocol ${p.proto} packet is INVALID without one`,
      );
    }
    const orig = tupleOf(p);
    const entry: ConntrackEntry = {
      id: ++this.nextId,
      orig,
      reply: invert(orig),
      tcpState: p.proto === PROTO.tcp ? "NONE" : null,
      status: {
        expected: false,
        seenReply: false,
        assured: false,
        confirmed: false,
        srcNat: false,
        dstNat: false,
      },
      mark: 0,
      zone: 0,
      expiresAt: this.now(),
      use: 1,
    };
    this.internals.set(entry, { createdAt: this.now(), timeoutMs: 0, tcp: newTcpTrack(), keys: null });
    this.update(entry, "ORIGINAL", p);
    return entry;
  }

  /**
   * NAT's rewrite of the reply tuple before confirmation (nf_conntrack_alter_reply). As in
   * nf_nat_setup_info, the status bit is set only when the tuple really changes.
   */
  setReply(entry: ConntrackEntry, reply: CtTuple, kind: "SNAT" | "DNAT"): void {
    if (entry.status.confirmed)
      throw new Error(`Cannot rewrite the reply tuple of confirmed conntrack entry ${entry.id}`);
    if (sameTuple(reply, entry.reply)) return;
    entry.reply = reply;
    if (kind === "SNAT") entry.status.srcNat = true;
    else entry.status.dstNat = true;
  }

  /** setReply for a NAT binding: DNAT moves the reply's source to `addr:port`, SNAT its destination. */
  setReplyNat(entry: ConntrackEntry, kind: "SNAT" | "DNAT", addr: number | bigint, port: number): void {
    const r = entry.reply;
    this.setReply(
      entry,
      kind === "DNAT" ? { ...r, src: addr, sport: port } : { ...r, dst: addr, dport: port },
      kind,
    );
  }

  /**
   * Whether a tuple is already in use by another live entry, in either direction (nf_nat_used_tuple ->
   * nf_conntrack_tuple_taken). NAT asks this of a candidate reply tuple when picking a free port.
   */
  isTupleTaken(t: CtTuple, ignore?: ConntrackEntry): boolean {
    if (this.index.size === 0) return false;
    const hit = this.find(tupleKey(t));
    return hit !== null && hit.entry !== ignore;
  }

  /**
   * Inserts an entry under both tuples (__nf_conntrack_confirm, at POSTROUTING or INPUT) and starts
   * its timer. Returns false on a clash with a live entry: the kernel drops that packet.
   */
  confirm(entry: ConntrackEntry): boolean {
    if (entry.status.confirmed) return true;
    const internals = this.internalsOf(entry);
    const keys = [tupleKey(entry.orig), tupleKey(entry.reply)] as const;
    if (keys.some((k) => this.find(k) !== null)) return false;
    this.index.set(keys[0], { entry, dir: "ORIGINAL" });
    this.index.set(keys[1], { entry, dir: "REPLY" });
    internals.keys = keys;
    this.live.add(entry);
    entry.status.confirmed = true;
    // "Timer relative to confirmation time, not original setting time".
    entry.expiresAt = this.now() + internals.timeoutMs;
    return true;
  }

  /**
   * Applies one packet of a known connection (the protocol tracker, then SEEN_REPLY as
   * nf_conntrack_in sets it afterwards). `ctstate` is the packet's ctinfo: ESTABLISHED in the reply
   * direction or once a reply was seen, NEW before that; INVALID when the tracker rejects the packet.
   */
  update(entry: ConntrackEntry, dir: CtDir, p: Packet): UpdateResult {
    const internals = this.internalsOf(entry);
    const ctstate: CtState = dir === "REPLY" || entry.status.seenReply ? "ESTABLISHED" : "NEW";
    let killed = false;

    if (p.proto === PROTO.tcp) {
      const step = tcpStep(internals.tcp, dir, p.tcpFlags);
      if (step.kind === "INVALID") return { ctstate: "INVALID", invalid: true, killed: false, repeat: false };
      if (step.kind === "REOPEN") {
        this.delete(entry);
        return { ctstate: "NEW", invalid: false, killed: true, repeat: true };
      }
      internals.tcp = step.track;
      if (step.kind === "ACCEPT")
        killed = this.afterTcp(entry, internals, step.oldState, step.index, p.tcpFlags);
    } else if (p.proto === PROTO.udp) {
      this.afterUdp(entry, internals);
    } else if (p.proto === PROTO.udplite) {
      // nf_conntrack_udplite_packet kept the older rule: assured on the first packet after a reply.
      if (entry.status.seenReply) entry.status.assured = true;
      this.refresh(entry, entry.status.seenReply ? this.timeouts.udpStream : this.timeouts.udpUnreplied);
    } else if (p.proto === PROTO.icmp) {
      // ICMP is refreshed on every packet and never assured (nf_conntrack_icmp_packet).
      this.refresh(entry, this.timeouts.icmp);
    } else if (p.proto === PROTO.icmpv6) {
      this.refresh(entry, this.timeouts.icmpv6);
    } else {
      this.refresh(entry, this.timeouts.generic);
    }

    if (dir === "REPLY") entry.status.seenReply = true;
    return { ctstate, invalid: false, killed, repeat: false };
  }

  /**
   * Everything nf_conntrack_in does for one packet: relate ICMP errors (pass `embedded`, the tupleOf()
   * of the packet quoted in the error), find the entry or create an unconfirmed one, and apply the
   * packet. Call it once per packet and namespace (PREROUTING or OUTPUT) and carry the result along, as
   * the kernel does with skb->_nfct; a new entry still needs confirm().
   */
  classify(p: Packet, embedded?: CtTuple): Classified {
    if (isIcmp(p.proto)) {
      const kind = icmpClass(p.family, p.icmpType);
      if (kind === "untracked") return untracked("UNTRACKED");
      if (kind === "invalid") return untracked("INVALID");
      if (kind === "error") return this.related(p, embedded);
    }
    const hit = this.lookup(p);
    if (hit !== null) {
      const result = this.update(hit.entry, hit.dir, p);
      if (result.invalid) return untracked("INVALID");
      if (!result.repeat) return { entry: hit.entry, dir: hit.dir, ctstate: result.ctstate };
    }
    if (!this.canCreate(p)) return untracked("INVALID");
    return { entry: this.create(p), dir: "ORIGINAL", ctstate: "NEW" };
  }

  /** Confirmed, unexpired entries in creation order. */
  list(): ConntrackEntry[] {
    this.purgeExpired();
    return [...this.live].sort((a, b) => a.id - b.id);
  }

  get size(): number {
    this.purgeExpired();
    return this.live.size;
  }

  delete(entry: ConntrackEntry): boolean {
    const internals = this.internals.get(entry);
    if (internals?.keys) {
      for (const key of internals.keys) if (this.index.get(key)?.entry === entry) this.index.delete(key);
      internals.keys = null;
    }
    return this.live.delete(entry);
  }

  flush(): void {
    for (const entry of [...this.live]) this.delete(entry);
  }

  private find(key: string): Slot | null {
    const slot = this.index.get(key);
    if (slot === undefined) return null;
    // nf_ct_is_expired(): the timer has run out when timeout - now <= 0.
    if (slot.entry.expiresAt <= this.now()) {
      this.delete(slot.entry);
      return null;
    }
    return slot;
  }

  private purgeExpired(): void {
    const now = this.now();
    for (const entry of [...this.live]) if (entry.expiresAt <= now) this.delete(entry);
  }

  private internalsOf(entry: ConntrackEntry): Internals {
    const internals = this.internals.get(entry);
    if (internals === undefined) throw new Error(`Conntrack entry ${entry.id} does not belong to this table`);
    return internals;
  }

  /** nf_ct_refresh_acct(): an unconfirmed entry keeps the timeout relative until confirm(). */
  private refresh(entry: ConntrackEntry, seconds: number): void {
    const internals = this.internalsOf(entry);
    internals.timeoutMs = seconds * 1000;
    entry.expiresAt = this.now() + internals.timeoutMs;
  }

  /**
   * The tail of nf_conntrack_tcp_packet after an accepted segment: the timeout of the new state (CLOSE
   * after a RST), kill on a RST before any reply, no refresh for a retransmitted SYN, and ASSURED.
   * The RETRANS, UNACK-data and zero-window timeout caps need window tracking and are not modelled.
   * Returns whether the entry was killed.
   */
  private afterTcp(
    entry: ConntrackEntry,
    internals: Internals,
    oldState: TcpState,
    index: TcpIndex,
    tcpFlags: number,
  ): boolean {
    const newState = internals.tcp.state;
    entry.tcpState = newState;
    if (newState === "NONE") return false;
    let timeout = index === "RST" ? this.timeouts.tcpClose : tcpStateTimeout(this.timeouts, newState);
    if (!entry.status.seenReply) {
      // "If only reply is a RST, we can consider ourselves not to have an established connection".
      if (tcpFlags & TCP.RST) {
        this.delete(entry);
        return true;
      }
      // Do not renew the timeout on a SYN retransmit, or port reuse could keep the entry alive forever.
      if (index === "SYN" && oldState === "SYN_SENT") return false;
      // A mid-stream pickup without a reply yet gets the short UNACK timeout, not 5 days.
      if (newState === "ESTABLISHED") timeout = Math.min(timeout, this.timeouts.tcpUnacknowledged);
    } else if (
      !entry.status.assured &&
      (oldState === "SYN_RECV" || oldState === "ESTABLISHED") &&
      newState === "ESTABLISHED"
    ) {
      // A valid ACK in ESTABLISHED after SYN_RECV, or a valid answer for a picked-up connection.
      entry.status.assured = true;
    }
    this.refresh(entry, timeout);
    return false;
  }

  /**
   * nf_conntrack_udp_packet (6.x): before a reply, 30 s. Once a reply was seen, a packet more than two
   * seconds after the first one marks a "stream": ASSURED and the 120 s stream timeout. A quick
   * request/response (DNS) stays unassured at 30 s. The reply itself still counts as unreplied, since
   * SEEN_REPLY is set only after the tracker ran.
   */
  private afterUdp(entry: ConntrackEntry, internals: Internals): void {
    if (!entry.status.seenReply) {
      this.refresh(entry, this.timeouts.udpUnreplied);
      return;
    }
    const stream = this.now() > internals.createdAt + 2000;
    this.refresh(entry, stream ? this.timeouts.udpStream : this.timeouts.udpUnreplied);
    if (stream) entry.status.assured = true;
  }

  /**
   * nf_conntrack_inet_error(): an ICMP error is RELATED when the inverted tuple of the packet it quotes
   * is a live entry and the error goes to that direction's destination; otherwise INVALID.
   */
  private related(p: Packet, embedded: CtTuple | undefined): Classified {
    if (embedded === undefined || !canInvert(embedded)) return untracked("INVALID");
    const hit = this.find(tupleKey(invert(embedded)));
    if (hit === null) return untracked("INVALID");
    const tuple = hit.dir === "ORIGINAL" ? hit.entry.orig : hit.entry.reply;
    if (!sameAddress(tuple.dst, p.dst)) return untracked("INVALID");
    return { entry: hit.entry, dir: hit.dir, ctstate: "RELATED" };
  }
}
