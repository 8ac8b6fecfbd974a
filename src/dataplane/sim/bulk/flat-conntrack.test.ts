import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import type { ConntrackEntry, CtDir, CtTuple } from "../../../model/conntrack.ts";
import { makePacket, type Packet, PROTO, TCP } from "../../../model/packet.ts";
import { ConntrackTable, tupleOf } from "../conntrack/table.ts";
import { KUBE_PROXY_TIMEOUTS } from "../conntrack/timeouts.ts";
import type { hash4 } from "../fabric/tuple-index.ts";
import { FlatConntrack } from "./flat-conntrack.ts";

/**
 * Bulk mode's table against conntrack/table.ts: the same random sequences of IPv4 packets, NAT
 * rewrites, confirmations, deletions and clock steps go to both tables, and every answer and every
 * entry must be the same. Small address and port pools make reuse, clashes, REOPENs and ICMP errors
 * common. Entries are compared field by field (FlatConntrack hands out views).
 */

const ADDRS = [0x0a000001, 0x0a000002, 0xc0a80001] as const;
const PORTS = [80, 1234, 40000] as const;
const FLAGS = [
  TCP.SYN,
  TCP.SYN | TCP.ACK,
  TCP.ACK,
  TCP.FIN | TCP.ACK,
  TCP.RST,
  TCP.RST | TCP.ACK,
  TCP.PSH | TCP.ACK,
  TCP.SYN | TCP.FIN,
  0,
] as const;
const ICMP_TYPES = [8, 0, 3, 11, 13, 14, 17, 18, 30] as const;
const PROTOS = [PROTO.tcp, PROTO.tcp, PROTO.udp, PROTO.udplite, PROTO.icmp, 47] as const;

const spec = fc.record({
  proto: fc.constantFrom(...PROTOS),
  src: fc.nat(2),
  dst: fc.nat(2),
  sport: fc.constantFrom(...PORTS),
  dport: fc.constantFrom(...PORTS),
  flags: fc.constantFrom(...FLAGS),
  icmpType: fc.constantFrom(...ICMP_TYPES),
  icmpId: fc.nat(2),
});
type Spec = typeof spec extends fc.Arbitrary<infer T> ? T : never;

function packet(s: Spec): Packet {
  const icmp = s.proto === PROTO.icmp;
  return makePacket({
    family: 4,
    proto: s.proto,
    src: ADDRS[s.src]!,
    dst: ADDRS[s.dst]!,
    sport: s.sport,
    dport: s.dport,
    tcpFlags: s.proto === PROTO.tcp ? s.flags : 0,
    ...(icmp ? { icmpType: s.icmpType, icmpCode: 0, icmpId: s.icmpId } : {}),
  });
}

const op = fc.oneof(
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("advance" as const),
      // Random steps, and the ones the trackers' rules turn on (UDP's 2 s stream, timeouts).
      ms: fc.oneof(
        fc.integer({ min: 0, max: 150_000 }),
        fc.constantFrom(1, 1999, 2000, 2001, 30_000, 60_000),
      ),
    }),
  },
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant("packet" as const),
      p: spec,
      quoted: fc.option(spec),
      nat: fc.nat(3),
      natTo: spec,
      confirm: fc.integer({ min: 0, max: 9 }).map((n) => n > 0),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("delete" as const), pick: fc.nat() }) },
  // To the very millisecond an entry expires: the timer's boundary.
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("expiry" as const), pick: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("update" as const),
      pick: fc.nat(),
      reply: fc.boolean(),
      p: spec,
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("lookup" as const), p: spec }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("taken" as const), p: spec, pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("list" as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("flush" as const) }) },
);
type Op = typeof op extends fc.Arbitrary<infer T> ? T : never;

function shape(e: ConntrackEntry) {
  return {
    id: e.id,
    orig: e.orig,
    reply: e.reply,
    tcpState: e.tcpState,
    status: { ...e.status },
    mark: e.mark,
    zone: e.zone,
    expiresAt: e.expiresAt,
    use: e.use,
  };
}

const idOf = (e: ConntrackEntry | null | undefined) => e?.id ?? null;

/** Whether a view still reads its entry (its slot was not given to another one). */
function readable(e: ConntrackEntry): boolean {
  try {
    void e.expiresAt;
    return true;
  } catch {
    return false;
  }
}

/** Runs a call on both tables; both must throw or both return. */
function both<T>(a: () => T, b: () => T): [T, T] | null {
  let ra: T | undefined;
  let rb: T | undefined;
  let ea: unknown = null;
  let eb: unknown = null;
  try {
    ra = a();
  } catch (e) {
    ea = e;
  }
  try {
    rb = b();
  } catch (e) {
    eb = e;
  }
  assert.equal(ea === null, eb === null, `one table threw: ${String(ea ?? eb)}`);
  return ea === null ? [ra as T, rb as T] : null;
}

