import type { TcpOption } from "../../../model/frame.ts";
import type { HostOs, OutsideHost } from "../../../model/scenario.ts";

/**
 * How a host's TCP stack shapes its segments: the SYN and SYN-ACK windows and options, the window it
 * advertises once established, TTL, IP ids and timers. The values come from the seed's captures
 * (lines 281-285: a Linux 4.x node and Azure's wire server; 383-386 and 296-298: the author's Windows
 * laptop and a 2019 pod) and from the kernel's tcp_output.c where the seed shows no example.
 */

export interface OsProfile {
  readonly name: string;
  /** IPv4 TTL of locally generated packets (Linux ip_default_ttl 64, Windows 128). */
  readonly ttl: number;
  /** The MSS option it sends (interface MTU - 40, or what a VPN/NAT clamps it to). */
  readonly mss: number;
  readonly wscale: number;
  /** Whether its SYN offers timestamps (Linux: net.ipv4.tcp_timestamps=1; Windows 10: off). */
  readonly offersTimestamps: boolean;
  /** Option layout of its SYN and SYN-ACK. */
  readonly layout: "linux" | "windows";
  /** Unscaled window of the SYN / SYN-ACK, given the MSS the window is rounded to. */
  readonly initialWindow: (role: "syn" | "synack", mss: number) => number;
  /**
   * The window field once established (scaled), given the receive window the stack offers. Linux: that
   * window aligned up to the scale unit (__tcp_select_window's ALIGN), 29200 -> 229 and, once the
   * window grew, 33982 -> 266, as the seed shows (lines 283 and 286); Windows: a fixed observed value.
   */
  readonly establishedWindow: (window: number) => number;
  /**
   * Linux grows the window it offers as in-order data arrives (tcp_grow_window); the seed's node
   * goes from win 229 to 266 once the wire server's 2391 bytes are in (lines 283, 286).
   */
  readonly growsWindow: boolean;
  /** Linux: a per-socket counter from a random start (SYN-ACKs and RSTs carry 0); Windows: one host counter. */
  readonly ipId: "per-socket" | "host-counter";
  /** Time from a segment's arrival to the kernel's answer (the seed: ACK 34 µs after the SYN-ACK). */
  readonly stackDelayUs: number;
  /** Delayed-ACK timer: a pure ACK goes out if the app has not answered by then (Linux TCP_DELACK_MIN 40 ms). */
  readonly delayedAckUs: number;
  /**
   * Linux's quick-ACK mode: the first data a socket receives is acknowledged at once
   * (tcp_event_data_recv → tcp_incr_quickack) until it turns interactive ("pingpong": it answered
   * within the ACK timeout, or got a FIN). Windows delays every ACK except each second full segment.
   */
  readonly quickAck: boolean;
  /** Gaps between a SYN and its retransmissions (Linux tcp_syn_retries=6 from a 1 s RTO; Windows 2 retries). */
  readonly synRetransmitsUs: readonly number[];
  /** How long a connection stays in TIME_WAIT (Linux TCP_TIMEWAIT_LEN 60 s; Windows TcpTimedWaitDelay 120 s). */
  readonly timeWaitUs: number;
}

const MS = 1000;
const S = 1_000_000;
const LINUX_SYN_RETRIES = [1, 2, 4, 8, 16, 32].map((s) => s * S);

/** ALIGN(window, 1 << wscale) >> wscale, as tcp_select_window does on the first established segment. */
function alignedScaled(wscale: number): (w: number) => number {
  return (w) => Math.ceil(w / 2 ** wscale);
}

/**
 * Linux 4.x (AKS Ubuntu 16.04/18.04 nodes, 2019 pods): tcp_select_initial_window caps the first
 * window at 20 segments (seed: win 29200 = 20 x 1460; a SYN-ACK with timestamps uses 20 x 1448).
 */
export const LINUX_2019: OsProfile = {
  name: "linux-4.x",
  ttl: 64,
  mss: 1460,
  wscale: 7,
  offersTimestamps: true,
  layout: "linux",
  initialWindow: (_role, mss) => 20 * mss,
  establishedWindow: alignedScaled(7),
  growsWindow: true,
  ipId: "per-socket",
  stackDelayUs: 35,
  delayedAckUs: 40 * MS,
  quickAck: true,
  synRetransmitsUs: LINUX_SYN_RETRIES,
  timeWaitUs: 60 * S,
};

/**
 * Current Linux (5.x/6.x): the first window is 65535 rounded down to whole segments (64240 = 44 x 1460
 * in a SYN; 65160 = 45 x 1448 in a SYN-ACK with timestamps), so established windows read 502/509.
 */
export const LINUX_CURRENT: OsProfile = {
  ...LINUX_2019,
  name: "linux-6.x",
  initialWindow: (_role, mss) => Math.floor(65535 / mss) * mss,
};

/**
 * The author's Windows 10 laptop behind a home router (seed line 283: win 64240, mss 1420,
 * [mss,nop,wscale 8,nop,nop,sackOK], then win 515). No timestamps, as Windows defaults to.
 */
