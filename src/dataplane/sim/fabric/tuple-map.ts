/**
 * A map keyed by an IPv4 5-tuple without building strings: the LB's flow table takes a lookup per
 * packet and an insert per new flow, and string keys cost several times more than nested numeric
 * maps (each level's key is exact: ports are 16 bits, address·65536 + port fits in 48 bits).
 */
export class TupleMap<V> {
  private readonly byA = new Map<number, Map<number, Map<number, V>>>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  get(proto: number, a: number, aport: number, b: number, bport: number): V | undefined {
    return this.byA
      .get(a)
      ?.get(proto * 65536 + aport)
      ?.get(b * 65536 + bport);
  }

  set(proto: number, a: number, aport: number, b: number, bport: number, value: V): void {
    let mid = this.byA.get(a);
    if (mid === undefined) {
      mid = new Map();
      this.byA.set(a, mid);
    }
    const midKey = proto * 65536 + aport;
    let leaf = mid.get(midKey);
    if (leaf === undefined) {
      leaf = new Map();
      mid.set(midKey, leaf);
    }
    const leafKey = b * 65536 + bport;
    if (!leaf.has(leafKey)) this.count++;
    leaf.set(leafKey, value);
  }

  delete(proto: number, a: number, aport: number, b: number, bport: number): boolean {
    const mid = this.byA.get(a);
    const midKey = proto * 65536 + aport;
    const leaf = mid?.get(midKey);
    if (mid === undefined || leaf === undefined || !leaf.delete(b * 65536 + bport)) return false;
    this.count--;
    if (leaf.size === 0) {
      mid.delete(midKey);
      if (mid.size === 0) this.byA.delete(a);
    }
    return true;
  }

  *values(): IterableIterator<V> {
    for (const mid of this.byA.values()) for (const leaf of mid.values()) yield* leaf.values();
  }
}
