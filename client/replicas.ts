/**
 * The local document of a handle behind one interface the handle and the sync code share,
 * and the engine modules that make them: `engine-yjs.ts` and `engine-automerge.ts`, one per
 * engine, each with its replica class and its WebSocket protocol. This file imports neither
 * engine (types only), so an entry that registers one engine (`client/yjs.ts`,
 * `client/automerge.ts`) bundles that engine alone.
 *
 * Every change is tagged with where it came from, so that local edits go to the log and the
 * outbox, remote ones to the log only, and rows read from the store nowhere.
 */
import type { Doc as YDoc } from 'yjs';
import type { JsonObject } from '../src/core/json.js';
import type { EngineName } from './store.js';
import type { Protocol, ProtocolHost, SocketLike } from './transport.js';

/** Where a change came from: this handle's user, the server, or the store (a load, another tab). */
export type Origin = 'local' | 'remote' | 'store';

export interface ReplicaEvents {
  /** A change was applied: `data` is its engine-native bytes (to persist), `origin` where it came from. */
  onChange(data: Uint8Array, origin: Origin): void;
}

export interface Replica {
  readonly engine: EngineName;
  /**
   * What y-protocols' `Awareness` is built on: the Y.Doc of a Yjs document; for Automerge a
   * stand-in holding a client id (all `Awareness` reads of its doc), so no Yjs is needed.
   */
  readonly presenceDoc: YDoc;
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
  /** What acks match an outbox row's update by: its Automerge change hash; '' for Yjs (a step 2 covers every key). */
  changeHash(update: Uint8Array): string;
  /** This engine's WebSocket protocol for one socket; `syncState` is what the handle last saved (Automerge's sync state). */
  protocol(ws: SocketLike, host: ProtocolHost, syncState: Uint8Array | undefined): Protocol;
  destroy(): void;
}

/** An engine a `ConcordClient` can open documents of (`yjsEngine`, `automergeEngine`). */
export interface ClientEngine<N extends EngineName = EngineName> {
  readonly name: N;
  /** An empty local document. */
  replica(events: ReplicaEvents): Replica;
  /** Merges stored rows into one row (compaction). Synchronous. */
  mergeRows(rows: readonly Uint8Array[]): Uint8Array;
}
