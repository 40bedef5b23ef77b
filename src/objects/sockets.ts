/**
 * Real-time sync over WebSockets held by a member, with the Durable Object WebSocket
 * Hibernation API: the runtime keeps the sockets while the object sleeps, and each socket's
 * attachment keeps what this module needs of it. Yjs documents speak the y-websocket
 * protocol; Automerge documents speak Automerge's sync protocol, one sync message per binary
 * frame, with the peer's sync state kept in the attachment.
 *
 * @remarks The object does the writing ({@link SocketHost}); this module turns frames into
 * writes and reads, and changes into frames:
 * - a client's update is an `eventual` write: committed (durable) before anything is sent
 *   on, then pushed to the other regions like any write;
 * - every committed change of a document, whether written here or applied from a peer, goes
 *   to this member's sockets of that document as an update frame ({@link changed});
 * - awareness is relayed, never stored: to this member's sockets of the document, and to the
 *   other regions' members, which relay it to theirs. Each socket's attachment remembers the
 *   clients it speaks for, so that the object can announce their departure after waking.
 *
 * Nothing here runs on a timer: an idle document costs nothing, and its object can hibernate.
 *
 * Concord's extension (`?ext=concord`, spoken by the browser SDK, never by stock clients),
 * in text frames of JSON beside the protocol's binary ones:
 * - `{"type":"ack","seq":N,"token":T}` to the client once the update in its N-th binary frame
 *   (counted from 1 on this socket) is durable. Writes happen in frame order, and a client's
 *   updates build on its earlier ones, so an ack covers every update the client sent before.
 *   `T` is a `Concord-Token` covering the commit, for the client's later HTTP requests.
 * - `{"type":"awareness","update":B}` both ways on Automerge documents, `B` the base64 of a
 *   y-protocols awareness update: presence under the same rules as Yjs documents' binary one.
 */
import { ConcordError, DepthLimitError, EngineFaultError, InvalidUpdateError, InvalidVersionError, MissingDependenciesError, UnavailableError, WireDecodeError } from '../core/errors.js';
import { type DocKey, docKey } from '../core/ids.js';
import { type AwarenessEntry, awarenessFrame, encodeAwareness, readAwareness, readFrame, step1Frame, step2Frame, updateFrame } from '../core/realtime/y-protocol.js';
import { AwarenessTable } from '../core/realtime/awareness-table.js';
import { closeReason } from '../core/realtime/close-reason.js';
import { fnv1a64 } from '../core/routing.js';
import { bytesEqual } from '../core/wire/bytes.js';
import type { EngineName } from '../core/engines/engine.js';
import { type AutomergeEngine, decodeSyncState, encodeSyncState, type SyncState, syncChanges } from '../core/engines/automerge.js';

/** Close codes (RFC 6455 §7.4.1) and what this service means by each. */
export const CLOSE = {
  normal: 1000,
  /** A frame that is not the y-websocket protocol. */
  protocol: 1002,
  /** A text frame, or a document this route cannot serve. */
  unsupported: 1003,
  /** An update that does not decode or is nested too deep. */
  invalidData: 1007,
  /** A read-only token tried to write. */
  policy: 1008,
  tooBig: 1009,
  /** The member faulted and is rebuilding: reconnect. */
  internal: 1011,
  /** The member is unavailable for now: reconnect later. */
  tryAgain: 1013,
} as const;

/** The parts of the upgrade request the edge forwards (header `Concord-Socket`). */
export interface SocketRequest {
  readonly ns: string;
  readonly key: string;
  /** The caller's token allows writes; a read-only socket receives but neither writes nor sets presence. */
  readonly write: boolean;
  /** The engine asked for (`?engine=`), which decides only for a document that does not exist yet. */
  readonly engine?: EngineName;
  /** The client speaks Concord's extension (`?ext=concord`): acknowledgements, and Automerge presence. */
  readonly ext?: boolean;
}

/**
 * A socket's attachment: what survives hibernation. The runtime allows 16 KiB; names take at
 * most 2 KiB (512 characters of key, 64 of namespace), the two budgets below the rest.
 */
