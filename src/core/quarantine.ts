/**
 * Remote entries an engine keeps failing on. Every engine fault drops all engines, so when
 * the same entry fails again on fresh engines while a probe of the engines passes, the entry
 * is at fault, not the member: it is set aside so that the rest of each message applies,
 * and tried again later (a new deploy may bring an engine that reads it).
 *
 * A set-aside entry is not applied, so it stays out of the vector; it holds back only what
 * the vector cannot count without it (the later entries of its origin) and entries that
 * depend on it. Kept in memory by whoever owns the replica, across rebuilds of it.
 */
import type { DocKey, MemberId } from './ids.js';

export interface QuarantinedEntry {
  readonly origin: MemberId;
  readonly seq: number;
  readonly doc: DocKey;
  /** Consecutive failures on fresh engines. */
  readonly failures: number;
  /** The last failure's message. */
  readonly reason: string;
  /** When it is tried again (ms); 0 while it has not failed often enough to be set aside. */
  readonly retryAt: number;
}

export interface QuarantineOptions {
  /** Consecutive failures on fresh engines after which an entry is set aside. */
  readonly failures?: number;
  /** The first wait before a set-aside entry is tried again; doubles up to {@link maxRetryMs}. */
  readonly retryMs?: number;
  readonly maxRetryMs?: number;
  /** Records kept; the oldest that is not set aside goes first. */
  readonly capacity?: number;
}

const key = (origin: MemberId, seq: number): string => `${origin}\u0000${seq}`;

export class Quarantine {
  private readonly records = new Map<string, QuarantinedEntry>();
  private readonly threshold: number;
  private readonly retryMs: number;
  private readonly maxRetryMs: number;
  private readonly capacity: number;

  constructor(opts: QuarantineOptions = {}) {
    this.threshold = opts.failures ?? 5;
    this.retryMs = opts.retryMs ?? 30_000;
    this.maxRetryMs = opts.maxRetryMs ?? 3_600_000;
    this.capacity = opts.capacity ?? 256;
  }

  /** Records that the engine failed on entry `(origin, seq)` of `doc` although the engines work. */
  failed(e: { origin: MemberId; seq: number; doc: DocKey }, reason: string, now: number): void {
    const k = key(e.origin, e.seq);
    const failures = (this.records.get(k)?.failures ?? 0) + 1;
    const over = failures - this.threshold;
    const retryAt = over < 0 ? 0 : now + Math.min(this.maxRetryMs, this.retryMs * 2 ** Math.min(over, 30));
    this.records.delete(k);
    this.records.set(k, { origin: e.origin, seq: e.seq, doc: e.doc, failures, reason, retryAt });
    if (this.records.size > this.capacity) this.evictOne();
  }

  /** True while the entry is set aside: not to be tried before its retry time. */
  holds(e: { origin: MemberId; seq: number }, now: number): boolean {
    const r = this.records.get(key(e.origin, e.seq));
    return r !== undefined && r.retryAt > now;
  }

  /** The entry applied: forget it. */
  applied(e: { origin: MemberId; seq: number }): void {
    if (this.records.size > 0) this.records.delete(key(e.origin, e.seq));
  }

  /** Entries set aside now, or failing on the way there (for operators). */
  list(): QuarantinedEntry[] {
    return [...this.records.values()];
  }

  private evictOne(): void {
    for (const [k, r] of this.records) {
      if (r.retryAt === 0) {
        this.records.delete(k);
        return;
      }
    }
    this.records.delete(this.records.keys().next().value!);
  }
}
