/** What a document handle needs from its client (the client implements it). */
import type { BackoffOptions } from './backoff.js';
import type { DocHandle } from './handle.js';
import type { EngineName } from './store.js';

export type Consistency = 'eventual' | 'session' | 'quorum' | 'strong';

/** A WebSocket constructor: the browser's, or `ws`'s in Node. */
export type WebSocketCtor = new (url: string, protocols?: string | string[]) => unknown;

export interface ClientCore {
  readonly online: boolean;
  readonly error: Error | undefined;
  readonly WebSocket: WebSocketCtor | undefined;
  readonly random: () => number;
  readonly backoff: BackoffOptions;
  readonly compactEvery: number;
  readonly pollMs: number;
  readonly wsFailuresBeforeHttp: number;
  readonly httpRetryWebSocketMs: number;
  now(): number;
  setTimer(f: () => void, ms: number): unknown;
  clearTimer(t: unknown): void;
  /** Something about a handle changed: recompute the status. */
  changed(): void;
  forget(handle: DocHandle): void;
  report(e: unknown): void;
  broadcast(doc: string): void;
  nextAttempt(handle: DocHandle): number;
  resetBackoff(handle: DocHandle): void;
  /** A 401 or 403 from the server: refreshes the token once on 401 (true: retry now), else records the error (false). */
  unauthorized(status: 401 | 403, detail: string): Promise<boolean>;
  /** A request to `/v1/<ns><path>` with the bearer token and region; handles 401 (refresh, once) and 403. */
  http(path: string, ns: string, init?: { method?: string; headers?: Record<string, string>; body?: Uint8Array }): Promise<Response>;
  socketUrl(ns: string, key: string, engine: EngineName): string;
}
