import type { ConntrackEntry, CtDir, CtState, CtTuple, TcpState } from "../../../model/conntrack.ts";
import { type Packet, PROTO, TCP } from "../../../model/packet.ts";
import {
  type Classified,
  type ConntrackTableOptions,
  canInvert,
  invert,
  tupleOf,
  type UpdateResult,
} from "../conntrack/table.ts";
import { type TcpIndex, type TcpTrack, tcpNewState, tcpStep } from "../conntrack/tcp-state.ts";
import { type CtTimeouts, tcpStateTimeout, withTimeouts } from "../conntrack/timeouts.ts";
import { hash4, type KeyCheck, TupleIndex } from "../fabric/tuple-index.ts";
import {
  ASSURED,
  CHALLENGE_ACK,
  CLOSE_INIT,
  CONFIRMED,
  DST_NAT,
  EntryView,
  I_ID,
  I_MARK,
  I_ODST,
  I_OICMP,
  I_OPORTS,
  I_OSRC,
  I_RDST,
  I_RICMP,
  I_RPORTS,
  I_RSRC,
  I_TIMEOUT,
  icmpOf,
  LIVE_BITS,
  NEW_TRACK,
  ORIGINAL,
  type PackedStep,
  PROTO_BITS,
  packTrack,
  REPLY,
  SEEN_REPLY,
  SIMULTANEOUS_OPEN,
  Slots,
  SRC_NAT,
  STATUS_BITS,
  TCP_INDEXES,
  TCP_STATE_BITS,
  TCP_STATES,
  TRACK_BITS,
} from "./conntrack-record.ts";

/**
 * Bulk mode's conntrack table: conntrack/table.ts's ConntrackTable, method for method and with its
 * tuple helpers and TCP state machine (the differential test in flat-conntrack.test.ts runs both side
 * by side), for IPv4, stored the way the kernel stores it rather than as objects:
 *
 * - Every entry's fields (tuples, TCP tracking, status, timer) are a 64-byte record in one flat
 *   buffer (Slots), as nf_conn structs live in a slab. JavaScript objects per connection, alive for
 *   the minute SYN_RECV lasts, are what bulk traffic cannot afford: the garbage collector copies
 *   every long-lived object twice before it settles, which cost more than all the rest.
 * - The index is a flat hash table of the tuples' hashes (fabric/tuple-index.ts), as the kernel
 *   hashes the tuple (hash_conntrack_raw), instead of a string per lookup.
 *
 * Entries are handed out as views (ConntrackEntry objects whose fields read the slot), made per
 * call: they are equal to table.ts's entries field by field, not by identity. A view stays valid
 * while its entry is live (and, once deleted, until another entry takes its slot; reading it after
 * that throws). Only the one packet that made an unconfirmed entry holds it, as in the kernel (the
 * skb holds it): an entry still unconfirmed when the next one is made is freed.
 */

function isIcmp(proto: number): boolean {
  return proto === PROTO.icmp || proto === PROTO.icmpv6;
}

function hasPorts(proto: number): boolean {
  return proto === PROTO.tcp || proto === PROTO.udp || proto === PROTO.udplite || proto === PROTO.sctp;
}

/** table.ts's ICMP tables for IPv4 packets: the types that may open a "connection", the errors. */
const ICMP_VALID_NEW = new Set([8, 13, 15, 17]);
const ICMPV6_VALID_NEW = new Set([128, 139]);
const ICMP_ERRORS = new Set([3, 4, 5, 11, 12]);
const NR_ICMP_TYPES = 18;

/** The key's fourth word: the protocol, and for ICMP type and code (table.ts's key holds them too). */
function keyWord(proto: number, icmpType: number, icmpCode: number): number {
  return isIcmp(proto) ? proto | ((icmpType + 1) << 8) | ((icmpCode + 1) << 17) : proto;
}

const DEFAULT_TABLE_TIMEOUTS = withTimeouts();

