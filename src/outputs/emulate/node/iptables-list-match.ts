import { formatIp, formatIpNet, type IpNet } from "../../../core/ip.ts";
import type { CtState } from "../../../model/conntrack.ts";
import type { Match, PortRange } from "../../../model/netfilter/matches.ts";
import { formatStoredProbability, hex } from "../../../model/netfilter/numbers.ts";
import { limitPeriod } from "../../../model/netfilter/save-matches.ts";

/**
 * How each match prints in `iptables -L`: the extensions' `print` functions (libxt_*.c,
 * iptables 1.6.0 and 1.8.9 print these alike; checked against iptables-legacy 1.8.9 in
 * iptables-list.kernel.test.ts). Each piece starts with a space, as the C code's printf(" …") do.
 */

/** getservbyport() from Debian netbase's /etc/services, for the ports Kubernetes nodes meet. */
const SERVICES: Readonly<Record<string, ReadonlyMap<number, string>>> = {
  tcp: new Map([
    [20, "ftp-data"],
    [21, "ftp"],
    [22, "ssh"],
    [23, "telnet"],
    [25, "smtp"],
    [53, "domain"],
    [80, "http"],
    [110, "pop3"],
    [143, "imap2"],
    [179, "bgp"],
    [389, "ldap"],
    [443, "https"],
    [514, "shell"],
    [636, "ldaps"],
    [873, "rsync"],
    [993, "imaps"],
    [995, "pop3s"],
    [3306, "mysql"],
    [5432, "postgresql"],
    [8080, "http-alt"],
  ]),
  udp: new Map([
    [53, "domain"],
    [67, "bootps"],
    [68, "bootpc"],
    [69, "tftp"],
    [123, "ntp"],
    [161, "snmp"],
    [389, "ldap"],
    [443, "https"],
    [514, "syslog"],
  ]),
};

export function portName(port: number, proto: string, numeric: boolean): string {
  return (!numeric && SERVICES[proto]?.get(port)) || String(port);
}

/** libxt_tcp/udp print_ports: ` dpt:80`, ` dpts:1000:2000`, ` dpt:!80`; nothing for 0-65535. */
function ports(
  name: string,
  spec: { value: PortRange; invert: boolean } | null,
  proto: string,
  numeric: boolean,
) {
  if (!spec) return "";
  const { from, to } = spec.value;
  if (from === 0 && to === 0xffff && !spec.invert) return "";
  const inv = spec.invert ? "!" : "";
  if (from === to) return ` ${name}:${inv}${portName(from, proto, numeric)}`;
  return ` ${name}s:${inv}${portName(from, proto, numeric)}:${portName(to, proto, numeric)}`;
}

/** libxt_tcp print_tcpf: the first flag name whose bit is set, repeatedly; ALL covers 0x3f. */
const TCP_FLAG_NAMES: readonly [string, number][] = [
  ["FIN", 0x01],
  ["SYN", 0x02],
  ["RST", 0x04],
  ["PSH", 0x08],
  ["ACK", 0x10],
  ["URG", 0x20],
];

function tcpFlags(bits: number): string {
  const names = TCP_FLAG_NAMES.filter(([, b]) => bits & b).map(([n]) => n);
  return names.length > 0 ? names.join(",") : "NONE";
}

/** libxt_conntrack print_state order. */
const CT_STATE_ORDER: readonly CtState[] = [
  "INVALID",
  "NEW",
  "RELATED",
  "ESTABLISHED",
  "UNTRACKED",
  "SNAT",
  "DNAT",
];

function states(list: readonly CtState[]): string {
  return CT_STATE_ORDER.filter((s) => list.includes(s)).join(",");
}

/** libxt_conntrack prints addresses with `/len` only for non-host masks. */
function ctAddr(net: IpNet): string {
  const full = net.family === 4 ? 32 : 128;
  return net.prefix === full || net.prefix === null ? formatIp(net.family, net.addr) : formatIpNet(net);
}

const bang = (invert: boolean): string => (invert ? " !" : "");

