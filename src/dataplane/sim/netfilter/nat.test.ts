import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { seededRng } from "../../../core/rng.ts";
import type { ConntrackEntry, CtTuple } from "../../../model/conntrack.ts";
import type { MasqueradeTarget, NatTarget } from "../../../model/netfilter/targets.ts";
import { makePacket, type Packet, PROTO, TCP } from "../../../model/packet.ts";
import { ConntrackTable } from "../conntrack/table.ts";
import { chooseDnat, chooseSnat, type NatContext, tupleHash } from "./nat.ts";

/** FNV-1a over the fields as strings: the definition tupleHash computes without making the strings. */
function fnvOfStrings(t: CtTuple): number {
  let h = 0x811c9dc5;
  for (const v of [t.src, t.dst, t.sport, t.dport, t.proto]) {
    const s = String(v);
    for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  }
  return h;
}

test("tupleHash is FNV-1a over the tuple's fields in decimal, for IPv4 numbers and IPv6 bigints", () => {
  const addr = fc.oneof(
    fc.integer({ min: 0, max: 0xffffffff }),
    fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }),
  );
  const port = fc.integer({ min: 0, max: 65535 });
  fc.assert(
    fc.property(addr, addr, port, port, fc.integer({ min: 0, max: 255 }), (src, dst, sport, dport, proto) => {
      const t: CtTuple = { family: 4, proto, src, dst, sport, dport, icmpType: -1, icmpCode: -1 };
      assert.equal(tupleHash(t), fnvOfStrings(t));
    }),
    { numRuns: 2000 },
  );
  // Edges of the digit loop: zero, one digit, powers of ten, the largest address.
  for (const src of [0, 9, 10, 99, 100, 1_000_000_000, 0xffffffff]) {
    const t: CtTuple = { family: 4, proto: 6, src, dst: 0, sport: 0, dport: 10, icmpType: -1, icmpCode: -1 };
    assert.equal(tupleHash(t), fnvOfStrings(t));
  }
});

// get_unique_tuple (nf_nat_core.c), step 3: which bindings are checked for uniqueness at all.
const CLIENT = 0x6d7d783a; // 109.125.120.58
const VIP = 0x3390b0fb; // 51.144.176.251
const POD = 0x0a0d4c1a; // 10.13.76.26
const NODE = 0x0a0d4c04; // 10.13.76.4

function newConnection(): { entry: ConntrackEntry; p: Packet } {
  const table = new ConntrackTable({ now: () => 0 });
  const p = makePacket({
    family: 4,
    proto: PROTO.tcp,
    src: CLIENT,
    dst: VIP,
    sport: 51535,
    dport: 80,
    tcpFlags: TCP.SYN,
  });
  return { entry: table.create(p), p };
}

/** A NatContext whose every tuple is taken (or none), recording what NAT asked. */
function context(taken: boolean): NatContext & { asked: CtTuple[] } {
  const asked: CtTuple[] = [];
  return {
    rng: seededRng(1),
    isTaken: (t) => {
      asked.push({ ...t });
      return taken;
    },
    asked,
  };
}

const dnat = (minPort: number, maxPort: number, random = false): NatTarget => ({
  kind: "DNAT",
  range: { minAddr: POD, maxAddr: POD, minPort, maxPort },
  random,
  randomFully: false,
  persistent: false,
});

test("DNAT to one port keeps it without a uniqueness check, even when the reply tuple is taken", () => {
  for (const taken of [false, true]) {
    const { entry, p } = newConnection();
    const ctx = context(taken);
    assert.deepEqual(chooseDnat(entry, p, dnat(80, 80), null, ctx), { addr: POD, port: 80 });
    // The kernel's get_unique_tuple returns at once; a clash is found by conntrack's confirm.
    assert.equal(ctx.asked.length, 0);
  }
  // Moving to another single port (the node port 31322 to the pod's 80) is not checked either.
  const { entry, p } = newConnection();
  const ctx = context(true);
  assert.deepEqual(chooseDnat(entry, { ...p, dport: 31322 }, dnat(80, 80), null, ctx), {
    addr: POD,
    port: 80,
  });
  assert.equal(ctx.asked.length, 0);
});

test("DNAT to a port range keeps an in-range unique port, else searches the range", () => {
  const { entry, p } = newConnection();
  const free = context(false);
  assert.deepEqual(chooseDnat(entry, p, dnat(79, 81), null, free), { addr: POD, port: 80 });
  assert.deepEqual(
    free.asked.map((t) => [t.src, t.sport]),
    [[POD, 80]],
  );
  const full = context(true);
  assert.equal(chooseDnat(entry, p, dnat(79, 81), null, full), null);
  assert.equal(full.asked.length, 1 + 3); // the current port, then each port of the range once
});

test("MASQUERADE keeps the source port when the reply tuple is free, else picks another of its class", () => {
  const masq: MasqueradeTarget = {
    kind: "MASQUERADE",
    minPort: null,
    maxPort: null,
    random: false,
    randomFully: false,
  };
  const { entry, p } = newConnection();
  const free = context(false);
  assert.deepEqual(chooseSnat(entry, p, masq, NODE, free), { addr: NODE, port: 51535 });
  assert.deepEqual(
    free.asked.map((t) => [t.dst, t.dport]),
    [[NODE, 51535]],
  );
  let calls = 0;
  const firstTaken: NatContext = { rng: seededRng(1), isTaken: () => calls++ === 0 };
  const b = chooseSnat(entry, p, masq, NODE, firstTaken);
  assert.ok(b !== null && b.port !== 51535 && b.port >= 1024 && b.port <= 65535);
});

test("--random and --random-fully do not keep the port even when it is free (NF_NAT_RANGE_PROTO_RANDOM_ALL)", () => {
  for (const mode of ["random", "randomFully"] as const) {
    const masq: MasqueradeTarget = {
      kind: "MASQUERADE",
      minPort: null,
      maxPort: null,
      random: mode === "random",
      randomFully: mode === "randomFully",
    };
    const { entry, p } = newConnection();
    const ctx = context(false);
    const b = chooseSnat(entry, p, masq, NODE, ctx);
    // The first candidate is drawn from the seeded RNG, not the current port.
    const expected = 1024 + (seededRng(1).nextU32() % (65535 - 1024 + 1));
    assert.deepEqual(b, { addr: NODE, port: expected });
    assert.deepEqual(
      ctx.asked.map((t) => t.dport),
      [expected],
    );
  }
});
