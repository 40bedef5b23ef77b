/**
 * A document handle: the local replica (Automerge or Yjs), its rows in the shared store, its
 * outbox, its presence, and the loop that syncs it with the server (WebSocket, else HTTP).
 * Engine-specific code is reached through the handle's `ClientEngine` and its `Replica`:
 * this file imports neither engine (types only).
 */
import { Awareness } from 'y-protocols/awareness';
import type * as Y from 'yjs';
import type { JsonObject } from '../src/core/json.js';
import { backoffDelay } from './backoff.js';
import { concat, randomId, toBase64Url } from './bytes.js';
import type { ClientCore, Consistency } from './core.js';
import { AuthError, ConcordHttpError, EngineMismatchError, OfflineError } from './errors.js';
import type { AmDoc, AutomergeReplica } from './engine-automerge.js';
import type { YjsReplica } from './engine-yjs.js';
import type { ClientEngine, Origin, Replica } from './replicas.js';
import type { EngineName, Store } from './store.js';
import type { Protocol, ProtocolHost, SocketLike } from './transport.js';

export type SyncState = 'offline' | 'connecting' | 'syncing' | 'synced';

export interface ChangeEvent {
  /** `local`: this handle's edit; `remote`: from the server; `store`: loaded from IndexedDB (a reload, another tab). */
  readonly origin: Origin;
}

/** Media types of `…/crdt`. */
const CRDT_TYPES: Record<EngineName, string> = { yjs: 'application/vnd.concord.yjs', automerge: 'application/vnd.concord.automerge' };

/** A small promise-based timer that an event can cut short. */
class Wake {
  private fire: (() => void) | undefined;
  wait(ms: number, setTimer: (f: () => void, ms: number) => unknown, clearTimer: (t: unknown) => void): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimer(() => {
        this.fire = undefined;
        resolve();
      }, ms);
      this.fire = () => {
        clearTimer(t);
        this.fire = undefined;
        resolve();
      };
    });
  }
  now(): void {
    this.fire?.();
  }
}

export class DocHandle<E extends EngineName = EngineName> implements ProtocolHost {
  readonly id: string;
  readonly engine: E;
  readonly presence: Awareness;
  /** Resolves once the document is loaded from IndexedDB (edits made before are kept too). */
  readonly ready: Promise<void>;
  /** Why this handle stopped syncing, if it did for a reason of its own (engine mismatch). */
  error: Error | undefined;

  private readonly replica: Replica;
  private readonly listeners = new Set<(e: ChangeEvent) => void>();
  /** Outbox keys applied to the local document and not acknowledged → Automerge change hash ('' for Yjs). */
  private readonly pending = new Map<string, string>();
  /** Keys acknowledged here, so that a reload racing the delete does not bring them back. */
  private readonly acked = new Set<string>();
  /** Log ids this handle wrote (their content is in the document already). */
  private readonly own = new Set<number>();
  private loadedUpTo = 0;
  private loading: Promise<void> = Promise.resolve();
  private appendsSinceCompaction = 0;
  private token: string | undefined;
  private syncState: SyncState = 'offline';
  private closed = false;
  private readonly wake = new Wake();
  private protocol: Protocol | undefined;
  private socket: (SocketLike & { onopen: unknown; onmessage: unknown; onclose: unknown; onerror: unknown }) | undefined;
  private initialSync = false;
  private useHttp = false;
  private amSyncState: Uint8Array | undefined;
  /** Bytes sent over WebSockets by this handle, over all sockets (figures and tests). */
  bytesSent = 0;

  constructor(
    private readonly core: ClientCore,
    readonly ns: string,
    readonly key: string,
    private readonly impl: ClientEngine<E>,
    private readonly store: Promise<Store>,
    id: string,
  ) {
    this.id = id;
    this.engine = impl.name;
    const events = { onChange: (data: Uint8Array, origin: Origin) => this.onReplicaChange(data, origin) };
    this.replica = impl.replica(events);
    // Presence needs a client id: the Y.Doc's for Yjs, a stand-in's for Automerge (see engine-automerge.ts).
    this.presence = new Awareness(this.replica.presenceDoc);
    this.presence.on('update', this.onPresence);
    this.ready = this.load();
    this.ready.then(
      () => void this.run(),
      (e: unknown) => {
        this.error = e as Error;
        this.core.changed();
      },
    );
  }

