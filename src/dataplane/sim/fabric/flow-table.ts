import type { Backend, ResolvedRule } from "./topology.ts";
import { hash4, type KeyCheck, TupleIndex } from "./tuple-index.ts";

/**
 * The load balancer's flow table: each flow a 64-byte record in one flat buffer (one cache line),
 * found by its 5-tuple (proto, frontend address and port, client address and port) in a
 * TupleIndex. Bulk traffic keeps hundreds of thousands of flows alive for the rule's idle timeout;
 * as objects in nested Maps (with a boxed number per key) they were what the garbage collector
 * spent its time on, and a field per array made every cold flow cost a cache miss per field.
 *
 * Flows are listed grouped by frontend address, then by protocol and frontend port, each group in
 * the order its flows were added; a group that empties is dropped and goes to the end when it comes
 * back. That is the order the table had as nested Maps, which expire() and flowTable() report in.
 */

interface Group {
  head: number;
  tail: number;
}

const NONE = -1;
const MIN_SLOTS = 64;
// A record: two Float64 words, then Int32 words from the fifth on.
const F_CREATED = 0;
const F_EXPIRES = 1;
const I_CLIENT = 4;
const I_FRONTEND = 5;
/** frontendPort << 16 | clientPort. */
const I_PORTS = 6;
const I_PROTO = 7;
/** Index into `rules`; NONE for a free slot. */
const I_RULE = 8;
const I_BACKEND = 9;
const I_PREV = 10;
const I_NEXT = 11;
const I_GROUP = 12;
const F_STRIDE = 8;
const I_STRIDE = 16;

export class FlowTable implements KeyCheck {
  private readonly index = new TupleIndex();
  private readonly groups = new Map<number, Map<number, number>>();
  /** Groups by number (their slots' I_GROUP), and the numbers free for reuse. */
  private readonly groupList: Group[] = [];
  private readonly freeGroups: number[] = [];
  /** The rules and backends flows refer to, by number (a record holds numbers only). */
  private readonly rules: ResolvedRule[] = [];
  private readonly ruleNo = new Map<ResolvedRule, number>();
  private readonly backends: Backend[] = [];
  private readonly backendNo = new Map<Backend, number>();
  private f = new Float64Array(MIN_SLOTS * F_STRIDE);
  private i = new Int32Array(this.f.buffer);
  private count = 0;
  private used = 0;
  private readonly free: number[] = [];
  /** The key being looked up (KeyCheck). */
  private qProto = 0;
  private qFrontendIp = 0;
  private qPorts = 0;
  private qClient = 0;

  get size(): number {
    return this.count;
  }

  client(slot: number): number {
    return (this.i[slot * I_STRIDE + I_CLIENT] as number) >>> 0;
  }

  clientPort(slot: number): number {
    return (this.i[slot * I_STRIDE + I_PORTS] as number) & 0xffff;
  }

  proto(slot: number): number {
    return this.i[slot * I_STRIDE + I_PROTO] as number;
  }

  frontendIp(slot: number): number {
    return (this.i[slot * I_STRIDE + I_FRONTEND] as number) >>> 0;
  }

  frontendPort(slot: number): number {
    return (this.i[slot * I_STRIDE + I_PORTS] as number) >>> 16;
  }

  created(slot: number): number {
    return this.f[slot * F_STRIDE + F_CREATED] as number;
  }

  expiresAt(slot: number): number {
    return this.f[slot * F_STRIDE + F_EXPIRES] as number;
  }

  setExpiresAt(slot: number, at: number): void {
    this.f[slot * F_STRIDE + F_EXPIRES] = at;
  }

  rule(slot: number): ResolvedRule {
    return this.rules[this.i[slot * I_STRIDE + I_RULE] as number] as ResolvedRule;
  }

  backend(slot: number): Backend {
    return this.backends[this.i[slot * I_STRIDE + I_BACKEND] as number] as Backend;
  }

  setBackend(slot: number, backend: Backend): void {
    this.i[slot * I_STRIDE + I_BACKEND] = this.numberOf(backend, this.backends, this.backendNo);
  }

  /** The flow's slot, or -1. */
  find(proto: number, frontendIp: number, frontendPort: number, client: number, clientPort: number): number {
    const i = this.locate(proto, frontendIp, (frontendPort << 16) | clientPort, client);
    return i < 0 ? NONE : this.index.valueAt(i);
  }

  matches(slot: number): boolean {
    const at = slot * I_STRIDE;
    const i = this.i;
    return (
      i[at + I_CLIENT] === this.qClient &&
      i[at + I_FRONTEND] === this.qFrontendIp &&
      i[at + I_PORTS] === this.qPorts &&
      i[at + I_PROTO] === this.qProto
    );
  }

