import type { CtDir, TcpState } from "../../../model/conntrack.ts";
import { TCP } from "../../../model/packet.ts";

/**
 * The kernel's TCP connection tracking state machine, from net/netfilter/nf_conntrack_proto_tcp.c
 * (upstream 6.x). Pure functions over a small record; the table module adds timeouts, SEEN_REPLY and
 * ASSURED on top.
 *
 * Window tracking (tcp_in_window: sequence/ack bounds, window scaling, SACK, retransmission counting)
 * is out of scope: every segment is taken to be in window, i.e. the peers are assumed to be in sync.
 * Where the kernel compares sequence numbers outside tcp_in_window (the SYN/ACK that resyncs after an
 * ignored SYN, the RST checks in CLOSE) the comparison is likewise assumed to hold.
 */

/** Which row of tcp_conntracks a segment uses (enum tcp_bit_set). */
export type TcpIndex = "SYN" | "SYNACK" | "FIN" | "ACK" | "RST" | "NONE";

/** get_conntrack_index(): RST wins, then SYN (with or without ACK), then FIN, then ACK. */
export function tcpIndex(tcpFlags: number): TcpIndex {
  if (tcpFlags & TCP.RST) return "RST";
  if (tcpFlags & TCP.SYN) return tcpFlags & TCP.ACK ? "SYNACK" : "SYN";
  if (tcpFlags & TCP.FIN) return "FIN";
  if (tcpFlags & TCP.ACK) return "ACK";
  return "NONE";
}

/**
 * tcp_error()'s `tcp_valid_flags[]`: after masking PSH, ECE and CWR, only these combinations are legal.
 * Everything else (a bare FIN, SYN+FIN, no flags at all, ...) is INVALID before the state table is
 * consulted, which is why the table's "none" row is never reached in practice.
 */
const VALID_FLAGS = new Set<number>([
  TCP.SYN,
  TCP.SYN | TCP.URG,
  TCP.SYN | TCP.ACK,
  TCP.RST,
  TCP.RST | TCP.ACK,
  TCP.FIN | TCP.ACK,
  TCP.FIN | TCP.ACK | TCP.URG,
  TCP.ACK,
  TCP.ACK | TCP.URG,
]);

export function tcpFlagsValid(tcpFlags: number): boolean {
  return VALID_FLAGS.has(tcpFlags & ~(TCP.PSH | TCP.ECE | TCP.CWR) & 0xff);
}

type Cell = TcpState | "INVALID" | "IGNORE";

/**
 * Column order of the table: enum tcp_conntrack (sNO, sSS, sSR, sES, sFW, sCW, sLA, sTW, sCL, sS2).
 * The enum order matters beyond indexing: nf_conntrack_tcp_packet() compares `old_state < TIME_WAIT`.
 */
export const TCP_STATES: readonly TcpState[] = [
  "NONE",
  "SYN_SENT",
  "SYN_RECV",
  "ESTABLISHED",
  "FIN_WAIT",
  "CLOSE_WAIT",
  "LAST_ACK",
  "TIME_WAIT",
  "CLOSE",
  "SYN_SENT2",
];
const COLUMN = new Map<TcpState, number>(TCP_STATES.map((s, i) => [s, i]));

const sSS: Cell = "SYN_SENT";
const sSR: Cell = "SYN_RECV";
const sES: Cell = "ESTABLISHED";
const sFW: Cell = "FIN_WAIT";
const sCW: Cell = "CLOSE_WAIT";
const sLA: Cell = "LAST_ACK";
const sTW: Cell = "TIME_WAIT";
const sCL: Cell = "CLOSE";
const sS2: Cell = "SYN_SENT2";
const sIV: Cell = "INVALID"; // TCP_CONNTRACK_MAX: "truly invalid"
const sIG: Cell = "IGNORE"; // TCP_CONNTRACK_IGNORE: let it through, change nothing

