/**
 * In-memory {@link Storage}: for tests, the simulator and benchmarks. A "crash" in the
 * simulator throws away the Replica and keeps this object, which holds exactly what was
 * committed.
 */
import type { DocKey } from './ids.js';
import type { EngineName } from './engines/engine.js';
import { entrySize, type LogEntry } from './log.js';
import type { Commit, DocMeta, LogScan, ReplicaMeta, Storage, StoredOutcome, StoredState } from './storage.js';
import { get, type VersionVector } from './version-vector.js';

interface MutableState {
  snapshot: Uint8Array | undefined;
  increments: Uint8Array[];
}

export class MemoryStorage implements Storage {
  private meta: ReplicaMeta | undefined;
  private readonly docs = new Map<DocKey, DocMeta>();
  private readonly states = new Map<string, MutableState>();
  private log: LogEntry[] = [];
  private readonly outcomes = new Map<string, StoredOutcome>();
  private logBytes = 0;
  /** Number of commits, for tests that count durable writes. */
  commits = 0;

  loadMeta(): ReplicaMeta | undefined {
    return this.meta;
  }

  loadDocs(): DocMeta[] {
    return [...this.docs.values()];
  }

  loadState(doc: DocKey, engine: EngineName): StoredState | undefined {
    const s = this.states.get(stateKey(doc, engine));
    return s && { snapshot: s.snapshot, increments: [...s.increments] };
  }

  scanLog(vv: VersionVector, maxBytes: number): LogScan {
    const entries: LogEntry[] = [];
    let bytes = 0;
    for (const e of this.log) {
      if (e.seq <= get(vv, e.origin)) continue;
      const size = entrySize(e);
      if (entries.length > 0 && bytes + size > maxBytes) return { entries, more: true };
      entries.push(e);
      bytes += size;
    }
    return { entries, more: false };
  }

  loadOutcome(doc: DocKey, id: string): StoredOutcome | undefined {
    return this.outcomes.get(outcomeKey(doc, id));
  }

  logSize(): { entries: number; bytes: number } {
    return { entries: this.log.length, bytes: this.logBytes };
  }

  commit(c: Commit): void {
    this.commits++;
    if (c.meta) this.meta = c.meta;
    for (const e of c.append ?? []) {
      this.log.push(e);
      this.logBytes += entrySize(e);
    }
    for (const d of c.docs ?? []) this.docs.set(d.doc, d);
    for (const { doc, write } of c.states ?? []) {
      const key = stateKey(doc, write.engine);
      if ('snapshot' in write) {
        this.states.set(key, { snapshot: write.snapshot, increments: [] });
      } else {
        const s = this.states.get(key) ?? { snapshot: undefined, increments: [] };
        s.increments.push(write.increment);
        this.states.set(key, s);
      }
    }
    if (c.truncate) this.truncate(c.truncate);
    for (const o of c.outcomes ?? []) {
      if (!o.replicated || !this.outcomes.has(outcomeKey(o.doc, o.id))) this.outcomes.set(outcomeKey(o.doc, o.id), o);
    }
    const before = c.expireOutcomes;
    if (before !== undefined) for (const [k, o] of this.outcomes) if (o.expires < before) this.outcomes.delete(k);
  }

  private truncate(upTo: VersionVector): void {
    const kept: LogEntry[] = [];
    let bytes = 0;
    for (const e of this.log) {
      if (e.seq <= get(upTo, e.origin)) continue;
      kept.push(e);
      bytes += entrySize(e);
    }
    this.log = kept;
    this.logBytes = bytes;
  }
}

const stateKey = (doc: DocKey, engine: EngineName): string => `${engine}\u0001${doc}`;
const outcomeKey = (doc: DocKey, id: string): string => `${doc}\u0001${id}`;
