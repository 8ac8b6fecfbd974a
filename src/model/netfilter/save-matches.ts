import { type Family, formatIp, formatIpNet, type IpNet } from "../../core/ip.ts";
import type { LimitMatch, Match, Neg, PortRange } from "./matches.ts";
import { formatPortRange, formatStoredProbability, hex, saveString } from "./numbers.ts";

/**
 * Each match module's `save` output, byte for byte as iptables 1.8 prints it (checked against
 * iptables-legacy-save and iptables-nft-save 1.8.9 on this project's kernel test data:
 * src/inputs/iptables/testdata/kernel-save-legacy-1.8.9.txt).
 */

const neg = (invert: boolean): string => (invert ? " !" : "");

function port(name: string, spec: Neg<PortRange> | null): string {
  return spec ? `${neg(spec.invert)} ${name} ${formatPortRange(spec.value)}` : "";
}

const TCP_FLAGS: readonly [number, string][] = [
  [1, "FIN"],
  [2, "SYN"],
  [4, "RST"],
  [8, "PSH"],
  [16, "ACK"],
  [32, "URG"],
  [64, "ECE"],
  [128, "CWR"],
];

function tcpFlags(bits: number): string {
  if (bits === 0) return "NONE";
  return TCP_FLAGS.filter(([b]) => bits & b)
    .map(([, n]) => n)
    .join(",");
}

/** libxt_conntrack prints an address with `/prefix` only when the mask is not a host mask. */
function ctAddr(net: IpNet): string {
  const full = net.family === 4 ? 32 : 128;
  if (net.prefix === full || net.prefix === null) return formatIp(net.family, net.addr);
  return formatIpNet(net);
}

const LIMIT_SCALE = 10000;
const RATE_UNITS: readonly [string, number][] = [
  ["day", LIMIT_SCALE * 24 * 60 * 60],
  ["hour", LIMIT_SCALE * 60 * 60],
  ["min", LIMIT_SCALE * 60],
  ["sec", LIMIT_SCALE],
];
const UNIT_MULT: Readonly<Record<LimitMatch["unit"], number>> = {
  sec: 1,
  min: 60,
  hour: 3600,
  day: 86400,
};

/** libxt_limit: the kernel keeps the average period; print_rate picks the largest exact unit. */
export function limitPeriod(m: LimitMatch): number {
  return Math.floor((LIMIT_SCALE * UNIT_MULT[m.unit]) / m.rate);
}

function printRate(period: number): string {
  let i = 1;
  for (; i < RATE_UNITS.length; i++) {
    const mult = (RATE_UNITS[i] as [string, number])[1];
    if (period > mult || Math.floor(mult / period) < mult % period) break;
  }
  const [name, mult] = RATE_UNITS[i - 1] as [string, number];
  return `${Math.floor(mult / period)}/${name}`;
}

