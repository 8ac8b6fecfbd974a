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

/**
 * Shared objects of one kind by a key that is cheap to look up: a small number, or a string that
 * already exists (building a key string per rule and hashing it cost more than the sharing saved).
 */
export class Pool<K, V> {
  private readonly map = new Map<K, V>();

  get(key: K, make: () => V): V {
    let v = this.map.get(key);
    if (v === undefined) {
      v = Object.freeze(make());
      this.map.set(key, v);
    }
    return v;
  }
}

interface ListNode<T> {
  list: readonly T[] | null;
  next: Map<T, ListNode<T>> | null;
}

/** Shared lists of shared objects, looked up by the identity of their items (no key to build). */
export class ListPool<T> {
  private readonly root: ListNode<T> = { list: null, next: null };

  /** The shared list equal to `items` (which becomes it, frozen, the first time). */
  get(items: T[]): readonly T[] {
    let node = this.root;
    for (const item of items) {
      node.next ??= new Map();
      let child = node.next.get(item);
      if (child === undefined) {
        child = { list: null, next: null };
        node.next.set(item, child);
      }
      node = child;
    }
    node.list ??= Object.freeze(items);
    return node.list;
  }
}

export const EMPTY: readonly never[] = Object.freeze([]);
