/**
 * The simulated network between members: a virtual-time event queue with seeded faults
 * (drop, duplicate, delay and therefore reorder), partitions, and links cut in one direction
 * only, across which a member applies what it is sent but its replies never arrive. Nothing
 * here uses real timers; `run` advances virtual time from event to event.
 */
import type { MemberId } from '../../../src/core/ids.js';
import type { Random } from '../../../src/core/ports.js';

export interface Faults {
  dropRate: number;
  duplicateRate: number;
  minDelay: number;
  maxDelay: number;
}

export const NO_FAULTS: Faults = { dropRate: 0, duplicateRate: 0, minDelay: 1, maxDelay: 5 };

interface Event {
  at: number;
  order: number;
  run: () => void;
}

/** A binary min-heap of events by (time, insertion order), so equal times stay deterministic. */
class EventQueue {
  private heap: Event[] = [];

  get size(): number {
    return this.heap.length;
  }

  push(e: Event): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  pop(): Event | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && before(h[l]!, h[m]!)) m = l;
        if (r < h.length && before(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }

  peekTime(): number | undefined {
    return this.heap[0]?.at;
  }
}

const before = (a: Event, b: Event): boolean => a.at < b.at || (a.at === b.at && a.order < b.order);

export class SimNetwork {
  now = 0;
  faults: Faults = NO_FAULTS;
  private readonly queue = new EventQueue();
  private order = 0;
  /** Links that are cut, as `a|b` with a < b. */
  private readonly cut = new Set<string>();
  /** Links cut in one direction, as `from>to`. */
  private readonly oneWay = new Set<string>();
  sent = 0;
  dropped = 0;

  constructor(private readonly random: Random) {}

  schedule(delay: number, run: () => void): void {
    this.queue.push({ at: this.now + delay, order: this.order++, run });
  }

  /** True when a message from `a` reaches `b`. */
  connected(a: MemberId, b: MemberId): boolean {
    return !this.cut.has(link(a, b)) && !this.oneWay.has(`${a}>${b}`);
  }

  /** Cuts (or restores) the direction `from` → `to` only. */
  setOneWay(from: MemberId, to: MemberId, isCut: boolean): void {
    if (isCut) this.oneWay.add(`${from}>${to}`);
    else this.oneWay.delete(`${from}>${to}`);
  }

  setCut(a: MemberId, b: MemberId, isCut: boolean): void {
    if (isCut) this.cut.add(link(a, b));
    else this.cut.delete(link(a, b));
  }

  /** Splits members into groups that cannot reach each other. */
  partition(groups: readonly (readonly MemberId[])[]): void {
    this.cut.clear();
    this.oneWay.clear();
    for (const g of groups) for (const h of groups) {
      if (g === h) continue;
      for (const a of g) for (const b of h) this.cut.add(link(a, b));
    }
  }

  heal(): void {
    this.cut.clear();
    this.oneWay.clear();
  }

  /**
   * Sends a message subject to the current faults; `deliver` runs at the receiver if the
   * link is up at delivery time, and `lost` runs if no copy arrives.
   */
  send(from: MemberId, to: MemberId, deliver: () => void, lost?: () => void): void {
    this.sent++;
    const copies = this.random.next() < this.faults.duplicateRate ? 2 : 1;
    let pending = copies;
    let arrived = false;
    const gone = () => {
      this.dropped++;
      if (--pending === 0 && !arrived) lost?.();
    };
    for (let i = 0; i < copies; i++) {
      if (this.random.next() < this.faults.dropRate) {
        gone();
        continue;
      }
      const { minDelay, maxDelay } = this.faults;
      const delay = minDelay + Math.floor(this.random.next() * (maxDelay - minDelay + 1));
      this.schedule(delay, () => {
        if (!this.connected(from, to)) return gone();
        arrived = true;
        pending--;
        deliver();
      });
    }
  }

  /** Runs the next event if it is due by `until`; false when none is. */
  step(until: number): boolean {
    const t = this.queue.peekTime();
    if (t === undefined || t > until) return false;
    const e = this.queue.pop()!;
    this.now = e.at;
    e.run();
    return true;
  }

  /** Runs events until the queue is empty or virtual time passes `until`. */
  run(until: number): void {
    for (;;) {
      const t = this.queue.peekTime();
      if (t === undefined || t > until) break;
      const e = this.queue.pop()!;
      this.now = e.at;
      e.run();
    }
    if (Number.isFinite(until)) this.now = Math.max(this.now, until);
  }

  get idle(): boolean {
    return this.queue.size === 0;
  }
}

const link = (a: string, b: string): string => (a < b ? `${a}|${b}` : `${b}|${a}`);
