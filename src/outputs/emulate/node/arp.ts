import type { Neighbour, Netns } from "../../../model/node.ts";
import type { CommandResult } from "../types.ts";

/**
 * net-tools `arp -a [HOST]` (BSD style) and `arp [-n] [HOST]` (table) from the neighbour table, as
 * arp.c arp_disp / arp_disp_2 print /proc/net/arp. Names: pod and node addresses have no reverse
 * DNS entry on AKS, so the BSD style prints `?` and the table the address itself.
 */

/** /proc/net/arp flags: ATF_COM (complete) 0x2, ATF_PERM 0x4. */
function flags(n: Neighbour): { complete: boolean; perm: boolean } {
  return { complete: n.mac !== null && n.state !== "FAILED", perm: n.state === "PERMANENT" };
}

function bsd(n: Neighbour): string {
  const f = flags(n);
  const hw = f.complete ? `${n.mac} [ether] ` : "<incomplete> ";
  return `? (${n.ip}) at ${hw}${f.perm ? "PERM " : ""}on ${n.dev}\n`;
}

function table(n: Neighbour): string {
  const f = flags(n);
  const hw = f.complete
    ? `${"ether".padEnd(8)}${n.mac!.padEnd(20)}`
    : `${"".padEnd(8)}${"(incomplete)".padEnd(20)}`;
  const fl = f.complete ? `C${f.perm ? "M" : ""}` : "";
  return `${n.ip.padEnd(23)}  ${hw}${fl.padEnd(6)}${"".padEnd(15)} ${n.dev}\n`;
}

export function arp(ns: Netns, args: readonly string[]): CommandResult {
  let bsdStyle = false;
  let host: string | null = null;
  for (const a of args) {
    if (/^-[an]+$/.test(a)) bsdStyle ||= a.includes("a");
    else if (!a.startsWith("-") && host === null) host = a;
    else
      return { stdout: "", stderr: `packetwalk: \`arp ${args.join(" ")}' is not emulated\n`, exitCode: 127 };
  }
  const entries = ns.neighbours.filter((n) => n.state !== "NOARP" && !n.ip.includes(":"));
  const shown = entries.filter((n) => host === null || n.ip === host);
  if (shown.length === 0 && host !== null) {
    const msg = bsdStyle
      ? `arp: in ${entries.length} entries no match found.\n`
      : `${host} (${host}) -- no entry\n`;
    return { stdout: msg, stderr: "", exitCode: 0 };
  }
  if (bsdStyle) return { stdout: shown.map(bsd).join(""), stderr: "", exitCode: 0 };
  const head = "Address                  HWtype  HWaddress           Flags Mask            Iface\n";
  return { stdout: head + shown.map(table).join(""), stderr: "", exitCode: 0 };
}
