import type { World } from "../../../dataplane/sim/world/world.ts";

/**
 * What the stateful node commands (conntrack, tcpdump) look at: the World the traffic went through
 * and the virtual clock's now (µs), which may be later than the last frame (`clock advance`).
 */
export interface NodeWorld {
  readonly world: World;
  readonly nowUs: number;
}