interface SocketInfo extends SocketRequest {
  readonly engine: EngineName;
  /** Yjs: awareness clients this socket speaks for, with their last clock; their state while it fits. */
  clients: AwarenessEntry[];
  /** Automerge: the peer's sync state (empty: start over, which costs a round trip, not data). */
  sync: Uint8Array;
  /** With the extension: binary frames received so far, the numbering of acknowledgements. */
  frames?: number;
}

/** Sync states above this are not kept across hibernation (a resumed sync without them costs a round trip). */
const MAX_SYNC_STATE_BYTES = 6 * 1024;

/** Room left in the attachment for awareness states; a larger state is re-sent by its client within 15 s. */
const ATTACHMENT_BYTES = 6 * 1024;
/** Awareness clients one socket may speak for (a provider speaks for one). */
const MAX_CLIENTS_PER_SOCKET = 8;
/** Awareness states not renewed for this long are forgotten (clients renew theirs every 15 s, as y-protocols expects). */
const PRESENCE_MS = 30_000;
/** A Yjs v1 update that changes nothing: no structs, no deletions. */
const EMPTY_UPDATE = new Uint8Array([0, 0]);

/** What the object provides: reads, the write path, and the way to its peers. */
export interface SocketHost {
  /** The member's state vector of `doc` (of an empty document when there is none). */
  stateVector(doc: DocKey): Uint8Array;
  /** What a holder of `stateVector` lacks of `doc`. */
  diff(doc: DocKey, stateVector: Uint8Array): Uint8Array;
  /** Writes a client's update at `eventual` and pushes it on; throws the core's typed errors. */
  write(req: SocketRequest, engine: EngineName, update: Uint8Array): void;
  /** Runs `f` on the Automerge engine of `doc` (an empty one when there is no document). */
  automerge<T>(doc: DocKey, f: (engine: AutomergeEngine) => T): T;
  /** Relays an awareness frame of `doc` to the other regions' members. */
  forwardPresence(doc: DocKey, frame: Uint8Array): void;
  /** A `Concord-Token` covering everything this member has committed so far. */
  ackToken(): Promise<string>;
  /** After an engine fault: the member rebuilds from storage. */
  recover(err: EngineFaultError): Promise<void>;
}

export class DocSockets {
  /** What this member knows of each document's presence: its own clients' and other regions'. */
  private readonly awareness = new Map<DocKey, AwarenessTable>();
  /**
   * Automerge sockets' whole sync states. The attachment keeps only the part Automerge can
   * encode (the shared heads); the rest (what the peer asked for, what was sent to it) lives
   * here until the object hibernates.
   */
  private readonly syncStates = new WeakMap<WebSocket, SyncState>();
  /** Attachments as last written, so that a broadcast does not deserialize every socket's on every change. */
  private readonly infos = new WeakMap<WebSocket, SocketInfo>();
  /** The socket whose message is being written: it has the change already. */
  private origin: WebSocket | undefined;

  constructor(
    private readonly ctx: DurableObjectState,
    private readonly host: SocketHost,
    private readonly limits: { readonly maxMessageBytes: number },
  ) {}

  /**
   * Accepts `server` for `req` on a document of `engine` and greets it: Yjs with the member's
   * state vector and who is present, Automerge with its first sync message.
   */
  accept(server: WebSocket, req: SocketRequest, engine: EngineName): void {
    const doc = docKey(req.ns, req.key);
    this.ctx.acceptWebSocket(server, [tagOf(doc)]);
    const info: SocketInfo = { ns: req.ns, key: req.key, write: req.write, engine, clients: [], sync: new Uint8Array(0), ...(req.ext && { ext: true, frames: 0 }) };
    if (engine === 'automerge') {
      this.sendSync(server, info, doc);
    } else {
      this.keep(server, info);
      server.send(step1Frame(this.host.stateVector(doc)));
    }
    const present = this.presence(doc);
    if (present.length > 0) sendPresence(server, info, present);
  }

