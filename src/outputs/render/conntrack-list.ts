import { formatIp, parseIp, parseIpNet } from "../../core/ip.ts";
import type { ConntrackEntry, CtTuple, TcpState } from "../../model/conntrack.ts";
import { PROTO } from "../../model/packet.ts";

/**
 * `conntrack -L` as conntrack-tools prints it. Each line is libnetfilter_conntrack's
 * __snprintf_conntrack_default() (src/conntrack/snprintf_default.c); the trailer is conntrack.c's
 * exit_msg[CT_LIST_BIT], written to stderr after "conntrack vX (conntrack-tools): ". The layout has
 * not changed between 1.4.3 (the seed) and 1.4.7 (checked against a live kernel in
 * dataplane/sim/conntrack/kernel-format.test.ts).
 */

export interface ConntrackFormatOptions {
  /** `-o extended`: the layer-3 prefix (`ipv4     2 `) that NFCT_OF_SHOW_LAYER3 adds. */
  readonly extended?: boolean;
  /** `-o id`: the `id=` field (ours are the table's deterministic ids, not the kernel's hashes). */
  readonly showId?: boolean;
}

export interface ConntrackListOptions extends ConntrackFormatOptions {
  /** The conntrack-tools version in the trailer; the seed's node runs 1.4.3. */
  readonly version?: string;
}

/** proto2str[] in libnetfilter_conntrack src/conntrack/snprintf.c; anything else prints "unknown". */
const PROTO_NAMES = new Map<number, string>([
  [PROTO.tcp, "tcp"],
  [PROTO.udp, "udp"],
  [PROTO.udplite, "udplite"],
  [PROTO.icmp, "icmp"],
  [PROTO.icmpv6, "icmpv6"],
  [PROTO.sctp, "sctp"],
  [47, "gre"],
  [33, "dccp"],
]);

/** snprintf's "%-8s": left-aligned, padded to 8, never truncated. */
function pad8(text: string): string {
  return text.padEnd(8, " ");
}

/** __snprintf_address + __snprintf_proto: `src= dst=` then the layer-4 part of one tuple. */
function formatTuple(t: CtTuple): string {
  const addrs = `src=${formatIp(t.family, t.src)} dst=${formatIp(t.family, t.dst)} `;
  switch (t.proto) {
    case PROTO.tcp:
    case PROTO.udp:
    case PROTO.udplite:
    case PROTO.sctp:
    case 33:
      return `${addrs}sport=${t.sport} dport=${t.dport} `;
    case 47:
      return `${addrs}srckey=0x${t.sport.toString(16)} dstkey=0x${t.dport.toString(16)} `;
    case PROTO.icmp:
    case PROTO.icmpv6:
      // "The ID only makes sense some ICMP messages but we want to display the same output that
      // /proc/net/ip_conntrack does": type and code are this direction's, the id is in sport.
      return `${addrs}type=${t.icmpType} code=${t.icmpCode} id=${t.sport} `;
    default:
      return addrs;
  }
}

/** Whole seconds left, as ctnetlink_dump_timeout() reports them: (timeout - now) / HZ, never negative. */
function secondsLeft(entry: ConntrackEntry, nowMs: number): number {
  return Math.max(0, Math.floor((entry.expiresAt - nowMs) / 1000));
}

/** One line of `conntrack -L`, without the newline. */
export function formatConntrackEntry(
  entry: ConntrackEntry,
  nowMs: number,
  opts: ConntrackFormatOptions = {},
): string {
  const proto = entry.orig.proto;
  let line = "";
  if (opts.extended)
    line += `${pad8(entry.orig.family === 4 ? "ipv4" : "ipv6")} ${entry.orig.family === 4 ? 2 : 10} `;
  line += `${pad8(PROTO_NAMES.get(proto) ?? "unknown")} ${proto} `;
  line += `${secondsLeft(entry, nowMs)} `;
  if (entry.tcpState !== null) line += `${entry.tcpState} `;
  line += formatTuple(entry.orig);
  if (!entry.status.seenReply) line += "[UNREPLIED] ";
  line += formatTuple(entry.reply);
  if (entry.status.assured) line += "[ASSURED] ";
  // The kernel always dumps CTA_MARK when listing, so mark=0 shows; CTA_ZONE only for a non-default zone.
  line += `mark=${entry.mark} `;
  if (entry.zone !== 0) line += `zone=${entry.zone} `;
  line += `use=${entry.use} `;
  if (opts.showId) line += `id=${entry.id} `;
  // "Delete the last blank space".
  return line.slice(0, -1);
}

/**
 * The whole output of `conntrack -L`: one line per entry on stdout, the count on stderr. The tool says
 * "flow entries" whatever the count ("1 flow entries have been shown.").
 */
