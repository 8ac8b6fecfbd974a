import type { NodeState } from "../../../model/node.ts";
import type { ConntrackFilter } from "../../render/conntrack-list.ts";
import { filterEntries, formatConntrackList } from "../../render/conntrack-list.ts";
import type { CommandResult } from "../types.ts";
import type { NodeWorld } from "./node-world.ts";

/**
 * `conntrack -L [selectors]` on a node: the World's conntrack table for the node's host namespace,
 * printed by render/conntrack-list.ts at the virtual clock's now. The trailer's version is the
 * node's conntrack-tools: 1.4.3 on the seed's Ubuntu 16.04 (seed line 193), 1.4.6 on Ubuntu 22.04.
 */

const VALUE_OPTIONS: Readonly<Record<string, keyof ConntrackFilter>> = {
  "-s": "src",
  "--src": "src",
  "--orig-src": "src",
  "-d": "dst",
  "--dst": "dst",
  "--orig-dst": "dst",
  "-r": "replySrc",
  "--reply-src": "replySrc",
  "-q": "replyDst",
  "--reply-dst": "replyDst",
  "-p": "proto",
  "--proto": "proto",
  "--sport": "sport",
  "--orig-port-src": "sport",
  "--dport": "dport",
  "--orig-port-dst": "dport",
  "--state": "state",
  "-m": "mark",
  "--mark": "mark",
};

const NUMERIC = new Set<keyof ConntrackFilter>(["sport", "dport"]);

export function conntrack(
  node: NodeState,
  args: readonly string[],
  world: NodeWorld | undefined,
): CommandResult {
  if (args[0] !== "-L" && args[0] !== "--dump")
    return {
      stdout: "",
      stderr: "packetwalk: only `conntrack -L [-s IP] [-d IP] [-p PROTO]…` is emulated\n",
      exitCode: 2,
    };
  const filter: Record<string, unknown> = {};
  for (let i = 1; i < args.length; i++) {
    const a = args[i]!;
    const key = VALUE_OPTIONS[a];
    const value = args[i + 1];
    if (!key || value === undefined)
      return { stdout: "", stderr: `packetwalk: conntrack -L ${a} is not emulated\n`, exitCode: 2 };
    filter[key] = NUMERIC.has(key) ? Number(value) : value;
    i++;
  }
  if (!world)
    return {
      stdout: "",
      stderr: "packetwalk: conntrack needs traffic: send some first (packetwalk curl/ping on a kept twin)\n",
      exitCode: 2,
    };
  const stack = world.world.nodes.get(node.name);
  const nowMs = Math.floor(world.nowUs / 1000);
  const live = (stack?.conntrack.list() ?? []).filter((e) => e.expiresAt > nowMs);
  let entries: typeof live;
  try {
    entries = filterEntries(live, filter as ConntrackFilter);
  } catch (e) {
    return {
      stdout: "",
      stderr: `conntrack v${version(world)} (conntrack-tools): ${(e as Error).message}\n`,
      exitCode: 1,
    };
  }
  const out = formatConntrackList(entries, nowMs, { version: version(world) });
  return { stdout: out.stdout, stderr: out.stderr, exitCode: 0 };
}

function version(world: NodeWorld): string {
  return world.world.twin.k8s.version.startsWith("1.11") ? "1.4.3" : "1.4.6";
}
