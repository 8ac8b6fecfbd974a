import type { Bridge } from "../../../model/node.ts";

/**
 * A Linux bridge's forwarding decision (net/bridge/br_input.c, br_handle_frame_finish): a frame to
 * a MAC the FDB marks local goes up to the host's stack on the bridge device; a learned MAC is
 * forwarded out of its port (never back out of the port it came in on); an unknown one is flooded.
 */

export type BridgeDecision =
  | { readonly kind: "local" }
  | { readonly kind: "forward"; readonly port: string }
  | { readonly kind: "flood"; readonly ports: readonly string[] }
  | { readonly kind: "filtered" };

export function bridgeDecide(
  bridge: Bridge,
  inPort: string | null,
  dstMac: string,
  ownMac: string,
): BridgeDecision {
  const mac = dstMac.toLowerCase();
  if (mac === ownMac.toLowerCase()) return { kind: "local" };
  const entry = bridge.fdb.find((e) => e.mac === mac);
  if (entry?.isLocal) return { kind: "local" };
  const portName = (no: number) => bridge.ports.find((p) => p.portNo === no)?.name ?? null;
  if (entry) {
    const port = portName(entry.portNo);
    // br_forward: a frame is never sent back out of the port it came in on.
    if (port === null || port === inPort) return { kind: "filtered" };
    return { kind: "forward", port };
  }
  return { kind: "flood", ports: bridge.ports.map((p) => p.name).filter((n) => n !== inPort) };
}
