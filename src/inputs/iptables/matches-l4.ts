import type {
  IcmpMatch,
  MultiportMatch,
  Neg,
  PortRange,
  TcpMatch,
  UdpMatch,
} from "../../model/netfilter/matches.ts";
import { parsePortRange } from "../../model/netfilter/numbers.ts";
import type { ModuleContext, ModuleFactory, ModuleParser } from "./module-parser.ts";

/** Layer-4 matches: tcp, udp (udplite, sctp ports), icmp, icmp6, multiport. */

const TCP_FLAG_NAMES: readonly [string, number][] = [
  ["FIN", 1],
  ["SYN", 2],
  ["RST", 4],
  ["PSH", 8],
  ["ACK", 16],
  ["URG", 32],
  ["ECE", 64],
  ["CWR", 128],
];

/** libxt_tcp parse_tcp_flag: comma list of names, plus ALL (the six classic flags) and NONE. */
export function parseTcpFlags(text: string): number | null {
  let bits = 0;
  for (const name of text.split(",")) {
    const upper = name.toUpperCase();
    if (upper === "ALL") bits |= 0x3f;
    else if (upper === "NONE") continue;
    else {
      const entry = TCP_FLAG_NAMES.find(([n]) => n === upper);
      if (!entry) return null;
      bits |= entry[1];
    }
  }
  return bits;
}

function portOption(invert: boolean, arg: string | undefined): Neg<PortRange> | string {
  const range = arg === undefined ? null : parsePortRange(arg);
  if (range === null) return `invalid port or port range "${arg ?? ""}"`;
  return { value: range, invert };
}

const given = (option: string) => `option "${option}" given more than once`;

const TCP_OPTIONS: ReadonlyMap<string, number> = new Map([
  ["--sport", 1],
  ["--source-port", 1],
  ["--dport", 1],
  ["--destination-port", 1],
  ["--tcp-flags", 2],
  ["--syn", 0],
  ["--tcp-option", 1],
]);

/**
 * Classes, not closures, for the modules kube-proxy puts on most rules: one small object per rule.
 * An option was given before exactly when its field is set (a bad value ends the rule).
 */
class TcpParser implements ModuleParser {
  readonly options = TCP_OPTIONS;
  private sport: Neg<PortRange> | null = null;
  private dport: Neg<PortRange> | null = null;
  private flags: TcpMatch["flags"] = null;
  private option: Neg<number> | null = null;

  accept(opt: string, invert: boolean, args: readonly string[]): string | null {
    switch (opt) {
      case "--sport":
      case "--source-port": {
        if (this.sport) return given("--sport");
        const r = portOption(invert, args[0]);
        if (typeof r === "string") return r;
        this.sport = r;
        return null;
      }
      case "--dport":
      case "--destination-port": {
        if (this.dport) return given("--dport");
        const r = portOption(invert, args[0]);
        if (typeof r === "string") return r;
        this.dport = r;
        return null;
      }
      case "--syn":
      case "--tcp-flags": {
        if (this.flags) return given("--tcp-flags");
        if (opt === "--syn") {
          // --syn is shorthand for --tcp-flags FIN,SYN,RST,ACK SYN.
          this.flags = { value: { mask: 0x17, comp: 0x02 }, invert };
          return null;
        }
        const mask = parseTcpFlags(args[0] ?? "");
        const comp = parseTcpFlags(args[1] ?? "");
        if (mask === null || comp === null) return `invalid TCP flags "${args.join(" ")}"`;
        this.flags = { value: { mask, comp }, invert };
        return null;
      }
      case "--tcp-option": {
        if (this.option) return given(opt);
        const n = /^\d+$/.test(args[0] ?? "") ? Number(args[0]) : Number.NaN;
        if (!(n >= 0 && n <= 255)) return `invalid TCP option "${args[0] ?? ""}"`;
        this.option = { value: n, invert };
        return null;
      }
    }
    return `unknown option "${opt}"`;
  }