/** apply()'s answers: one frozen object each instead of one per packet (callers only read them). */
const RESULT_INVALID: UpdateResult = Object.freeze({
  ctstate: "INVALID",
  invalid: true,
  killed: false,
  repeat: false,
});
const RESULT_REOPEN: UpdateResult = Object.freeze({
  ctstate: "NEW",
  invalid: false,
  killed: true,
  repeat: true,
});
const RESULT_NEW: UpdateResult = Object.freeze({
  ctstate: "NEW",
  invalid: false,
  killed: false,
  repeat: false,
});
const RESULT_NEW_KILLED: UpdateResult = Object.freeze({ ...RESULT_NEW, killed: true });
const RESULT_EST: UpdateResult = Object.freeze({ ...RESULT_NEW, ctstate: "ESTABLISHED" });
const RESULT_EST_KILLED: UpdateResult = Object.freeze({ ...RESULT_EST, killed: true });

function untracked(ctstate: CtState): Classified {
  return { entry: null, dir: null, ctstate };
}

export class FlatConntrack implements KeyCheck {
  private readonly now: () => number;
  private readonly timeouts: CtTimeouts;
  private readonly tcpLoose: boolean;
  private readonly s = new Slots();
  /** Tuple -> slot * 2 + direction (ORIGINAL or REPLY). */
  private readonly index = new TupleIndex();
  /** The tuple being looked up, as the index's words (KeyCheck). */
  private qSrc = 0;
  private qDst = 0;
  private qPorts = 0;
  private qWord = 0;
  /** The hash of the tuple last looked up. */
  private qHash = 0;
  /** How many entries are confirmed and not deleted (their LIVE bit is set). */
  private liveCount = 0;
  private readonly free: number[] = [];
  private used = 0;
  /** The slot of the entry made for the packet in flight, until it is confirmed. */
  private pending = -1;
  private nextId = 0;
  /** The last successful find (no object per lookup). */
  private hitSlot = -1;
  private hitDir: CtDir = "ORIGINAL";
  /** tcpStep's answers by packed input, and tcpNewState's by flags (both pure). */
  private readonly steps = new Map<number, PackedStep>();
  private readonly newOk: (boolean | undefined)[] = [];

  /** `hash` is hash4; tests pass a worse one to make lookups walk long probe runs. */
  constructor(
    options: ConntrackTableOptions,
    private readonly hash: typeof hash4 = hash4,
  ) {
    this.now = options.now;
    this.timeouts = options.timeouts ? withTimeouts(options.timeouts) : DEFAULT_TABLE_TIMEOUTS;
    this.tcpLoose = options.tcpLoose ?? true;
  }

  lookup(p: Packet): { entry: ConntrackEntry; dir: CtDir } | null {
    return this.index.size !== 0 && this.findPacket(p)
      ? { entry: this.view(this.hitSlot), dir: this.hitDir }
      : null;
  }

  canCreate(p: Packet): boolean {
    if (p.proto === PROTO.tcp) {
      const flags = p.tcpFlags & 0xff;
      let ok = this.newOk[flags];
      if (ok === undefined) ok = this.newOk[flags] = tcpNewState(flags, this.tcpLoose) !== "INVALID";
      return ok;
    }
    if (isIcmp(p.proto)) {
      const validNew = p.proto === PROTO.icmp ? ICMP_VALID_NEW : ICMPV6_VALID_NEW;
      return canInvert(tupleOf(p)) && validNew.has(p.icmpType);
    }
    return true;
  }

  create(p: Packet): ConntrackEntry {
    if (!this.canCreate(p)) {
      throw new RangeError(
        `Cannot create a conntrack entry: protocol ${p.proto} packet is INVALID without one`,
      );
    }
    return this.view(this.make(p));
  }

  setReply(entry: ConntrackEntry, reply: CtTuple, kind: "SNAT" | "DNAT"): void {
    const slot = this.slotOf(entry);
    const s = this.s;
    if (s.bits(slot, STATUS_BITS) & CONFIRMED)
      throw new Error(`Cannot rewrite the reply tuple of confirmed conntrack entry ${entry.id}`);
    if (this.isReply(slot, reply)) return;
    s.setTuple(slot, REPLY, reply);
    s.setBits(slot, STATUS_BITS, s.bits(slot, STATUS_BITS) | (kind === "SNAT" ? SRC_NAT : DST_NAT));
  }

