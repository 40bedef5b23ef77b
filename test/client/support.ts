/** Helpers of the client SDK's Node tests: bounded waits, and a client over a fake IndexedDB. */
import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { ConcordClient, type ConcordClientOptions } from '../../client/index.js';

export { IDBFactory };

/** Polls `check` until it returns a value other than undefined, at most `ms`; throws with `what` otherwise. */
export async function until<T>(what: string, ms: number, check: () => T | undefined | Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms${last ? ` (last error: ${String(last)})` : ''}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const clients: ConcordClient[] = [];

/** A client of `http://concord.test` over `idb` (a fake IndexedDB), offline unless told otherwise. */
export function client(idb: IDBFactory, opts: Partial<ConcordClientOptions> = {}): ConcordClient {
  const c = new ConcordClient({ url: 'http://concord.test', token: 'jwt-1', indexedDB: idb, online: false, WebSocket: null, onError: () => {}, ...opts });
  clients.push(c);
  return c;
}

export async function closeAll(): Promise<void> {
  for (const c of clients.splice(0)) await c.close();
}
