import type { Rng } from "../../../core/rng.ts";
import type { Frame, TcpOption } from "../../../model/frame.ts";
import { TCP } from "../../../model/packet.ts";
import { establishedOptions, type OsProfile, synAckOptions, synOptions } from "./os-profile.ts";
import { concatBytes, frameSrc, type SockAddr, tcpFrame } from "./segment.ts";

/**
 * One side of one TCP connection (RFC 793 §3.2 states; RFC 9293 names). Explicit on purpose: a caller
 * can stop anywhere and read the state, as the seed's conntrack shows connections left in CLOSE_WAIT.
 * Sequence space only: every segment is taken to arrive in window and in order unless its sequence
 * number says otherwise (no retransmission of data, no congestion window, no SACK blocks).
 */

export type TcpConnState =
  | "CLOSED"
  | "SYN_SENT"
  | "SYN_RECEIVED"
  | "ESTABLISHED"
  | "FIN_WAIT_1"
  | "FIN_WAIT_2"
  | "CLOSING"
  | "CLOSE_WAIT"
  | "LAST_ACK"
  | "TIME_WAIT";

/** A host's IP id counter, shared by its sockets when the stack uses one (Windows). */
export interface IpIdCounter {
  next: number;
}

export interface ConnectionInit {
  readonly profile: OsProfile;
  readonly local: SockAddr;
  readonly remote: SockAddr;
  readonly mac: string;
  /** Where frames go next on the wire (the peer, or a gateway). */
  readonly nextHopMac: string;
  readonly rng: Rng;
  readonly hostIpId?: IpIdCounter;
}

/** What one received segment did. */
export interface Received {
  /** In-order payload bytes it delivered. */
  readonly data: Uint8Array;
  readonly fin: boolean;
  readonly reset: boolean;
  /** It completed our side of the handshake (SYN-ACK in SYN_SENT, ACK in SYN_RECEIVED). */
  readonly established: boolean;
  /** It carried an answer we must acknowledge (data, FIN, SYN-ACK, or a duplicate). */
  readonly needsAck: boolean;
  /** Not acceptable in this state (RFC 793 p. 66): the caller answers with a reset or drops it. */
  readonly unacceptable: boolean;
}

const EMPTY: Uint8Array = new Uint8Array(0);

/** tcp_rmem's default receive buffer (net.ipv4.tcp_rmem = 4096 87380 6291456 on 4.x kernels). */
const RCV_BUF_DEFAULT = 87380;

export class TcpConnection {
  state: TcpConnState = "CLOSED";
  readonly profile: OsProfile;
  readonly local: SockAddr;
  /** The peer as this side sees it (after whatever NAT the path applied). */
  remote: SockAddr;
  readonly iss: number;
  irs = 0;
  sndUna: number;
  sndNxt: number;
  rcvNxt = 0;
  /** Timestamps agreed in the handshake (both SYNs carried them). */
  tsOk = false;
  tsRecent = 0;
  peerMss = 536;
  /** Peer sent a window scale option, so ours applies (RFC 7323 §2.2). */
  scaling = false;
  /** Unscaled window this side put in its SYN or SYN-ACK. */
  initialWindow = 0;
  /**
   * The window this side offers (Linux: rcv_ssthresh, which starts at the initial window and grows
   * as data arrives); unscaled bytes.
   */
  rcvWindow = 0;
  /** Linux's estimate of the peer's segment size (icsk_ack.rcv_mss), for growing the window. */
  private rcvMss = 0;
  private lastSegSize = 0;
  /** When TIME_WAIT ends (µs), once entered. */
  timeWaitUntil: number | null = null;
  private readonly mac: string;
  private readonly nextHopMac: string;
  private readonly tsOffset: number;
  private readonly ipIds: IpIdCounter;
  private readonly received: Uint8Array[] = [];

  constructor(init: ConnectionInit) {
    this.profile = init.profile;
    this.local = init.local;
    this.remote = init.remote;
    this.mac = init.mac;
    this.nextHopMac = init.nextHopMac;
    // secure_tcp_seq() and the per-connection timestamp offset (Linux ≥ 4.10) are keyed hashes:
    // from the outside, uniformly random.
    this.iss = init.rng.nextU32();
    this.tsOffset = init.rng.nextU32();
    this.ipIds = init.hostIpId ?? { next: init.rng.nextU32() & 0xffff };
    this.sndUna = this.iss;
    this.sndNxt = this.iss;
  }

  /** Everything received in order so far. */
  get data(): Uint8Array {
    return concatBytes(this.received);
  }

  /** Largest payload per segment: the smaller MSS, less the timestamp option (RFC 7323 §3.2... tcp_current_mss). */
  get sendMss(): number {
    return Math.min(this.peerMss, this.profile.mss) - (this.tsOk ? 12 : 0);
  }