  /** table.ts setReplyNat over the slot's words: no tuple object. */
  setReplyNat(entry: ConntrackEntry, kind: "SNAT" | "DNAT", addr: number | bigint, port: number): void {
    const slot = this.slotOf(entry);
    const s = this.s;
    const status = s.bits(slot, STATUS_BITS);
    if (status & CONFIRMED)
      throw new Error(`Cannot rewrite the reply tuple of confirmed conntrack entry ${entry.id}`);
    if (typeof addr !== "number") throw new Error("bulk mode's conntrack table is IPv4 only");
    const ports = s.int(slot, I_RPORTS);
    const field = kind === "DNAT" ? I_RSRC : I_RDST;
    const newPorts = kind === "DNAT" ? (port << 16) | (ports & 0xffff) : (ports & ~0xffff) | port;
    if (s.int(slot, field) === (addr | 0) && ports === newPorts) return; // the same tuple: no NAT
    s.setInt(slot, field, addr);
    s.setInt(slot, I_RPORTS, newPorts);
    s.setBits(slot, STATUS_BITS, status | (kind === "SNAT" ? SRC_NAT : DST_NAT));
  }

  isTupleTaken(t: CtTuple, ignore?: ConntrackEntry): boolean {
    if (this.index.size === 0) return false;
    return this.findTuple(t) && (ignore === undefined || this.hitSlot !== this.slotOf(ignore));
  }

  confirm(entry: ConntrackEntry): boolean {
    const slot = this.slotOf(entry);
    return this.confirmSlot(slot);
  }

  update(entry: ConntrackEntry, dir: CtDir, p: Packet): UpdateResult {
    return this.apply(this.slotOf(entry), dir, p);
  }

  classify(p: Packet, embedded?: CtTuple): Classified {
    if (p.family !== 4) throw new Error("bulk mode's conntrack table is IPv4 only");
    if (isIcmp(p.proto)) {
      // table.ts icmpClass() for an IPv4 packet.
      if (p.icmpType < 0 || p.icmpType > NR_ICMP_TYPES) return untracked("INVALID");
      if (ICMP_ERRORS.has(p.icmpType)) return this.related(p, embedded);
    }
    if (this.index.size !== 0 && this.findPacket(p)) {
      const slot = this.hitSlot;
      const dir = this.hitDir;
      const result = this.apply(slot, dir, p);
      if (result.invalid) return untracked("INVALID");
      if (!result.repeat) return { entry: this.view(slot), dir, ctstate: result.ctstate };
    }
    if (!this.canCreate(p)) return untracked("INVALID");
    return { entry: this.view(this.make(p)), dir: "ORIGINAL", ctstate: "NEW" };
  }

  list(): ConntrackEntry[] {
    this.purgeExpired();
    const out: EntryView[] = [];
    for (let slot = 0; slot < this.used; slot++) if (this.s.bits(slot, LIVE_BITS)) out.push(this.view(slot));
    return out.sort((a, b) => a.id - b.id);
  }

  get size(): number {
    this.purgeExpired();
    return this.liveCount;
  }

  delete(entry: ConntrackEntry): boolean {
    const slot = this.slotOf(entry);
    return this.deleteSlot(slot);
  }

  flush(): void {
    for (let slot = 0; slot < this.used; slot++) this.deleteSlot(slot);
  }

  // ---- slots ----

  private view(slot: number): EntryView {
    return new EntryView(this.s, slot, this.s.int(slot, I_ID) as number);
  }

  private slotOf(entry: ConntrackEntry): number {
    if (!(entry instanceof EntryView) || entry.s !== this.s)
      throw new Error(`Conntrack entry ${entry.id} does not belong to this table`);
    if (this.s.int(entry.slot, I_ID) !== entry.id) throw new Error(`Conntrack entry ${entry.id} was deleted`);
    return entry.slot;
  }