  /**
   * One message from a socket. A failure that is not the message's fault closes that socket
   * with 1011 (the client reconnects and syncs again); an engine fault also rebuilds the member.
   */
  async message(ws: WebSocket, data: string | ArrayBuffer): Promise<void> {
    try {
      await this.handle(ws, data);
    } catch (e) {
      close(ws, CLOSE.internal, e instanceof EngineFaultError ? 'the member is rebuilding its document engine: reconnect' : 'internal error: reconnect');
      if (e instanceof EngineFaultError) await this.host.recover(e);
      else console.error('DocSockets: message failed', e);
    }
  }

  private async handle(ws: WebSocket, data: string | ArrayBuffer): Promise<void> {
    const size = typeof data === 'string' ? data.length : data.byteLength;
    if (size > this.limits.maxMessageBytes) {
      return close(ws, CLOSE.tooBig, `message of ${size} bytes exceeds MAX_WS_MESSAGE_BYTES (${this.limits.maxMessageBytes})`);
    }
    const info = this.infoOf(ws)!;
    const doc = docKey(info.ns, info.key);
    if (typeof data === 'string') {
      if (!info.ext) return close(ws, CLOSE.unsupported, 'text frames are not part of the y-websocket protocol');
      return this.receiveText(ws, info, doc, data);
    }
    let seq = 0;
    if (info.frames !== undefined) {
      seq = info.frames += 1;
      this.keep(ws, info);
    }
    if (info.engine === 'automerge') return this.receiveSync(ws, info, doc, new Uint8Array(data), seq);
    let frame;
    try {
      frame = readFrame(new Uint8Array(data));
    } catch (e) {
      if (e instanceof WireDecodeError) return close(ws, CLOSE.protocol, `malformed frame: ${e.message}`);
      throw e;
    }
    switch (frame.kind) {
      case 'step1':
        return this.answerStep1(ws, doc, frame.stateVector);
      case 'step2':
      case 'update':
        return this.receiveUpdate(ws, info, frame.update, seq);
      case 'awareness':
        return this.receiveAwareness(ws, info, doc, frame.entries);
      case 'query-awareness':
        ws.send(awarenessFrame(this.presence(doc)));
        return;
      case 'auth':
        return;
    }
  }

  /** Answers every close (a client's close without a code too), and announces that its clients left. */
  closed(ws: WebSocket, code: number): void {
    this.syncStates.delete(ws);
    close(ws, answerCode(code), 'closing');
    const info = this.infoOf(ws);
    if (!info || info.clients.length === 0) return;
    const doc = docKey(info.ns, info.key);
    const table = this.tableOf(doc);
    const gone = info.clients.map((c) => ({ clientID: c.clientID, clock: (table.get(c.clientID)?.clock ?? c.clock) + 1, state: 'null' }));
    const { accepted } = table.apply(gone, Date.now());
    if (accepted.length === 0) return;
    this.relayPresence(doc, accepted, ws);
    this.host.forwardPresence(doc, awarenessFrame(accepted));
  }

  /** Awareness from another region's member: relayed to this member's sockets of `doc`. */
  presenceFromPeer(doc: DocKey, frame: Uint8Array): void {
    let entries: readonly AwarenessEntry[];
    try {
      const f = readFrame(frame);
      if (f.kind !== 'awareness') return;
      entries = f.entries;
    } catch {
      return;
    }
    const { accepted } = this.tableOf(doc).apply(entries, Date.now());
    if (accepted.length > 0) this.relayPresence(doc, accepted);
  }

