/**
 * Sharing identical pieces of a parsed ruleset. The IR is read-only, and a kube-proxy node's dump
 * repeats the same pieces tens of thousands of times (`-p tcp`, `-j KUBE-MARK-MASQ`, a service's
 * comment on each of its rules, `[0:0]` counters): one object each instead of one per rule keeps
 * a 100,000-rule dump's IR a third smaller, and the parse faster (the garbage collector copies
 * every object that survives, so fewer survivors is less work).
 */
export class Interner {
  private readonly pool = new Map<string, unknown>();

  /** The shared object for `key`, made by `make` the first time. */
  get<T>(key: string, make: () => T): T {
    let v = this.pool.get(key) as T | undefined;
    if (v === undefined) {
      v = Object.freeze(make());
      this.pool.set(key, v);
    }
    return v;
  }
}

export const EMPTY: readonly never[] = Object.freeze([]);