  /** CLOSED → SYN_SENT. */
  connect(now: number): Frame {
    if (this.state !== "CLOSED") throw new Error(`connect in ${this.state}`);
    this.state = "SYN_SENT";
    this.initialWindow = this.profile.initialWindow("syn", this.profile.mss);
    this.rcvWindow = this.initialWindow;
    this.sndNxt = (this.iss + 1) >>> 0;
    return this.synFrame(now);
  }

  /** The same SYN again, with a fresh timestamp (tcp_retransmit_skb). */
  retransmitSyn(now: number): Frame {
    return this.synFrame(now);
  }

  private synFrame(now: number): Frame {
    return this.frame(
      now,
      TCP.SYN,
      this.iss,
      0,
      this.initialWindow,
      synOptions(this.profile, this.tsVal(now)),
      EMPTY,
      {
        handshake: false,
      },
    );
  }

  /** A listener's child socket: LISTEN → SYN_RECEIVED on a SYN; returns the SYN-ACK. */
  acceptSyn(syn: Frame, now: number): Frame {
    this.state = "SYN_RECEIVED";
    this.irs = syn.tcp!.seq;
    this.rcvNxt = (this.irs + 1) >>> 0;
    this.readSynOptions(syn.tcp!.options);
    const mssForWindow = this.profile.mss - (this.tsOk ? 12 : 0);
    this.initialWindow = this.profile.initialWindow("synack", mssForWindow);
    this.rcvWindow = this.initialWindow;
    this.sndNxt = (this.iss + 1) >>> 0;
    return this.synAckFrame(now);
  }

  synAckFrame(now: number): Frame {
    const ts = this.tsOk ? { value: this.tsVal(now), echo: this.tsRecent } : null;
    return this.frame(
      now,
      TCP.SYN | TCP.ACK,
      this.iss,
      this.rcvNxt,
      this.initialWindow,
      synAckOptions(this.profile, ts),
      EMPTY,
      {
        handshake: true,
      },
    );
  }

  private readSynOptions(options: readonly TcpOption[]): void {
    for (const o of options) {
      if (o.kind === "mss") this.peerMss = o.value;
      else if (o.kind === "wscale") this.scaling = true;
      else if (o.kind === "timestamp") {
        this.tsOk = true;
        this.tsRecent = o.value;
      }
    }
  }

  /** Feed one segment addressed to this connection. */
  receive(f: Frame, now: number): Received {
    const t = f.tcp!;
    const flags = f.packet.tcpFlags;
    const none = {
      data: EMPTY,
      fin: false,
      reset: false,
      established: false,
      needsAck: false,
      unacceptable: false,
    };
    if (flags & TCP.RST) {
      // RFC 5961 §3: only an in-window RST counts; in SYN_SENT it must acknowledge our SYN.
      const ok =
        this.state === "SYN_SENT" ? (flags & TCP.ACK) !== 0 && t.ack === this.sndNxt : t.seq === this.rcvNxt;
      if (!ok) return none;
      this.state = "CLOSED";
      return { ...none, reset: true };
    }
    if (this.state === "SYN_SENT") {
      if (!(flags & TCP.ACK) || t.ack !== this.sndNxt || !(flags & TCP.SYN))
        return { ...none, unacceptable: true };
      this.irs = t.seq;
      this.rcvNxt = (t.seq + 1) >>> 0;
      this.sndUna = t.ack;
      const offered = this.profile.offersTimestamps;
      this.readSynOptions(t.options);
      this.tsOk &&= offered;
      this.state = "ESTABLISHED";
      return { ...none, established: true, needsAck: true };
    }
    if (this.state === "CLOSED") return { ...none, unacceptable: true };
    if (flags & TCP.SYN) {
      // A retransmitted SYN (our SYN-ACK was lost) or a stray one: answered with a SYN-ACK / ACK by the caller.
      return { ...none, needsAck: true };
    }
    if (!(flags & TCP.ACK)) return none;
    if (this.tsOk) {
      const ts = t.options.find((o) => o.kind === "timestamp");
      if (ts && ts.kind === "timestamp" && t.seq === this.rcvNxt) this.tsRecent = ts.value;
    }
    let established = false;
    if (this.state === "SYN_RECEIVED") {
      if (t.ack !== this.sndNxt) return { ...none, unacceptable: true };
      this.state = "ESTABLISHED";
      established = true;
    }
    // The ACK field: what of ours the peer has (a FIN of ours counts once it is acknowledged).
    if (seqGt(t.ack, this.sndUna) && !seqGt(t.ack, this.sndNxt)) this.sndUna = t.ack;
    const finAcked = this.sndUna === this.sndNxt;
    if (finAcked) {
      if (this.state === "FIN_WAIT_1") this.state = "FIN_WAIT_2";
      else if (this.state === "CLOSING") this.enterTimeWait(now);
      else if (this.state === "LAST_ACK") this.state = "CLOSED";
    }
    if (this.state === "CLOSED") return { ...none, established };
    let data: Uint8Array = EMPTY;
    let fin = false;
    if (t.seq !== this.rcvNxt) {
      // Out of order or a duplicate: RFC 793 asks for an ACK with what we expect.
      return { ...none, established, needsAck: f.payload.length > 0 || (flags & TCP.FIN) !== 0 };
    }
    if (f.payload.length > 0 && canReceive(this.state)) {
      data = f.payload;
      this.received.push(data);
      this.rcvNxt = (this.rcvNxt + data.length) >>> 0;
      this.growWindow(data.length, (flags & (TCP.PSH | TCP.FIN | TCP.URG)) !== 0);
    }
    if (flags & TCP.FIN && canReceive(this.state)) {
      fin = true;
      this.rcvNxt = (this.rcvNxt + 1) >>> 0;
      if (this.state === "ESTABLISHED") this.state = "CLOSE_WAIT";
      else if (this.state === "FIN_WAIT_1") this.state = "CLOSING";
      else if (this.state === "FIN_WAIT_2") this.enterTimeWait(now);
    }
    return { ...none, data, fin, established, needsAck: data.length > 0 || fin };
  }