/** ICMP type names libxt_icmp prints without -n (type, code range). */
const ICMP_NAMES: readonly [string, number, number, number][] = [
  ["echo-reply", 0, 0, 0xff],
  ["destination-unreachable", 3, 0, 0xff],
  ["network-unreachable", 3, 0, 0],
  ["host-unreachable", 3, 1, 1],
  ["protocol-unreachable", 3, 2, 2],
  ["port-unreachable", 3, 3, 3],
  ["fragmentation-needed", 3, 4, 4],
  ["source-quench", 4, 0, 0xff],
  ["redirect", 5, 0, 0xff],
  ["echo-request", 8, 0, 0xff],
  ["time-exceeded", 11, 0, 0xff],
  ["parameter-problem", 12, 0, 0xff],
  ["timestamp-request", 13, 0, 0xff],
  ["timestamp-reply", 14, 0, 0xff],
];

export function listMatch(m: Match, numeric: boolean): string {
  if ("unknown" in m) return ` ${m.module} ${m.tokens.join(" ")}`;
  switch (m.module) {
    case "tcp": {
      let s = " tcp" + ports("spt", m.sport, "tcp", numeric) + ports("dpt", m.dport, "tcp", numeric);
      if (m.option) s += ` option=${m.option.invert ? "!" : ""}${m.option.value}`;
      if (m.flags) {
        const { mask, comp } = m.flags.value;
        const two = (n: number): string => `0x${n.toString(16).toUpperCase().padStart(2, "0")}`;
        s += ` flags:${m.flags.invert ? "!" : ""}`;
        s += numeric ? `${two(mask)}/${two(comp)}` : `${tcpFlags(mask)}/${tcpFlags(comp)}`;
      }
      return s;
    }
    case "udp":
    case "udplite":
    case "sctp": {
      const proto = m.module === "udp" ? "udp" : m.module;
      return ` ${m.module}` + ports("spt", m.sport, proto, numeric) + ports("dpt", m.dport, proto, numeric);
    }
    case "icmp":
    case "icmp6": {
      const t = m.type.value;
      if (t.any) return ` ${m.module} ${m.type.invert ? "!" : ""}any`;
      const named = ICMP_NAMES.find(
        ([, ty, lo, hi]) => ty === t.type && lo === t.codeMin && hi === t.codeMax,
      );
      if (!numeric && named && m.module === "icmp") return ` icmp ${m.type.invert ? "!" : ""}${named[0]}`;
      let s = ` ${m.module}${m.type.invert ? " !" : ""}type ${t.type}`;
      if (t.codeMin === t.codeMax) s += ` code ${t.codeMin}`;
      else if (t.codeMin !== 0 || t.codeMax !== 0xff) s += ` codes ${t.codeMin}-${t.codeMax}`;
      return s;
    }
    case "comment":
      return ` /* ${m.comment} */`;
    case "multiport": {
      const proto = "tcp";
      const list = m.ports
        .map((p) =>
          p.from === p.to
            ? portName(p.from, proto, numeric)
            : `${portName(p.from, proto, numeric)}:${portName(p.to, proto, numeric)}`,
        )
        .join(",");
      return ` multiport ${m.which}${m.invert ? " !" : ""} ${list}`;
    }
    case "statistic":
      if (m.mode === "random") {
        return ` statistic mode random${bang(m.invert)} probability ${formatStoredProbability(m.stored)}`;
      }
      return ` statistic mode nth${bang(m.invert)} every ${m.every}${m.packet ? ` packet ${m.packet}` : ""}`;
    case "mark":
    case "connmark":
      return ` ${m.module} match${bang(m.invert)} ${hex(m.value)}${m.mask === 0xffffffff ? "" : `/${hex(m.mask)}`}`;
    case "conntrack": {
      let s = "";
      if (m.ctstate) s += `${bang(m.ctstate.invert)} ctstate ${states(m.ctstate.value)}`;
      if (m.ctproto) s += `${bang(m.ctproto.invert)} ctproto ${m.ctproto.value}`;
      for (const key of ["ctorigsrc", "ctorigdst", "ctreplsrc", "ctrepldst"] as const) {
        const a = m[key];
        if (a) s += `${bang(a.invert)} ${key} ${ctAddr(a.value)}`;
      }
      for (const key of ["ctorigsrcport", "ctorigdstport", "ctreplsrcport", "ctrepldstport"] as const) {
        const p = m[key];
        if (p)
          s += `${bang(p.invert)} ${key} ${p.value.from === p.value.to ? p.value.from : `${p.value.from}:${p.value.to}`}`;
      }
      if (m.ctstatus) s += `${bang(m.ctstatus.invert)} ctstatus ${m.ctstatus.value.join(",")}`;
      if (m.ctexpire) {
        const e = m.ctexpire.value;
        s += `${bang(m.ctexpire.invert)} ctexpire ${e.from === e.to ? e.from : `${e.from}:${e.to}`}`;
      }
      if (m.ctdir) s += ` ctdir ${m.ctdir}`;
      return s;
    }
    case "state":
      return `${bang(m.invert)} state ${states(m.states)}`;
    case "addrtype": {
      let s = " ADDRTYPE match";
      if (m.srcType) s += ` src-type ${m.srcType.invert ? "!" : ""}${m.srcType.value.join(",")}`;
      if (m.dstType) s += ` dst-type ${m.dstType.invert ? "!" : ""}${m.dstType.value.join(",")}`;
      if (m.limitIfaceIn) s += " limit-in";
      if (m.limitIfaceOut) s += " limit-out";
      return s;
    }
    case "iprange": {
      let s = "";
      if (m.src) {
        s += ` source IP range${bang(m.src.invert)} ${formatIp(4, m.src.value.from)}-${formatIp(4, m.src.value.to)}`;
      }
      if (m.dst) {
        s += ` destination IP range${bang(m.dst.invert)} ${formatIp(4, m.dst.value.from)}-${formatIp(4, m.dst.value.to)}`;
      }
      return s;
    }
    case "physdev": {
      let s = " PHYSDEV match";
      if (m.isIn) s += `${bang(m.isIn.invert)} --physdev-is-in`;
      if (m.physdevIn) s += `${bang(m.physdevIn.invert)} --physdev-in ${m.physdevIn.value}`;
      if (m.isOut) s += `${bang(m.isOut.invert)} --physdev-is-out`;
      if (m.physdevOut) s += `${bang(m.physdevOut.invert)} --physdev-out ${m.physdevOut.value}`;
      if (m.isBridged) s += `${bang(m.isBridged.invert)} --physdev-is-bridged`;
      return s;
    }
    case "set":
      return `${m.invert ? " !" : ""} match-set ${m.name} ${m.flags.join(",")}${m.extra.map((t) => ` ${t}`).join("")}`;
    case "recent": {
      let s = `${bang(m.command.invert)} recent: ${m.command.value === "rcheck" ? "CHECK" : m.command.value.toUpperCase()}`;
      if (m.seconds !== null) s += ` seconds: ${m.seconds}`;
      if (m.reap) s += " reap";
      if (m.hitcount !== null) s += ` hit_count: ${m.hitcount}`;
      if (m.rttl) s += " TTL-Match";
      s += ` name: ${m.name} side: ${m.side === "rsource" ? "source" : "dest"}`;
      return `${s} mask: ${m.mask}`;
    }
    case "limit":
      return ` limit: avg ${limitRate(limitPeriod(m))} burst ${m.burst}`;
  }
}

/** libxt_limit print_rate: the largest unit that divides evenly enough. */
function limitRate(period: number): string {
  const units: readonly [string, number][] = [
    ["day", 864000000],
    ["hour", 36000000],
    ["min", 600000],
    ["sec", 10000],
  ];
  let i = 1;
  for (; i < units.length; i++) {
    const mult = units[i]![1];
    if (period > mult || Math.floor(mult / period) < mult % period) break;
  }
  const [name, mult] = units[i - 1]!;
  return `${Math.floor(mult / period)}/${name}`;
}
