import { type IpNet, parseIp, parseIpNet } from "../../core/ip.ts";
import type { CtState } from "../../model/conntrack.ts";
import { type AddrType, emptyConntrackMatch, type Match } from "../../model/netfilter/matches.ts";
import { probabilityToStored } from "../../model/netfilter/numbers.ts";
import type { AddrSpec, IfaceSpec, ProtoSpec, Rule } from "../../model/netfilter/ruleset.ts";
import type { Target } from "../../model/netfilter/targets.ts";

/**
 * Small builders for the ruleset IR, so the generators read like the command lines kube-proxy,
 * kubelet, docker and the CNI write. Every value is stored the way the kernel keeps it (networks
 * masked, marks as value/mask, probabilities as 31-bit fractions), so the iptables-save writer
 * prints exactly what `iptables-save` prints for them.
 */

export interface RuleSpec {
  readonly src?: string;
  readonly notSrc?: string;
  readonly dst?: string;
  readonly notDst?: string;
  readonly inIface?: string;
  readonly outIface?: string;
  readonly notOutIface?: string;
  readonly proto?: Proto;
  readonly matches?: readonly Match[];
  readonly target: Target | null;
}

export type Proto = "tcp" | "udp" | "sctp";

const PROTO_NUMBER: Readonly<Record<Proto, number>> = { tcp: 6, udp: 17, sctp: 132 };

/** A network as iptables stores `-s`/`-d`: a bare address is a /32. Throws on a bad CIDR (a bug upstream). */
export function net(text: string): IpNet {
  const n = parseIpNet(text, 4);
  if (!n) throw new Error(`kube-proxy rules: "${text}" is not an IPv4 address or CIDR`);
  return n;
}

/**
 * `-s`/`-d` values, shared per text and sense: a cluster's rules name each pod IP (SEP rules,
 * DNATs) and cluster IP several times. Bounded, so a long-lived process keeps only the recent ones.
 */
const ADDR_CACHE: readonly [Map<string, AddrSpec>, Map<string, AddrSpec>] = [new Map(), new Map()];
const CACHE_LIMIT = 1 << 17;

export function addrSpec(text: string, invert: boolean): AddrSpec {
  const cache = ADDR_CACHE[invert ? 1 : 0];
  let a = cache.get(text);
  if (a === undefined) {
    if (cache.size >= CACHE_LIMIT) cache.clear();
    a = { net: net(text), invert };
    cache.set(text, a);
  }
  return a;
}

function addr(text: string | undefined, invert: boolean): AddrSpec | null {
  return text === undefined ? null : addrSpec(text, invert);
}

function iface(name: string | undefined, invert: boolean): IfaceSpec | null {
  return name === undefined ? null : { name, invert };
}

// A cluster's ruleset has hundreds of thousands of rules: the small values many rules carry are
// made once and shared (the IR is read-only), which keeps the heap and the GC's work smaller.
const PROTO_SPEC: Readonly<Record<Proto, ProtoSpec>> = {
  tcp: { proto: PROTO_NUMBER.tcp, invert: false },
  udp: { proto: PROTO_NUMBER.udp, invert: false },
  sctp: { proto: PROTO_NUMBER.sctp, invert: false },
};
export const NO_MATCHES: readonly Match[] = [];

/** A rule with only the fields kube-proxy's per-service rules set, without a RuleSpec in between. */
export function bareRule(
  chain: string,
  src: AddrSpec | null,
  dst: AddrSpec | null,
  proto: Proto | null,
  matches: readonly Match[],
  target: Target | null,
): Rule {
  return {
    chain,
    line: 0,
    counters: null,
    src,
    dst,
    inIface: null,
    outIface: null,
    proto: proto === null ? null : PROTO_SPEC[proto],
    fragment: null,
    matches,
    target,
    error: null,
    text: null,
  };
}

/** `[m]`, one shared array per match (for the matches many rules carry alone). */
export function only(m: Match): readonly Match[] {
  let list = ONLY_CACHE.get(m);
  if (list === undefined) {
    list = [m];
    ONLY_CACHE.set(m, list);
  }
  return list;
}
const ONLY_CACHE = new WeakMap<Match, readonly Match[]>();

