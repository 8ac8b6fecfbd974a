import type { Rng } from "../../../core/rng.ts";
import type { Frame } from "../../../model/frame.ts";
import { PROTO, TCP } from "../../../model/packet.ts";
import type { TcpApp } from "./app.ts";
import { groCoalesce } from "./gro.ts";
import { responseComplete } from "./http.ts";
import { ICMP } from "./icmp.ts";
import type { OsProfile } from "./os-profile.ts";
import { isIcmpError, parseQuote } from "./quote.ts";
import { frameDst, frameSrc, type SockAddr, sameAddr, utf8 } from "./segment.ts";
import { resetFor, seqGt, TcpConnection, type TcpConnState } from "./tcp-connection.ts";

/**
 * A whole TCP conversation between a client and a server host on the virtual clock: handshake,
 * request, response, close, with each stack's ACK timing, SYN retransmissions and resets. Every frame
 * goes through `deliver`, which the integration points at the twin (it may drop a frame or rewrite it,
 * e.g. NAT); a direct `deliver` connects the two stacks back to back. Deterministic given the Rng.
 * `exchange` runs it to its end; `startExchange` gives a run the caller moves forward itself, so
 * several conversations can share one clock (world/timeline.ts) and a kept-open one can stop at any
 * moment and go on later, or be handed another request (a browser's next one on the same socket).
 */

export interface ClientSpec {
  readonly ip: number;
  /** The ephemeral source port. */
  readonly port: number;
  readonly mac: string;
  readonly profile: OsProfile;
  /** The MAC its frames go to (its gateway); default: the server's. */
  readonly nextHopMac?: string;
  /**
   * Close once the whole response is in (curl); false keeps the connection open (a browser). With
   * an empty request it is the handshake that is awaited: a TCP probe then closes, a browser's
   * preconnected socket waits for a request.
   */
  readonly closeAfterResponse?: boolean;
  /** Answer the server's FIN with its own; false leaves the client in CLOSE_WAIT, as the seed's browser. */
  readonly closeOnPeerFin?: boolean;
  /** Time the client program takes to send its request after connecting, and to close after reading (µs). */
  readonly thinkUs?: number;
  /** Its NIC merges the segments of one burst before its stack sees them (Linux GRO: gro.ts). */
  readonly gro?: boolean;
}

export interface ServerSpec {
  /** Addresses its sockets accept (the pod IP; a node's IPs and 127.0.0.1). */
  readonly addresses: readonly number[];
  readonly mac: string;
  readonly profile: OsProfile;
  /** Listening TCP ports and the process behind each. */
  readonly listeners: ReadonlyMap<number, TcpApp>;
  /**
   * The listener for a local address when it depends on the address (a server standing for many
   * namespaces: connect.ts); null: the port is closed there. Overrides `listeners`.
   */
  readonly listenerAt?: (local: SockAddr) => TcpApp | null;
  /** The stack behind a local address when it differs from `profile` (Azure's wire server among pods). */
  readonly profileAt?: (local: SockAddr) => OsProfile | null;
  /** The MAC its frames go to; default: the one the segment came from. */
  readonly nextHopMac?: string;
  /** Its NIC merges the segments of one burst before its stack sees them (Linux GRO: gro.ts). */
  readonly gro?: boolean;
}

export type Toward = "server" | "client";

/** A frame's journey: how it arrived (null: lost), and what the network sent its sender back because of it. */
export interface Delivery {
  readonly arrived: Frame | null;
  /** As they reached the sender: a REJECT's RST or ICMP error, an ICMP error from a closed port. */
  readonly answered: readonly Frame[];
}

/** Carries a frame to the other side: the frame as it arrives there, null if it was dropped, or a Delivery. */
export type Deliver = (frame: Frame, toward: Toward) => Frame | Delivery | null;

export interface ExchangeOptions {
  /** Where the client connects (a VIP, a service IP, a node port, or the server itself). */
  readonly to: SockAddr;
  /** Start (µs on the virtual clock). */
  readonly now: number;
  readonly rng: Rng;
  readonly deliver?: Deliver;
  /** Stop the clock here and report the states reached (µs). */
  readonly until?: number;
  /** Whether the client has the whole response; default: an HTTP response with its body. */
  readonly complete?: (bytes: Uint8Array) => boolean;
  /** Told each time a whole response is in (its bytes), at that moment of the clock (µs). */
  readonly onResponse?: (bytes: Uint8Array, at: number) => void;
}

