/**
 * The world's virtual clock for what goes on by itself: connections under way (a browser's kept-open
 * sockets waiting for the server's keep-alive timeout) and the hosts' own periodic traffic (the
 * nodes' guest agents). Each is a Timed; advancing runs their events in time order, ties in the
 * order they were added, so two conversations interleave on the wire as they would. Nothing runs
 * unless the caller advances: a World used for one walk sees only the frames it sends.
 */

export interface Timed {
  /** µs of its next event, or null while it has none. */
  nextTime(): number | null;
  /** Runs its next event (the one at nextTime()). */
  step(): void;
  /** Nothing more will ever happen (it may be forgotten); a kept-open socket is idle, not done. */
  done(): boolean;
  /** Told where the clock is going before it runs: a periodic source may skip what is too old to matter. */
  catchUp?(until: number): void;
}

export class Timeline {
  private items: Timed[] = [];
  /** µs up to which every event has run. */
  now: number;

  constructor(start: number) {
    this.now = start;
  }

  add(item: Timed): void {
    this.items.push(item);
  }

  /** Runs every event due up to and including `until` (µs), the earliest first. */
  advance(until: number): void {
    for (const item of this.items) item.catchUp?.(until);
    for (;;) {
      let next: Timed | null = null;
      let at = Number.POSITIVE_INFINITY;
      for (const item of this.items) {
        const t = item.nextTime();
        if (t !== null && t <= until && t < at) {
          next = item;
          at = t;
        }
      }
      if (!next) break;
      next.step();
    }
    this.now = Math.max(this.now, until);
    this.items = this.items.filter((i) => !i.done());
  }

  /** Advances until `item` has nothing pending (everything else due by then runs too). */
  settle(item: Timed): void {
    for (let t = item.nextTime(); t !== null; t = item.nextTime()) this.advance(t);
  }
}