  /**
   * Linux's tcp_event_data_recv on in-order data (net/ipv4/tcp_input.c, 4.15): tcp_measure_rcv_mss
   * updates the estimate of the peer's segment size, then a segment of 128 bytes or more grows
   * rcv_ssthresh, the window offered, while it is below the receive buffer's space (tcp_grow_window):
   * by 2 x advmss when the skb's overhead is small against its data (a full segment), else by
   * 2 x rcv_mss (__tcp_grow_window, a short one), and never by less than 2 x its length. The skb's
   * true size is not modelled: a segment under half the MSS is taken as the short kind. The receive
   * buffer is tcp_rmem's default 87380 bytes, half of it window (tcp_adv_win_scale 1); its growth
   * by receive-buffer autotuning is not modelled.
   */
  private growWindow(len: number, remnant: boolean): void {
    if (!this.profile.growsWindow) return;
    const advmss = this.profile.mss - (this.tsOk ? 12 : 0);
    if (this.rcvMss === 0)
      // tcp_initialize_rcv_mss: min(advmss, mss_cache, rcv_wnd / 2, TCP_MSS_DEFAULT), at least TCP_MIN_MSS.
      this.rcvMss = Math.max(88, Math.min(advmss, this.peerMss, Math.floor(this.rcvWindow / 2), 536));
    // tcp_measure_rcv_mss: a shorter segment counts once two in a row have its length (and it is
    // not a PSH/FIN/URG remnant, unless long enough anyway).
    const hdr = 20 + (this.tsOk ? 12 : 0);
    const lss = this.lastSegSize;
    this.lastSegSize = 0;
    if (len >= this.rcvMss) this.rcvMss = Math.min(len, advmss);
    else if (len + hdr >= 536 + 20 || (len + hdr >= 88 + 20 && !remnant)) {
      this.lastSegSize = len;
      if (len === lss) this.rcvMss = len;
    }
    const space = RCV_BUF_DEFAULT / 2;
    if (len < 128 || this.rcvWindow >= space) return;
    const incr = Math.max(len * 2 >= advmss ? 2 * advmss : 2 * this.rcvMss, 2 * len);
    this.rcvWindow += incr;
  }

  private enterTimeWait(now: number): void {
    this.state = "TIME_WAIT";
    this.timeWaitUntil = now + this.profile.timeWaitUs;
  }

  /** A pure ACK of everything received. */
  ack(now: number): Frame {
    return this.frame(now, TCP.ACK, this.sndNxt, this.rcvNxt, this.window(), this.tsOptions(now), EMPTY);
  }

  /** Application data, cut into segments of sendMss; PSH on the last one (tcp_push). */
  send(bytes: Uint8Array, now: number): Frame[] {
    if (this.state !== "ESTABLISHED" && this.state !== "CLOSE_WAIT") throw new Error(`send in ${this.state}`);
    const out: Frame[] = [];
    const mss = this.sendMss;
    for (let at = 0; at < bytes.length; at += mss) {
      const chunk = bytes.subarray(at, Math.min(bytes.length, at + mss));
      const last = at + mss >= bytes.length;
      const flags = TCP.ACK | (last ? TCP.PSH : 0);
      out.push(this.frame(now, flags, this.sndNxt, this.rcvNxt, this.window(), this.tsOptions(now), chunk));
      this.sndNxt = (this.sndNxt + chunk.length) >>> 0;
    }
    return out;
  }

