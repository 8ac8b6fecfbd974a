import type { Rng } from "../../../core/rng.ts";
import type { ConntrackEntry, CtTuple } from "../../../model/conntrack.ts";
import type { MasqueradeTarget, NatTarget } from "../../../model/netfilter/targets.ts";
import type { Packet } from "../../../model/packet.ts";

/**
 * Choosing the NAT binding of a new connection (nf_nat_core.c get_unique_tuple): the address from
 * the range, then a port that keeps the reply tuple unique. Ports are kept when possible, except
 * with --random-fully; a clash searches the range from a random offset (seeded, so runs repeat).
 * Known difference: with an address *range* the kernel hashes with jhash; we use our own hash, so
 * which address of a range is picked can differ from a real node (a single address is exact).
 */

export interface NatContext {
  readonly rng: Rng;
  readonly isTaken: (reply: CtTuple) => boolean;
}

export interface Binding {
  readonly addr: number | bigint;
  readonly port: number;
}

const PORT_PROTOS = new Set([6, 17, 132, 33, 136]);

/** The address of a range for a connection; a single address needs no hash of the tuple (nor reads it). */
function rangeAddr(min: number | bigint, max: number | bigint, entry: ConntrackEntry): number | bigint {
  return min === max ? min : pickAddr(min, max, tupleHash(entry.orig));
}

function pickAddr(min: number | bigint, max: number | bigint, seed: number): number | bigint {
  if (typeof min === "number" && typeof max === "number") {
    const dist = max - min + 1;
    return min + (seed % dist);
  }
  const dist = BigInt(max) - BigInt(min) + 1n;
  return BigInt(min) + (BigInt(seed) % dist);
}

/** FNV-1a over the tuple's fields written in decimal: deterministic, spreads neighbouring addresses. */
export function tupleHash(t: CtTuple): number {
  let h = fnvDecimal(0x811c9dc5, t.src);
  h = fnvDecimal(h, t.dst);
  h = fnvDecimal(h, t.sport);
  h = fnvDecimal(h, t.dport);
  return fnvDecimal(h, t.proto);
}

/** Scratch for a number's decimal digits, least significant first (2^53 has 16). */
const DIGITS = new Uint8Array(16);

/** FNV-1a steps over String(v)'s characters; a safe non-negative integer is done without the string. */
function fnvDecimal(h: number, v: number | bigint): number {
  if (typeof v === "bigint" || !Number.isSafeInteger(v) || v < 0) {
    const s = String(v);
    for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
    return h;
  }
  let n = 0;
  do {
    DIGITS[n++] = v % 10;
    v = Math.floor(v / 10);
  } while (v > 0);
  while (n > 0) h = Math.imul(h ^ (48 + (DIGITS[--n] as number)), 0x01000193) >>> 0;
  return h;
}

/** Default SNAT port range when none is given: keep the "class" of the original port. */
function defaultRange(port: number): [number, number] {
  if (port < 512) return [1, 511];
  if (port < 1024) return [600, 1023];
  return [1024, 65535];
}

/**
 * The reply tuple with one end moved to `addr` and a candidate port: one tuple object rewritten per
 * candidate (isTaken and tupleHash read it at once and keep nothing), not one object per port tried.
 */
function scratchCandidate(
  reply: CtTuple,
  addr: number | bigint,
  end: "src" | "dst",
): (port: number) => CtTuple {
  const c: { -readonly [K in keyof CtTuple]: CtTuple[K] } = { ...reply };
  if (end === "src") {
    c.src = addr;
    return (port) => {
      c.sport = port;
      return c;
    };
  }
  c.dst = addr;
  return (port) => {
    c.dport = port;
    return c;
  };
}

/**
 * The port of a new binding: get_unique_tuple's step 3, then nf_nat_l4proto_unique_tuple
 * (nf_nat_core.c). `specified` is a port range given with the target (NF_NAT_RANGE_PROTO_SPECIFIED);
 * without one the range is the current port's class (defaultRange).
 */
