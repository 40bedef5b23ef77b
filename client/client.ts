/**
 * `ConcordClient`: the offline-first SDK's entry point. One per tab (or per Node process);
 * every client of an origin shares one IndexedDB store, and a BroadcastChannel tells the
 * others when a document's rows changed.
 *
 * The class here takes the engines it can open (`ClientEngine`s) and imports neither engine;
 * each entry (`index.ts`: both, `yjs.ts`, `automerge.ts`: one) subclasses it with its engines,
 * so a bundle holds only the engines its entry registers.
 */
import type { BackoffOptions } from './backoff.js';
import type { ClientCore, WebSocketCtor } from './core.js';
import { AuthError, EngineUnavailableError } from './errors.js';
import { DocHandle, problem, type SyncState } from './handle.js';
import type { ClientEngine } from './replicas.js';
import { docId, type EngineName, Store } from './store.js';

export interface ConcordClientOptions {
  /** The server, e.g. `http://127.0.0.1:8787`. */
  url: string;
  /** A bearer JWT (`read` receives, `write` also sends). */
  token: string;
  /** The region whose member serves this client (`Concord-Region` / `?region=`); default: the server's choice. */
  region?: string;
  /** Called once after a 401 (or close 4401) for a fresh token; a second refusal stops syncing. */
  tokenRefresh?: () => Promise<string> | string;
  /** Injection points (defaults: the globals). */
  WebSocket?: WebSocketCtor | null;
  fetch?: typeof fetch;
  indexedDB?: IDBFactory;
  BroadcastChannel?: (new (name: string) => BroadcastChannel) | null;
  random?: () => number;
  now?: () => number;
  /** The IndexedDB database name; default `concord:<origin of url>`. */
  dbName?: string;
  /** Whether the network is up at start; default `navigator.onLine` where there is one, else true. */
  online?: boolean;
  backoff?: BackoffOptions;
  /** Compact a document's log after this many appends by this client. Default 100. */
  compactEvery?: number;
  /** HTTP fallback: how often to pull when nothing is pending, ms. Default 2,000. */
  pollMs?: number;
  /** Sockets that fail to open in a row before falling back to HTTP. Default 3. */
  wsFailuresBeforeHttp?: number;
  /** In the HTTP fallback, try a WebSocket again after this long, ms. Default 60,000. */
  httpRetryWebSocketMs?: number;
  /** Errors that are not the caller's (a failed IndexedDB write, a listener that threw). Default: console.warn. */
  onError?: (e: unknown) => void;
}

export interface Status {
  /** The least advanced state over the open documents (`offline` when there are none and the network is down). */
  state: SyncState;
  /** Local updates the server has not acknowledged yet, over the open documents. */
  pending: number;
  /** Set when syncing stopped for good (401 after a refresh, 403): local edits are kept. */
  error?: Error;
}

export interface DocOptions<E extends EngineName> {
  engine: E;
}

const ORDER: Record<SyncState, number> = { offline: 0, connecting: 1, syncing: 2, synced: 3 };

/** A client that can open documents of the engines `E`; the entries export it with their engines registered. */
export class ConcordClientBase<E extends EngineName = EngineName> implements ClientCore {
  readonly url: string;
  /** The engines this client can open documents of. */
  readonly engines: readonly E[];
  readonly region: string | undefined;
  readonly WebSocket: WebSocketCtor | undefined;
  readonly random: () => number;
  readonly backoff: BackoffOptions;
  readonly compactEvery: number;
  readonly pollMs: number;
  readonly wsFailuresBeforeHttp: number;
  readonly httpRetryWebSocketMs: number;
  error: Error | undefined;

  private token: string;
  private readonly tokenRefresh: (() => Promise<string> | string) | undefined;
  private refreshing: Promise<boolean> | undefined;
  private refreshUsed = false;
  private readonly fetchFn: typeof fetch;
  private readonly nowFn: () => number;
  private readonly onError: (e: unknown) => void;
  private readonly store: Promise<Store>;
  private readonly channel: BroadcastChannel | undefined;
  private readonly impls = new Map<string, ClientEngine<E>>();
  private readonly handles = new Map<string, DocHandle>();
  private readonly attempts = new Map<DocHandle, number>();
  private readonly statusListeners = new Set<(s: Status) => void>();
  private last: Status = { state: 'offline', pending: 0 };
  private isOnline: boolean;
  private closed = false;

