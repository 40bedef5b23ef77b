/**
 * The WebSocket protocols of `GET /v1/:ns/ws/:key?ext=concord`, one class per engine, driven
 * by a handle's sync loop. Each instance lives for one socket.
 *
 * - Yjs: y-websocket's protocol (y-protocols sync step 1 / step 2 / update, awareness,
 *   query awareness). On open the client sends its step 1 (its state vector); the member's
 *   step 1 is answered with a step 2 holding exactly what the member lacks.
 * - Automerge: one Automerge sync message per binary frame; the sync state is kept in the
 *   store between sockets, so a reconnect starts from the heads both sides shared.
 *   Presence travels as text frames `{"type":"awareness","update":"<base64>"}`.
 * - The Concord extension: text frames `{"type":"ack","seq":N,"token":"…"}` acknowledge
 *   every update the client sent in binary frames 1..N of this socket. Each binary frame
 *   that carries updates remembers the outbox keys it covers; an ack clears them.
 */
import * as A from '@automerge/automerge';
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import * as awarenessProtocol from 'y-protocols/awareness';
import * as syncProtocol from 'y-protocols/sync';
import { fromBase64, toBase64 } from './bytes.js';
import { type AutomergeReplica, FROM_REMOTE, sameHeads, type YjsReplica } from './replicas.js';

const MSG_SYNC = 0;
const MSG_AWARENESS = 1;
const MSG_QUERY_AWARENESS = 3;

/** The origin of awareness changes that came from the server. */
export const AWARENESS_REMOTE = 'concord:remote';

/** What a protocol needs from its handle. */
export interface ProtocolHost {
  /** Outbox keys of updates applied to the local document and not acknowledged, with their Automerge change hashes. */
  pendingKeys(): string[];
  pendingHash(key: string): string | undefined;
  /** The server acknowledged these keys; `token` is the newest Concord-Token. */
  acknowledge(keys: string[], token: string | undefined): void;
  /** The first exchange with the member is done (its step 2 arrived, or the heads match). */
  initialSyncDone(): void;
  /** Automerge: persist the sync state. */
  saveSyncState(state: Uint8Array): void;
  readonly presence: awarenessProtocol.Awareness;
}

/** The minimal WebSocket surface used (the DOM's; `ws` provides it too). */
export interface SocketLike {
  readonly readyState: number;
  binaryType: string;
  send(data: string | Uint8Array): void;
  close(code?: number, reason?: string): void;
}

export abstract class Protocol {
  /** Binary frames sent on this socket (the ack numbering). */
  private sent = 0;
  /** Outbox keys covered by each binary frame that carried updates, by frame number. */
  private readonly covers = new Map<number, string[]>();
  /** Bytes of binary frames sent (figures and tests). */
  bytesSent = 0;

  constructor(
    protected readonly ws: SocketLike,
    protected readonly host: ProtocolHost,
  ) {}

  protected get open(): boolean {
    return this.ws.readyState === 1;
  }

  protected sendBinary(bytes: Uint8Array, covers?: string[]): void {
    if (!this.open) return;
    const n = ++this.sent;
    if (covers && covers.length > 0) this.covers.set(n, covers);
    this.bytesSent += bytes.length;
    this.ws.send(bytes);
  }

  protected sendText(value: unknown): void {
    if (this.open) this.ws.send(JSON.stringify(value));
  }

  /** A text frame: the Concord extension's messages. */
  onText(text: string): void {
    let msg: { type?: unknown; seq?: unknown; token?: unknown; update?: unknown };
    try {
      msg = JSON.parse(text) as typeof msg;
    } catch {
      return;
    }
    if (msg.type === 'ack' && typeof msg.seq === 'number') {
      const keys: string[] = [];
      for (const [n, k] of this.covers) {
        if (n <= msg.seq) {
          keys.push(...k);
          this.covers.delete(n);
        }
      }
      this.host.acknowledge(keys, typeof msg.token === 'string' ? msg.token : undefined);
    } else if (msg.type === 'awareness' && typeof msg.update === 'string') {
      this.onAwarenessText(msg.update);
    }
  }

  protected onAwarenessText(_update: string): void {}

  abstract onOpen(): void;
  abstract onBinary(bytes: Uint8Array): void;
  /** A local change was made (Yjs: its update and outbox key). */
  abstract onLocal(update: Uint8Array, key: string): void;
  /** The local presence changed for these client ids. */
  abstract sendPresence(clients: number[]): void;

  /** The socket closed: forget the presence of everyone else (as y-websocket does). */
  onClose(): void {
    const others = [...this.host.presence.getStates().keys()].filter((id) => id !== this.host.presence.clientID);
    awarenessProtocol.removeAwarenessStates(this.host.presence, others, AWARENESS_REMOTE);
  }
}

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
    const [state, message] = A.generateSyncMessage(this.replica.doc, this.state);
    this.state = state;
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