  /** A new flow (its tuple must not be in the table); its slot. */
  add(
    rule: ResolvedRule,
    proto: number,
    frontendPort: number,
    client: number,
    clientPort: number,
    backend: Backend,
    created: number,
    expiresAt: number,
  ): number {
    let slot = this.free.pop();
    if (slot === undefined) {
      if (this.used * F_STRIDE === this.f.length) this.grow();
      slot = this.used++;
    }
    const frontendIp = rule.frontendIp;
    const ports = (frontendPort << 16) | clientPort;
    const at = slot * I_STRIDE;
    const i = this.i;
    i[at + I_CLIENT] = client;
    i[at + I_FRONTEND] = frontendIp;
    i[at + I_PORTS] = ports;
    i[at + I_PROTO] = proto;
    i[at + I_RULE] = this.numberOf(rule, this.rules, this.ruleNo);
    i[at + I_BACKEND] = this.numberOf(backend, this.backends, this.backendNo);
    this.f[slot * F_STRIDE + F_CREATED] = created;
    this.f[slot * F_STRIDE + F_EXPIRES] = expiresAt;
    this.index.add(hash4(frontendIp, client, ports, proto), slot);
    this.append(slot, frontendIp, proto * 65536 + frontendPort);
    this.count++;
    return slot;
  }

  delete(slot: number): void {
    const at = slot * I_STRIDE;
    const i = this.i;
    const a = (i[at + I_FRONTEND] as number) >>> 0;
    const proto = i[at + I_PROTO] as number;
    const ports = i[at + I_PORTS] as number;
    const found = this.locate(proto, a, ports, (i[at + I_CLIENT] as number) >>> 0);
    if (found >= 0) this.index.deleteAt(found);
    this.unlink(slot, a, proto * 65536 + (ports >>> 16));
    i[at + I_RULE] = NONE;
    this.free.push(slot);
    this.count--;
  }

  /** Removes the flows whose expiresAt is at or before `now`, walking the records in memory order; how many. */
  deleteExpired(now: number): number {
    let n = 0;
    for (let slot = 0; slot < this.used; slot++) {
      if (
        this.i[slot * I_STRIDE + I_RULE] !== NONE &&
        (this.f[slot * F_STRIDE + F_EXPIRES] as number) <= now
      ) {
        this.delete(slot);
        n++;
      }
    }
    return n;
  }

  /** Every flow's slot, in the table's order (see above). */
  forEach(fn: (slot: number) => void): void {
    for (const byPort of this.groups.values())
      for (const g of byPort.values())
        for (
          let s = (this.groupList[g] as Group).head;
          s !== NONE;
          s = this.i[s * I_STRIDE + I_NEXT] as number
        )
          fn(s);
  }

  /** The index position of a key, or -1. */
  private locate(proto: number, frontendIp: number, ports: number, client: number): number {
    this.setKey(proto, frontendIp, ports, client);
    return this.index.find(hash4(frontendIp, client, ports, proto), this);
  }

  private setKey(proto: number, frontendIp: number, ports: number, client: number): void {
    this.qProto = proto;
    this.qFrontendIp = frontendIp | 0;
    this.qPorts = ports | 0;
    this.qClient = client | 0;
  }

  private numberOf<T>(x: T, list: T[], numbers: Map<T, number>): number {
    let n = numbers.get(x);
    if (n === undefined) {
      n = list.length;
      list.push(x);
      numbers.set(x, n);
    }
    return n;
  }

  private append(slot: number, a: number, key: number): void {
    let byPort = this.groups.get(a);
    if (byPort === undefined) {
      byPort = new Map();
      this.groups.set(a, byPort);
    }
    let gn = byPort.get(key);
    if (gn === undefined) {
      const fresh = { head: NONE, tail: NONE };
      gn = this.freeGroups.pop();
      if (gn === undefined) {
        gn = this.groupList.length;
        this.groupList.push(fresh);
      } else this.groupList[gn] = fresh;
      byPort.set(key, gn);
    }
    const g = this.groupList[gn] as Group;
    const i = this.i;
    const at = slot * I_STRIDE;
    i[at + I_PREV] = g.tail;
    i[at + I_NEXT] = NONE;
    i[at + I_GROUP] = gn;
    if (g.tail === NONE) g.head = slot;
    else i[g.tail * I_STRIDE + I_NEXT] = slot;
    g.tail = slot;
  }

  private unlink(slot: number, a: number, key: number): void {
    const i = this.i;
    const at = slot * I_STRIDE;
    const gn = i[at + I_GROUP] as number;
    const g = this.groupList[gn] as Group;
    const p = i[at + I_PREV] as number;
    const n = i[at + I_NEXT] as number;
    if (p === NONE) g.head = n;
    else i[p * I_STRIDE + I_NEXT] = n;
    if (n === NONE) g.tail = p;
    else i[n * I_STRIDE + I_PREV] = p;
    if (g.head !== NONE) return;
    const byPort = this.groups.get(a) as Map<number, number>;
    byPort.delete(key);
    if (byPort.size === 0) this.groups.delete(a);
    this.freeGroups.push(gn);
  }

  private grow(): void {
    const f = new Float64Array(this.f.length * 2);
    f.set(this.f);
    this.f = f;
    this.i = new Int32Array(f.buffer);
  }
}
