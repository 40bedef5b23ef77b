/**
 * Log entries: one accepted write, identified by its dot `(origin, seq)`.
 */
import type { DocKey, MemberId } from './ids.js';
import type { EngineName } from './engines/engine.js';
import type { VersionVector } from './version-vector.js';

/** `update` carries engine bytes; `delete` carries the clearing change (possibly empty) and removes what `deps` saw. */
export type EntryKind = 'update' | 'delete';

export interface LogEntry {
  readonly origin: MemberId;
  readonly seq: number;
  readonly doc: DocKey;
  readonly engine: EngineName;
  readonly kind: EntryKind;
  /** Hybrid logical time at the origin when it accepted the write (ms). */
  readonly hlc: number;
  /**
   * The document's version vector at the origin just before this write. A member applies
   * the entry only once its own vector covers `deps`, so engines always receive changes in
   * causal order; for a delete it is also the observed context that the delete removes.
   */
  readonly deps: VersionVector;
  readonly data: Uint8Array;
  /**
   * The client request this write carried out (its `Idempotency-Key`), so that every member
   * that applies the entry can answer a retry of that request without applying it again.
   */
  readonly request?: EntryRequest;
}

export interface EntryRequest {
  readonly id: string;
  readonly fingerprint: string;
  /** The status the origin answered (200, 201, 204). */
  readonly status: number;
  /** Wall-clock ms (at the origin) after which the request is forgotten. */
  readonly expires: number;
}

/** Approximate stored size of an entry, for batch and log bounds. */
export const entrySize = (e: LogEntry): number =>
  e.data.length + e.doc.length + 32 + 8 * Object.keys(e.deps).length + (e.request ? e.request.id.length + e.request.fingerprint.length + 16 : 0);

/** Total order used to break ties deterministically (e.g. between engines of one key). */
export function stampBefore(a: { hlc: number; origin: MemberId }, b: { hlc: number; origin: MemberId }): boolean {
  return a.hlc < b.hlc || (a.hlc === b.hlc && a.origin < b.origin);
}