  constructor(opts: ConcordClientOptions, engines: readonly ClientEngine<E>[]) {
    for (const e of engines) this.impls.set(e.name, e);
    this.engines = [...this.impls.keys()] as E[];
    this.url = opts.url.replace(/\/+$/, '');
    this.token = opts.token;
    this.region = opts.region;
    this.tokenRefresh = opts.tokenRefresh;
    this.WebSocket = opts.WebSocket === null ? undefined : (opts.WebSocket ?? (globalThis.WebSocket as unknown as WebSocketCtor | undefined));
    this.fetchFn = opts.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.random = opts.random ?? Math.random;
    this.nowFn = opts.now ?? Date.now;
    this.backoff = opts.backoff ?? {};
    this.compactEvery = opts.compactEvery ?? 100;
    this.pollMs = opts.pollMs ?? 2_000;
    this.wsFailuresBeforeHttp = opts.wsFailuresBeforeHttp ?? 3;
    this.httpRetryWebSocketMs = opts.httpRetryWebSocketMs ?? 60_000;
    this.onError = opts.onError ?? ((e) => console.warn('concord:', e));
    const nav = (globalThis as { navigator?: { onLine?: boolean } }).navigator;
    this.isOnline = opts.online ?? (typeof nav?.onLine === 'boolean' ? nav.onLine : true);
    const factory = opts.indexedDB ?? globalThis.indexedDB;
    if (!factory) throw new TypeError('ConcordClient needs IndexedDB (pass options.indexedDB outside a browser)');
    const dbName = opts.dbName ?? `concord:${new URL(this.url).origin}`;
    this.store = Store.open(factory, dbName);
    this.store.catch((e: unknown) => this.report(e));
    const BC = opts.BroadcastChannel === null ? undefined : (opts.BroadcastChannel ?? globalThis.BroadcastChannel);
    if (BC) {
      this.channel = new BC(`concord:${dbName}`);
      this.channel.onmessage = (ev: MessageEvent) => {
        const doc = (ev.data as { doc?: unknown } | null)?.doc;
        if (typeof doc === 'string') void this.handles.get(doc)?.reload();
      };
    }
    const g = globalThis as { addEventListener?: (t: string, f: () => void) => void };
    if (opts.online === undefined && typeof g.addEventListener === 'function' && nav) {
      g.addEventListener('online', this.onOnline);
      g.addEventListener('offline', this.onOffline);
    }
  }

  private readonly onOnline = (): void => this.setOnline(true);
  private readonly onOffline = (): void => this.setOnline(false);

  /**
   * Opens (or returns the open) handle of a document. Edits apply at once; `handle.ready`
   * resolves once what IndexedDB holds for it is loaded.
   *
   * @throws EngineUnavailableError when this client was not built with `opts.engine`.
   */
  doc<K extends E>(ns: string, key: string, opts: DocOptions<K>): DocHandle<K> {
    if (this.closed) throw new Error('this ConcordClient is closed');
    const impl = this.impls.get(opts.engine) as ClientEngine<K> | undefined;
    if (!impl) throw new EngineUnavailableError(String(opts.engine), this.engines);
    const id = docId(ns, key);
    const open = this.handles.get(id);
    if (open) {
      if (open.engine !== opts.engine) throw new TypeError(`${ns}/${key} is open as a ${open.engine} document`);
      return open as DocHandle<K>;
    }
    const h = new DocHandle<K>(this, ns, key, impl, this.store, id);
    this.handles.set(id, h);
    this.changed();
    return h;
  }

  /** `doc()`, resolved once loaded from IndexedDB. Rejects with EngineUnavailableError as `doc()` throws it. */
  async open<K extends E>(ns: string, key: string, opts: DocOptions<K>): Promise<DocHandle<K>> {
    const h = this.doc(ns, key, opts);
    await h.ready;
    return h;
  }

  get status(): Status {
    return this.last;
  }

  /** Calls `listener` with every new status. Returns the unsubscribe function. */
  onStatus(listener: (s: Status) => void): () => void {
    this.statusListeners.add(listener);
    return () => this.statusListeners.delete(listener);
  }

  get online(): boolean {
    return this.isOnline && !this.closed;
  }

  /** Tells the client the network is down (true) or up; browsers' `online`/`offline` events call it. */
  setOnline(online: boolean): void {
    if (this.isOnline === online) return;
    this.isOnline = online;
    for (const h of this.handles.values()) h.poke();
    this.changed();
  }

  /** Replaces the bearer token (after an AuthError, or before the old one expires) and resumes syncing. */
  setToken(token: string): void {
    this.token = token;
    this.error = undefined;
    this.refreshUsed = false;
    for (const h of this.handles.values()) h.poke();
    this.changed();
  }

