import type { Bridge, NetInterface, NodeState } from "../../../model/node.ts";
import type { CommandResult } from "../types.ts";

/**
 * bridge-utils' `brctl show`, `brctl showstp BR` and `brctl showmacs BR`, with the tabs and printf
 * widths of brctl_cmd.c / brctl_disp.c (bridge-utils 1.5, Ubuntu 16.04; 1.7 prints the same). The
 * STP timers of a bridge without STP are the kernel defaults and idle (0.00).
 */

const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** br_show_timer: `%4i.%.2i` of seconds and hundredths. */
function timer(seconds: number): string {
  const hundredths = Math.round(seconds * 100);
  return `${String(Math.floor(hundredths / 100)).padStart(4)}.${String(hundredths % 100).padStart(2, "0")}`;
}

function show(bridges: readonly Bridge[]): string {
  let s = "bridge name\tbridge id\t\tSTP enabled\tinterfaces\n";
  for (const b of [...bridges].sort((x, y) => byName(x.name, y.name))) {
    // brctl lists ports from sysfs with scandir(alphasort), so by name, one per line after the first.
    const ports = b.ports.map((p) => p.name).sort(byName);
    s += `${b.name}\t\t${b.bridgeId}\t${b.stp ? "yes" : "no"}\t\t${ports.join("\n\t\t\t\t\t\t\t")}\n`;
  }
  return s;
}

/**
 * Path cost the kernel gives a port from its link speed (br_if.c port_cost): veths report 10 Gb/s
 * (cost 2); other devices are taken as unknown speed (cost 100).
 */
function pathCost(iface: NetInterface | undefined): number {
  return iface?.kind === "veth" ? 2 : 100;
}

function showStp(b: Bridge, ifaces: readonly NetInterface[]): string {
  let s = `${b.name}\n`;
  s += ` bridge id\t\t${b.bridgeId}\n`;
  s += ` designated root\t${b.bridgeId}\n`;
  s += ` root port\t\t${"0".padStart(4)}\t\t\tpath cost\t\t${"0".padStart(4)}\n`;
  s += ` max age\t\t${timer(20)}\t\t\tbridge max age\t\t${timer(20)}\n`;
  s += ` hello time\t\t${timer(2)}\t\t\tbridge hello time\t${timer(2)}\n`;
  s += ` forward delay\t\t${timer(15)}\t\t\tbridge forward delay\t${timer(15)}\n`;
  s += ` ageing time\t\t${timer(300)}\n`;
  s += ` hello timer\t\t${timer(0)}\t\t\ttcn timer\t\t${timer(0)}\n`;
  s += ` topology change timer\t${timer(0)}\t\t\tgc timer\t\t${timer(0)}\n`;
  s += " flags\t\t\t\n\n\n";
  for (const p of [...b.ports].sort((x, y) => byName(x.name, y.name))) {
    const id = (0x8000 + p.portNo).toString(16).padStart(4, "0");
    s += `${p.name} (${p.portNo})\n`;
    s += ` port id\t\t${id}\t\t\tstate\t\t${"forwarding".padStart(15)}\n`;
    s += ` designated root\t${b.bridgeId}\tpath cost\t\t${String(pathCost(ifaces.find((i) => i.name === p.name))).padStart(4)}\n`;
    s += ` designated bridge\t${b.bridgeId}\tmessage age timer\t${timer(0)}\n`;
    s += ` designated port\t${id}\t\t\tforward delay timer\t${timer(0)}\n`;
    s += ` designated cost\t${"0".padStart(4)}\t\t\thold timer\t\t${timer(0)}\n`;
    s += " flags\t\t\t\n\n";
  }
  return s;
}

function showMacs(b: Bridge): string {
  let s = "port no\tmac addr\t\tis local?\tageing timer\n";
  // brctl sorts the forwarding database by MAC (qsort with memcmp); equal MACs keep no set order.
  const fdb = [...b.fdb].sort((x, y) => byName(x.mac, y.mac));
  for (const e of fdb) {
    s += `${String(e.portNo).padStart(3)}\t${e.mac}\t${e.isLocal ? "yes" : "no"}\t\t${timer(e.isLocal ? 0 : e.ageing)}\n`;
  }
  return s;
}

export function brctl(node: NodeState, args: readonly string[]): CommandResult {
  const [cmd, name, ...rest] = args;
  const ifaces = node.netns[0]?.interfaces ?? [];
  if (cmd === "show" && rest.length === 0) {
    const chosen = name === undefined ? node.bridges : node.bridges.filter((b) => b.name === name);
    if (name !== undefined && chosen.length === 0) {
      return { stdout: "", stderr: `bridge ${name} does not exist!\n`, exitCode: 1 };
    }
    return { stdout: show(chosen), stderr: "", exitCode: 0 };
  }
  if ((cmd === "showstp" || cmd === "showmacs") && name !== undefined && rest.length === 0) {
    const b = node.bridges.find((x) => x.name === name);
    if (!b) {
      const msg =
        cmd === "showstp"
          ? `${name}: can't get info No such device`
          : `read of forward table failed: No such device`;
      return { stdout: "", stderr: `${msg}\n`, exitCode: 1 };
    }
    return { stdout: cmd === "showstp" ? showStp(b, ifaces) : showMacs(b), stderr: "", exitCode: 0 };
  }
  return {
    stdout: "",
    stderr: `packetwalk: \`brctl ${args.join(" ")}' is not emulated; supported: brctl show [BR], brctl showstp BR, brctl showmacs BR\n`,
    exitCode: 127,
  };
}
