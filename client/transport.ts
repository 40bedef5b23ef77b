/**
 * The WebSocket protocols of `GET /v1/:ns/ws/:key?ext=concord`: the part both engines share
 * (acks, presence text frames, forgetting remote presence on close). Each engine's subclass
 * lives in its engine module (`engine-yjs.ts`, `engine-automerge.ts`), so that this file
 * imports neither engine. Driven by a handle's sync loop; each instance lives for one socket.
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
import * as awarenessProtocol from 'y-protocols/awareness';

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

  /** A presence update in a text frame (Automerge's sockets; Yjs' presence is binary). */
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
