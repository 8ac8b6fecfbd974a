import type { Listener, NodeState } from "../../../model/node.ts";
import { portName } from "../tcpdump/services.ts";
import type { CommandResult } from "../types.ts";

/**
 * `netstat -l [-p] [-n] [-t] [-u]` as net-tools 1.60+git (Ubuntu 16.04, the seed's node) prints the
 * listening internet sockets from node.listeners. Layout from net-tools netstat.c: tcp_do_one's
 * `"%-4s  %6ld %6ld %-*s %-*s %-11s"` (addresses padded to 23), then finish_this_one's
 * `" %-20s"` PID/Program name with -p. Without -n, 127.0.0.1 reads `localhost` and ports their
 * /etc/services names; wildcards stay numeric (`0.0.0.0`, `[::]`). UNIX sockets are not modelled,
 * so their section is left out.
 */

function address(l: Listener, numeric: boolean): string {
  const proto = l.proto.startsWith("udp") ? "udp" : "tcp";
  const port = numeric ? String(l.port) : portName(proto, l.port);
  const six = l.proto.endsWith("6");
  const host = !numeric && (l.address === "127.0.0.1" || l.address === "::1") ? "localhost" : l.address;
  return `${six && host !== "localhost" ? `[${host}]` : host}:${port}`;
}

function foreign(l: Listener): string {
  return l.proto.endsWith("6") ? "[::]:*" : "0.0.0.0:*";
}

export function netstat(node: NodeState, args: readonly string[]): CommandResult {
  let listening = false;
  let programs = false;
  let numeric = false;
  let tcp = false;
  let udp = false;
  for (const a of args) {
    if (!/^-[a-z]+$/.test(a))
      return { stdout: "", stderr: `packetwalk: netstat ${a} is not emulated\n`, exitCode: 2 };
    for (const f of a.slice(1)) {
      if (f === "l") listening = true;
      else if (f === "p") programs = true;
      else if (f === "n") numeric = true;
      else if (f === "t") tcp = true;
      else if (f === "u") udp = true;
      else return { stdout: "", stderr: `packetwalk: netstat -${f} is not emulated\n`, exitCode: 2 };
    }
  }
  if (!listening)
    return {
      stdout: "",
      stderr: "packetwalk: only `netstat -l` (listening sockets) is emulated\n",
      exitCode: 2,
    };
  const wanted = (l: Listener) =>
    (!tcp && !udp) || (tcp && l.proto.startsWith("tcp")) || (udp && l.proto.startsWith("udp"));
  const pad = (s: string) => s.padEnd(23, " ");
  const header = `Proto Recv-Q Send-Q ${pad("Local Address")} ${pad("Foreign Address")} State      ${programs ? " PID/Program name" : ""}`;
  const rows = node.listeners.filter(wanted).map((l) => {
    // UDP sockets have no state; netstat prints the empty %-11s.
    const state = l.proto.startsWith("tcp") ? "LISTEN" : "";
    const base = `${l.proto.padEnd(4)}  ${"0".padStart(6)} ${"0".padStart(6)} ${pad(address(l, numeric))} ${pad(foreign(l))} ${state.padEnd(11)}`;
    return programs ? `${base} ${`${l.pid}/${l.program}`.padEnd(20)}` : base;
  });
  return {
    stdout: ["Active Internet connections (only servers)", header, ...rows].map((l) => `${l}\n`).join(""),
    stderr: "",
    exitCode: 0,
  };
}