export const WINDOWS_LAPTOP: OsProfile = {
  name: "windows-10",
  ttl: 128,
  mss: 1420,
  wscale: 8,
  offersTimestamps: false,
  layout: "windows",
  initialWindow: () => 64240,
  establishedWindow: () => 515,
  growsWindow: false,
  ipId: "host-counter",
  stackDelayUs: 50,
  delayedAckUs: 200 * MS,
  quickAck: false,
  synRetransmitsUs: [3 * S, 6 * S],
  timeWaitUs: 120 * S,
};

/** The same laptop on Microsoft's corporate network (seed line 384: mss 1300, then win 512). */
export const WINDOWS_CORPNET: OsProfile = {
  ...WINDOWS_LAPTOP,
  name: "windows-10-corpnet",
  mss: 1300,
  establishedWindow: () => 512,
};

/**
 * Azure's wire server 168.63.129.16 answering the node (seed line 282: win 8192,
 * [mss 1460,nop,wscale 8,sackOK,TS val … ecr …]): a Windows stack that echoes timestamps.
 */
export const AZURE_WIRESERVER: OsProfile = {
  ...WINDOWS_LAPTOP,
  name: "azure-wireserver",
  mss: 1460,
  initialWindow: () => 8192,
  establishedWindow: () => 1026,
};

/** The simulator's profile for each stack a scenario's host may run (`hosts[].os`), by the profile's name. */
export const HOST_PROFILES: Readonly<Record<HostOs, OsProfile>> = {
  "windows-10": WINDOWS_LAPTOP,
  "windows-10-corpnet": WINDOWS_CORPNET,
  "linux-4.x": LINUX_2019,
  "linux-6.x": LINUX_CURRENT,
};

/**
 * An outside host's stack: its own (`os`), or for a twin built without one the default the scenario
 * reader gives (inputs/scenario/defaults.ts defaultHostOs): the seed author's Windows 10 laptop on
 * the internet, the era's Linux inside the VNet. Nodes and pods run the era's Linux.
 */
export function hostProfile(
  host: Pick<OutsideHost, "kind" | "os"> | null | undefined,
  legacy: boolean,
): OsProfile {
  if (host?.os) return HOST_PROFILES[host.os];
  if (host?.kind === "internet") return WINDOWS_LAPTOP;
  return legacy ? LINUX_2019 : LINUX_CURRENT;
}

/** The SYN's options (tcp_options_write order for Linux; Windows' own fixed layout). */
export function synOptions(p: OsProfile, tsVal: number): TcpOption[] {
  const mss: TcpOption = { kind: "mss", value: p.mss };
  const ws: TcpOption = { kind: "wscale", value: p.wscale };
  if (p.layout === "windows") {
    if (p.offersTimestamps)
      return [mss, { kind: "nop" }, ws, { kind: "sackOK" }, { kind: "timestamp", value: tsVal, echo: 0 }];
    return [mss, { kind: "nop" }, ws, { kind: "nop" }, { kind: "nop" }, { kind: "sackOK" }];
  }
  return linuxOptions(mss, ws, p.offersTimestamps ? { kind: "timestamp", value: tsVal, echo: 0 } : null);
}

/** The SYN-ACK's options: timestamps only when the SYN offered them (RFC 7323 §3.2). */
export function synAckOptions(p: OsProfile, ts: { value: number; echo: number } | null): TcpOption[] {
  const mss: TcpOption = { kind: "mss", value: p.mss };
  const ws: TcpOption = { kind: "wscale", value: p.wscale };
  const tsOpt: TcpOption | null = ts ? { kind: "timestamp", ...ts } : null;
  if (p.layout === "windows") {
    // Seed line 282 shows the layout with timestamps; without them Windows pads as in its SYN.
    if (tsOpt) return [mss, { kind: "nop" }, ws, { kind: "sackOK" }, tsOpt];
    return [mss, { kind: "nop" }, ws, { kind: "nop" }, { kind: "nop" }, { kind: "sackOK" }];
  }
  return linuxOptions(mss, ws, tsOpt);
}

/**
 * tcp_options_write(): MSS; with timestamps SACK-permitted shares their word (else NOP,NOP,SACK);
 * the window scale comes last behind a NOP. Hence [mss,sackOK,TS,nop,wscale] and
 * [mss,nop,nop,sackOK,nop,wscale], the two shapes in the seed.
 */
function linuxOptions(mss: TcpOption, ws: TcpOption, ts: TcpOption | null): TcpOption[] {
  if (ts) return [mss, { kind: "sackOK" }, ts, { kind: "nop" }, ws];
  return [mss, { kind: "nop" }, { kind: "nop" }, { kind: "sackOK" }, { kind: "nop" }, ws];
}

/** Options of an established segment: NOP,NOP,TS when timestamps were agreed, else none. */
export function establishedOptions(ts: { value: number; echo: number } | null): TcpOption[] {
  return ts ? [{ kind: "nop" }, { kind: "nop" }, { kind: "timestamp", ...ts }] : [];
}