export interface ExchangeStep {
  readonly from: "client" | "server";
  readonly sent: Frame;
  /** The frame as the other side received it; null if dropped on the way. */
  readonly delivered: Frame | null;
}

export type Outcome =
  /** The response arrived whole (or, with an empty request, the handshake completed). */
  | "completed"
  /** A reset or an ICMP port unreachable answered the SYN (ECONNREFUSED: a closed port, a REJECT). */
  | "refused"
  /** Another ICMP destination unreachable answered the SYN (EHOSTUNREACH, ENETUNREACH...: `error`). */
  | "unreachable"
  /** A reset ended an established connection. */
  | "reset"
  /** The SYN and its retransmissions went unanswered. */
  | "timeout"
  /** Nothing more happened before the response was in (a frame was lost after the handshake). */
  | "stalled"
  /** `until` came first. */
  | "stopped";

export interface SideView {
  readonly state: TcpConnState;
  /** The peer's address as this side's socket saw it (null before it heard from it). */
  readonly saw: SockAddr | null;
  /** Bytes received in order. */
  readonly received: Uint8Array;
  readonly timeWaitUntil: number | null;
}

export interface ExchangeResult {
  readonly outcome: Outcome;
  /** The client socket's error, as errno names it (ECONNREFUSED, ECONNRESET, ETIMEDOUT...); null if none. */
  readonly error: string | null;
  readonly steps: readonly ExchangeStep[];
  /** Each whole response the client got, in order, and when it was complete (µs). */
  readonly responses: readonly { readonly bytes: Uint8Array; readonly at: number }[];
  readonly client: SideView;
  readonly server: SideView & { readonly app: string | null };
  /** Time of the last event processed (µs). */
  readonly end: number;
}

/** A conversation under way: the caller moves it forward on its own clock. */
export interface ExchangeRun {
  /** µs of the next thing to happen; null when nothing will (closed, or a kept-open connection idle). */
  nextTime(): number | null;
  /** Runs the next event (the one at nextTime()). */
  step(): void;
  /** Runs every event up to and including `until` (µs); default: all of them. */
  runUntil(until?: number): void;
  /** The client sends another request at `at` (µs), on the same connection once it is established. */
  request(bytes: Uint8Array | string, at: number): void;
  /** Where it stands now (the final result once nextTime() is null). */
  result(): ExchangeResult;
  /** The client socket's state now. */
  clientState(): TcpConnState;
}

interface Event {
  readonly time: number;
  readonly order: number;
  readonly run: () => void;
  readonly live?: () => boolean;
}

/**
 * Events in time order, ties in the order they were scheduled. A timer that can no longer fire
 * (`live` false: a SYN retransmission once the SYN was answered) is dropped, so a finished
 * conversation has nothing pending.
 */
class Clock {
  private readonly events: Event[] = [];
  private order = 0;
  at(time: number, run: () => void, live?: () => boolean): void {
    const ev = { time, order: this.order++, run, ...(live ? { live } : {}) };
    let i = this.events.length;
    while (i > 0 && this.events[i - 1]!.time > time) i--;
    this.events.splice(i, 0, ev);
  }
  next(): Event | undefined {
    this.prune();
    return this.events.shift();
  }
  peek(): Event | undefined {
    this.prune();
    return this.events[0];
  }
  private prune(): void {
    while (this.events[0]?.live && !this.events[0].live()) this.events.shift();
  }
  clear(): void {
    this.events.length = 0;
  }
}

/** Per-socket ACK bookkeeping (tcp_ack_snd_check / Windows' every-second-segment rule). */
interface AckState {
  /** rcvNxt last acknowledged on the wire. */
  acked: number;
  unackedBytes: number;
  /** Linux: received data before (icsk_ack.ato set), and turned interactive. */
  gotData: boolean;
  pingpong: boolean;
  lastRecvAt: number;
}

const newAck = (): AckState => ({
  acked: 0,
  unackedBytes: 0,
  gotData: false,
  pingpong: false,
  lastRecvAt: 0,
});

/** A whole conversation, run to its end (or to `opts.until`). */
export function exchange(
  client: ClientSpec,
  server: ServerSpec,
  request: Uint8Array | string,
  opts: ExchangeOptions,
): ExchangeResult {
  const run = startExchange(client, server, request, opts);
  run.runUntil(opts.until);
  return run.result();
}

const bytesOf = (b: Uint8Array | string): Uint8Array => (typeof b === "string" ? utf8(b) : b);

