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
  /** A state transfer being received, committed with each chunk's documents. */
  readonly transfer?: TransferProgress;
}

/**
 * How far a state transfer has come: every document with a key up to `after` holds what
 * `target` covers. The next round resumes after `after`; `target` is adopted once the chunks
 * reach the last key.
 */
export interface TransferProgress {
  readonly target: VersionVector;
  readonly after: DocKey;
  /** The peer that sent the latest chunk. */
  readonly from: MemberId;
  /** Documents received so far. */
  readonly docs: number;
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

/**
 * The recorded outcome of a request that changed (or was refused by) a document, so that a
 * retry of the same request is answered from the record instead of applying again. Stored in
 * the same commit as the write it describes.
 */
export interface StoredOutcome {
  readonly doc: DocKey;
  /** The request id: the client's `Idempotency-Key`, or an id the edge gave the request. */
  readonly id: string;
  /** What identifies the request's content (method, target, body); a retry must match it. */
  readonly fingerprint: string;
  /** Wall-clock milliseconds after which the record may be dropped. */
  readonly expires: number;
  /** The answer, serialised by the caller; the core does not read it (empty when `replicated`). */
  readonly response: string;
  /**
   * The answer's status. When set, the write's log entry carries the request (id,
   * fingerprint, status, expiry), so that every member that applies it can answer a retry.
   */
  readonly status?: number;
  /** Learned from a peer's entry: it never replaces a record this member made itself. */
  readonly replicated?: boolean;
}

export interface Commit {
  readonly meta?: ReplicaMeta;
  /** Appended to the log in this order; scans return them in the order they were appended. */
  readonly append?: readonly LogEntry[];
  readonly docs?: readonly DocMeta[];
  readonly states?: readonly { readonly doc: DocKey; readonly write: StateWrite }[];
  /** Drop log entries with `seq ≤ truncate[origin]`. */
  readonly truncate?: VersionVector;
  /** Outcomes of the requests this commit carries out (see {@link StoredOutcome}). */
  readonly outcomes?: readonly StoredOutcome[];
  /** Drop recorded outcomes that expired before this time (ms). */
  readonly expireOutcomes?: number;
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
  /** The recorded outcome of request `id` on `doc`, expired or not. */
  loadOutcome(doc: DocKey, id: string): StoredOutcome | undefined;
  /** All or nothing. */
  commit(c: Commit): void;
}
