/**
 * Bytes the SDK sends on a reconnect after K offline edits, beside the size of the whole
 * document, for `bench/client.bench.ts`. The SDK runs in Node (fake-indexeddb, `ws`) against
 * a real `wrangler dev` that the caller started.
 *
 * Per engine: a document of `edits` one-letter text inserts at the end, each its own
 * transaction (Yjs) or change (Automerge), made offline and synced once. Then, for each K, the client goes
 * offline, makes K more edits, comes back, and is timed and counted until the member has
 * acknowledged them all (status `synced`, nothing pending).
 */
import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import * as A from '@automerge/automerge';
import WebSocket from 'ws';
import * as Y from 'yjs';
import { ConcordClient, type WebSocketCtor } from '../client/index.js';
import { eventually } from '../test/e2e/eventually.js';

export interface ReconnectRow {
  readonly engine: 'yjs' | 'automerge';
  readonly k: number;
  /** The whole document's encoding: `Y.encodeStateAsUpdate` or `Automerge.save`. */
  readonly docBytes: number;
  readonly sentBytes: number;
  readonly ms: number;
}

export async function reconnectBytes(url: string, token: string, edits: number, ks: readonly number[], log: (s: string) => void): Promise<ReconnectRow[]> {
  const rows: ReconnectRow[] = [];
  for (const engine of ['yjs', 'automerge'] as const) {
    const client = new ConcordClient({
      url,
      token,
      region: 'wnam',
      indexedDB: new IDBFactory(),
      WebSocket: WebSocket as unknown as WebSocketCtor,
      BroadcastChannel: null,
      online: false,
      onError: (e) => log(`client error: ${String(e)}`),
    });
    try {
      const key = `reconnect-${engine}-${Date.now()}`;
      const h = await client.open('bench', key, { engine });
      // Letters in an order no run-length encoding shortens, as typed text would be.
      let typed = 0;
      const letter = (): string => String.fromCharCode(97 + ((typed++ * 7919) % 26));
      const edit = (): void => {
        if (h.engine === 'yjs') {
          const t = h.ydoc.getText('text');
          t.insert(t.length, letter());
        } else {
          h.change((d) => {
            A.splice(d, ['text'], (d['text'] as string).length, 0, letter());
          });
        }
      };
      if (h.engine === 'automerge') {
        h.change((d) => {
          d['text'] = '';
        });
      }
      for (let i = 0; i < edits; i++) edit();
      const settled = async (what: string): Promise<void> => {
        await eventually(what, 600_000, () => (client.status.state === 'synced' && client.status.pending === 0 ? true : undefined));
      };
      const t0 = Date.now();
      client.setOnline(true);
      await settled(`${engine}: the ${edits}-edit document synced`);
      log(`${engine}: ${edits} edits synced in ${Date.now() - t0} ms`);
      for (const k of ks) {
        client.setOnline(false);
        await eventually(`${engine}: offline`, 30_000, () => (client.status.state === 'offline' ? true : undefined));
        for (let i = 0; i < k; i++) edit();
        const docBytes = h.engine === 'yjs' ? Y.encodeStateAsUpdate(h.ydoc).length : A.save(h.doc).length;
        const before = h.socketBytesSent;
        const started = Date.now();
        client.setOnline(true);
        await settled(`${engine}: K = ${k} acknowledged`);
        const row: ReconnectRow = { engine, k, docBytes, sentBytes: h.socketBytesSent - before, ms: Date.now() - started };
        log(`${engine}: K = ${k}: sent ${row.sentBytes} B of a ${docBytes} B document in ${row.ms} ms`);
        rows.push(row);
      }
    } finally {
      await client.close();
    }
  }
  return rows;
}