  /** init_conntrack: a new unconfirmed entry for the packet, its tracker run once. */
  private make(p: Packet): number {
    // The previous packet's entry, never confirmed, went with its packet.
    if (this.pending >= 0 && !(this.s.bits(this.pending, STATUS_BITS) & CONFIRMED))
      this.release(this.pending);
    let slot = this.free.pop();
    if (slot === undefined) {
      if (this.used === this.s.capacity) this.s.grow();
      slot = this.used++;
    }
    const s = this.s;
    const now = this.now();
    s.setInt(slot, I_ID, ++this.nextId);
    s.setBits(slot, PROTO_BITS, p.proto);
    if (isIcmp(p.proto)) {
      const orig = tupleOf(p);
      s.setTuple(slot, ORIGINAL, orig);
      s.setTuple(slot, REPLY, invert(orig));
    } else {
      // tupleOf and invert over the words: addresses and ports swap (no ports: both 0), no ICMP type.
      const ports = hasPorts(p.proto);
      s.setWords(slot, ORIGINAL, p.src as number, p.dst as number, ports ? p.sport : 0, ports ? p.dport : 0);
      s.setWords(slot, REPLY, p.dst as number, p.src as number, ports ? p.dport : 0, ports ? p.sport : 0);
    }
    s.setBits(slot, TCP_STATE_BITS, p.proto === PROTO.tcp ? 1 : 0);
    s.setBits(slot, STATUS_BITS, 0);
    s.setInt(slot, I_MARK, 0);
    s.setExpiresAt(slot, now);
    s.setCreatedAt(slot, now);
    s.setInt(slot, I_TIMEOUT, 0);
    // newTcpTrack(): NONE, last_index NONE, last_dir ORIGINAL, no flags.
    s.setBits(slot, TRACK_BITS, NEW_TRACK);
    s.setBits(slot, LIVE_BITS, 0);
    this.pending = slot;
    this.apply(slot, "ORIGINAL", p);
    return slot;
  }

  /** Frees a slot: its views read "deleted" once another entry takes it. */
  private release(slot: number): void {
    if (this.pending === slot) this.pending = -1;
    this.free.push(slot);
  }

  private confirmSlot(slot: number): boolean {
    const s = this.s;
    if (s.bits(slot, STATUS_BITS) & CONFIRMED) return true;
    // table.ts checks the original tuple, then the reply tuple (a find drops expired entries on the way).
    if (this.findKey(slot, ORIGINAL)) return false;
    const origHash = this.qHash;
    if (this.findKey(slot, REPLY)) return false;
    // Both are absent, so they go in without another find; a tuple that is its own inverse (same
    // address and port both ways) is one key, which the reply direction then takes, as a Map's set.
    this.index.add(origHash, slot * 2 + ORIGINAL);
    if (this.isOwnInverse(slot)) this.index.set(this.qHash, this, slot * 2 + REPLY);
    else this.index.add(this.qHash, slot * 2 + REPLY);
    s.setBits(slot, LIVE_BITS, 1);
    this.liveCount++;
    s.setBits(slot, STATUS_BITS, s.bits(slot, STATUS_BITS) | CONFIRMED);
    s.setExpiresAt(slot, this.now() + s.int(slot, I_TIMEOUT));
    if (this.pending === slot) this.pending = -1;
    return true;
  }

  private deleteSlot(slot: number): boolean {
    const s = this.s;
    if (!s.bits(slot, LIVE_BITS)) return false;
    this.remove(slot, ORIGINAL);
    this.remove(slot, REPLY);
    s.setBits(slot, LIVE_BITS, 0);
    this.liveCount--;
    this.release(slot);
    return true;
  }

  private purgeExpired(): void {
    const now = this.now();
    const s = this.s;
    // The slots in memory order: no random access into the fields.
    for (let slot = 0; slot < this.used; slot++)
      if (s.bits(slot, LIVE_BITS) && s.expiresAt(slot) <= now) this.deleteSlot(slot);
  }