function uniquePort(
  ctx: NatContext,
  candidate: (port: number) => CtTuple,
  current: number,
  min: number,
  max: number,
  specified: boolean,
  randomFully: boolean,
  random: boolean,
): number | null {
  const size = max - min + 1;
  // Keep the port when it is in range and unique, unless a random mode is asked for
  // (NF_NAT_RANGE_PROTO_RANDOM_ALL); a given one-port range keeps it without a uniqueness check.
  if (!randomFully && !random && current >= min && current <= max) {
    if ((specified && size === 1) || !ctx.isTaken(candidate(current))) return current;
  }
  // A one-port range has one offset: no need to hash (the random draws still happen, as they must).
  const off =
    randomFully || random ? ctx.rng.nextU32() % size : size === 1 ? 0 : tupleHash(candidate(current)) % size;
  // A one-port range yields its port, unique or not; a clash then fails at confirm, as in the kernel.
  if (size === 1) return min;
  for (let i = 0; i < Math.min(size, 65536); i++) {
    const port = min + ((off + i) % size);
    if (!ctx.isTaken(candidate(port))) return port;
  }
  return null;
}

/** Destination NAT: DNAT and REDIRECT (whose address is the receiving interface's). */
export function chooseDnat(
  entry: ConntrackEntry,
  p: Packet,
  t: NatTarget | MasqueradeTarget,
  redirectAddr: number | bigint | null,
  ctx: NatContext,
): Binding | null {
  let addr: number | bigint = p.dst;
  let minPort: number | null;
  let maxPort: number | null;
  let random = false;
  let randomFully = false;
  if ("range" in t) {
    const r = t.range;
    if (r.minAddr !== null && r.maxAddr !== null) addr = rangeAddr(r.minAddr, r.maxAddr, entry);
    minPort = r.minPort;
    maxPort = r.maxPort;
    random = t.random;
    randomFully = t.randomFully;
  } else {
    if (redirectAddr === null) return null;
    addr = redirectAddr;
    minPort = t.minPort;
    maxPort = t.maxPort;
    random = t.random;
  }
  if (minPort === null || maxPort === null || !PORT_PROTOS.has(p.proto)) return { addr, port: p.dport };
  const candidate = scratchCandidate(entry.reply, addr, "src");
  const port = uniquePort(ctx, candidate, p.dport, minPort, maxPort, true, randomFully, random);
  return port === null ? null : { addr, port };
}

/** Source NAT: SNAT and MASQUERADE (whose address is the outgoing interface's). */
export function chooseSnat(
  entry: ConntrackEntry,
  p: Packet,
  t: NatTarget | MasqueradeTarget,
  masqueradeAddr: number | bigint | null,
  ctx: NatContext,
): Binding | null {
  let addr: number | bigint;
  let minPort: number | null;
  let maxPort: number | null;
  if ("range" in t) {
    const r = t.range;
    addr = r.minAddr !== null && r.maxAddr !== null ? rangeAddr(r.minAddr, r.maxAddr, entry) : p.src;
    minPort = r.minPort;
    maxPort = r.maxPort;
  } else {
    if (masqueradeAddr === null) return null;
    addr = masqueradeAddr;
    minPort = t.minPort;
    maxPort = t.maxPort;
  }
  if (!PORT_PROTOS.has(p.proto)) {
    return { addr, port: p.sport };
  }
  const candidate = scratchCandidate(entry.reply, addr, "dst");
  const [dmin, dmax] = defaultRange(p.sport);
  const specified = minPort !== null || maxPort !== null;
  const port = uniquePort(
    ctx,
    candidate,
    p.sport,
    minPort ?? dmin,
    maxPort ?? dmax,
    specified,
    t.randomFully,
    t.random,
  );
  return port === null ? null : { addr, port };
}