/** tcp_conntracks[2][6][TCP_CONNTRACK_MAX], transcribed row by row (rows: syn, synack, fin, ack, rst, none). */
// biome-ignore format: the columns line up with the kernel's table
const TABLE: Readonly<Record<CtDir, Readonly<Record<TcpIndex, readonly Cell[]>>>> = {
  ORIGINAL: {
    //       sNO  sSS  sSR  sES  sFW  sCW  sLA  sTW  sCL  sS2
    SYN:    [sSS, sSS, sIG, sIG, sIG, sIG, sIG, sSS, sSS, sS2],
    SYNACK: [sIV, sIV, sSR, sIV, sIV, sIV, sIV, sIV, sIV, sSR],
    FIN:    [sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV],
    ACK:    [sES, sIV, sES, sES, sCW, sCW, sTW, sTW, sCL, sIV],
    RST:    [sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL],
    NONE:   [sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV],
  },
  REPLY: {
    //       sNO  sSS  sSR  sES  sFW  sCW  sLA  sTW  sCL  sS2
    SYN:    [sIV, sS2, sIV, sIV, sIV, sIV, sIV, sSS, sIV, sS2],
    SYNACK: [sIV, sSR, sIG, sIG, sIG, sIG, sIG, sIG, sIG, sSR],
    FIN:    [sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV],
    ACK:    [sIV, sIG, sSR, sES, sCW, sCW, sTW, sTW, sCL, sIG],
    RST:    [sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL],
    NONE:   [sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV],
  },
};

function cell(dir: CtDir, index: TcpIndex, state: TcpState): Cell {
  return TABLE[dir][index][COLUMN.get(state) ?? 0] ?? "INVALID";
}

/**
 * One lookup in the state table, after tcp_error()'s flag check: the next state, "INVALID" (sIV: the
 * packet is INVALID and the entry keeps its state) or "IGNORE" (sIG: the packet passes, nothing
 * changes). The extra rules of nf_conntrack_tcp_packet() live in tcpStep().
 */
export function tcpTransition(
  state: TcpState,
  dir: CtDir,
  tcpFlags: number,
): TcpState | "INVALID" | "IGNORE" {
  if (!tcpFlagsValid(tcpFlags)) return "INVALID";
  return cell(dir, tcpIndex(tcpFlags), state);
}

/**
 * tcp_new(): the state a segment without an entry would create, `tcp_conntracks[0][index][sNO]`.
 * A SYN opens SYN_SENT; any other legal ACK-only segment is a mid-stream pickup straight to ESTABLISHED
 * when nf_conntrack_tcp_loose=1 (the default) and INVALID when it is 0. SYN/ACK, FIN/ACK and RST map
 * to sIV: "too late and no reason to do anything".
 */
export function tcpNewState(tcpFlags: number, loose = true): "SYN_SENT" | "ESTABLISHED" | "INVALID" {
  const next = tcpTransition("NONE", "ORIGINAL", tcpFlags);
  if (next === "SYN_SENT") return next;
  if (next === "ESTABLISHED" && loose) return next;
  return "INVALID";
}

/** The part of `struct ip_ct_tcp` the state machine reads besides the state itself. */
export interface TcpTrack {
  readonly state: TcpState;
  /** last_index / last_dir: the previous segment that was accepted or ignored. */
  readonly lastIndex: TcpIndex;
  readonly lastDir: CtDir;
  /** IP_CT_TCP_FLAG_CLOSE_INIT in either direction: some side sent the first FIN. */
  readonly closeInit: boolean;
  /** IP_CT_TCP_SIMULTANEOUS_OPEN in last_flags. */
  readonly simultaneousOpen: boolean;
  /** IP_CT_EXP_CHALLENGE_ACK in last_flags: a SYN was let through in LAST_ACK (RFC 5961). */
  readonly challengeAck: boolean;
}

/** The record tcp_new() leaves behind: zeroed (last_dir 0 is ORIGINAL) with last_index TCP_NONE_SET. */
export function newTcpTrack(): TcpTrack {
  return {
    state: "NONE",
    lastIndex: "NONE",
    lastDir: "ORIGINAL",
    closeInit: false,
    simultaneousOpen: false,
    challengeAck: false,
  };
}

