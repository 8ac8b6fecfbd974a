import type { Frame } from "../../../model/frame.ts";
import { ipv4Bytes } from "../../pcap/encode.ts";
import { Bytes, ipPrint, type PrintContext, type SeqState, Truncated } from "./print-ip.ts";

/**
 * tcpdump's output (no -e) for IPv4 over Ethernet, as tcpdump 4.9 on the seed's nodes prints it
 * (seed lines 283-289, 296-298) and 4.99 on today's: time, `IP`, addresses with ports, then the
 * protocol's summary; with -v the IP header's fields first and the protocols' details (print-ip.ts).
 * Frames are printed from their wire bytes (pcap/encode.ts), so an ICMP error's quote is read the way
 * tcpdump reads it. TCP sequence numbers become relative the way print-tcp.c does it: the first
 * packet of a conversation carrying ACK (or any SYN+ACK) records both initial numbers and prints
 * them absolute; later packets print `seq`/`ack` minus them. That state is per capture, hence
 * `tcpdumpText` over frames rather than a per-frame function.
 */

export type TcpdumpVersion = "4.9" | "4.99";

export interface TcpdumpOptions {
  /** `-n`: ports as numbers (addresses are always numeric: the twin has no reverse DNS). */
  readonly numeric: boolean;
  /** `-v`: each packet's IP header (TOS, TTL, id, flags, length), TCP checksums, HTTP's lines, ICMP errors' quotes. */
  readonly verbose?: boolean;
}

/**
 * The two lines tcpdump writes to stderr when it starts (print.c / tcpdump.c). 4.9 says
 * `capture size`; 4.99 says `snapshot length`. The first line goes away with -v.
 */
export function tcpdumpHeader(iface: string, version: TcpdumpVersion = "4.9", verbose = false): string[] {
  const size = version === "4.9" ? "capture size" : "snapshot length";
  return [
    ...(verbose ? [] : ["tcpdump: verbose output suppressed, use -v or -vv for full protocol decode"]),
    `listening on ${iface}, link-type EN10MB (Ethernet), ${size} 262144 bytes`,
  ];
}

/** What tcpdump prints on stderr when interrupted (tcpdump.c, info()). */
export function tcpdumpSummary(captured: number, received = captured, dropped = 0): string[] {
  const plural = (n: number, what: string) => `${n} ${n === 1 ? "packet" : "packets"} ${what}`;
  return [
    plural(captured, "captured"),
    plural(received, "received by filter"),
    plural(dropped, "dropped by kernel"),
  ];
}

/** HH:MM:SS.ffffff; the twin's local zone is UTC, as on AKS nodes. */
export function formatTime(us: number): string {
  const t = Math.trunc(us);
  const day = Math.floor(t / 1e6) % 86400;
  const two = (n: number) => String(n).padStart(2, "0");
  const micro = String(t % 1e6).padStart(6, "0");
  return `${two(Math.floor(day / 3600))}:${two(Math.floor(day / 60) % 60)}:${two(day % 60)}.${micro}`;
}

/** The lines tcpdump prints for a capture's frames, in order (no trailing newline; -v lines contain `\n`). */
export function tcpdumpText(frames: readonly Frame[], opts: TcpdumpOptions): string[] {
  const flows = new Map<string, SeqState>();
  const verbose = opts.verbose ?? false;
  return frames.map((frame) => {
    const time = formatTime(frame.time);
    if (frame.packet.family !== 4) return `${time} IP6, length ${frame.packet.length}`; // not modelled in frames yet
    const ctx: PrintContext = { numeric: opts.numeric, verbose, flows, out: [], protocol: "ip" };
    const bytes = ipv4Bytes(frame);
    try {
      ipPrint(ctx, new Bytes(bytes), bytes.length);
    } catch (e) {
      if (!(e instanceof Truncated)) throw e;
      ctx.out.push(` [|${ctx.protocol}]`);
    }
    return `${time} ${ctx.out.join("")}`;
  });
}

/** One frame alone (no earlier packets: sequence numbers print as tcpdump prints a flow's first). */
export function tcpdumpLine(frame: Frame, opts: TcpdumpOptions): string {
  return tcpdumpText([frame], opts)[0]!;
}
