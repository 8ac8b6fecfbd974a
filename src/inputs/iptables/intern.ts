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
 * A lookup then an add, rather than a maker callback: no closure per rule.
 */
export class Pool<K, V> {
  private readonly map = new Map<K, V>();

  get(key: K): V | undefined {
    return this.map.get(key);
  }

  /** Shares `value` (frozen) under `key`; returns it. */
  add(key: K, value: V): V {
    Object.freeze(value);
    this.map.set(key, value);
    return value;
  }
}

interface ListNode<T> {
  list: readonly T[] | null;
  /** The first item seen after this node, inline: most nodes have one, and a Map each was megabytes. */
  item: T | undefined;
  child: ListNode<T> | null;
  /** The other items seen after this node. */
  next: Map<T, ListNode<T>> | null;
}

function newNode<T>(): ListNode<T> {
  return { list: null, item: undefined, child: null, next: null };
}

/** The node after `node` for `item`, added when new. */
function step<T>(node: ListNode<T>, item: T): ListNode<T> {
  if (node.item === item && node.child !== null) return node.child;
  let child = node.next?.get(item);
  if (child !== undefined) return child;
  child = newNode();
  if (node.child === null) {
    node.item = item;
    node.child = child;
  } else {
    node.next ??= new Map();
    node.next.set(item, child);
  }
  return child;
}

/** Shared lists of shared objects, looked up by the identity of their items (no key to build). */
export class ListPool<T> {
  private readonly root: ListNode<T> = newNode();

  /**
   * The shared list equal to the first `count` of `items` (a scratch array the caller reuses); the
   * first time, a frozen copy of exactly that size.
   */
  get(items: readonly T[], count: number): readonly T[] {
    let node = this.root;
    for (let k = 0; k < count; k++) node = step(node, items[k] as T);
    node.list ??= Object.freeze(items.slice(0, count));
    return node.list;
  }
}

export const EMPTY: readonly never[] = Object.freeze([]);