  /**
   * After a commit: the entries' updates go to the sockets of their documents (except the
   * socket they came from); a document changed without an entry (a state transfer) sends
   * what each of its sockets may lack, which is its whole state.
   */
  changed(entries: readonly { readonly doc: DocKey; readonly engine: string; readonly data: Uint8Array }[], docs: readonly DocKey[]): void {
    const withEntry = new Set<DocKey>();
    for (const e of entries) {
      if (e.engine !== 'yjs' || e.data.length === 0) continue;
      withEntry.add(e.doc);
      this.broadcast(e.doc, updateFrame(e.data), this.origin);
    }
    for (const doc of docs) {
      const sockets = this.socketsOf(doc);
      if (sockets.length === 0) continue;
      // Automerge peers are told by the sync protocol, which works out what each one lacks.
      let yjs = false;
      for (const ws of sockets) {
        const info = this.infoOf(ws)!;
        if (info.engine === 'automerge' && ws !== this.origin) this.sendSync(ws, info, doc);
        yjs ||= info.engine === 'yjs';
      }
      // Changed without an update to relay (a state transfer): the whole state, rare enough.
      if (yjs && !withEntry.has(doc)) this.broadcast(doc, updateFrame(this.host.diff(doc, new Uint8Array([0]))));
    }
  }

  /**
   * An Automerge sync message: its changes are written like any update (a read-only socket
   * may send none), then the sync state learns the rest and the answer goes back. Changes
   * whose dependencies the member lacks are left to the protocol, which asks for them.
   */
  private async receiveSync(ws: WebSocket, info: SocketInfo, doc: DocKey, message: Uint8Array, seq: number): Promise<void> {
    let changes: Uint8Array | null;
    try {
      changes = syncChanges(message);
    } catch (e) {
      if (e instanceof InvalidUpdateError) return close(ws, CLOSE.protocol, `malformed frame: ${e.message}`);
      throw e;
    }
    if (changes) {
      if (!info.write) return close(ws, CLOSE.policy, 'this token is read-only: changes are refused');
      if (!(await this.write(ws, info, changes, seq))) return;
    }
    try {
      this.syncStates.set(ws, this.host.automerge(doc, (e) => e.syncReceive(this.syncState(ws, info), message)));
    } catch (e) {
      if (e instanceof InvalidUpdateError) return close(ws, CLOSE.protocol, `malformed frame: ${e.message}`);
      throw e;
    }
    this.sendSync(ws, info, doc);
  }

  /** A socket's sync state: in memory while this instance lives, else what its attachment kept. */
  private syncState(ws: WebSocket, info: SocketInfo): SyncState {
    return this.syncStates.get(ws) ?? decodeSyncState(info.sync);
  }

  /** The next sync message for an Automerge socket, if the protocol has one; the state is kept either way. */
  private sendSync(ws: WebSocket, info: SocketInfo, doc: DocKey): void {
    const { state, message } = this.host.automerge(doc, (e) => e.syncGenerate(this.syncState(ws, info)));
    this.syncStates.set(ws, state);
    const kept = encodeSyncState(state);
    info.sync = kept.length <= MAX_SYNC_STATE_BYTES ? kept : new Uint8Array(0);
    this.keep(ws, info);
    if (message) {
      try {
        ws.send(message);
      } catch {
        // Closing: its close handler cleans up.
      }
    }
  }

  private answerStep1(ws: WebSocket, doc: DocKey, stateVector: Uint8Array): void {
    try {
      ws.send(step2Frame(this.host.diff(doc, stateVector)));
    } catch (e) {
      if (e instanceof InvalidVersionError) close(ws, CLOSE.invalidData, `sync step 1: ${e.message}`);
      else throw e;
    }
  }

  private async receiveUpdate(ws: WebSocket, info: SocketInfo, update: Uint8Array, seq: number): Promise<void> {
    if (bytesEqual(update, EMPTY_UPDATE)) {
      // Nothing to store; a client resending after a lost ack still needs its answer.
      if (info.write) this.ack(ws, info, seq);
      return;
    }
    if (!info.write) return close(ws, CLOSE.policy, 'this token is read-only: updates are refused');
    await this.write(ws, info, update, seq);
  }