export function formatConntrackList(
  entries: readonly ConntrackEntry[],
  nowMs: number,
  opts: ConntrackListOptions = {},
): { stdout: string; stderr: string } {
  const version = opts.version ?? "1.4.3";
  const stdout = entries.map((e) => `${formatConntrackEntry(e, nowMs, opts)}\n`).join("");
  const stderr = `conntrack v${version} (conntrack-tools): ${entries.length} flow entries have been shown.\n`;
  return { stdout, stderr };
}

/** The status names `-u/--status` accepts that the model carries; UNREPLIED means "no SEEN_REPLY". */
export type ConntrackStatusFilter =
  | "ASSURED"
  | "SEEN_REPLY"
  | "UNREPLIED"
  | "SRC_NAT"
  | "DST_NAT"
  | "CONFIRMED"
  | "EXPECTED";

/**
 * `conntrack -L` selectors. Semantics from conntrack-tools src/conntrack.c (nfct_filter, filter_nat,
 * filter_network) and extensions/libct_proto_{tcp,udp,icmp}.c:
 * - `-s`/`-d` (also `--orig-src`/`--orig-dst`) match the ORIGINAL tuple's source/destination; a
 *   `/prefix` makes it a network match (filter_network). `-r`/`-q` match the REPLY tuple, exactly.
 *   An address also restricts the listing to its family, as the tool only dumps that family.
 * - `--sport`/`--dport` are the ORIGINAL ports (`--orig-port-src`/`--orig-port-dst`), the reply ports
 *   are `--reply-port-src`/`--reply-port-dst`; they only match protocols with ports.
 * - `-n`/`-g`/`-j` without an address: the entry is source-NATed (orig src != reply dst, or the ports
 *   differ), destination-NATed (orig dst != reply src, or ports), or either. Both `-n` and `-g` means both.
 * - `-m value[/mask]`: (ctmark & mask) == value. `-u`: every listed status bit is set.
 * All given selectors must match.
 */
export interface ConntrackFilter {
  readonly src?: string;
  readonly dst?: string;
  readonly replySrc?: string;
  readonly replyDst?: string;
  readonly family?: 4 | 6;
  /** `-p`: a number or a name such as "tcp". */
  readonly proto?: number | string;
  readonly sport?: number;
  readonly dport?: number;
  readonly replySport?: number;
  readonly replyDport?: number;
  /** `--state` (with `-p tcp`). */
  readonly state?: TcpState;
  readonly icmpType?: number;
  readonly icmpCode?: number;
  readonly icmpId?: number;
  /** `-m`: a number, or "value/mask" as the tool parses it (strtoul, so 0x.. works). */
  readonly mark?: number | string;
  readonly zone?: number;
  readonly status?: readonly ConntrackStatusFilter[];
  readonly srcNat?: boolean;
  readonly dstNat?: boolean;
  readonly anyNat?: boolean;
}

type AddressTest = (family: 4 | 6, addr: number | bigint) => boolean;

/** -s/-d: exact, or a network with a prefix. Throws on text the tool would reject. */
function addressTest(
  text: string,
  option: string,
  allowPrefix: boolean,
): { family: 4 | 6; test: AddressTest } {
  if (allowPrefix && text.includes("/")) {
    const net = parseIpNet(text);
    if (net === null || net.prefix === null)
      throw new RangeError(`Cannot parse ${option} ${text}: invalid netmask`);
    if (net.family === 4) {
      return { family: 4, test: (f, a) => f === 4 && (Number(a) & net.mask) >>> 0 === net.addr };
    }
    return { family: 6, test: (f, a) => f === 6 && (BigInt(a) & net.mask) === net.addr };
  }
  const ip = parseIp(text);
  if (ip === null) throw new RangeError(`Cannot parse ${option} ${text}: not an IP address`);
  return {
    family: ip.family,
    test: (f, a) => f === ip.family && (f === 4 ? Number(a) === ip.addr : BigInt(a) === ip.addr),
  };
}

function protoNumber(proto: number | string): number {
  if (typeof proto === "number") return proto;
  if (/^\d+$/.test(proto)) return Number(proto);
  for (const [num, name] of PROTO_NAMES) if (name === proto.toLowerCase()) return num;
  throw new RangeError(`Cannot parse -p ${proto}: unknown protocol`);
}