  finish(): TcpMatch {
    return { module: "tcp", sport: this.sport, dport: this.dport, flags: this.flags, option: this.option };
  }
}

export const tcpParser: ModuleFactory = () => new TcpParser();

const PORTS_ONLY_OPTIONS: ReadonlyMap<string, number> = new Map([
  ["--sport", 1],
  ["--source-port", 1],
  ["--dport", 1],
  ["--destination-port", 1],
]);

class PortsOnlyParser implements ModuleParser {
  readonly options = PORTS_ONLY_OPTIONS;
  private sport: Neg<PortRange> | null = null;
  private dport: Neg<PortRange> | null = null;

  constructor(private readonly module: UdpMatch["module"]) {}

  accept(opt: string, invert: boolean, args: readonly string[]): string | null {
    const isSource = opt === "--sport" || opt === "--source-port";
    if (isSource ? this.sport : this.dport) return given(isSource ? "--sport" : "--dport");
    const r = portOption(invert, args[0]);
    if (typeof r === "string") return r;
    if (isSource) this.sport = r;
    else this.dport = r;
    return null;
  }

  finish(): UdpMatch {
    return { module: this.module, sport: this.sport, dport: this.dport };
  }
}

export const udpParser: ModuleFactory = () => new PortsOnlyParser("udp");
export const udpliteParser: ModuleFactory = () => new PortsOnlyParser("udplite");
export const sctpParser: ModuleFactory = () => new PortsOnlyParser("sctp");

/** ICMP type names iptables accepts (libxt_icmp / libip6t_icmp6 tables), as type/code ranges. */
const ICMP_NAMES: ReadonlyMap<string, [number, number, number]> = new Map([
  ["echo-reply", [0, 0, 255]],
  ["pong", [0, 0, 255]],
  ["destination-unreachable", [3, 0, 255]],
  ["network-unreachable", [3, 0, 0]],
  ["host-unreachable", [3, 1, 1]],
  ["protocol-unreachable", [3, 2, 2]],
  ["port-unreachable", [3, 3, 3]],
  ["fragmentation-needed", [3, 4, 4]],
  ["source-route-failed", [3, 5, 5]],
  ["network-unknown", [3, 6, 6]],
  ["host-unknown", [3, 7, 7]],
  ["network-prohibited", [3, 9, 9]],
  ["host-prohibited", [3, 10, 10]],
  ["TOS-network-unreachable", [3, 11, 11]],
  ["TOS-host-unreachable", [3, 12, 12]],
  ["communication-prohibited", [3, 13, 13]],
  ["host-precedence-violation", [3, 14, 14]],
  ["precedence-cutoff", [3, 15, 15]],
  ["source-quench", [4, 0, 255]],
  ["redirect", [5, 0, 255]],
  ["echo-request", [8, 0, 255]],
  ["ping", [8, 0, 255]],
  ["router-advertisement", [9, 0, 255]],
  ["router-solicitation", [10, 0, 255]],
  ["time-exceeded", [11, 0, 255]],
  ["ttl-exceeded", [11, 0, 255]],
  ["ttl-zero-during-transit", [11, 0, 0]],
  ["ttl-zero-during-reassembly", [11, 1, 1]],
  ["parameter-problem", [12, 0, 255]],
  ["timestamp-request", [13, 0, 255]],
  ["timestamp-reply", [14, 0, 255]],
  ["address-mask-request", [17, 0, 255]],
  ["address-mask-reply", [18, 0, 255]],
]);

const ICMP6_NAMES: ReadonlyMap<string, [number, number, number]> = new Map([
  ["destination-unreachable", [1, 0, 255]],
  ["no-route", [1, 0, 0]],
  ["communication-prohibited", [1, 1, 1]],
  ["address-unreachable", [1, 3, 3]],
  ["port-unreachable", [1, 4, 4]],
  ["packet-too-big", [2, 0, 255]],
  ["time-exceeded", [3, 0, 255]],
  ["ttl-exceeded", [3, 0, 255]],
  ["parameter-problem", [4, 0, 255]],
  ["echo-request", [128, 0, 255]],
  ["ping", [128, 0, 255]],
  ["echo-reply", [129, 0, 255]],
  ["pong", [129, 0, 255]],
  ["router-solicitation", [133, 0, 255]],
  ["router-advertisement", [134, 0, 255]],
  ["neighbour-solicitation", [135, 0, 255]],
  ["neighbor-solicitation", [135, 0, 255]],
  ["neighbour-advertisement", [136, 0, 255]],
  ["neighbor-advertisement", [136, 0, 255]],
  ["redirect", [137, 0, 255]],
]);

