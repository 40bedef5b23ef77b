/**
 * The storage port of one replica. Synchronous, because the Durable Object SQLite API is,
 * and because it lets "the log entry and the document state" be one atomic {@link Commit}.
 *
 * The in-memory implementation is `storage-memory.ts`; the SQLite one lives with the
 * Durable Objects. Both pass the acceptance suite in `test/support/storage-suite.ts`.
 */
import type { DocKey, MemberId } from './ids.js';
import type { EngineName } from './engines/engine.js';
import type { LogEntry } from './log.js';
import type { VersionVector } from './version-vector.js';

/** The replica-wide state that must survive a restart. */
export interface ReplicaMeta {
  /** Applied: every entry up to `vv[o]` from each origin `o` is in the document states. */
  readonly vv: VersionVector;
  /** Entries at or below `horizon[o]` are no longer in the log. */
  readonly horizon: VersionVector;
  /** The last vector heard from each peer, for compaction. */
  readonly peers: Readonly<Record<MemberId, VersionVector>>;
  readonly hlc: number;
}

/** Which entry first created a document with an engine: the earliest decides the document's engine. */
export interface CreationStamp {
  readonly hlc: number;
  readonly origin: MemberId;
}

export interface DocMeta {
  readonly doc: DocKey;
  /** Highest dot of each origin that touched the document (writes and deletes). */
  readonly vv: VersionVector;
  /** What deletes removed: their observed contexts and their own dots. Live iff `vv` ≰ `removed`. */
  readonly removed: VersionVector;
  readonly creators: Readonly<Partial<Record<EngineName, CreationStamp>>>;
}

/** A change to one engine state of a document: a new snapshot replaces everything, an increment appends. */
export type StateWrite =
  | { readonly engine: EngineName; readonly snapshot: Uint8Array }
  | { readonly engine: EngineName; readonly increment: Uint8Array };

export interface Commit {
  readonly meta?: ReplicaMeta;
  /** Appended to the log in this order; scans return them in the order they were appended. */
  readonly append?: readonly LogEntry[];
  readonly docs?: readonly DocMeta[];
  readonly states?: readonly { readonly doc: DocKey; readonly write: StateWrite }[];
  /** Drop log entries with `seq ≤ truncate[origin]`. */
  readonly truncate?: VersionVector;
}

export interface StoredState {
  readonly snapshot: Uint8Array | undefined;
  readonly increments: readonly Uint8Array[];
}

export interface LogScan {
  readonly entries: LogEntry[];
  /** True when entries past the byte bound were left for a later scan. */
  readonly more: boolean;
}

export interface Storage {
  loadMeta(): ReplicaMeta | undefined;
  loadDocs(): DocMeta[];
  loadState(doc: DocKey, engine: EngineName): StoredState | undefined;
  /**
   * Log entries not covered by `vv`, oldest first, up to `maxBytes` (at least one entry
   * when any qualifies).
   */
  scanLog(vv: VersionVector, maxBytes: number): LogScan;
  logSize(): { entries: number; bytes: number };
  /** All or nothing. */
  commit(c: Commit): void;
}