  /** Closes every handle, the channel and the store. */
  async close(): Promise<void> {
    if (this.closed) return;
    for (const h of [...this.handles.values()]) h.close();
    this.closed = true;
    this.channel?.close();
    const g = globalThis as { removeEventListener?: (t: string, f: () => void) => void };
    g.removeEventListener?.('online', this.onOnline);
    g.removeEventListener?.('offline', this.onOffline);
    // An edit made just before close() is still being stored: closing the database first would lose it.
    await Promise.all([...this.retiring]);
    try {
      (await this.store).close();
    } catch {
      // never opened
    }
  }

  // ---- ClientCore ------------------------------------------------------------------------

  now(): number {
    return this.nowFn();
  }

  setTimer(f: () => void, ms: number): unknown {
    return setTimeout(f, ms);
  }

  clearTimer(t: unknown): void {
    clearTimeout(t as ReturnType<typeof setTimeout>);
  }

  changed(): void {
    let state: SyncState = this.online && !this.error ? 'synced' : 'offline';
    let pending = 0;
    for (const h of this.handles.values()) {
      pending += h.pendingCount;
      if (ORDER[h.state] < ORDER[state]) state = h.state;
    }
    if (this.handles.size === 0 && state === 'synced' && !this.online) state = 'offline';
    const next: Status = this.error ? { state, pending, error: this.error } : { state, pending };
    if (next.state === this.last.state && next.pending === this.last.pending && next.error === this.last.error) return;
    this.last = next;
    for (const l of this.statusListeners) {
      try {
        l(next);
      } catch (e) {
        this.report(e);
      }
    }
  }

  forget(handle: DocHandle): void {
    if (this.handles.get(handle.id) === handle) this.handles.delete(handle.id);
    this.attempts.delete(handle);
    const done: Promise<void> = handle.settled().finally(() => this.retiring.delete(done));
    this.retiring.add(done);
    this.changed();
  }

  /** Closed handles whose writes are still going: the database stays open for them. */
  private readonly retiring = new Set<Promise<void>>();

  report(e: unknown): void {
    this.onError(e);
  }

  broadcast(doc: string): void {
    try {
      this.channel?.postMessage({ doc });
    } catch {
      // closed
    }
  }

  nextAttempt(handle: DocHandle): number {
    const n = this.attempts.get(handle) ?? 0;
    this.attempts.set(handle, n + 1);
    return n;
  }

  resetBackoff(handle: DocHandle): void {
    this.attempts.delete(handle);
    this.refreshUsed = false;
  }

  unauthorized(status: 401 | 403, detail: string): Promise<boolean> {
    if (status === 401 && this.tokenRefresh && !this.refreshUsed) {
      this.refreshing ??= (async () => {
        try {
          this.token = await this.tokenRefresh!();
          this.refreshUsed = true;
          return true;
        } catch (e) {
          this.fail(new AuthError(401, `${detail}; tokenRefresh failed: ${(e as Error).message}`));
          return false;
        } finally {
          this.refreshing = undefined;
        }
      })();
      return this.refreshing;
    }
    if (this.refreshing) return this.refreshing;
    this.fail(new AuthError(status, detail));
    return Promise.resolve(false);
  }

  private fail(e: AuthError): void {
    if (this.error) return;
    this.error = e;
    for (const h of this.handles.values()) h.poke();
    this.changed();
  }

  async http(path: string, ns: string, init: { method?: string; headers?: Record<string, string>; body?: Uint8Array } = {}): Promise<Response> {
    if (this.error) throw this.error;
    for (let attempt = 0; ; attempt++) {
      const headers: Record<string, string> = { ...init.headers, Authorization: `Bearer ${this.token}` };
      if (this.region) headers['Concord-Region'] = this.region;
      const res = await this.fetchFn(`${this.url}/v1/${encodeURIComponent(ns)}${path}`, {
        method: init.method ?? 'GET',
        headers,
        ...(init.body && { body: init.body as unknown as BodyInit }),
      });
      if (res.status !== 401 && res.status !== 403) return res;
      const p = await problem(res);
      if (attempt === 0 && (await this.unauthorized(res.status, p.message))) continue;
      if (!this.error) this.fail(new AuthError(res.status, p.message));
      throw this.error!;
    }
  }

  socketUrl(ns: string, key: string, engine: EngineName): string {
    const q = new URLSearchParams({ token: this.token, engine, ext: 'concord' });
    if (this.region) q.set('region', this.region);
    return `${this.url.replace(/^http/, 'ws')}/v1/${encodeURIComponent(ns)}/ws/${encodeURIComponent(key)}?${q.toString()}`;
  }
}