/** Words that need no quoting stay bare; the rest is quoted as iptables-save quotes strings. */
function token(word: string): string {
  return /^[^\s"'\\]+$/.test(word) ? word : saveString(word);
}

export function saveMatch(m: Match, family: Family): string {
  if ("unknown" in m) return ` -m ${m.module}${m.tokens.map((t) => ` ${token(t)}`).join("")}`;
  const head = ` -m ${m.module}`;
  switch (m.module) {
    case "tcp": {
      let s = head + port("--sport", m.sport) + port("--dport", m.dport);
      if (m.option) s += `${neg(m.option.invert)} --tcp-option ${m.option.value}`;
      if (m.flags)
        s += `${neg(m.flags.invert)} --tcp-flags ${tcpFlags(m.flags.value.mask)} ${tcpFlags(m.flags.value.comp)}`;
      return s;
    }
    case "udp":
    case "udplite":
    case "sctp":
      return head + port("--sport", m.sport) + port("--dport", m.dport);
    case "icmp":
    case "icmp6": {
      const t = m.type.value;
      const name = m.module === "icmp" ? "--icmp-type" : "--icmpv6-type";
      let value: string;
      if (t.any) value = "any";
      else if (t.codeMin === 0 && t.codeMax === 255) value = String(t.type);
      else value = `${t.type}/${t.codeMin}`;
      return `${head}${neg(m.type.invert)} ${name} ${value}`;
    }
    case "comment":
      return `${head} --comment ${saveString(m.comment)}`;
    case "multiport":
      return `${head}${neg(m.invert)} --${m.which} ${m.ports.map((p) => formatPortRange(p)).join(",")}`;
    case "statistic":
      if (m.mode === "random") {
        return `${head} --mode random${neg(m.invert)} --probability ${formatStoredProbability(m.stored)}`;
      }
      return `${head} --mode nth${neg(m.invert)} --every ${m.every} --packet ${m.packet}`;
    case "mark":
    case "connmark":
      return `${head}${neg(m.invert)} --mark ${hex(m.value)}${m.mask === 0xffffffff ? "" : `/${hex(m.mask)}`}`;
    case "conntrack": {
      let s = head;
      if (m.ctstate) s += `${neg(m.ctstate.invert)} --ctstate ${m.ctstate.value.join(",")}`;
      if (m.ctproto) s += `${neg(m.ctproto.invert)} --ctproto ${m.ctproto.value}`;
      for (const key of ["ctorigsrc", "ctorigdst", "ctreplsrc", "ctrepldst"] as const) {
        const a = m[key];
        if (a) s += `${neg(a.invert)} --${key} ${ctAddr(a.value)}`;
      }
      for (const key of ["ctorigsrcport", "ctorigdstport", "ctreplsrcport", "ctrepldstport"] as const) {
        s += port(`--${key}`, m[key]);
      }
      if (m.ctstatus) s += `${neg(m.ctstatus.invert)} --ctstatus ${m.ctstatus.value.join(",")}`;
      if (m.ctexpire) s += port("--ctexpire", m.ctexpire);
      if (m.ctdir) s += ` --ctdir ${m.ctdir}`;
      return s;
    }
    case "state":
      return `${head}${neg(m.invert)} --state ${m.states.join(",")}`;
    case "addrtype": {
      let s = head;
      if (m.srcType) s += `${neg(m.srcType.invert)} --src-type ${m.srcType.value.join(",")}`;
      if (m.dstType) s += `${neg(m.dstType.invert)} --dst-type ${m.dstType.value.join(",")}`;
      if (m.limitIfaceIn) s += " --limit-iface-in";
      if (m.limitIfaceOut) s += " --limit-iface-out";
      return s;
    }
    case "iprange": {
      let s = head;
      if (m.src)
        s += `${neg(m.src.invert)} --src-range ${formatIp(family, m.src.value.from)}-${formatIp(family, m.src.value.to)}`;
      if (m.dst)
        s += `${neg(m.dst.invert)} --dst-range ${formatIp(family, m.dst.value.from)}-${formatIp(family, m.dst.value.to)}`;
      return s;
    }
    case "physdev": {
      let s = head;
      if (m.isIn) s += `${neg(m.isIn.invert)} --physdev-is-in`;
      if (m.physdevIn) s += `${neg(m.physdevIn.invert)} --physdev-in ${m.physdevIn.value}`;
      if (m.isOut) s += `${neg(m.isOut.invert)} --physdev-is-out`;
      if (m.physdevOut) s += `${neg(m.physdevOut.invert)} --physdev-out ${m.physdevOut.value}`;
      if (m.isBridged) s += `${neg(m.isBridged.invert)} --physdev-is-bridged`;
      return s;
    }
    case "set":
      return `${head}${neg(m.invert)} --match-set ${m.name} ${m.flags.join(",")}${m.extra.map((t) => ` ${t}`).join("")}`;
    case "recent": {
      let s = `${head}${neg(m.command.invert)} --${m.command.value}`;
      if (m.seconds !== null) s += ` --seconds ${m.seconds}`;
      if (m.reap) s += " --reap";
      if (m.hitcount !== null) s += ` --hitcount ${m.hitcount}`;
      if (m.rttl) s += " --rttl";
      return `${s} --name ${m.name} --mask ${m.mask} --${m.side}`;
    }
    case "limit":
      return `${head} --limit ${printRate(limitPeriod(m))}${m.burst === 5 ? "" : ` --limit-burst ${m.burst}`}`;
  }
}
