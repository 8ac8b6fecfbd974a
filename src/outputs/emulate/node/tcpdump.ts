import type { NodeState } from "../../../model/node.ts";
import { compileFilter } from "../tcpdump/filter.ts";
import { tcpdumpHeader, tcpdumpSummary, tcpdumpText } from "../tcpdump/text.ts";
import type { CommandResult } from "../types.ts";
import type { NodeWorld } from "./node-world.ts";

/**
 * `tcpdump [-n] [-v] [-c N] -i IFACE [FILTER]` on a node: what the World recorded on that interface of the
 * node's host namespace, filtered and printed as tcpdump does (4.9 on the seed's Ubuntu 16.04 nodes,
 * 4.99 on Ubuntu 22.04). The capture is finite, so the run ends as if interrupted after the last
 * frame: the header and the packet counts on stderr, the packets on stdout.
 */

export function tcpdump(
  node: NodeState,
  args: readonly string[],
  world: NodeWorld | undefined,
): CommandResult {
  let iface: string | null = null;
  let numeric = false;
  let verbose = false;
  let count: number | null = null;
  const filterWords: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "-i") iface = args[++i] ?? "";
    else if (a.startsWith("-i") && a.length > 2) iface = a.slice(2);
    else if (a === "-c") count = Number(args[++i]);
    else if (a === "-n" || a === "-nn") numeric = true;
    else if (a === "-v") verbose = true;
    else if (a === "-nv" || a === "-vn") {
      numeric = true;
      verbose = true;
    } else if (a === "-l") continue;
    else if (a.startsWith("-"))
      return {
        stdout: "",
        stderr: `packetwalk: tcpdump ${a} is not emulated (only -n, -v, -i, -c, -l)\n`,
        exitCode: 2,
      };
    else filterWords.push(a);
  }
  if (count !== null && !(Number.isSafeInteger(count) && count > 0))
    return { stdout: "", stderr: "tcpdump: invalid packet count\n", exitCode: 1 };
  // Without -i, tcpdump takes the first up, non-loopback interface (pcap_lookupdev): eth0 on a node.
  const ifaces = node.netns[0]?.interfaces ?? [];
  const name = iface ?? ifaces.find((i) => i.name !== "lo")?.name ?? "eth0";
  if (!ifaces.some((i) => i.name === name))
    return {
      stdout: "",
      stderr: `tcpdump: ${name}: No such device exists\n(SIOCGIFHWADDR: No such device)\n`,
      exitCode: 1,
    };
  const filter = compileFilter(filterWords.join(" "));
  if (!filter.ok) return { stdout: "", stderr: `tcpdump: ${filter.error.message}\n`, exitCode: 1 };
  if (!world)
    return {
      stdout: "",
      stderr: "packetwalk: tcpdump needs traffic: send some first (packetwalk curl/ping on a kept twin)\n",
      exitCode: 2,
    };
  const version = world.world.twin.k8s.version.startsWith("1.11") ? "4.9" : "4.99";
  // Sequence numbers are relative to what this capture saw, so the filter runs before printing.
  let frames = world.world.captures
    .get(node.name, name)
    .frames.filter((f) => f.time <= world.nowUs && filter.match(f));
  if (count !== null) frames = frames.slice(0, count);
  const lines = tcpdumpText(frames, { numeric, verbose });
  return {
    stdout: lines.map((l) => `${l}\n`).join(""),
    stderr: [
      ...tcpdumpHeader(name, version, verbose),
      ...(count === null ? [""] : []),
      ...tcpdumpSummary(frames.length),
    ]
      .map((l) => `${l}\n`)
      .join(""),
    exitCode: 0,
  };
}