/** A conversation whose first event (the client's SYN) is due at `opts.now`; `opts.until` is ignored. */
export function startExchange(
  client: ClientSpec,
  server: ServerSpec,
  request: Uint8Array | string,
  opts: ExchangeOptions,
): ExchangeRun {
  const clock = new Clock();
  const steps: ExchangeStep[] = [];
  const deliver: Deliver = opts.deliver ?? ((f) => f);
  const complete = opts.complete ?? responseComplete;
  const closeAfterResponse = client.closeAfterResponse ?? true;
  const closeOnPeerFin = client.closeOnPeerFin ?? true;
  const think = client.thinkUs ?? 40;
  let outcome: Outcome | null = null;
  let error: string | null = null;

  // ---- transport between the two ----
  const send = (from: "client" | "server", frames: readonly Frame[]): void => {
    for (const f of frames) {
      if (!f.tcp) continue;
      if (from === "client") noteAckSent(cAck, f);
      else {
        const s = serverConns.get(connKey(frameSrc(f), frameDst(f)));
        if (s) noteAckSent(s.ack, f);
      }
    }
    const gro = from === "client" ? server.gro : client.gro;
    for (const f of gro ? groCoalesce(frames) : frames) {
      const toward: Toward = from === "client" ? "server" : "client";
      const r = deliver(f, toward);
      const got = r === null || "packet" in r ? r : r.arrived;
      steps.push({ from, sent: f, delivered: got });
      for (const back of r === null || "packet" in r ? [] : r.answered) {
        const at = Math.max(back.time, f.time);
        clock.at(at, () => (from === "client" ? clientReceive(back, at) : serverReceive(back, at)));
      }
      if (!got) continue;
      const at = Math.max(got.time, f.time);
      clock.at(at, () => (toward === "server" ? serverReceive(got, at) : clientReceive(got, at)));
    }
  };
  const noteAckSent = (a: AckState, f: Frame): void => {
    // A host's reset is not the socket's ACK.
    if (f.packet.tcpFlags & TCP.ACK && !(f.packet.tcpFlags & TCP.RST)) {
      a.acked = f.tcp!.ack;
      a.unackedBytes = 0;
    }
  };

  /** After in-order data or a FIN: acknowledge now, or arm the delayed ACK (an answer may carry it). */
  const scheduleAck = (
    conn: TcpConnection,
    a: AckState,
    now: number,
    from: "client" | "server",
    why: "data" | "fin" | "other",
    bytes: number,
  ): void => {
    const p = conn.profile;
    let immediate: boolean;
    // tcp_fin(): a FIN that completes our own close (FIN_WAIT_2 → TIME_WAIT, FIN_WAIT_1 → CLOSING) is
    // acknowledged at once; only ESTABLISHED → CLOSE_WAIT waits, for the program's own FIN to carry it.
    const closingAlready = conn.state === "TIME_WAIT" || conn.state === "CLOSING";
    if (why === "other" || (why === "fin" && closingAlready)) immediate = true;
    else if (p.quickAck) {
      if (why === "fin") a.pingpong = true; // tcp_fin(): inet_csk_enter_pingpong_mode
      a.unackedBytes += bytes;
      const quick = why === "data" && !a.pingpong;
      immediate = quick || a.unackedBytes > conn.sendMss;
      if (why === "data") {
        a.gotData = true;
        a.lastRecvAt = now;
      }
    } else {
      // Windows: every second full segment, and FINs, at once; the rest after the delayed-ACK timer.
      a.unackedBytes += bytes;
      immediate = why === "fin" || a.unackedBytes >= 2 * conn.sendMss;
    }
    const at = now + (immediate ? p.stackDelayUs : p.delayedAckUs);
    clock.at(at, () => {
      if (conn.state !== "CLOSED" && a.acked !== conn.rcvNxt) send(from, [conn.ack(at)]);
    });
  };

  /** Linux enters pingpong mode when it sends data within the ACK timeout of receiving some. */
  const noteDataSent = (conn: TcpConnection, a: AckState, now: number): void => {
    if (conn.profile.quickAck && a.gotData && now - a.lastRecvAt < conn.profile.delayedAckUs)
      a.pingpong = true;
  };

  // ---- client ----
  const cConn = new TcpConnection({
    profile: client.profile,
    local: { ip: client.ip, port: client.port },
    remote: opts.to,
    mac: client.mac,
    nextHopMac: client.nextHopMac ?? server.mac,
    rng: opts.rng,
  });
  const cAck = newAck();
  let clientSaw: SockAddr | null = null;
  /** A response came whole (or, for an empty request, the handshake completed). */
  let responseDone = false;
  let clientClosing = false;
  /** Requests not sent yet, in order; one at a time is in flight (HTTP/1.1 without pipelining). */
  const queue: Uint8Array[] = [];
  const first = bytesOf(request);
  if (first.length > 0) queue.push(first);
  let inFlight = false;
  /** Where the response to the request in flight starts in the received bytes. */
  let responseFrom = 0;
  const responses: { bytes: Uint8Array; at: number }[] = [];

  const sendNext = (at: number): void => {
    const next = queue[0];
    if (inFlight || !next || cConn.state !== "ESTABLISHED") return;
    queue.shift();
    inFlight = true;
    responseFrom = cConn.data.length;
    send("client", cConn.send(next, at));
    noteDataSent(cConn, cAck, at);
  };

  /** The response in flight is whole: hand it over, then the next request, or close (curl). */
  const responseIn = (now: number): void => {
    inFlight = false;
    responseDone = true;
    const bytes = cConn.data.subarray(responseFrom);
    responses.push({ bytes, at: now });
    opts.onResponse?.(bytes, now);
    const t = now + client.profile.stackDelayUs + think;
    if (queue.length > 0) clock.at(t, () => sendNext(t));
    else if (closeAfterResponse) clock.at(t, () => clientClose(t));
  };

  const clientClose = (at: number): void => {
    if (clientClosing) return;
    if (cConn.state !== "ESTABLISHED" && cConn.state !== "CLOSE_WAIT") return;
    clientClosing = true;
    send("client", [cConn.close(at)]);
  };

  /**
   * tcp_v4_err: an ICMP error reaches the socket its quoted header names (source: ours, destination:
   * our peer) if the quoted sequence is still unacknowledged. A destination unreachable (any code but
   * fragmentation needed) aborts a connect in SYN_SENT with icmp_err_convert's errno; once
   * established it is only a soft error (no IP_RECVERR), and the connection goes on.
   */
  const clientIcmpError = (f: Frame): void => {
    const q = parseQuote(f.payload);
    if (!q || q.packet.proto !== PROTO.tcp || q.tcpSeq === null) return;
    const quoted = {
      src: { ip: q.packet.src as number, port: q.packet.sport },
      dst: { ip: q.packet.dst as number, port: q.packet.dport },
    };
    if (!sameAddr(quoted.src, cConn.local) || !sameAddr(quoted.dst, cConn.remote)) return;
    if (seqGt(cConn.sndUna, q.tcpSeq) || seqGt(q.tcpSeq, cConn.sndNxt)) return;
    const code = f.packet.icmpCode;
    if (f.packet.icmpType !== ICMP.DEST_UNREACH || code === 4 || code < 0 || code > 15) return;
    if (cConn.state !== "SYN_SENT") return;
    cConn.state = "CLOSED";
    error = ICMP_UNREACH_ERRNO[code] ?? "EHOSTUNREACH";
    outcome ??= error === "ECONNREFUSED" ? "refused" : "unreachable";
  };

  const clientReceive = (f: Frame, now: number): void => {
    if (!f.tcp) {
      if (isIcmpError(f.packet)) clientIcmpError(f);
      return;
    }
    if (!sameAddr(frameDst(f), cConn.local)) return; // not for this host's socket: nothing listens
    if (!sameAddr(frameSrc(f), cConn.remote)) {
      // A reply from an address the client never talked to (e.g. un-NATed): no socket, so a reset.
      const rst = resetFor(f, now + client.profile.stackDelayUs, {
        mac: client.mac,
        ttl: client.profile.ttl,
      });
      if (rst) clock.at(rst.time, () => send("client", [rst]));
      return;
    }
    const before = cConn.state;
    const r = cConn.receive(f, now);
    if (r.reset) {
      outcome ??= before === "SYN_SENT" ? "refused" : "reset";
      error ??= before === "SYN_SENT" ? "ECONNREFUSED" : "ECONNRESET";
      return;
    }
    if (r.unacceptable) {
      const rst = resetFor(f, now + client.profile.stackDelayUs, {
        mac: client.mac,
        ttl: client.profile.ttl,
      });
      if (rst && before === "SYN_SENT") clock.at(rst.time, () => send("client", [rst]));
      return;
    }
    if (r.established) {
      clientSaw = frameSrc(f);
      const t = now + client.profile.stackDelayUs;
      clock.at(t, () => send("client", [cConn.ack(t)]));
      const tr = t + think;
      clock.at(tr, () => {
        if (cConn.state !== "ESTABLISHED") return;
        if (queue.length === 0) {
          // Nothing to ask (yet): a TCP probe closes at once (Azure's four-way close), a browser's
          // preconnected socket waits for its request.
          responseDone = true;
          if (closeAfterResponse) clientClose(tr);
          return;
        }
        sendNext(tr);
      });
      return;
    }
    if (r.data.length > 0) {
      scheduleAck(cConn, cAck, now, "client", "data", r.data.length);
      if (inFlight && complete(cConn.data.subarray(responseFrom))) responseIn(now);
    }
    if (r.fin) {
      // A server that closes to end its response (no Content-Length) finishes it with the FIN.
      if (inFlight && cConn.data.length > responseFrom) responseIn(now);
      scheduleAck(cConn, cAck, now, "client", "fin", 0);
      if (closeOnPeerFin) {
        // The program reads EOF and closes; its FIN carries the ACK if it beats the delayed-ACK timer.
        const t = now + client.profile.stackDelayUs + think;
        clock.at(t, () => clientClose(t));
      }
    } else if (r.needsAck && r.data.length === 0) scheduleAck(cConn, cAck, now, "client", "other", 0);
  };

  // ---- server ----
  interface ServerConn {
    readonly conn: TcpConnection;
    readonly app: TcpApp;
    readonly ack: AckState;
    consumed: number;
    lastActivity: number;
    closing: boolean;
  }
  const serverConns = new Map<string, ServerConn>();
  let serverLast: ServerConn | null = null;
  let serverSaw: SockAddr | null = null;
  const serverHost = { mac: server.mac, ttl: server.profile.ttl };
  const serverAddresses = new Set(server.addresses);
  const sd = server.profile.stackDelayUs;

  const serverClose = (s: ServerConn, at: number): void => {
    if (s.closing) return;
    if (s.conn.state !== "ESTABLISHED" && s.conn.state !== "CLOSE_WAIT") return;
    s.closing = true;
    send("server", [s.conn.close(at)]);
  };

  const serverReceive = (f: Frame, now: number): void => {
    if (!f.tcp) return;
    const local = frameDst(f);
    if (!serverAddresses.has(local.ip)) return; // not addressed to this host: dropped
    const remote = frameSrc(f);
    const key = connKey(local, remote);
    const flags = f.packet.tcpFlags;
    let s = serverConns.get(key);
    if (s && (s.conn.state === "CLOSED" || s.conn.state === "TIME_WAIT") && flags === TCP.SYN) s = undefined;
    if (!s) {
      const app = server.listenerAt ? server.listenerAt(local) : (server.listeners.get(local.port) ?? null);
      if (flags !== TCP.SYN || !app) {
        const rst = resetFor(f, now + sd, serverHost);
        if (rst) clock.at(rst.time, () => send("server", [rst]));
        return;
      }
      const profile = server.profileAt?.(local) ?? server.profile;
      const conn = new TcpConnection({
        profile,
        local,
        remote,
        mac: server.mac,
        nextHopMac: server.nextHopMac ?? f.srcMac,
        rng: opts.rng,
      });
      const created: ServerConn = {
        conn,
        app,
        ack: newAck(),
        consumed: 0,
        lastActivity: now,
        closing: false,
      };
      serverConns.set(key, created);
      serverLast = created;
      serverSaw = remote;
      const t = now + profile.stackDelayUs;
      clock.at(t, () => send("server", [conn.acceptSyn(f, t)]));
      return;
    }
    const { conn } = s;
    if (flags & TCP.SYN && conn.state === "SYN_RECEIVED") {
      // The client retransmitted its SYN: our SYN-ACK was lost; send it again.
      const t = now + sd;
      clock.at(t, () => send("server", [conn.synAckFrame(t)]));
      return;
    }
    const r = conn.receive(f, now);
    if (r.reset || conn.state === "CLOSED") return;
    if (r.unacceptable) {
      const rst = resetFor(f, now + sd, serverHost);
      if (rst) clock.at(rst.time, () => send("server", [rst]));
      return;
    }
    if (r.data.length > 0) {
      s.lastActivity = now;
      serve(s, now, r.data.length);
    }
    if (r.fin) {
      // The process reads EOF and closes at once (httpd, nginx, Go all do): FIN and ACK together.
      scheduleAck(conn, s.ack, now, "server", "fin", 0);
      const t = now + sd;
      const live = s;
      clock.at(t, () => serverClose(live, t));
    } else if (r.needsAck && r.data.length === 0 && !r.established)
      scheduleAck(conn, s.ack, now, "server", "other", 0);
  };

  const serve = (s: ServerConn, now: number, bytes: number): void => {
    const pending = s.conn.data.subarray(s.consumed);
    const reply = s.app.respond({ bytes: pending, local: s.conn.local, remote: s.conn.remote, now });
    scheduleAck(s.conn, s.ack, now, "server", "data", bytes);
    if (!reply) return;
    s.consumed += reply.consumed;
    const t = now + reply.delayUs;
    clock.at(t, () => {
      if (s.conn.state !== "ESTABLISHED" && s.conn.state !== "CLOSE_WAIT") return;
      s.lastActivity = t;
      if (reply.close && reply.finWithData) {
        s.closing = true;
        send("server", s.conn.sendAndClose(reply.bytes, t));
        return;
      }
      send("server", s.conn.send(reply.bytes, t));
      noteDataSent(s.conn, s.ack, t);
      if (reply.close) serverClose(s, t);
      else if (s.app.keepAliveTimeoutUs !== null) {
        // The server's keep-alive timeout: it closes a connection idle that long since this answer.
        const idle = t + s.app.keepAliveTimeoutUs;
        clock.at(
          idle,
          () => serverClose(s, idle),
          () => s.lastActivity <= t && !s.closing && s.conn.state === "ESTABLISHED",
        );
      }
    });
  };

  // ---- run ----
  clock.at(opts.now, () => {
    send("client", [cConn.connect(opts.now)]);
    let t = opts.now;
    const connecting = () => cConn.state === "SYN_SENT" && outcome === null;
    for (const gap of client.profile.synRetransmitsUs) {
      t += gap;
      const at = t;
      clock.at(at, () => send("client", [cConn.retransmitSyn(at)]), connecting);
    }
    const last = client.profile.synRetransmitsUs.at(-1) ?? 1_000_000;
    const giveUp = t + 2 * last;
    clock.at(
      giveUp,
      () => {
        cConn.state = "CLOSED";
        outcome = "timeout";
        error = "ETIMEDOUT";
      },
      connecting,
    );
  });

  let end = opts.now;
  /** The connect failed for good: whatever was still scheduled will not happen. */
  let failed = false;
  const step = (): void => {
    const ev = clock.next();
    if (!ev || failed) return;
    end = ev.time;
    ev.run();
    if (outcome === "timeout" || outcome === "refused" || outcome === "unreachable") {
      failed = true;
      clock.clear();
    }
  };
  const nextTime = (): number | null => clock.peek()?.time ?? null;

  return {
    nextTime,
    step,
    runUntil(until = Number.POSITIVE_INFINITY) {
      for (let t = nextTime(); t !== null && t <= until; t = nextTime()) step();
    },
    request(bytes, at) {
      clock.at(at, () => {
        queue.push(bytesOf(bytes));
        sendNext(at);
      });
    },
    clientState: () => cConn.state,
    result() {
      const pending = nextTime() !== null;
      const final: Outcome =
        outcome ??
        (responseDone && cConn.state !== "SYN_SENT" ? "completed" : pending ? "stopped" : "stalled");
      const sc = serverLast as ServerConn | null;
      return {
        outcome: final,
        error,
        steps,
        responses,
        client: {
          state: cConn.state,
          saw: clientSaw,
          received: cConn.data,
          timeWaitUntil: cConn.timeWaitUntil,
        },
        server: {
          state: sc ? sc.conn.state : "CLOSED",
          saw: serverSaw,
          received: sc ? sc.conn.data : new Uint8Array(0),
          timeWaitUntil: sc ? sc.conn.timeWaitUntil : null,
          app: sc ? sc.app.name : null,
        },
        end,
      };
    },
  };
}

/** icmp_err_convert[] (net/ipv4/icmp.c): the errno of each destination unreachable code. */
const ICMP_UNREACH_ERRNO: readonly string[] = [
  "ENETUNREACH",
  "EHOSTUNREACH",
  "ENOPROTOOPT",
  "ECONNREFUSED",
  "EMSGSIZE",
  "EOPNOTSUPP",
  "ENETUNREACH",
  "EHOSTDOWN",
  "ENONET",
  "ENETUNREACH",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EHOSTUNREACH",
  "EHOSTUNREACH",
  "EHOSTUNREACH",
  "EHOSTUNREACH",
];

function connKey(local: SockAddr, remote: SockAddr): string {
  return `${local.ip}:${local.port}<${remote.ip}:${remote.port}`;
}
