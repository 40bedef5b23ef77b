/**
 * The Automerge engine of the SDK: the replica (an Automerge document advanced by local
 * changes, sync messages and loads) and the Automerge sync protocol over a Concord socket.
 * Imports no Yjs: presence uses y-protocols' `Awareness` (whose module names `yjs` only for
 * a JSDoc type; yjs is `sideEffects: false`, so bundlers drop it) over a stand-in for the
 * Y.Doc it expects (see `presenceDoc`).
 */
import * as A from '@automerge/automerge';
import * as awarenessProtocol from 'y-protocols/awareness';
import type { Doc as YDoc } from 'yjs';
import { headsToBytes } from '../src/core/engines/automerge-chunks.js';
import type { JsonObject } from '../src/core/json.js';
import { concat, fromBase64, toBase64 } from './bytes.js';
import type { ClientEngine, Origin, Replica, ReplicaEvents } from './replicas.js';
import { AWARENESS_REMOTE, Protocol, type ProtocolHost, type SocketLike } from './transport.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a JSON document of any shape
export type AmDoc = A.Doc<any>;

/**
 * What y-protocols' `Awareness` (1.0.x) uses of the Y.Doc it is given: its constructor reads
 * `clientID` and subscribes to the doc's `destroy` event; nothing else touches it. A random
 * 32-bit client id, as Y.Doc draws its own; `destroy` never fires (the handle destroys the
 * Awareness itself). Saves the whole of Yjs in an Automerge-only bundle.
 */
function presenceDoc(): YDoc {
  const clientID = crypto.getRandomValues(new Uint32Array(1))[0]!;
  const stub = { clientID, on: () => {}, off: () => {} };
  return stub as unknown as YDoc;
}

export class AutomergeReplica implements Replica {
  readonly engine = 'automerge' as const;
  readonly presenceDoc: YDoc = presenceDoc();
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

  /** The hash of one Automerge change chunk (an outbox row's update). */
  changeHash(update: Uint8Array): string {
    return A.decodeChange(update).hash;
  }

  protocol(ws: SocketLike, host: ProtocolHost, syncState: Uint8Array | undefined): Protocol {
    return new AutomergeProtocol(ws, host, this, syncState ? A.decodeSyncState(syncState) : A.initSyncState());
  }

  destroy(): void {}
}

export function sameHeads(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const s = new Set(a);
  return b.every((h) => s.has(h));
}

/**
 * One Automerge sync message per binary frame; the sync state is kept in the store between
 * sockets, so a reconnect starts from the heads both sides shared. Presence travels as text
 * frames `{"type":"awareness","update":"<base64>"}`.
 */
export class AutomergeProtocol extends Protocol {
  constructor(
    ws: SocketLike,
    host: ProtocolHost,
    private readonly replica: AutomergeReplica,
    private state: A.SyncState,
  ) {
    super(ws, host);
  }

  onOpen(): void {
    this.flush();
    if (this.host.presence.getLocalState() !== null) this.sendPresence([this.host.presence.clientID]);
  }

  onBinary(bytes: Uint8Array): void {
    this.replica.advance((doc) => {
      const [next, state] = A.receiveSyncMessage(doc, this.state, bytes);
      this.state = state;
      return next;
    }, 'remote');
    this.host.saveSyncState(A.encodeSyncState(this.state));
    this.flush();
  }

  /** Sends the sync message Automerge has for the member, if any; then checks whether both sides have the same heads. */
  flush(): void {
    if (!this.open) return;
    const [state, generated] = A.generateSyncMessage(this.replica.doc, this.state);
    this.state = state;
    const message = generated && smaller(generated, this.replica.doc);
    if (message) {
      const changes = A.decodeSyncMessage(message).changes;
      let covers: string[] | undefined;
      if (changes.length > 0) {
        const hashes = new Set<string>();
        let whole = false;
        for (const c of changes) {
          try {
            hashes.add(A.decodeChange(c).hash);
          } catch {
            // Not a change chunk: Automerge sends a peer that has nothing the whole document, every change included.
            whole = true;
          }
        }
        covers = this.host.pendingKeys().filter((k) => {
          const h = this.host.pendingHash(k);
          return whole || (h !== undefined && hashes.has(h));
        });
      }
      this.sendBinary(message, covers);
    }
    const theirs = this.state.theirHeads;
    if (theirs && sameHeads(theirs, A.getHeads(this.replica.doc))) {
      // The member reported exactly our heads: it holds every change we have, pending ones included.
      this.host.acknowledge(this.host.pendingKeys(), undefined);
      this.host.initialSyncDone();
    }
  }

  onLocal(): void {
    this.flush();
  }

  sendPresence(clients: number[]): void {
    this.sendText({ type: 'awareness', update: toBase64(awarenessProtocol.encodeAwarenessUpdate(this.host.presence, clients)) });
  }

  protected override onAwarenessText(update: string): void {
    let bytes: Uint8Array;
    try {
      bytes = fromBase64(update);
    } catch {
      return;
    }
    awarenessProtocol.applyAwarenessUpdate(this.host.presence, bytes, AWARENESS_REMOTE);
  }
}

/** Changes in one sync message above this many bytes are weighed against the whole document. */
const WEIGH_ABOVE_BYTES = 1024;

/**
 * The sync message, or the same message carrying the whole document instead of its changes
 * when that is smaller. The protocol sends changes uncompressed, about a hundred bytes of
 * header each, while a saved document is compressed: after many offline edits the whole
 * document is often a fraction of them (the member loads either the same way).
 */
function smaller(message: Uint8Array, doc: A.Doc<unknown>): Uint8Array {
  const decoded = A.decodeSyncMessage(message);
  let bytes = 0;
  for (const c of decoded.changes) bytes += c.length;
  if (bytes <= WEIGH_ABOVE_BYTES) return message;
  const whole = A.save(doc);
  return whole.length < bytes ? A.encodeSyncMessage({ ...decoded, changes: [whole] }) : message;
}

/** Automerge for `ConcordClient`: Automerge replicas and sync, `save(loadIncremental(...))` compaction. */
export const automergeEngine: ClientEngine<'automerge'> = {
  name: 'automerge',
  replica: (events) => new AutomergeReplica(events),
  mergeRows: (rows) => A.save(A.loadIncremental(A.init(), concat(rows))),
};