  // ---- the index ----

  private findPacket(p: Packet): boolean {
    const icmp = isIcmp(p.proto);
    const ports = hasPorts(p.proto);
    const sport = icmp ? Math.max(0, p.icmpId) : ports ? p.sport : 0;
    const dport = icmp ? 0 : ports ? p.dport : 0;
    const word = icmp ? keyWord(p.proto, p.icmpType, p.icmpCode) : p.proto;
    return this.find4(p.src as number, p.dst as number, (sport << 16) | dport, word);
  }

  private findTuple(t: CtTuple): boolean {
    if (t.family !== 4) return false; // an IPv4-only table holds no other tuple
    return this.find4(
      t.src as number,
      t.dst as number,
      (t.sport << 16) | t.dport,
      keyWord(t.proto, t.icmpType, t.icmpCode),
    );
  }

  /** Finds one of a slot's own tuples. */
  private findKey(slot: number, dir: number): boolean {
    const s = this.s;
    const o = dir === ORIGINAL;
    return this.find4(
      (o ? s.int(slot, I_OSRC) : s.int(slot, I_RSRC)) as number,
      (o ? s.int(slot, I_ODST) : s.int(slot, I_RDST)) as number,
      (o ? s.int(slot, I_OPORTS) : s.int(slot, I_RPORTS)) as number,
      this.wordOf(slot, dir),
    );
  }

  private wordOf(slot: number, dir: number): number {
    const s = this.s;
    const proto = s.bits(slot, PROTO_BITS) as number;
    if (!isIcmp(proto)) return proto;
    return dir === ORIGINAL
      ? keyWord(proto, ...icmpOf(s.int(slot, I_OICMP)))
      : keyWord(proto, ...icmpOf(s.int(slot, I_RICMP)));
  }

  private find4(src: number, dst: number, ports: number, word: number): boolean {
    const i = this.locate(src, dst, ports, word);
    if (i < 0) return false;
    const value = this.index.valueAt(i);
    const slot = value >> 1;
    // nf_ct_is_expired(): an expired entry is dropped when found (table.ts find).
    if (this.s.expiresAt(slot) <= this.now()) {
      this.deleteSlot(slot);
      return false;
    }
    this.hitSlot = slot;
    this.hitDir = (value & 1) === REPLY ? "REPLY" : "ORIGINAL";
    return true;
  }

  /** KeyCheck: whether the index value's tuple (slot * 2 + direction) is the one looked up. */
  matches(value: number): boolean {
    const slot = value >> 1;
    const s = this.s;
    if ((value & 1) === REPLY)
      return (
        s.int(slot, I_RSRC) === this.qSrc &&
        s.int(slot, I_RDST) === this.qDst &&
        s.int(slot, I_RPORTS) === this.qPorts &&
        this.wordOf(slot, REPLY) === this.qWord
      );
    return (
      s.int(slot, I_OSRC) === this.qSrc &&
      s.int(slot, I_ODST) === this.qDst &&
      s.int(slot, I_OPORTS) === this.qPorts &&
      this.wordOf(slot, ORIGINAL) === this.qWord
    );
  }

  /** The index position of a tuple's words, or -1. */
  private locate(src: number, dst: number, ports: number, word: number): number {
    this.qSrc = src | 0;
    this.qDst = dst | 0;
    this.qPorts = ports | 0;
    this.qWord = word | 0;
    this.qHash = this.hash(src, dst, ports, word);
    return this.index.find(this.qHash, this);
  }

  /** The index position of one of a slot's own tuples, or -1. */
  private locateKey(slot: number, dir: number): number {
    const s = this.s;
    const o = dir === ORIGINAL;
    return this.locate(
      (o ? s.int(slot, I_OSRC) : s.int(slot, I_RSRC)) as number,
      (o ? s.int(slot, I_ODST) : s.int(slot, I_RDST)) as number,
      (o ? s.int(slot, I_OPORTS) : s.int(slot, I_RPORTS)) as number,
      this.wordOf(slot, dir),
    );
  }

