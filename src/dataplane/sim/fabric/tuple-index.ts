import { finish, mixWord } from "./flow-hash.ts";

/**
 * A hash index from a key (an IPv4 5-tuple, kept by the caller) to a number (the caller's slot), in
 * one flat Int32Array: open addressing, linear probing, backward-shift deletion. A position holds
 * only the key's hash and the value, 8 bytes, so the table of a few hundred thousand flows stays
 * small enough for the processor's cache, and a lookup that misses, as most do for new connections,
 * reads nothing else: no object, no boxed key, no string. When hashes match, the caller's KeyCheck
 * compares the full key against its own record of the value. Map semantics: set() on a present key
 * replaces its value. Positions are valid until the next set() or deleteAt(). Used by the LB's flow
 * table (flow-table.ts) and bulk mode's conntrack table (bulk/flat-conntrack.ts).
 */

/** Compares the key being looked up (held by the caller) with the key of a stored value. */
export interface KeyCheck {
  matches(value: number): boolean;
}

/**
 * A non-negative 30-bit hash of a key's four words: two addresses, the ports (one << 16 | other)
 * and a protocol word (flow-hash.ts's MurmurHash3 steps).
 */
export function hash4(a: number, b: number, ports: number, word: number): number {
  return finish(mixWord(mixWord(mixWord(mixWord(0x2545f491, a), b), ports), word), 4) & 0x3fffffff;
}

const EMPTY = -1;
const MIN_CAPACITY = 16;

export class TupleIndex {
  private mask = MIN_CAPACITY - 1;
  /** Per position: the hash (EMPTY when free), then the value. */
  private table = TupleIndex.empty(MIN_CAPACITY);
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** The position of the key `check` stands for, or -1; `hash` is the key's hash4. */
  find(hash: number, check: KeyCheck): number {
    const t = this.table;
    const mask = this.mask;
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const h = t[i * 2] as number;
      if (h === EMPTY) return -1;
      if (h === hash && check.matches(t[i * 2 + 1] as number)) return i;
    }
  }

  valueAt(position: number): number {
    return this.table[position * 2 + 1] as number;
  }

  set(hash: number, check: KeyCheck, value: number): void {
    const found = this.find(hash, check);
    if (found >= 0) {
      this.table[found * 2 + 1] = value;
      return;
    }
    this.add(hash, value);
  }

  /** Adds a key the caller knows is absent (a find just missed it): set() without its find. */
  add(hash: number, value: number): void {
    // Up to 3/4 full: with 8 positions per cache line a longer probe run costs little, a bigger table a miss.
    if ((this.count + 1) * 4 > (this.mask + 1) * 3) this.grow();
    const t = this.table;
    let i = hash & this.mask;
    while (t[i * 2] !== EMPTY) i = (i + 1) & this.mask;
    t[i * 2] = hash;
    t[i * 2 + 1] = value;
    this.count++;
  }

  /** Removes the key at a position find() returned. */
  deleteAt(position: number): void {
    const t = this.table;
    const mask = this.mask;
    let i = position;
    // Backward shift: pull later members of the probe run into the hole, so no tombstones remain.
    for (let j = (i + 1) & mask; t[j * 2] !== EMPTY; j = (j + 1) & mask) {
      const home = (t[j * 2] as number) & mask;
      // j may move to i unless its home lies cyclically in (i, j].
      const stays = i <= j ? i < home && home <= j : i < home || home <= j;
      if (stays) continue;
      t[i * 2] = t[j * 2] as number;
      t[i * 2 + 1] = t[j * 2 + 1] as number;
      i = j;
    }
    t[i * 2] = EMPTY;
    this.count--;
  }

  private grow(): void {
    const old = this.table;
    const capacity = (this.mask + 1) * 2;
    const t = TupleIndex.empty(capacity);
    const mask = capacity - 1;
    for (let at = 0; at < old.length; at += 2) {
      const h = old[at] as number;
      if (h === EMPTY) continue;
      let i = h & mask;
      while (t[i * 2] !== EMPTY) i = (i + 1) & mask;
      t[i * 2] = h;
      t[i * 2 + 1] = old[at + 1] as number;
    }
    this.table = t;
    this.mask = mask;
  }

  private static empty(capacity: number): Int32Array {
    return new Int32Array(capacity * 2).fill(EMPTY);
  }
}