  /**
   * Data and the close in one go, the FIN riding on the last segment: what a stack does when the
   * program closes while the data is still queued (HTTP.sys answering with its disconnect flag, as
   * the wire server does: seed line 285, `Flags [FP.]`).
   */
  sendAndClose(bytes: Uint8Array, now: number): Frame[] {
    const out = this.send(bytes, now);
    const last = out.at(-1);
    if (!last) return [this.close(now)];
    this.enterClose();
    this.sndNxt = (this.sndNxt + 1) >>> 0;
    const withFin = { ...last.packet, tcpFlags: last.packet.tcpFlags | TCP.FIN };
    out[out.length - 1] = { ...last, packet: withFin };
    return out;
  }

  private enterClose(): void {
    if (this.state === "ESTABLISHED") this.state = "FIN_WAIT_1";
    else if (this.state === "CLOSE_WAIT") this.state = "LAST_ACK";
    else throw new Error(`close in ${this.state}`);
  }

  /** close(): ESTABLISHED → FIN_WAIT_1 or CLOSE_WAIT → LAST_ACK, with a FIN that also acknowledges. */
  close(now: number): Frame {
    this.enterClose();
    const f = this.frame(
      now,
      TCP.FIN | TCP.ACK,
      this.sndNxt,
      this.rcvNxt,
      this.window(),
      this.tsOptions(now),
      EMPTY,
    );
    this.sndNxt = (this.sndNxt + 1) >>> 0;
    return f;
  }

  private window(): number {
    if (!this.scaling) return Math.min(this.rcvWindow, 0xffff);
    return this.profile.establishedWindow(this.rcvWindow);
  }

  private tsVal(now: number): number {
    // tcp_clock_ms() + the connection's offset: milliseconds, as the seed's TS values step.
    return (this.tsOffset + Math.floor(now / 1000)) >>> 0;
  }

  private tsOptions(now: number): TcpOption[] {
    return establishedOptions(this.tsOk ? { value: this.tsVal(now), echo: this.tsRecent } : null);
  }

  private nextIpId(handshake: boolean): number {
    // ip_build_and_send_pkt() gives a Linux SYN-ACK id 0 (DF set); sockets count from a random start.
    if (handshake && this.profile.ipId === "per-socket") return 0;
    const id = this.ipIds.next & 0xffff;
    this.ipIds.next = (this.ipIds.next + 1) & 0xffff;
    return id;
  }

  private frame(
    now: number,
    flags: number,
    seq: number,
    ack: number,
    window: number,
    options: readonly TcpOption[],
    payload: Uint8Array,
    o: { handshake: boolean } = { handshake: false },
  ): Frame {
    return tcpFrame(
      {
        time: now,
        srcMac: this.mac,
        dstMac: this.nextHopMac,
        ipId: this.nextIpId(o.handshake),
        ttl: this.profile.ttl,
        dontFragment: true,
      },
      {
        src: this.local,
        dst: this.remote,
        flags,
        seq,
        ack: flags & TCP.ACK ? ack : 0,
        window,
        options,
        payload,
      },
    );
  }
}

function canReceive(s: TcpConnState): boolean {
  return s === "ESTABLISHED" || s === "FIN_WAIT_1" || s === "FIN_WAIT_2";
}

/** a > b in sequence space (RFC 1982 serial arithmetic). */
export function seqGt(a: number, b: number): boolean {
  return ((a - b) | 0) > 0;
}

/**
 * The reset a host sends for a segment no socket wants (tcp_v4_send_reset, RFC 793 p. 36): if it
 * carried an ACK, RST with seq = that ack; otherwise RST,ACK with seq 0 acknowledging the segment.
 * Window 0, no options, IP id 0 (the per-netns control socket, DF set).
 */
export function resetFor(f: Frame, now: number, host: { mac: string; ttl: number }): Frame | null {
  const t = f.tcp!;
  const flags = f.packet.tcpFlags;
  if (flags & TCP.RST) return null;
  const src = frameSrc(f);
  const dst = { ip: f.packet.dst as number, port: f.packet.dport };
  const seqLen = f.payload.length + (flags & TCP.SYN ? 1 : 0) + (flags & TCP.FIN ? 1 : 0);
  const l2 = { time: now, srcMac: host.mac, dstMac: f.srcMac, ipId: 0, ttl: host.ttl, dontFragment: true };
  if (flags & TCP.ACK)
    return tcpFrame(l2, {
      src: dst,
      dst: src,
      flags: TCP.RST,
      seq: t.ack,
      ack: 0,
      window: 0,
      options: [],
      payload: EMPTY,
    });
  return tcpFrame(l2, {
    src: dst,
    dst: src,
    flags: TCP.RST | TCP.ACK,
    seq: 0,
    ack: (t.seq + seqLen) >>> 0,
    window: 0,
    options: [],
    payload: EMPTY,
  });
}
