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
 * One chunk of a state transfer: documents in key order. `target` is the sender's vector
 * when the transfer began; the receiver adopts it only after the last chunk (`next`
 * undefined), because only then does it hold every document the target covers.
 */
export interface Transfer {
  readonly target: VersionVector;
  readonly docs: readonly DocSnapshot[];
  readonly next: DocKey | undefined;
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
  /** Asks the receiver to go on with the transfer `target` after document `after`. */
  readonly resume?: { readonly target: VersionVector; readonly after: DocKey };
}
