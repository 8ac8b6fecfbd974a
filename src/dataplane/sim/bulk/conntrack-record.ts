import type { ConntrackEntry, CtStatus, CtTuple, TcpState } from "../../../model/conntrack.ts";
import {
  newTcpTrack,
  TCP_STATES,
  type TcpIndex,
  type TcpStep,
  type TcpTrack,
} from "../conntrack/tcp-state.ts";

/**
 * Bulk mode's conntrack entries as records (flat-conntrack.ts keeps the table): the layout of a
 * 64-byte record per entry in one flat buffer, the TCP state machine's values packed into it, and
 * the ConntrackEntry view of a record that the table hands out.
 */

/** A TCP state's code is its index in tcp-state.ts's TCP_STATES (enum tcp_conntrack) + 1; 0: no TCP state. */
export { TCP_STATES };

const TCP_STATE_CODE = new Map(TCP_STATES.map((s, i) => [s, i + 1]));
/** tcp-state.ts's TcpIndex values (enum tcp_bit_set); a value's code is its index. */
export const TCP_INDEXES: readonly TcpIndex[] = ["SYN", "SYNACK", "FIN", "ACK", "RST", "NONE"];
const TCP_INDEX_CODE = new Map(TCP_INDEXES.map((s, i) => [s, i]));

/** Status bits (IPS_* in nf_conntrack_common.h, in CtStatus's terms). */
const EXPECTED = 1;
export const SEEN_REPLY = 2;
export const ASSURED = 4;
export const CONFIRMED = 8;
export const SRC_NAT = 16;
export const DST_NAT = 32;
/** TcpTrack's flags. */
export const CLOSE_INIT = 1;
export const SIMULTANEOUS_OPEN = 2;
export const CHALLENGE_ACK = 4;

export const ORIGINAL = 0;
export const REPLY = 1;
const MIN_SLOTS = 64;

/** A TcpStep with its track packed (see packTrack). */
export interface PackedStep {
  readonly kind: TcpStep["kind"];
  readonly track: number;
  readonly oldState: TcpState;
  readonly index: TcpIndex;
}

/** ICMP type and code from their Int32 word (see I_OICMP). */
export function icmpOf(w: number): [number, number] {
  return [(w << 16) >> 16, w >> 16];
}

/** A TcpTrack in 11 bits: state code (4), last index (3), last direction (1), flags (3). */
export function packTrack(t: TcpTrack): number {
  return (
    (TCP_STATE_CODE.get(t.state) as number) |
    ((TCP_INDEX_CODE.get(t.lastIndex) as number) << 4) |
    ((t.lastDir === "REPLY" ? REPLY : ORIGINAL) << 7) |
    ((t.closeInit ? CLOSE_INIT : 0) << 8) |
    ((t.simultaneousOpen ? SIMULTANEOUS_OPEN : 0) << 8) |
    ((t.challengeAck ? CHALLENGE_ACK : 0) << 8)
  );
}

/** newTcpTrack(), packed: NONE, last index NONE, last direction ORIGINAL, no flags. */
export const NEW_TRACK = packTrack(newTcpTrack());

/**
 * The entries' fields, a 64-byte record per slot (one cache line: an entry found cold costs one
 * miss, not one per field): two Float64 words, then Int32 words from the fifth on.
 */
const F_EXPIRES = 0;
const F_CREATED = 1;
export const I_ID = 4;
export const I_TIMEOUT = 5;
export const I_OSRC = 6;
export const I_ODST = 7;
export const I_OPORTS = 8;
/** ICMP type and code: type & 0xffff | code << 16 (both -1 when not ICMP). */
export const I_OICMP = 9;
export const I_RSRC = 10;
export const I_RDST = 11;
export const I_RPORTS = 12;
export const I_RICMP = 13;
export const I_MARK = 14;
/** proto (8 bits), tcpState code (4), status (6), TcpTrack: state (4), last index (3), last dir (1), flags (3); live (1). */
const I_BITS = 15;
const F_STRIDE = 8;
const I_STRIDE = 16;

/** A bit field of I_BITS: its shift and width. */
export const PROTO_BITS = [0, 8] as const;
export const TCP_STATE_BITS = [8, 4] as const;
export const STATUS_BITS = [12, 6] as const;
export const TRACK_BITS = [18, 11] as const;
export const LIVE_BITS = [29, 1] as const;

export class Slots {
  private f = new Float64Array(MIN_SLOTS * F_STRIDE);
  private i = new Int32Array(this.f.buffer);

  get capacity(): number {
    return this.f.length / F_STRIDE;
  }

  grow(): void {
    const f = new Float64Array(this.f.length * 2);
    f.set(this.f);
    this.f = f;
    this.i = new Int32Array(f.buffer);
  }