  /**
   * Writes a socket's update, and acknowledges it to a client of the extension; false when the
   * socket was closed for it. An update building on what the member lacks is not an error:
   * Yjs asks for it with a step 1, Automerge's sync protocol on its own; it is not acknowledged.
   */
  private async write(ws: WebSocket, info: SocketInfo, update: Uint8Array, seq: number): Promise<boolean> {
    this.origin = ws;
    try {
      this.host.write(info, info.engine, update);
      this.ack(ws, info, seq);
      return true;
    } catch (e) {
      if (e instanceof MissingDependenciesError) {
        // The client is ahead of this member: step 1 makes it send everything the member lacks.
        if (info.engine === 'yjs') ws.send(step1Frame(this.host.stateVector(docKey(info.ns, info.key))));
        return true;
      }
      if (e instanceof InvalidUpdateError || e instanceof DepthLimitError) {
        close(ws, CLOSE.invalidData, e.message);
      } else if (e instanceof EngineFaultError) {
        close(ws, CLOSE.internal, 'the member is rebuilding its document engine: reconnect');
        await this.host.recover(e);
      } else if (e instanceof UnavailableError) {
        close(ws, CLOSE.tryAgain, e.message);
      } else if (e instanceof ConcordError) {
        close(ws, CLOSE.unsupported, e.message);
      } else {
        throw e;
      }
      return false;
    } finally {
      this.origin = undefined;
    }
  }

  /**
   * Awareness from a client: only what changes the table is relayed (stock providers echo
   * every state they receive), to every socket of the document, the sender's too (as
   * y-websocket's server does: a lone client hears its own renewals and stays connected), and
   * to the other regions. A socket speaks for the clients it introduced.
   */
  private receiveAwareness(ws: WebSocket, info: SocketInfo, doc: DocKey, entries: readonly AwarenessEntry[]): void {
    // A read-only client's presence stays its own; the echo keeps its connection alive.
    if (!info.write) return sendPresence(ws, info, entries);
    const { accepted, added } = this.tableOf(doc).apply(entries, Date.now());
    if (accepted.length === 0) return;
    const own = new Map(info.clients.map((c) => [c.clientID, c]));
    for (const id of added) if (own.size < MAX_CLIENTS_PER_SOCKET) own.set(id, { clientID: id, clock: 0, state: '' });
    for (const e of accepted) {
      if (!own.has(e.clientID)) continue;
      if (e.state === 'null') own.delete(e.clientID);
      else own.set(e.clientID, e);
    }
    info.clients = fitAttachment([...own.values()]);
    this.keep(ws, info);
    this.relayPresence(doc, accepted);
    this.host.forwardPresence(doc, awarenessFrame(accepted));
  }

  /**
   * With the extension: tells the client its `seq`-th frame is durable. The token is taken now,
   * before anything else commits; the runtime sends the frame only once the commit is durable
   * (the output gate). An update the member already had is acknowledged like a new one.
   */
  private ack(ws: WebSocket, info: SocketInfo, seq: number): void {
    if (!info.ext) return;
    void this.host.ackToken().then(
      (token) => send(ws, JSON.stringify({ type: 'ack', seq, token })),
      (e: unknown) => {
        // Stored but not acknowledged: the client resends on its next connection, and the write is idempotent.
        console.error('DocSockets: no acknowledgement', e);
        close(ws, CLOSE.internal, 'the update is stored but cannot be acknowledged: reconnect');
      },
    );
  }

  /** A text frame of the extension: presence, the only thing a client may send as text. */
  private receiveText(ws: WebSocket, info: SocketInfo, doc: DocKey, data: string): void {
    let entries: AwarenessEntry[];
    try {
      const m = JSON.parse(data) as { type?: unknown; update?: unknown };
      const bytes = m.type === 'awareness' && typeof m.update === 'string' ? fromBase64(m.update) : undefined;
      if (!bytes) throw new WireDecodeError('a text frame must be {"type":"awareness","update":<base64>}');
      entries = readAwareness(bytes);
    } catch (e) {
      if (e instanceof SyntaxError || e instanceof WireDecodeError) return close(ws, CLOSE.protocol, `malformed frame: ${e.message}`);
      throw e;
    }
    this.receiveAwareness(ws, info, doc, entries);
  }