  /** Whether a slot's original and reply tuples are the same key (the qWord/qHash of REPLY are set). */
  private isOwnInverse(slot: number): boolean {
    const s = this.s;
    return (
      s.int(slot, I_OSRC) === s.int(slot, I_RSRC) &&
      s.int(slot, I_ODST) === s.int(slot, I_RDST) &&
      s.int(slot, I_OPORTS) === s.int(slot, I_RPORTS) &&
      this.wordOf(slot, ORIGINAL) === this.wordOf(slot, REPLY)
    );
  }

  /** Unindexes one of a slot's tuples if it still leads to the slot (table.ts delete). */
  private remove(slot: number, dir: number): void {
    const i = this.locateKey(slot, dir);
    if (i >= 0 && this.index.valueAt(i) >> 1 === slot) this.index.deleteAt(i);
  }

  /** Whether `t` is the slot's reply tuple (table.ts sameTuple). */
  private isReply(slot: number, t: CtTuple): boolean {
    const s = this.s;
    return (
      t.family === 4 &&
      t.proto === s.bits(slot, PROTO_BITS) &&
      ((t.src as number) | 0) === s.int(slot, I_RSRC) &&
      ((t.dst as number) | 0) === s.int(slot, I_RDST) &&
      ((t.sport << 16) | t.dport) === s.int(slot, I_RPORTS) &&
      (!isIcmp(t.proto) || ((t.icmpType & 0xffff) | (t.icmpCode << 16)) === s.int(slot, I_RICMP))
    );
  }

  // ---- the trackers: table.ts's update(), afterTcp(), afterUdp(), related() over a slot ----

  private apply(slot: number, dir: CtDir, p: Packet): UpdateResult {
    const s = this.s;
    const seenReply = (s.bits(slot, STATUS_BITS) & SEEN_REPLY) !== 0;
    const established = dir === "REPLY" || seenReply;
    let killed = false;
    if (p.proto === PROTO.tcp) {
      const step = this.tcpStep(slot, dir, p.tcpFlags);
      if (step.kind === "INVALID") return RESULT_INVALID;
      if (step.kind === "REOPEN") {
        this.deleteSlot(slot);
        return RESULT_REOPEN;
      }
      this.setTrack(slot, step.track);
      if (step.kind === "ACCEPT") killed = this.afterTcp(slot, step.oldState, step.index, p.tcpFlags);
    } else if (p.proto === PROTO.udp) {
      this.afterUdp(slot);
    } else if (p.proto === PROTO.udplite) {
      if (seenReply) s.setBits(slot, STATUS_BITS, s.bits(slot, STATUS_BITS) | ASSURED);
      this.refresh(slot, seenReply ? this.timeouts.udpStream : this.timeouts.udpUnreplied);
    } else if (p.proto === PROTO.icmp) {
      this.refresh(slot, this.timeouts.icmp);
    } else if (p.proto === PROTO.icmpv6) {
      this.refresh(slot, this.timeouts.icmpv6);
    } else {
      this.refresh(slot, this.timeouts.generic);
    }
    if (dir === "REPLY") s.setBits(slot, STATUS_BITS, s.bits(slot, STATUS_BITS) | SEEN_REPLY);
    if (established) return killed ? RESULT_EST_KILLED : RESULT_EST;
    return killed ? RESULT_NEW_KILLED : RESULT_NEW;
  }

  /**
   * tcp-state.ts's tcpStep for the slot's track, direction and flags. tcpStep is a pure function of
   * those (the track packs into 11 bits, the flags into 8), so each answer is computed once.
   */
  private tcpStep(slot: number, dir: CtDir, tcpFlags: number): PackedStep {
    const key = this.packedTrack(slot) | (dir === "REPLY" ? 1 << 11 : 0) | ((tcpFlags & 0xff) << 12);
    let step = this.steps.get(key);
    if (step === undefined) {
      const r = tcpStep(this.trackOf(slot), dir, tcpFlags);
      step = {
        kind: r.kind,
        track: r.kind === "ACCEPT" || r.kind === "IGNORE" ? packTrack(r.track) : 0,
        oldState: r.kind === "ACCEPT" ? r.oldState : "NONE",
        index: r.kind === "ACCEPT" ? r.index : "NONE",
      };
      this.steps.set(key, step);
    }
    return step;
  }

