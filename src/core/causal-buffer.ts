/**
 * Remote entries that arrived before what they depend on. They wait here, in memory only,
 * until the replica's vector covers their dependencies; a crash loses them harmlessly
 * because the replica never claimed them, and gossip sends them again.
 */
import type { MemberId } from './ids.js';
import type { LogEntry } from './log.js';
import { get, leq, type VersionVector } from './version-vector.js';

export class CausalBuffer {
  private readonly byOrigin = new Map<MemberId, Map<number, LogEntry>>();
  private count = 0;

  constructor(private readonly capacity: number) {}

  get size(): number {
    return this.count;
  }

  /** Holds `e` unless it is already applied, already held, or the buffer is full (gossip will resend). */
  add(e: LogEntry, vv: VersionVector): void {
    if (e.seq <= get(vv, e.origin) || this.count >= this.capacity) return;
    let q = this.byOrigin.get(e.origin);
    if (!q) this.byOrigin.set(e.origin, (q = new Map()));
    if (q.has(e.seq)) return;
    q.set(e.seq, e);
    this.count++;
  }

  /**
   * Removes and returns the next entry that `vv` makes applicable: the successor of
   * `vv[origin]` whose dependencies `vv` covers, unless `held` says it must wait.
   */
  takeReady(vv: VersionVector, held?: (e: LogEntry) => boolean): LogEntry | undefined {
    for (const [origin, q] of this.byOrigin) {
      const e = q.get(get(vv, origin) + 1);
      if (e && leq(e.deps, vv) && !held?.(e)) {
        q.delete(e.seq);
        this.count--;
        return e;
      }
    }
    return undefined;
  }

  /** Forgets entries that `vv` covers (after a state transfer or a duplicate delivery). */
  prune(vv: VersionVector): void {
    for (const [origin, q] of this.byOrigin) {
      const applied = get(vv, origin);
      for (const seq of q.keys()) {
        if (seq <= applied) {
          q.delete(seq);
          this.count--;
        }
      }
    }
  }
}
