import type { ConntrackEntry, CtDir, CtState } from "../../../model/conntrack.ts";
import type { Frame } from "../../../model/frame.ts";
import type { HostStep } from "../netfilter/host.ts";
import type { RuleHit } from "../netfilter/run-table.ts";

/** Where a frame is: an outside host, a node's host namespace, a pod's namespace, or Azure's fabric. */
export type Place =
  | { readonly kind: "host"; readonly name: string }
  | { readonly kind: "node"; readonly node: string }
  | { readonly kind: "pod"; readonly node: string; readonly pod: string }
  | { readonly kind: "fabric"; readonly name: string };

export type HopVerdict =
  /** Handed to a local socket (the end of the frame's walk). */
  | "delivered"
  /** Routed on by an IP stack (FORWARD) or by Azure's fabric. */
  | "forwarded"
  /** Switched by a bridge between two ports. */
  | "bridged"
  /** Sent by the place's own stack (OUTPUT) or put on a link. */
  | "sent"
  | "received"
  | "dropped"
  | "rejected";

/** One step of a frame's walk: what one place did with it on one interface. */
export interface Hop {
  readonly where: Place;
  /** The interface the frame is seen on (in or out); null inside the fabric. */
  readonly iface: string | null;
  readonly direction: "in" | "out" | "within";
  readonly before: Frame;
  readonly after: Frame;
  /** The netfilter walk (host.ts), for hops through a node's IP stack. */
  readonly steps: readonly HostStep[];
  readonly hits: readonly RuleHit[];
  readonly ctState: CtState | null;
  /** The entry made or matched, and the frame's direction in it. */
  readonly conntrack: ConntrackEntry | null;
  readonly ctDir: CtDir | null;
  readonly verdict: HopVerdict;
  /** Why, in words: the drop reason, the route, the bridge port. */
  readonly note: string;
}

export interface SendResult {
  readonly hops: readonly Hop[];
  /** The frame as the receiving socket got it, and where; null when it did not arrive. */
  readonly delivered: { readonly frame: Frame; readonly at: Place } | null;
  /** The last hop's verdict when it did not arrive (dropped, rejected, no route...). */
  readonly fate: HopVerdict;
  /**
   * What the frame made a kernel send back, each walked through the twin in turn: REJECT's RST or
   * ICMP error, a closed UDP port's ICMP port unreachable (answers.ts).
   */
  readonly answers: readonly SendResult[];
}

export const placeName = (p: Place): string =>
  p.kind === "host" || p.kind === "fabric" ? p.name : p.kind === "node" ? p.node : `${p.node}/${p.pod}`;