  /** Presence to every socket of `doc` but `except`, in the form each one speaks. */
  private relayPresence(doc: DocKey, entries: readonly AwarenessEntry[], except?: WebSocket): void {
    for (const ws of this.socketsOf(doc)) if (ws !== except) sendPresence(ws, this.infoOf(ws)!, entries);
  }

  /** Every awareness state known for `doc`: this member's clients and other regions'. */
  private presence(doc: DocKey): AwarenessEntry[] {
    return this.tableOf(doc).present(Date.now(), PRESENCE_MS);
  }

  /** The awareness table of `doc`; after hibernation, rebuilt from what its sockets' attachments kept. */
  private tableOf(doc: DocKey): AwarenessTable {
    let table = this.awareness.get(doc);
    if (!table) {
      this.awareness.set(doc, (table = new AwarenessTable()));
      const kept = this.socketsOf(doc).flatMap((ws) => this.infoOf(ws)!.clients.filter((c) => c.state !== ''));
      table.apply(kept, Date.now());
    }
    return table;
  }

  /** A socket's attachment: from memory, else (after hibernation) as the runtime kept it. */
  private infoOf(ws: WebSocket): SocketInfo | null {
    let info = this.infos.get(ws);
    if (!info) {
      info = (ws.deserializeAttachment() as SocketInfo | null) ?? undefined;
      if (info) this.infos.set(ws, info);
    }
    return info ?? null;
  }

  private keep(ws: WebSocket, info: SocketInfo): void {
    ws.serializeAttachment(info);
    this.infos.set(ws, info);
  }

  private socketsOf(doc: DocKey): WebSocket[] {
    return this.ctx.getWebSockets(tagOf(doc)).filter((ws) => {
      const info = this.infoOf(ws);
      return info !== null && docKey(info.ns, info.key) === doc;
    });
  }

  /** A Yjs update frame to every Yjs socket of `doc` but `except`. */
  private broadcast(doc: DocKey, frame: Uint8Array, except?: WebSocket): void {
    for (const ws of this.socketsOf(doc)) if (ws !== except && this.infoOf(ws)!.engine === 'yjs') send(ws, frame);
  }
}

/** Presence as `ws` speaks it: y-websocket's awareness frame, or the extension's text frame on Automerge; nothing for an Automerge client without it. */
function sendPresence(ws: WebSocket, info: SocketInfo, entries: readonly AwarenessEntry[]): void {
  if (info.engine === 'yjs') send(ws, awarenessFrame(entries));
  else if (info.ext) send(ws, JSON.stringify({ type: 'awareness', update: toBase64(encodeAwareness(entries)) }));
}

/** Standard base64 (what a browser's `btoa` writes), in slices so that a large state does not overflow the call stack. */
function toBase64(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

function fromBase64(s: string): Uint8Array | undefined {
  let binary: string;
  try {
    binary = atob(s);
  } catch {
    return undefined;
  }
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

function send(ws: WebSocket, data: string | Uint8Array): void {
  try {
    ws.send(data);
  } catch {
    // Closing or closed: its close handler cleans up.
  }
}

/** Sockets are tagged by a hash of their document (tags are limited to 256 characters, keys are not). */
const tagOf = (doc: DocKey): string => `d:${fnv1a64(new TextEncoder().encode(doc)).toString(16)}`;

/**
 * The code that answers a client's close: its own when one may be sent back, else 1000
 * (1005 means the client sent none, and 1004, 1006 and 1015 are never sent).
 */
function answerCode(code: number): number {
  const sendable = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
  return sendable ? code : CLOSE.normal;
}

function close(ws: WebSocket, code: number, reason: string): void {
  try {
    ws.close(code, closeReason(reason));
  } catch {
    // Already closed.
  }
}

/** Keeps every client's id and clock; states only while the whole fits the attachment. */
function fitAttachment(clients: AwarenessEntry[]): AwarenessEntry[] {
  let bytes = 0;
  return clients.map((c) => {
    bytes += c.state.length + 32;
    return bytes <= ATTACHMENT_BYTES ? c : { ...c, state: '' };
  });
}

