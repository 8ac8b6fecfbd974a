import {
  icmp6Parser,
  icmpParser,
  multiportParser,
  sctpParser,
  tcpParser,
  udpliteParser,
  udpParser,
} from "./matches-l4.ts";
import {
  addrtypeParser,
  commentParser,
  iprangeParser,
  limitParser,
  physdevParser,
  recentParser,
  setParser,
} from "./matches-misc.ts";
import {
  connmarkParser,
  conntrackParser,
  markParser,
  stateParser,
  statisticParser,
} from "./matches-state.ts";
import type { ModuleFactory } from "./module-parser.ts";

/** The `-m` modules we model, by the name iptables-save prints. */
export const MODULES: ReadonlyMap<string, ModuleFactory> = new Map([
  ["tcp", tcpParser],
  ["udp", udpParser],
  ["udplite", udpliteParser],
  ["sctp", sctpParser],
  ["icmp", icmpParser],
  ["icmp6", icmp6Parser],
  ["multiport", multiportParser],
  ["statistic", statisticParser],
  ["mark", markParser],
  ["connmark", connmarkParser],
  ["conntrack", conntrackParser],
  ["state", stateParser],
  ["comment", commentParser],
  ["addrtype", addrtypeParser],
  ["iprange", iprangeParser],
  ["physdev", physdevParser],
  ["set", setParser],
  ["recent", recentParser],
  ["limit", limitParser],
]);

/** `-p tcp --dport 80` loads the protocol's module implicitly (libxtables load_proto). */
export function implicitModuleName(proto: number, family: 4 | 6): string | null {
  switch (proto) {
    case 6:
      return "tcp";
    case 17:
      return "udp";
    case 136:
      return "udplite";
    case 132:
      return "sctp";
    case 1:
      return family === 4 ? "icmp" : null;
    case 58:
      return family === 6 ? "icmp6" : null;
    default:
      return null;
  }
}