export function rule(chain: string, spec: RuleSpec): Rule {
  return {
    chain,
    line: 0,
    counters: null,
    src: addr(spec.src, false) ?? addr(spec.notSrc, true),
    dst: addr(spec.dst, false) ?? addr(spec.notDst, true),
    inIface: iface(spec.inIface, false),
    outIface: iface(spec.outIface, false) ?? iface(spec.notOutIface, true),
    proto: spec.proto ? PROTO_SPEC[spec.proto] : null,
    fragment: null,
    matches: spec.matches ?? NO_MATCHES,
    target: spec.target,
    error: null,
    text: null,
  };
}

// ---- matches ----

export const comment = (text: string): Match => ({ module: "comment", comment: text });

/** `-m tcp|udp|sctp [--dport N]`; one shared value per protocol and port (at most 3 x 65,537). */
export function l4(proto: Proto, dport: number | null = null): Match {
  const key = dport ?? -1;
  const cache = L4_CACHE[proto];
  let m = cache.get(key);
  if (!m) {
    const port = dport === null ? null : { value: { from: dport, to: dport }, invert: false };
    m =
      proto === "tcp"
        ? { module: "tcp", sport: null, dport: port, flags: null, option: null }
        : { module: proto, sport: null, dport: port };
    cache.set(key, m);
  }
  return m;
}
const L4_CACHE: Readonly<Record<Proto, Map<number, Match>>> = {
  tcp: new Map(),
  udp: new Map(),
  sctp: new Map(),
};

/**
 * `-m statistic --mode random --probability P`, P given as kube-proxy's printed decimal; shared
 * per text (kube-proxy only prints 1/n, so there are as many as the largest service has endpoints).
 */
export function probability(text: string): Match {
  let m = PROBABILITY_CACHE.get(text);
  if (!m) {
    m = { module: "statistic", mode: "random", stored: probabilityToStored(Number(text)), invert: false };
    PROBABILITY_CACHE.set(text, m);
  }
  return m;
}
const PROBABILITY_CACHE = new Map<string, Match>();

export const mark = (value: number, mask: number, invert = false): Match => ({
  module: "mark",
  value,
  mask,
  invert,
});

export function ctstate(states: readonly CtState[], invert = false): Match {
  return { ...emptyConntrackMatch(), ctstate: { value: states, invert } };
}

export function addrtype(side: "src" | "dst", type: AddrType, invert = false): Match {
  const spec = { value: [type], invert };
  return {
    module: "addrtype",
    srcType: side === "src" ? spec : null,
    dstType: side === "dst" ? spec : null,
    limitIfaceIn: false,
    limitIfaceOut: false,
  };
}

/** `-m iprange ! --dst-range A` (iptables saves a single address as `A-A`). */
export function notDstRange(address: string): Match {
  const a = parseIp(address);
  if (a?.family !== 4) throw new Error(`kube-proxy rules: "${address}" is not an IPv4 address`);
  return { module: "iprange", src: null, dst: { value: { from: a.addr, to: a.addr }, invert: true } };
}

export const physdevNotIn = (): Match => ({
  module: "physdev",
  physdevIn: null,
  physdevOut: null,
  isIn: { value: true, invert: true },
  isOut: null,
  isBridged: null,
});

/** `-m recent --name N --rcheck --seconds S --reap` or `--set`, saved with the default mask and rsource. */
export function recent(name: string, command: "rcheck" | "set", seconds: number | null): Match {
  return {
    module: "recent",
    command: { value: command, invert: false },
    seconds: command === "rcheck" ? seconds : null,
    reap: command === "rcheck",
    hitcount: null,
    rttl: false,
    name,
    mask: "255.255.255.255",
    side: "rsource",
  };
}

// ---- targets ----

export const jump = (chain: string): Target =>
  SHARED_JUMPS.get(chain) ?? { kind: "jump", chain, goto: false };