function run(ops: readonly Op[], kubeProxy: boolean, hash?: typeof hash4): void {
  let t = 1_000_000;
  const now = () => t;
  const options = { now, ...(kubeProxy ? { timeouts: KUBE_PROXY_TIMEOUTS } : {}) };
  const A = new ConntrackTable(options);
  const B = new FlatConntrack(options, hash);
  // Every entry made, by id: table.ts's object and the flat table's view.
  const made = new Map<number, [ConntrackEntry, ConntrackEntry]>();
  const pick = (n: number): [ConntrackEntry, ConntrackEntry] | null => {
    const usable = [...made.values()].filter(([, b]) => readable(b));
    return usable.length ? usable[n % usable.length]! : null;
  };
  for (const o of ops) {
    if (o.kind === "advance") t += o.ms;
    else if (o.kind === "expiry") {
      const e = pick(o.pick);
      if (e) t = Math.max(t, e[0].expiresAt);
    } else if (o.kind === "packet") {
      const p = packet(o.p);
      const quoted = o.quoted ? tupleOf(packet(o.quoted)) : undefined;
      const r = both(
        () => A.classify({ ...p }, quoted),
        () => B.classify({ ...p }, quoted),
      );
      if (!r) continue;
      const [x, y] = r;
      assert.deepEqual([idOf(x.entry), x.dir, x.ctstate], [idOf(y.entry), y.dir, y.ctstate], "classify");
      if (!x.entry || !y.entry) continue;
      made.set(x.entry.id, [x.entry, y.entry]);
      if (x.entry.status.confirmed) continue;
      // NAT as host.ts does it: ask whether the candidate reply is taken, then rewrite.
      const to = packet(o.natTo);
      if (o.nat & 1) {
        const cand = (e: ConntrackEntry): CtTuple => ({ ...e.reply, src: to.src, sport: to.sport });
        assert.equal(A.isTupleTaken(cand(x.entry), x.entry), B.isTupleTaken(cand(y.entry), y.entry));
        A.setReply(x.entry, cand(x.entry), "DNAT");
        B.setReply(y.entry, cand(y.entry), "DNAT");
      }
      if (o.nat & 2) {
        const cand = (e: ConntrackEntry): CtTuple => ({ ...e.reply, dst: to.dst, dport: to.dport });
        assert.equal(A.isTupleTaken(cand(x.entry), x.entry), B.isTupleTaken(cand(y.entry), y.entry));
        A.setReply(x.entry, cand(x.entry), "SNAT");
        B.setReply(y.entry, cand(y.entry), "SNAT");
      }
      if (o.confirm) assert.equal(A.confirm(x.entry), B.confirm(y.entry), "confirm");
    } else if (o.kind === "delete") {
      const e = pick(o.pick);
      if (e) assert.equal(A.delete(e[0]), B.delete(e[1]), "delete");
    } else if (o.kind === "update") {
      const e = pick(o.pick);
      const dir: CtDir = o.reply ? "REPLY" : "ORIGINAL";
      if (e) {
        const r = both(
          () => A.update(e[0], dir, packet(o.p)),
          () => B.update(e[1], dir, packet(o.p)),
        );
        if (r) assert.deepEqual(r[0], r[1], "update");
      }
    } else if (o.kind === "lookup") {
      const p = packet(o.p);
      const x = A.lookup(p);
      const y = B.lookup(p);
      assert.deepEqual([idOf(x?.entry), x?.dir ?? null], [idOf(y?.entry), y?.dir ?? null], "lookup");
    } else if (o.kind === "taken") {
      const e = pick(o.pick);
      const tuple = tupleOf(packet(o.p));
      assert.equal(A.isTupleTaken(tuple, e?.[0]), B.isTupleTaken(tuple, e?.[1]), "isTupleTaken");
    } else if (o.kind === "list") {
      assert.deepEqual(B.list().map(shape), A.list().map(shape), "list");
      assert.equal(A.size, B.size);
    } else {
      A.flush();
      B.flush();
    }
    // Every entry the flat table can still show is the same as table.ts's.
    for (const [id, [a, b]] of made) if (readable(b)) assert.deepEqual(shape(b), shape(a), `entry ${id}`);
  }
  assert.deepEqual(B.list().map(shape), A.list().map(shape), "final list");
}

describe("FlatConntrack behaves as ConntrackTable", () => {
  const ops = fc.array(op, { minLength: 40, maxLength: 160 });

  it("random packets, NAT, confirmations, deletions and time (kernel defaults)", () => {
    fc.assert(
      fc.property(ops, (o) => run(o, false)),
      { numRuns: 300, seed: 0x5eed },
    );
  });

  it("the same with kube-proxy's timeouts", () => {
    fc.assert(
      fc.property(ops, (o) => run(o, true)),
      { numRuns: 150, seed: 0xb0b },
    );
  });

  it("the same when hashes collide: every tuple in one probe run, or two runs by a source bit", () => {
    fc.assert(
      fc.property(ops, (o) => run(o, false, () => 7)),
      { numRuns: 150, seed: 0xc011 },
    );
    fc.assert(
      fc.property(ops, (o) => run(o, true, (src) => src & 1)),
      { numRuns: 150, seed: 0xc012 },
    );
  });

  it("an entry whose two tuples are equal is found in the reply direction, as table.ts's Map keeps it", () => {
    const t = 1000;
    const A = new ConntrackTable({ now: () => t });
    const B = new FlatConntrack({ now: () => t });
    const p = makePacket({ family: 4, proto: PROTO.udp, src: ADDRS[0], dst: ADDRS[0], sport: 53, dport: 53 });
    assert.equal(A.confirm(A.classify(p).entry!), B.confirm(B.classify(p).entry!));
    assert.equal(A.lookup(p)?.dir, "REPLY");
    assert.equal(B.lookup(p)?.dir, "REPLY");
  });

  it("an entry left unconfirmed goes with its packet: the next one takes its slot", () => {
    const B = new FlatConntrack({ now: () => 1000 });
    const first = B.classify(packet({ ...base, sport: 80 })).entry!;
    const second = B.classify(packet({ ...base, sport: 1234 })).entry!;
    assert.throws(() => first.status, /deleted/);
    assert.equal(B.confirm(second), true);
    assert.equal(B.size, 1);
  });
});

const base: Spec = {
  proto: PROTO.tcp,
  src: 0,
  dst: 1,
  sport: 80,
  dport: 80,
  flags: TCP.SYN,
  icmpType: 8,
  icmpId: 0,
};
