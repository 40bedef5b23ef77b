/**
 * The Yjs engine of the SDK: the replica (a Y.Doc whose transactions are tagged with their
 * origin) and y-websocket's protocol over a Concord socket. Imports nothing of Automerge.
 */
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import * as awarenessProtocol from 'y-protocols/awareness';
import * as syncProtocol from 'y-protocols/sync';
import * as Y from 'yjs';
import { materialize, renderRoot, rootKind, setOwn } from '../src/core/engines/yjs-render.js';
import type { JsonObject } from '../src/core/json.js';
import type { ClientEngine, Replica, ReplicaEvents } from './replicas.js';
import { AWARENESS_REMOTE, Protocol, type ProtocolHost, type SocketLike } from './transport.js';

/** Transaction origins of the Yjs document for changes that are not local edits. */
export const FROM_REMOTE: unique symbol = Symbol('concord:remote');
export const FROM_STORE: unique symbol = Symbol('concord:store');

const MSG_SYNC = 0;
const MSG_AWARENESS = 1;
const MSG_QUERY_AWARENESS = 3;

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

  /** Presence uses the document's own client id. */
  get presenceDoc(): Y.Doc {
    return this.ydoc;
  }

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

  changeHash(): string {
    return '';
  }

  protocol(ws: SocketLike, host: ProtocolHost): Protocol {
    return new YjsProtocol(ws, host, this);
  }

  destroy(): void {
    this.ydoc.off('update', this.onUpdate);
    this.ydoc.destroy();
  }
}

/**
 * y-websocket's protocol (y-protocols sync step 1 / step 2 / update, awareness, query
 * awareness). On open the client sends its step 1 (its state vector); the member's step 1 is
 * answered with a step 2 holding exactly what the member lacks.
 */
export class YjsProtocol extends Protocol {
  constructor(
    ws: SocketLike,
    host: ProtocolHost,
    private readonly replica: YjsReplica,
  ) {
    super(ws, host);
  }

  onOpen(): void {
    const e = encoding.createEncoder();
    encoding.writeVarUint(e, MSG_SYNC);
    syncProtocol.writeSyncStep1(e, this.replica.ydoc);
    this.sendBinary(encoding.toUint8Array(e));
    if (this.host.presence.getLocalState() !== null) this.sendPresence([this.host.presence.clientID]);
  }

  onBinary(bytes: Uint8Array): void {
    const d = decoding.createDecoder(bytes);
    const type = decoding.readVarUint(d);
    if (type === MSG_SYNC) {
      const e = encoding.createEncoder();
      encoding.writeVarUint(e, MSG_SYNC);
      // Keys taken before the reply is written: every one of them is in the document, so in the step 2.
      const pending = this.host.pendingKeys();
      const kind = syncProtocol.readSyncMessage(d, e, this.replica.ydoc, FROM_REMOTE);
      if (kind === syncProtocol.messageYjsSyncStep1) this.sendBinary(encoding.toUint8Array(e), pending);
      else if (kind === syncProtocol.messageYjsSyncStep2) this.host.initialSyncDone();
    } else if (type === MSG_AWARENESS) {
      awarenessProtocol.applyAwarenessUpdate(this.host.presence, decoding.readVarUint8Array(d), AWARENESS_REMOTE);
    } else if (type === MSG_QUERY_AWARENESS) {
      this.sendPresence([...this.host.presence.getStates().keys()]);
    }
  }

  onLocal(update: Uint8Array, key: string): void {
    const e = encoding.createEncoder();
    encoding.writeVarUint(e, MSG_SYNC);
    syncProtocol.writeUpdate(e, update);
    this.sendBinary(encoding.toUint8Array(e), [key]);
  }

  sendPresence(clients: number[]): void {
    const e = encoding.createEncoder();
    encoding.writeVarUint(e, MSG_AWARENESS);
    encoding.writeVarUint8Array(e, awarenessProtocol.encodeAwarenessUpdate(this.host.presence, clients));
    this.sendBinary(encoding.toUint8Array(e));
  }
}

/** Yjs for `ConcordClient`: Y.Doc replicas, y-websocket sync, `Y.mergeUpdates` compaction. */
export const yjsEngine: ClientEngine<'yjs'> = {
  name: 'yjs',
  replica: (events) => new YjsReplica(events),
  mergeRows: (rows) => Y.mergeUpdates(rows as Uint8Array[]),
};