  expiresAt(slot: number): number {
    return this.f[slot * F_STRIDE + F_EXPIRES] as number;
  }

  setExpiresAt(slot: number, v: number): void {
    this.f[slot * F_STRIDE + F_EXPIRES] = v;
  }

  createdAt(slot: number): number {
    return this.f[slot * F_STRIDE + F_CREATED] as number;
  }

  setCreatedAt(slot: number, v: number): void {
    this.f[slot * F_STRIDE + F_CREATED] = v;
  }

  int(slot: number, field: number): number {
    return this.i[slot * I_STRIDE + field] as number;
  }

  setInt(slot: number, field: number, v: number): void {
    this.i[slot * I_STRIDE + field] = v;
  }

  bits(slot: number, [shift, width]: readonly [number, number]): number {
    return ((this.i[slot * I_STRIDE + I_BITS] as number) >>> shift) & ((1 << width) - 1);
  }

  setBits(slot: number, [shift, width]: readonly [number, number], v: number): void {
    const at = slot * I_STRIDE + I_BITS;
    const mask = ((1 << width) - 1) << shift;
    this.i[at] = ((this.i[at] as number) & ~mask) | ((v << shift) & mask);
  }

  tuple(slot: number, dir: number): CtTuple {
    const base = slot * I_STRIDE + (dir === ORIGINAL ? I_OSRC : I_RSRC);
    const i = this.i;
    const ports = i[base + 2] as number;
    const icmp = i[base + 3] as number;
    return {
      family: 4,
      proto: this.bits(slot, PROTO_BITS),
      src: (i[base] as number) >>> 0,
      dst: (i[base + 1] as number) >>> 0,
      sport: ports >>> 16,
      dport: ports & 0xffff,
      icmpType: (icmp << 16) >> 16,
      icmpCode: icmp >> 16,
    };
  }

  /** setTuple for a tuple without ICMP type and code (both -1). */
  setWords(slot: number, dir: number, src: number, dst: number, sport: number, dport: number): void {
    const base = slot * I_STRIDE + (dir === ORIGINAL ? I_OSRC : I_RSRC);
    const i = this.i;
    i[base] = src;
    i[base + 1] = dst;
    i[base + 2] = (sport << 16) | dport;
    i[base + 3] = -1; // (-1 & 0xffff) | (-1 << 16)
  }

  setTuple(slot: number, dir: number, t: CtTuple): void {
    const base = slot * I_STRIDE + (dir === ORIGINAL ? I_OSRC : I_RSRC);
    const i = this.i;
    i[base] = t.src as number;
    i[base + 1] = t.dst as number;
    i[base + 2] = (t.sport << 16) | t.dport;
    i[base + 3] = (t.icmpType & 0xffff) | (t.icmpCode << 16);
  }
}

/** A conntrack entry read from its slot: what table.ts's entry object holds, field by field. */
export class EntryView implements ConntrackEntry {
  constructor(
    readonly s: Slots,
    readonly slot: number,
    readonly id: number,
  ) {}

  private at(): number {
    if (this.s.int(this.slot, I_ID) !== this.id) throw new Error(`Conntrack entry ${this.id} was deleted`);
    return this.slot;
  }

  get orig(): CtTuple {
    return this.s.tuple(this.at(), ORIGINAL);
  }

  get reply(): CtTuple {
    return this.s.tuple(this.at(), REPLY);
  }

  get tcpState(): TcpState | null {
    const code = this.s.bits(this.at(), TCP_STATE_BITS);
    return code === 0 ? null : (TCP_STATES[code - 1] as TcpState);
  }

  get status(): CtStatus {
    const b = this.s.bits(this.at(), STATUS_BITS);
    return {
      expected: (b & EXPECTED) !== 0,
      seenReply: (b & SEEN_REPLY) !== 0,
      assured: (b & ASSURED) !== 0,
      confirmed: (b & CONFIRMED) !== 0,
      srcNat: (b & SRC_NAT) !== 0,
      dstNat: (b & DST_NAT) !== 0,
    };
  }

  /** The ctmark: CONNMARK sets it. */
  get mark(): number {
    return this.s.int(this.at(), I_MARK) >>> 0;
  }

  set mark(value: number) {
    this.s.setInt(this.at(), I_MARK, value);
  }

  get zone(): number {
    return 0;
  }

  get expiresAt(): number {
    return this.s.expiresAt(this.at());
  }

  get use(): number {
    return 1;
  }

  /** The fields as a plain object (what table.ts's entry is). */
  toJSON(): ConntrackEntry {
    return {
      id: this.id,
      orig: this.orig,
      reply: this.reply,
      tcpState: this.tcpState,
      status: this.status,
      mark: this.mark,
      zone: 0,
      expiresAt: this.expiresAt,
      use: 1,
    };
  }
}