/** The jumps thousands of rules make (one per endpoint and service), shared. */
const SHARED_JUMPS = new Map<string, Target>(
  ["KUBE-MARK-MASQ", "KUBE-MARK-DROP"].map((chain) => [chain, { kind: "jump", chain, goto: false }]),
);
export const ACCEPT: Target = { kind: "ACCEPT" };
export const DROP: Target = { kind: "DROP" };
export const RETURN: Target = { kind: "RETURN" };
export const REJECT: Target = { kind: "REJECT", with: "icmp-port-unreachable" };
/** `--set-xmark V/M`, `--or-mark V` (= V/V) and `--xor-mark V` (= V/0) are all this. */
export const setXmark = (value: number, mask: number): Target => ({ kind: "MARK", value, mask });

export function masquerade(randomFully = false): Target {
  return { kind: "MASQUERADE", minPort: null, maxPort: null, random: false, randomFully };
}

/**
 * `-j DNAT --to-destination IP:port`, shared per endpoint (one pod serves several services);
 * `key` is `IP:port` when the caller already has it.
 */
export function dnat(ip: string, port: number, key = `${ip}:${port}`): Target {
  let t = DNAT_CACHE.get(key);
  if (t === undefined) {
    if (DNAT_CACHE.size >= CACHE_LIMIT) DNAT_CACHE.clear();
    t = newDnat(ip, port);
    DNAT_CACHE.set(key, t);
  }
  return t;
}
const DNAT_CACHE = new Map<string, Target>();

function newDnat(ip: string, port: number): Target {
  const a = parseIp(ip);
  if (a?.family !== 4) throw new Error(`kube-proxy rules: endpoint "${ip}" is not an IPv4 address`);
  return {
    kind: "DNAT",
    range: { minAddr: a.addr, maxAddr: a.addr, minPort: port, maxPort: port },
    random: false,
    randomFully: false,
    persistent: false,
  };
}

/**
 * One component's contribution: the chains it declares, per table in declaration order, each with
 * the rules it appends to it (iptables-restore input). Only user chains: built-in chains are
 * changed through BuiltinOps.
 */
export interface ChainRules {
  readonly chains: Map<TableKey, Map<string, Rule[]>>;
}

export type TableKey = "mangle" | "nat" | "filter";

export function newChainRules(): ChainRules {
  return { chains: new Map() };
}

/** The table's chains, declaring the table if it is new. */
export function tableOf(out: ChainRules, table: TableKey): Map<string, Rule[]> {
  let t = out.chains.get(table);
  if (!t) {
    t = new Map();
    out.chains.set(table, t);
  }
  return t;
}

/** The chain's rule list in `t` (a `tableOf`), declaring the chain (`:CHAIN`) if it is new. */
export function chainIn(t: Map<string, Rule[]>, chain: string): Rule[] {
  let rules = t.get(chain);
  if (!rules) {
    rules = [];
    t.set(chain, rules);
  }
  return rules;
}

/** The chain's rule list, declaring the chain (`:CHAIN`) if it is new. */
export function declare(out: ChainRules, table: TableKey, chain: string): Rule[] {
  const t = tableOf(out, table);
  let rules = t.get(chain);
  if (!rules) {
    rules = [];
    t.set(chain, rules);
  }
  return rules;
}

export function add(out: ChainRules, table: TableKey, r: Rule): void {
  declare(out, table, r.chain).push(r);
}

/** An `iptables -A|-I <built-in> …` a component runs once (EnsureRule: skipped if already there). */
export interface BuiltinOp {
  readonly table: TableKey;
  readonly op: "append" | "prepend";
  readonly rule: Rule;
}

/** The last rule of nat KUBE-SERVICES in both layouts: traffic to a node address goes on to the node ports. */
export function nodePortsLastRule(): Rule {
  return rule("KUBE-SERVICES", {
    matches: [
      comment("kubernetes service nodeports; NOTE: this must be the last rule in this chain"),
      addrtype("dst", "LOCAL"),
    ],
    target: jump("KUBE-NODEPORTS"),
  });
}
