import type { Frame } from "../../../model/frame.ts";
import { makePacket, TCP } from "../../../model/packet.ts";
import { concatBytes } from "./segment.ts";

/**
 * Linux's generic receive offload for TCP (tcp_gro_receive, net/ipv4/tcp_offload.c): segments of one
 * flow that a NIC hands up in one poll are merged into one before the stack (and tcpdump, and
 * netfilter) see them, as long as each continues the last in sequence, carries the same ACK and
 * options (timestamps included) and no more than the first one's length. A segment shorter than the
 * first, or carrying PSH, FIN, URG, RST or SYN, ends the merge; FIN and PSH are kept on the merged
 * segment. hv_netvsc, the Azure VM's NIC driver, receives through napi_gro_receive, hence the seed's
 * node capturing the wire server's 2391-byte answer as one `[FP.]` segment past its 1460-byte MSS
 * (line 285).
 */

const FLUSH = TCP.URG | TCP.PSH | TCP.RST | TCP.SYN | TCP.FIN;

/** The frames of one burst as the receiving stack gets them. */
export function groCoalesce(frames: readonly Frame[]): Frame[] {
  const out: Frame[] = [];
  let held: { frame: Frame; parts: Uint8Array[]; mss: number; flags: number; len: number } | null = null;
  const flush = (): void => {
    if (!held) return;
    const { frame, parts, flags, len } = held;
    out.push(
      parts.length === 1
        ? frame
        : {
            ...frame,
            packet: makePacket({
              ...frame.packet,
              tcpFlags: flags,
              length: frame.packet.length - frame.payload.length + len,
            }),
            payload: concatBytes(parts),
          },
    );
    held = null;
  };
  for (const f of frames) {
    const len = f.payload.length;
    const flags = f.packet.tcpFlags;
    if (held && f.tcp && len > 0 && mergeable(held.frame, f, held.len, held.mss)) {
      held.parts.push(f.payload);
      held.len += len;
      held.flags |= flags & (TCP.FIN | TCP.PSH);
      if (len < held.mss || flags & FLUSH) flush();
      continue;
    }
    flush();
    if (!f.tcp || len === 0 || flags & FLUSH) {
      out.push(f);
      continue;
    }
    held = { frame: f, parts: [f.payload], mss: len, flags, len };
  }
  flush();
  return out;
}

function mergeable(first: Frame, next: Frame, heldLen: number, mss: number): boolean {
  const a = first.packet;
  const b = next.packet;
  if (a.src !== b.src || a.dst !== b.dst || a.sport !== b.sport || a.dport !== b.dport) return false;
  if ((a.tcpFlags ^ b.tcpFlags) & ~(TCP.CWR | TCP.FIN | TCP.PSH) || b.tcpFlags & TCP.CWR) return false;
  if (first.tcp!.ack !== next.tcp!.ack || next.payload.length > mss) return false;
  if ((first.tcp!.seq + heldLen) >>> 0 !== next.tcp!.seq) return false;
  return JSON.stringify(first.tcp!.options) === JSON.stringify(next.tcp!.options);
}