  private packedTrack(slot: number): number {
    const s = this.s;
    return s.bits(slot, TRACK_BITS);
  }

  private trackOf(slot: number): TcpTrack {
    const s = this.s;
    const packed = s.bits(slot, TRACK_BITS);
    const flags = (packed >> 8) & 7;
    return {
      state: TCP_STATES[(packed & 15) - 1] as TcpState,
      lastIndex: TCP_INDEXES[(packed >> 4) & 7] as TcpIndex,
      lastDir: (packed >> 7) & 1 ? "REPLY" : "ORIGINAL",
      closeInit: (flags & CLOSE_INIT) !== 0,
      simultaneousOpen: (flags & SIMULTANEOUS_OPEN) !== 0,
      challengeAck: (flags & CHALLENGE_ACK) !== 0,
    };
  }

  private setTrack(slot: number, packed: number): void {
    const s = this.s;
    s.setBits(slot, TRACK_BITS, packed);
  }

  private refresh(slot: number, seconds: number): void {
    const s = this.s;
    s.setInt(slot, I_TIMEOUT, seconds * 1000);
    s.setExpiresAt(slot, this.now() + seconds * 1000);
  }

  private afterTcp(slot: number, oldState: TcpState, index: TcpIndex, tcpFlags: number): boolean {
    const s = this.s;
    const code = s.bits(slot, TRACK_BITS) & 15;
    s.setBits(slot, TCP_STATE_BITS, code);
    const newState = TCP_STATES[code - 1] as TcpState;
    if (newState === "NONE") return false;
    let timeout = index === "RST" ? this.timeouts.tcpClose : tcpStateTimeout(this.timeouts, newState);
    const status = s.bits(slot, STATUS_BITS) as number;
    if (!(status & SEEN_REPLY)) {
      if (tcpFlags & TCP.RST) {
        this.deleteSlot(slot);
        return true;
      }
      if (index === "SYN" && oldState === "SYN_SENT") return false;
      if (newState === "ESTABLISHED") timeout = Math.min(timeout, this.timeouts.tcpUnacknowledged);
    } else if (
      !(status & ASSURED) &&
      (oldState === "SYN_RECV" || oldState === "ESTABLISHED") &&
      newState === "ESTABLISHED"
    ) {
      s.setBits(slot, STATUS_BITS, status | ASSURED);
    }
    this.refresh(slot, timeout);
    return false;
  }

  private afterUdp(slot: number): void {
    const s = this.s;
    if (!(s.bits(slot, STATUS_BITS) & SEEN_REPLY)) {
      this.refresh(slot, this.timeouts.udpUnreplied);
      return;
    }
    const stream = this.now() > s.createdAt(slot) + 2000;
    this.refresh(slot, stream ? this.timeouts.udpStream : this.timeouts.udpUnreplied);
    if (stream) s.setBits(slot, STATUS_BITS, s.bits(slot, STATUS_BITS) | ASSURED);
  }

  private related(p: Packet, embedded: CtTuple | undefined): Classified {
    if (embedded === undefined || !canInvert(embedded)) return untracked("INVALID");
    if (!this.findTuple(invert(embedded))) return untracked("INVALID");
    const slot = this.hitSlot;
    const dir = this.hitDir;
    const dst = (dir === "ORIGINAL" ? this.s.int(slot, I_ODST) : this.s.int(slot, I_RDST)) as number;
    if (dst !== ((p.dst as number) | 0)) return untracked("INVALID");
    return { entry: this.view(slot), dir, ctstate: "RELATED" };
  }
}
