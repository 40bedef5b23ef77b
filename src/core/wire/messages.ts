/**
 * The anti-entropy messages between members of one shard, in memory. Their binary form is
 * in `codec.ts`.
 *
 * A gossip round is a conversation of {@link SyncMessage}s over a request/response
 * transport: the initiator sends a `digest` (its vector); every `delta` carries its sender's
 * vector and what the receiver lacks, as log entries or, for a receiver behind the sender's
 * compaction horizon, a state {@link Transfer}. Eager push is a `delta` that asks for no reply.
 */
import type { DocKey, MemberId } from '../ids.js';
import type { EngineName } from '../engines/engine.js';
import type { LogEntry } from '../log.js';
import type { DocMeta } from '../storage.js';
import type { VersionVector } from '../version-vector.js';

export interface DocSnapshot {
  readonly meta: DocMeta;
  readonly states: readonly { readonly engine: EngineName; readonly bytes: Uint8Array }[];
}

/**
 * One chunk of a state transfer: the documents with keys in (`after`, `next`], in key order.
 * `target` is a vector the sender covered when it read them (the sender's vector when the
 * transfer began, unless a later sender narrowed it); the receiver adopts it only once its
 * chunks cover every key, because only then does it hold every document the target covers.
 */
export interface Transfer {
  readonly target: VersionVector;
  /**
   * The sender's hybrid clock when it read the chunk: at least the time of every entry its
   * documents reflect, which the receiver's clock must pass once it claims them.
   */
  readonly hlc: number;
  /** The last key of the chunk before this one; undefined for the first chunk. */
  readonly after: DocKey | undefined;
  readonly docs: readonly DocSnapshot[];
  /** The last key this chunk covers; undefined for the last chunk. */
  readonly next: DocKey | undefined;
}

/** Asks a peer to go on with the transfer `target` after key `after`. */
export interface Resume {
  readonly target: VersionVector;
  readonly after: DocKey;
}

export interface SyncMessage {
  readonly kind: 'digest' | 'delta';
  readonly from: MemberId;
  readonly vv: VersionVector;
  /** The sender has more to send than fitted in this message. */
  readonly more: boolean;
  /** The sender wants an answer with what it lacks. */
  readonly reply: boolean;
  readonly entries: readonly LogEntry[];
  readonly transfer?: Transfer;
  /** Asks the receiver to go on with a transfer to the sender. */
  readonly resume?: Resume;
}
