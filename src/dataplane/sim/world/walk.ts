import type { Frame } from "../../../model/frame.ts";
import type { AzureLbFabric } from "../fabric/load-balancer.ts";
import type { HostTraversal } from "../netfilter/host.ts";
import type { NodeStack } from "./node-stack.ts";
import type { Hop, HopVerdict, Place, SendResult } from "./types.ts";

/** One frame's walk as it is being built, and what the hop modules need of the world. */

export interface Walk {
  readonly hops: Hop[];
  delivered: { frame: Frame; at: Place } | null;
  fate: HopVerdict;
  /** Frames the kernels sent back because of this one (answers.ts). */
  readonly answers: SendResult[];
}

export function newWalk(): Walk {
  return { hops: [], delivered: null, fate: "dropped", answers: [] };
}

/** The finished walk as its sender sees it. */
export function walkResult(w: Walk): SendResult {
  return {
    hops: w.hops,
    delivered: w.delivered,
    fate: w.delivered ? "delivered" : w.fate,
    answers: w.answers,
  };
}

export interface WorldCore {
  readonly fabric: AzureLbFabric;
  /** Who owns an address: a node's host namespace or a pod's. */
  readonly owners: ReadonlyMap<number, NodePlace | PodPlace>;
  /** Outside hosts by address. */
  readonly hosts: ReadonlyMap<number, { readonly name: string; readonly kind: "internet" | "vnet" }>;
  stack(node: string): NodeStack;
  /** Records the frame in the capture of `at`'s interface. */
  record(at: Place, iface: string, frame: Frame): void;
  /** Whether a UDP socket is bound to `ip:port` in the namespace of `at` (answers.ts). */
  udpBound(at: Place, ip: number, port: number): boolean;
}

export type NodePlace = Extract<Place, { kind: "node" }>;
export type PodPlace = Extract<Place, { kind: "pod" }>;

/**
 * The MAC Azure's virtual network answers every ARP request with, and the source MAC of everything
 * it delivers to a VM (the seed's `arp -a` and bridge FDB show it for the gateway 10.13.76.1).
 */
export const AZURE_SDN_MAC = "12:34:56:78:9a:bc";

const MAX_HOPS = 64;

export function netfilterHop(
  w: Walk,
  at: Place,
  iface: string,
  before: Frame,
  after: Frame,
  tr: HostTraversal,
  note: string,
  ok: HopVerdict,
): boolean {
  const verdict: HopVerdict = tr.verdict === "DROP" ? "dropped" : tr.verdict === "REJECT" ? "rejected" : ok;
  const why =
    tr.verdict === "ACCEPT"
      ? note
      : `${tr.verdict} in ${tr.stoppedAt?.table ?? "conntrack"} ${tr.stoppedAt?.hook ?? ""}${tr.rejectWith ? ` (--reject-with ${tr.rejectWith})` : ""}`;
  w.hops.push({
    where: at,
    iface,
    direction: "within",
    before,
    after,
    steps: tr.steps,
    hits: tr.hits,
    ctState: tr.ctState,
    conntrack: tr.conntrack,
    ctDir: tr.ctDir,
    verdict,
    note: why,
  });
  if (verdict === "dropped" || verdict === "rejected") w.fate = verdict;
  return tr.verdict === "ACCEPT";
}

export function hop(
  w: Walk,
  h: Omit<Hop, "steps" | "hits" | "ctState" | "conntrack" | "ctDir" | "note">,
  note: string,
): void {
  w.hops.push({ ...h, steps: [], hits: [], ctState: null, conntrack: null, ctDir: null, note });
  if (h.verdict === "dropped" || h.verdict === "rejected") w.fate = h.verdict;
}

export function exhausted(w: Walk, frame: Frame): boolean {
  if (w.hops.length < MAX_HOPS) return false;
  hop(
    w,
    {
      where: { kind: "fabric", name: "world" },
      iface: null,
      direction: "within",
      before: frame,
      after: frame,
      verdict: "dropped",
    },
    `more than ${MAX_HOPS} hops: a loop`,
  );
  return true;
}
