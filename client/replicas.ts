/**
 * The local document of a handle, one class per engine, behind one interface the handle and
 * the sync code share. Every change is tagged with where it came from, so that local edits
 * go to the log and the outbox, remote ones to the log only, and rows read from the store
 * nowhere.
 */
import * as A from '@automerge/automerge';
import * as Y from 'yjs';
import { headsToBytes } from '../src/core/engines/automerge-chunks.js';
import { materialize, renderRoot, rootKind, setOwn } from '../src/core/engines/yjs-render.js';
import type { JsonObject } from '../src/core/json.js';
import { concat } from './bytes.js';
import type { EngineName } from './store.js';

/** Where a change came from: this handle's user, the server, or the store (a load, another tab). */
export type Origin = 'local' | 'remote' | 'store';

/** Transaction origins of the Yjs document for changes that are not local edits. */
export const FROM_REMOTE: unique symbol = Symbol('concord:remote');
export const FROM_STORE: unique symbol = Symbol('concord:store');

export interface ReplicaEvents {
  /** A change was applied: `data` is its engine-native bytes (to persist), `origin` where it came from. */
  onChange(data: Uint8Array, origin: Origin): void;
}

export interface Replica {
  readonly engine: EngineName;
  /** Applies rows read from the store (not persisted again, not sent). */
  applyStored(rows: readonly Uint8Array[]): void;
  /** Applies engine-native bytes from the server (an HTTP pull). */
  applyRemote(bytes: Uint8Array): void;
  /** The JSON view, rendered as the server renders it. */
  value(): JsonObject;
  /** The Yjs state vector or the Automerge heads: `since=` of an HTTP pull. */
  version(): Uint8Array;
  /** The whole state as one update (compaction, and a POST when deltas are refused). */
  save(): Uint8Array;
  destroy(): void;
}

/** Merges stored rows of `engine` into one row (compaction). Synchronous. */
export function mergeRows(engine: EngineName, rows: readonly Uint8Array[]): Uint8Array {
  if (engine === 'yjs') return Y.mergeUpdates(rows as Uint8Array[]);
  return A.save(A.loadIncremental(A.init(), concat(rows)));
}

export class YjsReplica implements Replica {
  readonly engine = 'yjs' as const;
  readonly ydoc: Y.Doc;

  constructor(private readonly events: ReplicaEvents) {
    this.ydoc = new Y.Doc();
    this.ydoc.on('update', this.onUpdate);
  }

  private readonly onUpdate = (update: Uint8Array, origin: unknown): void => {
    if (origin === FROM_STORE) this.events.onChange(update, 'store');
    else this.events.onChange(update, origin === FROM_REMOTE ? 'remote' : 'local');
  };

  applyStored(rows: readonly Uint8Array[]): void {
    if (rows.length === 0) return;
    this.ydoc.transact(() => {
      for (const r of rows) Y.applyUpdate(this.ydoc, r, FROM_STORE);
    }, FROM_STORE);
  }

  applyRemote(bytes: Uint8Array): void {
    Y.applyUpdate(this.ydoc, bytes, FROM_REMOTE);
  }

  value(): JsonObject {
    const out: JsonObject = {};
    for (const name of Array.from(this.ydoc.share.keys()).sort()) {
      const kind = rootKind(this.ydoc.share.get(name)!);
      if (kind !== null) setOwn(out, name, renderRoot(materialize(this.ydoc, name, kind)));
    }
    return out;
  }

  version(): Uint8Array {
    return Y.encodeStateVector(this.ydoc);
  }

  save(): Uint8Array {
    return Y.encodeStateAsUpdate(this.ydoc);
  }

  destroy(): void {
    this.ydoc.off('update', this.onUpdate);
    this.ydoc.destroy();
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a JSON document of any shape
export type AmDoc = A.Doc<any>;

export class AutomergeReplica implements Replica {
  readonly engine = 'automerge' as const;
  private current: AmDoc = A.init();

  constructor(private readonly events: ReplicaEvents) {}

  get doc(): AmDoc {
    return this.current;
  }

  /** One local change; returns its change bytes, or null when `fn` changed nothing. */
  change(fn: (d: AmDoc) => void): Uint8Array | null {
    const before = A.getHeads(this.current);
    this.current = A.change(this.current, fn);
    const after = A.getHeads(this.current);
    if (sameHeads(before, after)) return null;
    const bytes = A.getLastLocalChange(this.current)!;
    this.events.onChange(bytes, 'local');
    return bytes;
  }

  /**
   * Runs `step` on the document (a sync step, a load) and keeps what it returns, which
   * descends from it; what is new is reported with `origin`. The heads are read first:
   * Automerge outdates a document once another is derived from it.
   */
  advance(step: (doc: AmDoc) => AmDoc, origin: Origin = 'remote'): void {
    const before = A.getHeads(this.current);
    const next = step(this.current);
    this.current = next;
    if (sameHeads(before, A.getHeads(next))) return;
    this.events.onChange(A.saveSince(next, before), origin);
  }

  applyStored(rows: readonly Uint8Array[]): void {
    if (rows.length === 0) return;
    this.advance((d) => A.loadIncremental(d, concat(rows)), 'store');
  }

  applyRemote(bytes: Uint8Array): void {
    this.advance((d) => A.loadIncremental(d, bytes), 'remote');
  }

  value(): JsonObject {
    return A.toJS(this.current) as JsonObject;
  }

  version(): Uint8Array {
    return headsToBytes(A.getHeads(this.current));
  }

  save(): Uint8Array {
    return A.save(this.current);
  }

  destroy(): void {}
}

export function sameHeads(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const s = new Set(a);
  return b.every((h) => s.has(h));
}

/** The hash of one Automerge change chunk (an outbox row's update). */
export const changeHash = (bytes: Uint8Array): string => A.decodeChange(bytes).hash;