  // ---- the document ----------------------------------------------------------------------

  /** The Y.Doc of a Yjs handle: edit it with Yjs' own API; every transaction is saved and synced. */
  get ydoc(): E extends 'yjs' ? Y.Doc : never {
    if (this.replica.engine !== 'yjs') throw new TypeError('ydoc: this is an Automerge document; use change()');
    return (this.replica as YjsReplica).ydoc as E extends 'yjs' ? Y.Doc : never;
  }

  /** The Automerge document of an Automerge handle (read-only; change it with change()). */
  get doc(): E extends 'automerge' ? AmDoc : never {
    if (this.replica.engine !== 'automerge') throw new TypeError('doc: this is a Yjs document; use ydoc');
    return (this.replica as AutomergeReplica).doc as E extends 'automerge' ? AmDoc : never;
  }

  /** One Automerge change, applied at once, saved, and synced when online. */
  change(fn: (doc: AmDoc) => void): void {
    if (this.replica.engine !== 'automerge') throw new TypeError('change(): this is a Yjs document; edit handle.ydoc');
    (this.replica as AutomergeReplica).change(fn);
  }

  /** The local JSON view (rendered as the server renders it). */
  value(): JsonObject {
    return this.replica.value();
  }

  /** Calls `listener` after every change, local or remote. Returns the unsubscribe function. */
  subscribe(listener: (e: ChangeEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Updates the server has not acknowledged yet. */
  get pendingCount(): number {
    return this.pending.size;
  }

  get state(): SyncState {
    return this.syncState;
  }

  /** The newest Concord-Token held for this document. */
  get causalToken(): string | undefined {
    return this.token;
  }

  /**
   * Reads the document's JSON from the server over HTTP, with `Concord-Token`. `strong` and
   * `quorum` need the network and reject with {@link OfflineError} without it; `eventual` and
   * `session` (the default) answer the local view when the server cannot be reached, which
   * holds every write of this client. Resolves null when the server has no such document.
   */
  async read(opts: { consistency?: Consistency } = {}): Promise<JsonObject | null> {
    const consistency = opts.consistency ?? 'session';
    const needsServer = consistency === 'strong' || consistency === 'quorum';
    await this.ready;
    if (!this.core.online) {
      if (needsServer) throw new OfflineError(`offline: a ${consistency} read needs the network`);
      return this.value();
    }
    let res: Response;
    try {
      res = await this.core.http(`/docs/${encodeURIComponent(this.key)}`, this.ns, { headers: this.tokenHeaders(consistency) });
    } catch (e) {
      if (e instanceof AuthError) throw e;
      if (needsServer) throw new OfflineError(`offline: a ${consistency} read needs the network (${(e as Error).message})`);
      return this.value();
    }
    this.keepToken(res);
    if (res.status === 404) return null;
    if (!res.ok) throw await problem(res);
    return (await res.json()) as JsonObject;
  }

  /** Stops syncing, leaves presence, and releases the document. Saved edits stay in IndexedDB. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.presence.setLocalState(null);
    this.presence.off('update', this.onPresence);
    this.presence.destroy();
    this.socket?.close(1000, 'closed');
    this.wake.now();
    this.replica.destroy();
    this.core.forget(this);
  }

  // ---- the store -------------------------------------------------------------------------

  private async load(): Promise<void> {
    const store = await this.store;
    const meta = await store.meta(this.id);
    if (meta.engine && meta.engine !== this.engine) {
      throw new EngineMismatchError(`${this.ns}/${this.key} is stored as a ${meta.engine} document, not ${this.engine}`);
    }
    if (!meta.engine) await store.updateMeta(this.id, { engine: this.engine });
    this.token = meta.token;
    this.amSyncState = meta.syncState;
    await this.reload();
  }

  /** Applies the rows another tab (or an earlier session) wrote, and takes the outbox as the store has it. */
  reload(): Promise<void> {
    this.loading = this.loading.then(async () => {
      if (this.closed) return;
      const store = await this.store;
      const { rows, outbox } = await store.load(this.id, this.loadedUpTo);
      const fresh = rows.filter((r) => !this.own.has(r.id!));
      for (const r of rows) this.loadedUpTo = Math.max(this.loadedUpTo, r.id!);
      if (this.closed) return;
      this.replica.applyStored(fresh.map((r) => r.data));
      const inStore = new Set(outbox.map((r) => r.key));
      for (const row of outbox) {
        // The hash stored with the row: decoding thousands of Automerge changes on every open costs more than the rest of it.
        if (!this.pending.has(row.key) && !this.acked.has(row.key)) this.pending.set(row.key, row.hash ?? this.replica.changeHash(row.data));
      }
      // Keys another tab saw acknowledged (gone from the store), unless this handle wrote them and their row is still on its way.
      for (const k of this.pending.keys()) if (!inStore.has(k) && !this.inflight.has(k)) this.pending.delete(k);
      this.core.changed();
    });
    return this.loading;
  }

  private readonly inflight = new Set<string>();

  private onReplicaChange(data: Uint8Array, origin: Origin): void {
    if (origin !== 'store') {
      const outboxKey = origin === 'local' ? randomId() : undefined;
      const hash = outboxKey === undefined ? undefined : this.replica.changeHash(data);
      if (outboxKey !== undefined) {
        this.pending.set(outboxKey, hash!);
        this.inflight.add(outboxKey);
      }
      this.persist(async (store) => {
        const id = await store.append(this.id, data, outboxKey, hash);
        this.own.add(id);
        if (outboxKey !== undefined) this.inflight.delete(outboxKey);
        this.core.broadcast(this.id);
        if (++this.appendsSinceCompaction >= this.core.compactEvery) await this.compact();
      });
      if (outboxKey !== undefined) {
        if (this.protocol) this.protocol.onLocal(data, outboxKey);
        else this.wake.now();
      }
    }
    for (const l of this.listeners) {
      try {
        l({ origin });
      } catch (e) {
        this.core.report(e);
      }
    }
    this.core.changed();
  }

  /** Folds this document's rows into one (see Store.compact). Returns the ids merged. */
  async compact(): Promise<number[]> {
    this.appendsSinceCompaction = 0;
    const store = await this.store;
    const impl = this.impl;
    const done = await store.compact(this.id, (rows) => impl.mergeRows(rows));
    if (!done) return [];
    this.core.broadcast(this.id);
    return done.merged;
  }

  // ---- ProtocolHost ----------------------------------------------------------------------

  pendingKeys(): string[] {
    return [...this.pending.keys()];
  }

  pendingHash(key: string): string | undefined {
    return this.pending.get(key);
  }

  acknowledge(keys: string[], token: string | undefined): void {
    if (token) this.setToken(token);
    const gone = keys.filter((k) => this.pending.delete(k));
    for (const k of gone) this.acked.add(k);
    if (gone.length > 0) {
      this.persist(async (s) => {
        await s.acknowledge(gone);
        this.core.broadcast(this.id);
      });
    }
    this.updateState();
  }

  initialSyncDone(): void {
    this.initialSync = true;
    this.core.resetBackoff(this);
    this.updateState();
  }

  saveSyncState(state: Uint8Array): void {
    this.amSyncState = state;
    this.persist((s) => s.updateMeta(this.id, { syncState: state }));
  }

  private setToken(token: string): void {
    this.token = token;
    this.persist((s) => s.updateMeta(this.id, { token }));
  }

  /** Writes to the store that have not finished: the client waits for them before it closes the database. */
  private readonly writes = new Set<Promise<void>>();

  private persist(f: (store: Store) => Promise<unknown>): void {
    const p: Promise<void> = this.store
      .then(f)
      .then(
        () => undefined,
        (e: unknown) => this.core.report(e),
      )
      .finally(() => this.writes.delete(p));
    this.writes.add(p);
  }

  /** Resolves once every write this handle started has finished (those they start included). */
  async settled(): Promise<void> {
    while (this.writes.size > 0) await Promise.all([...this.writes]);
  }

  private keepToken(res: Response): void {
    const t = res.headers.get('Concord-Token');
    if (t) this.setToken(t);
  }

  private tokenHeaders(consistency?: Consistency): Record<string, string> {
    const h: Record<string, string> = {};
    if (this.token) h['Concord-Token'] = this.token;
    const level = consistency ?? (this.token ? 'session' : undefined);
    if (level) h['Consistency'] = level;
    return h;
  }

  private readonly onPresence = ({ added, updated, removed }: { added: number[]; updated: number[]; removed: number[] }, origin: unknown): void => {
    if (origin === 'concord:remote') return;
    this.protocol?.sendPresence([...added, ...updated, ...removed]);
  };

  // ---- sync ------------------------------------------------------------------------------

  private setState(s: SyncState): void {
    this.syncState = s;
    this.core.changed();
  }

  private updateState(): void {
    if (this.syncState === 'offline' || this.syncState === 'connecting') return this.core.changed();
    this.setState(this.initialSync && this.pending.size === 0 ? 'synced' : 'syncing');
  }

  /** Cuts a wait of the sync loop short (the network came back, a token was set). */
  poke(): void {
    this.wake.now();
    if (!this.core.online || this.core.error) this.socket?.close(1000, 'offline');
  }

  private sleep(ms: number): Promise<void> {
    return this.wake.wait(ms, this.core.setTimer, this.core.clearTimer);
  }

  private async run(): Promise<void> {
    let wsFailures = 0;
    let httpSince = 0;
    while (!this.closed) {
      if (!this.core.online || this.core.error || this.error) {
        this.setState('offline');
        await this.sleep(60_000);
        continue;
      }
      if (!this.core.WebSocket) this.useHttp = true;
      if (this.useHttp && this.core.WebSocket && this.core.now() - httpSince > this.core.httpRetryWebSocketMs) this.useHttp = false;
      try {
        if (this.useHttp) {
          if (this.syncState === 'offline') this.setState('connecting');
          await this.httpRound();
          this.core.resetBackoff(this);
          await this.sleep(this.pending.size > 0 ? 0 : this.core.pollMs);
          continue;
        }
        this.setState('connecting');
        const { opened, code, reason } = await this.openSocket();
        if (this.closed) break;
        if (opened) wsFailures = 0;
        else if (++wsFailures >= this.core.wsFailuresBeforeHttp) {
          this.useHttp = true;
          httpSince = this.core.now();
          wsFailures = 0;
        }
        if (await this.onSocketClosed(code, reason)) continue;
      } catch (e) {
        if (e instanceof AuthError) continue; // the client recorded it; the loop now waits offline
        if (e instanceof EngineMismatchError) {
          this.error = e;
          continue;
        }
        this.core.report(e);
      }
      if (this.closed || this.core.error || this.error || !this.core.online) continue;
      this.setState('connecting');
      await this.sleep(backoffDelay(this.core.nextAttempt(this), this.core.random, this.core.backoff));
    }
  }

  /**
   * Close codes: 4401 refreshes the token once (then reconnects at once: true), else stops;
   * 4403 and 1008 stop; 4409 and 4400 stop this handle; the rest retry after a backoff.
   */
  private async onSocketClosed(code: number, reason: string): Promise<boolean> {
    if (code === 4401) return this.core.unauthorized(401, reason || 'the server refused the token (4401)');
    if (code === 4403 || code === 1008) return this.core.unauthorized(403, reason || `the server refused the token (${code})`);
    if (code === 4409) throw new EngineMismatchError(reason || `${this.ns}/${this.key} is not a ${this.engine} document`);
    if (code === 4400) this.error = new ConcordHttpError(400, 'invalid-name', reason);
    return false;
  }

  private openSocket(): Promise<{ opened: boolean; code: number; reason: string }> {
    const WS = this.core.WebSocket!;
    const url = this.core.socketUrl(this.ns, this.key, this.engine);
    return new Promise((resolve) => {
      let opened = false;
      let ws: NonNullable<typeof this.socket>;
      try {
        ws = new WS(url) as unknown as NonNullable<typeof this.socket>;
      } catch {
        resolve({ opened: false, code: 1006, reason: 'WebSocket constructor failed' });
        return;
      }
      ws.binaryType = 'arraybuffer';
      this.socket = ws;
      const protocol: Protocol = this.replica.protocol(ws, this, this.amSyncState);
      ws.onopen = () => {
        opened = true;
        this.protocol = protocol;
        this.initialSync = false;
        this.setState('syncing');
        protocol.onOpen();
      };
      ws.onmessage = (ev: { data: unknown }) => {
        try {
          if (typeof ev.data === 'string') protocol.onText(ev.data);
          else protocol.onBinary(toBytes(ev.data));
        } catch (e) {
          this.core.report(e);
          ws.close(1002, 'client could not read a frame');
        }
      };
      ws.onerror = () => {};
      ws.onclose = (ev: { code: number; reason: string }) => {
        if (this.protocol === protocol) {
          this.bytesSent += protocol.bytesSent;
          protocol.onClose();
          this.protocol = undefined;
        }
        if (this.socket === ws) this.socket = undefined;
        resolve({ opened, code: ev.code, reason: ev.reason });
      };
    });
  }

  /** Bytes sent on the socket open now. */
  get socketBytesSent(): number {
    return this.bytesSent + (this.protocol?.bytesSent ?? 0);
  }

  /** One HTTP round (the fallback): POST each outbox update with its Idempotency-Key, then GET what is new since our version. */
  private async httpRound(): Promise<void> {
    const store = await this.store;
    const path = `/docs/${encodeURIComponent(this.key)}/crdt`;
    let missing = false;
    for (const row of await store.outbox(this.id)) {
      if (this.closed) return;
      const res = await this.core.http(path, this.ns, {
        method: 'POST',
        headers: { ...this.tokenHeaders(), 'Content-Type': CRDT_TYPES[this.engine], 'Idempotency-Key': row.key, Prefer: 'return=minimal' },
        body: row.data,
      });
      this.keepToken(res);
      if (res.ok) {
        await res.arrayBuffer();
        this.acknowledge([row.key], undefined);
        continue;
      }
      const p = await problem(res);
      if (p.code === 'missing-dependencies') {
        missing = true;
        break;
      }
      if (p.code === 'engine-mismatch') throw new EngineMismatchError(p.message);
      if (res.status === 409 || res.status >= 500 || res.status === 429) throw p; // in use by another tab, or the server's trouble: retry later
      // Any other refusal will never succeed: drop it from the outbox (the log keeps the edit).
      this.core.report(p);
      this.acknowledge([row.key], undefined);
    }
    if (missing) {
      // The member lacks what an update builds on: send the whole local state once, under a key of its own.
      const covered = this.pendingKeys();
      const res = await this.core.http(path, this.ns, {
        method: 'POST',
        headers: { ...this.tokenHeaders(), 'Content-Type': CRDT_TYPES[this.engine], 'Idempotency-Key': randomId(), Prefer: 'return=minimal' },
        body: this.replica.save(),
      });
      this.keepToken(res);
      if (!res.ok) throw await problem(res);
      await res.arrayBuffer();
      this.acknowledge(covered, undefined);
    }
    const res = await this.core.http(`${path}?since=${toBase64Url(this.replica.version())}`, this.ns, { headers: this.tokenHeaders() });
    this.keepToken(res);
    if (res.status === 200) {
      const bytes = new Uint8Array(await res.arrayBuffer());
      if (!this.closed && bytes.length > 0) this.replica.applyRemote(bytes);
    } else if (res.status === 404) {
      await res.arrayBuffer();
    } else {
      const p = await problem(res);
      if (p.code === 'engine-mismatch') throw new EngineMismatchError(p.message);
      throw p;
    }
    this.initialSync = true;
    this.syncState = 'syncing';
    this.updateState();
  }
}

function toBytes(data: unknown): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  // ws with binaryType 'fragments'
  if (Array.isArray(data)) return concat(data as Uint8Array[]);
  throw new TypeError('a binary frame of an unknown type');
}

/** The problem+json of an error answer, as an error. */
export async function problem(res: Response): Promise<ConcordHttpError> {
  let code = `http-${res.status}`;
  let detail = res.statusText;
  try {
    const body = (await res.json()) as { type?: string; detail?: string; title?: string };
    if (typeof body.type === 'string') code = body.type.split('/').pop() ?? code;
    detail = body.detail ?? body.title ?? detail;
  } catch {
    // not JSON
  }
  return new ConcordHttpError(res.status, code, detail);
}