function parseIcmpType(text: string, v6: boolean): IcmpMatch["type"]["value"] | null {
  if (!v6 && text === "any") return { type: 255, codeMin: 0, codeMax: 255, any: true };
  const named = (v6 ? ICMP6_NAMES : ICMP_NAMES).get(text);
  if (named) return { type: named[0], codeMin: named[1], codeMax: named[2], any: false };
  const m = /^(\d{1,3})(?:\/(\d{1,3}))?$/.exec(text);
  if (!m) return null;
  const type = Number(m[1]);
  if (type > 255) return null;
  if (m[2] === undefined) return { type, codeMin: 0, codeMax: 255, any: false };
  const code = Number(m[2]);
  if (code > 255) return null;
  return { type, codeMin: code, codeMax: code, any: false };
}

const ICMP_OPTIONS: Readonly<Record<"icmp" | "icmp6", ReadonlyMap<string, number>>> = {
  icmp: new Map([["--icmp-type", 1]]),
  icmp6: new Map([["--icmpv6-type", 1]]),
};

function icmpFactory(module: "icmp" | "icmp6"): ModuleFactory {
  const optionName = module === "icmp" ? "--icmp-type" : "--icmpv6-type";
  return (): ModuleParser => {
    let type: IcmpMatch["type"] | null = null;
    return {
      options: ICMP_OPTIONS[module],
      accept(_opt, invert, args) {
        if (type) return `option "${optionName}" given more than once`;
        const value = parseIcmpType(args[0] ?? "", module === "icmp6");
        if (!value) return `unknown ICMP type "${args[0] ?? ""}"`;
        type = { value, invert };
        return null;
      },
      finish() {
        // `-m icmp` alone matches every type: the kernel's default is type any (255, codes 0-255).
        return {
          module,
          type: type ?? { value: { type: 255, codeMin: 0, codeMax: 255, any: true }, invert: false },
        };
      },
    };
  };
}

export const icmpParser = icmpFactory("icmp");
export const icmp6Parser = icmpFactory("icmp6");

const MULTIPORT_OPTIONS: ReadonlyMap<string, number> = new Map([
  ["--sports", 1],
  ["--source-ports", 1],
  ["--dports", 1],
  ["--destination-ports", 1],
  ["--ports", 1],
]);

export const multiportParser: ModuleFactory = (ctx: ModuleContext): ModuleParser => {
  let which: MultiportMatch["which"] | null = null;
  let ports: PortRange[] = [];
  let invert = false;
  return {
    options: MULTIPORT_OPTIONS,
    accept(opt, inv, args) {
      if (which) return "multiport can only have one option";
      which =
        opt === "--sports" || opt === "--source-ports" ? "sports" : opt === "--ports" ? "ports" : "dports";
      invert = inv;
      const list: PortRange[] = [];
      for (const part of (args[0] ?? "").split(",")) {
        const r = parsePortRange(part);
        if (!r) return `invalid port or range "${part}"`;
        list.push(r);
      }
      if (list.length > 15) return "too many ports specified (15 at most)";
      ports = list;
      return null;
    },
    finish() {
      if (!which) return "multiport needs --sports, --dports or --ports";
      if (![6, 17, 132, 136, 33].includes(ctx.proto)) {
        return "multiport needs `-p tcp`, `-p udp`, `-p udplite`, `-p sctp` or `-p dccp`";
      }
      return { module: "multiport", which, ports, invert };
    },
  };
};