export type TcpStep =
  /** The segment is INVALID; the entry is unchanged. */
  | { readonly kind: "INVALID" }
  /** The segment passes but the state and timeout stay (NF_ACCEPT before the refresh). */
  | { readonly kind: "IGNORE"; readonly track: TcpTrack }
  /** A SYN on a closed or aborted connection: the kernel kills the entry and tracks the SYN afresh (-NF_REPEAT). */
  | { readonly kind: "REOPEN" }
  /** The segment moves the connection to `track.state`. */
  | {
      readonly kind: "ACCEPT";
      readonly track: TcpTrack;
      readonly oldState: TcpState;
      readonly index: TcpIndex;
    };

const TIME_WAIT_COLUMN = COLUMN.get("TIME_WAIT") ?? 7;

/** nf_conntrack_tcp_packet()'s decision for one segment, everything up to the timeout choice. */
export function tcpStep(track: TcpTrack, dir: CtDir, tcpFlags: number): TcpStep {
  if (!tcpFlagsValid(tcpFlags)) return { kind: "INVALID" };
  const index = tcpIndex(tcpFlags);
  let oldState = track.state;
  let next = cell(dir, index, oldState);
  let { simultaneousOpen, challengeAck } = track;

  switch (next) {
    case "SYN_SENT": {
      if ((COLUMN.get(oldState) ?? 0) < TIME_WAIT_COLUMN) break;
      // A SYN in TIME_WAIT or CLOSE: reopen when the old connection was really closed (a FIN was
      // seen) or aborted (this side sent the last RST); otherwise treat it like any ignored SYN.
      if (track.closeInit || (track.lastDir === dir && track.lastIndex === "RST")) return { kind: "REOPEN" };
      return ignore(track, dir, index, oldState);
    }
    case "IGNORE": {
      // b) A SYN/ACK answering a SYN we ignored: client and server are in sync, we are not. The
      // kernel checks ack_seq == last_end; sequence numbers are not modelled, so it is taken to hold.
      if (index === "SYNACK" && track.lastIndex === "SYN" && track.lastDir !== dir) {
        oldState = "SYN_SENT";
        next = "SYN_RECV";
        challengeAck = false;
        break;
      }
      return ignore(track, dir, index, oldState);
    }
    case "INVALID":
      return { kind: "INVALID" };
    case "TIME_WAIT":
      // RFC 5961: the peer answers a SYN seen in LAST_ACK with a challenge ACK; that ACK does not
      // acknowledge the last FIN, so the state must not move to TIME_WAIT.
      if (
        oldState === "LAST_ACK" &&
        index === "ACK" &&
        track.lastDir !== dir &&
        track.lastIndex === "SYN" &&
        track.challengeAck
      ) {
        return { kind: "IGNORE", track: { ...track, challengeAck: false } };
      }
      break;
    case "SYN_SENT2":
      // "tcp_conntracks table is not smart enough to handle simultaneous open."
      simultaneousOpen = true;
      break;
    case "SYN_RECV":
      if (dir === "REPLY" && index === "ACK" && simultaneousOpen) next = "ESTABLISHED";
      break;
    default:
      break;
  }

  return {
    kind: "ACCEPT",
    oldState,
    index,
    track: {
      state: next,
      lastIndex: index,
      lastDir: dir,
      closeInit: track.closeInit || (next !== oldState && next === "FIN_WAIT"),
      simultaneousOpen,
      challengeAck,
    },
  };
}

/** The bookkeeping of the kernel's "Ignored packets" branch; state and timeout are left alone. */
function ignore(track: TcpTrack, dir: CtDir, index: TcpIndex, oldState: TcpState): TcpStep {
  let { simultaneousOpen, challengeAck } = track;
  if (index === "SYN" && dir === "ORIGINAL") {
    // last_flags is rebuilt from the SYN's options, dropping the earlier flag bits.
    simultaneousOpen = false;
    challengeAck = oldState === "LAST_ACK";
  }
  return {
    kind: "IGNORE",
    track: { ...track, lastIndex: index, lastDir: dir, simultaneousOpen, challengeAck },
  };
}