function parseMark(mark: number | string): { value: number; mask: number } {
  if (typeof mark === "number") return { value: mark >>> 0, mask: 0xffffffff };
  const [value, mask] = mark.split("/");
  // strtoul(..., 0): hex with 0x, octal with a leading 0, else decimal.
  const num = (s: string): number => {
    const n = /^0[0-7]+$/.test(s) ? Number.parseInt(s, 8) : Number(s);
    if (s.trim() === "" || !Number.isInteger(n) || n < 0)
      throw new RangeError(`Cannot parse -m ${mark}: not a number`);
    return n >>> 0;
  };
  return { value: num(value ?? ""), mask: mask === undefined ? 0xffffffff : num(mask) };
}

function hasPorts(proto: number): boolean {
  return (
    proto === PROTO.tcp ||
    proto === PROTO.udp ||
    proto === PROTO.udplite ||
    proto === PROTO.sctp ||
    proto === 33
  );
}

function isSrcNat(e: ConntrackEntry): boolean {
  return (
    String(e.orig.src) !== String(e.reply.dst) || (hasPorts(e.orig.proto) && e.orig.sport !== e.reply.dport)
  );
}

function isDstNat(e: ConntrackEntry): boolean {
  return (
    String(e.orig.dst) !== String(e.reply.src) || (hasPorts(e.orig.proto) && e.orig.dport !== e.reply.sport)
  );
}

function statusSet(e: ConntrackEntry, s: ConntrackStatusFilter): boolean {
  switch (s) {
    case "ASSURED":
      return e.status.assured;
    case "SEEN_REPLY":
      return e.status.seenReply;
    case "UNREPLIED":
      return !e.status.seenReply;
    case "SRC_NAT":
      return e.status.srcNat;
    case "DST_NAT":
      return e.status.dstNat;
    case "CONFIRMED":
      return e.status.confirmed;
    case "EXPECTED":
      return e.status.expected;
  }
}

/** The entries `conntrack -L` would print with these selectors, in their given order. */
export function filterEntries(entries: readonly ConntrackEntry[], filter: ConntrackFilter): ConntrackEntry[] {
  const tests: ((e: ConntrackEntry) => boolean)[] = [];
  const families = new Set<4 | 6>();
  const address = (
    text: string | undefined,
    option: string,
    prefix: boolean,
    pick: (e: ConntrackEntry) => CtTuple,
    side: "src" | "dst",
  ) => {
    if (text === undefined) return;
    const { family, test } = addressTest(text, option, prefix);
    families.add(family);
    tests.push((e) => test(e.orig.family, pick(e)[side]));
  };
  address(filter.src, "-s", true, (e) => e.orig, "src");
  address(filter.dst, "-d", true, (e) => e.orig, "dst");
  address(filter.replySrc, "-r", false, (e) => e.reply, "src");
  address(filter.replyDst, "-q", false, (e) => e.reply, "dst");
  if (filter.family !== undefined) families.add(filter.family);
  if (families.size > 1) throw new RangeError("Cannot filter conntrack entries: mismatched address family");
  for (const family of families) tests.push((e) => e.orig.family === family);

  if (filter.proto !== undefined) {
    const proto = protoNumber(filter.proto);
    tests.push((e) => e.orig.proto === proto);
  }
  const port = (value: number | undefined, pick: (e: ConntrackEntry) => number) => {
    if (value !== undefined) tests.push((e) => hasPorts(e.orig.proto) && pick(e) === value);
  };
  port(filter.sport, (e) => e.orig.sport);
  port(filter.dport, (e) => e.orig.dport);
  port(filter.replySport, (e) => e.reply.sport);
  port(filter.replyDport, (e) => e.reply.dport);
  const icmp = (value: number | undefined, pick: (e: ConntrackEntry) => number) => {
    const isIcmp = (p: number) => p === PROTO.icmp || p === PROTO.icmpv6;
    if (value !== undefined) tests.push((e) => isIcmp(e.orig.proto) && pick(e) === value);
  };
  icmp(filter.icmpType, (e) => e.orig.icmpType);
  icmp(filter.icmpCode, (e) => e.orig.icmpCode);
  icmp(filter.icmpId, (e) => e.orig.sport);
  if (filter.state !== undefined) tests.push((e) => e.tcpState === filter.state);
  if (filter.mark !== undefined) {
    const { value, mask } = parseMark(filter.mark);
    tests.push((e) => (e.mark & mask) >>> 0 === value);
  }
  if (filter.zone !== undefined) tests.push((e) => e.zone === filter.zone);
  for (const s of filter.status ?? []) tests.push((e) => statusSet(e, s));
  if (filter.anyNat) tests.push((e) => isSrcNat(e) || isDstNat(e));
  else {
    if (filter.srcNat) tests.push(isSrcNat);
    if (filter.dstNat) tests.push(isDstNat);
  }
  return entries.filter((e) => tests.every((t) => t(e)));
}
