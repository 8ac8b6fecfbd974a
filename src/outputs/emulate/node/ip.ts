import type { InterfaceAddress, NetInterface, Netns } from "../../../model/node.ts";
import type { CommandResult } from "../types.ts";

/**
 * iproute2's `ip addr`, `ip link`, `ip route` and `ip neigh` for one network namespace, in the
 * layout of iproute2's print_linkinfo / print_addrinfo / print_route / print_neigh (checked against
 * iproute2 6.1 in ip.kernel.test.ts; the seed's 4.x output has the same lines).
 */

interface Options {
  family: 4 | 6 | null;
  oneline: boolean;
}

function linkHeader(i: NetInterface, withMode: boolean): string {
  const peer = i.peer ? `@if${i.peer.index}` : "";
  let s = `${i.index}: ${i.name}${peer}: <${i.flags.join(",")}> mtu ${i.mtu} qdisc ${i.qdisc}`;
  if (i.master) s += ` master ${i.master}`;
  s += ` state ${i.operState}`;
  if (withMode) s += " mode DEFAULT";
  s += " group default";
  if (i.qlen > 0) s += ` qlen ${i.qlen}`;
  return s;
}

function linkLine(i: NetInterface): string {
  const loop = i.kind === "loopback";
  const brd = loop ? "00:00:00:00:00:00" : "ff:ff:ff:ff:ff:ff";
  const netns = i.peer ? ` link-netnsid ${i.peer.netnsId}` : "";
  return `    link/${loop ? "loopback" : "ether"} ${i.mac} brd ${brd}${netns}`;
}

function addrLine(i: NetInterface, a: InterfaceAddress): string {
  if (a.family === 4) {
    const brd = a.broadcast ? ` brd ${a.broadcast}` : "";
    return `    inet ${a.address}/${a.prefixLength}${brd} scope ${a.scope} ${i.name}`;
  }
  // IPv6 addresses carry no label; iproute2 leaves the space it would have printed before one.
  return `    inet6 ${a.address}/${a.prefixLength} scope ${a.scope} `;
}

const LIFETIME = "       valid_lft forever preferred_lft forever";

function addrs(i: NetInterface, o: Options): InterfaceAddress[] {
  return i.addresses.filter((a) => o.family === null || a.family === o.family);
}

function showAddr(ifaces: readonly NetInterface[], o: Options): string {
  let s = "";
  for (const i of ifaces) {
    const list = addrs(i, o);
    if (o.oneline) {
      for (const a of list) s += `${i.index}: ${i.name}${addrLine(i, a)}\\${LIFETIME}\n`;
      continue;
    }
    // With a family filter, interfaces without such an address and the link/ether lines are left out.
    if (o.family !== null && list.length === 0) continue;
    s += `${linkHeader(i, false)}\n`;
    if (o.family === null) s += `${linkLine(i)}\n`;
    for (const a of list) s += `${addrLine(i, a)}\n${LIFETIME}\n`;
  }
  return s;
}

function showLink(ifaces: readonly NetInterface[], o: Options): string {
  return ifaces.map((i) => `${linkHeader(i, true)}${o.oneline ? "\\" : "\n"}${linkLine(i)}\n`).join("");
}

function showRoutes(ns: Netns, o: Options): string {
  if (o.family === 6) return "";
  return ns.routes
    .map((r) => {
      let s = r.dst;
      if (r.gateway) s += ` via ${r.gateway}`;
      s += ` dev ${r.dev}`;
      if (r.proto) s += ` proto ${r.proto}`;
      if (r.scope) s += ` scope ${r.scope}`;
      if (r.src) s += ` src ${r.src}`;
      if (r.metric !== null) s += ` metric ${r.metric}`;
      const dev = ns.interfaces.find((i) => i.name === r.dev);
      if (dev && !dev.flags.includes("LOWER_UP")) s += " linkdown";
      return `${s} \n`;
    })
    .join("");
}

function showNeigh(ns: Netns, o: Options): string {
  return ns.neighbours
    .filter((n) => o.family === null || (o.family === 6) === n.ip.includes(":"))
    .map((n) => `${n.ip} dev ${n.dev}${n.mac ? ` lladdr ${n.mac}` : ""} ${n.state} \n`)
    .join("");
}

/** Which object an abbreviation names: iproute2 matches any prefix of the full word. */
function object(word: string): "addr" | "link" | "route" | "neigh" | null {
  const objects: readonly [string, "addr" | "link" | "route" | "neigh"][] = [
    ["address", "addr"],
    ["link", "link"],
    ["route", "route"],
    ["neighbour", "neigh"],
    ["neighbor", "neigh"],
  ];
  for (const [full, name] of objects) if (word.length > 0 && full.startsWith(word)) return name;
  return null;
}

export function ip(ns: Netns, args: readonly string[]): CommandResult {
  const o: Options = { family: null, oneline: false };
  let i = 0;
  for (; i < args.length && args[i]!.startsWith("-"); i++) {
    const a = args[i]!;
    if (a === "-4") o.family = 4;
    else if (a === "-6") o.family = 6;
    else if (a === "-o" || a === "-oneline") o.oneline = true;
    else return err(`Option "${a}" is unknown, try "ip -help".`, 255);
  }
  const objWord = args[i++];
  if (objWord === undefined) return err("Usage: ip [ OPTIONS ] OBJECT { COMMAND | help }", 255);
  const obj = object(objWord);
  if (obj === null) return err(`Object "${objWord}" is unknown, try "ip help".`, 1);
  const rest = args.slice(i);
  // `show`/`list`/`ls` are the default; then `[dev] NAME` for addr and link.
  if (rest[0] !== undefined && ["show", "list", "ls", "lst", "sh"].includes(rest[0])) rest.shift();
  if (obj === "route")
    return rest.length === 0 ? ok(showRoutes(ns, o)) : unsupported(`route ${rest.join(" ")}`);
  if (obj === "neigh")
    return rest.length === 0 ? ok(showNeigh(ns, o)) : unsupported(`neigh ${rest.join(" ")}`);
  if (rest[0] === "dev") rest.shift();
  let ifaces = ns.interfaces;
  if (rest.length > 1) return unsupported(`${objWord} ${rest.join(" ")}`);
  if (rest.length === 1) {
    ifaces = ifaces.filter((x) => x.name === rest[0]);
    if (ifaces.length === 0) return err(`Device "${rest[0]}" does not exist.`, 1);
  }
  return ok(obj === "addr" ? showAddr(ifaces, o) : showLink(ifaces, o));
}

const ok = (stdout: string): CommandResult => ({ stdout, stderr: "", exitCode: 0 });
const err = (msg: string, exitCode: number): CommandResult => ({ stdout: "", stderr: `${msg}\n`, exitCode });
const unsupported = (what: string): CommandResult =>
  err(`packetwalk: \`ip ${what}' is not emulated (only listing)`, 127);
