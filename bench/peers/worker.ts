/**
 * The y-partyserver peer of `npm run bench:peers`: y-partyserver's `YServer` as it is meant
 * to be deployed, one Durable Object per document, reached by stock y-websocket clients at
 * `ws://<host>/parties/y-doc-server/<room>` (partyserver's routing).
 *
 * `YServer` keeps the document in memory only; its `onLoad` / `onSave` hooks are where an
 * application persists it. Here they keep the whole state (`Y.encodeStateAsUpdate`) in one
 * row of the object's SQLite storage, so that a document outlives its object's eviction as
 * Concord's do. `onSave` runs debounced after updates (50 ms after the last one, at least
 * every 500 ms under a steady stream), rather than y-partyserver's default 2 s / 10 s, so
 * that the bench's eviction check does not depend on a long wait.
 *
 * `GET /healthz` answers 200 (the bench's `startWrangler` waits for it).
 */
import { routePartykitRequest } from 'partyserver';
import { YServer } from 'y-partyserver';
import * as Y from 'yjs';

interface Env {
  YDocServer: DurableObjectNamespace;
}

export class YDocServer extends YServer {
  static override callbackOptions = { debounceWait: 50, debounceMaxWait: 500 };

  private table(): SqlStorage {
    const sql = this.ctx.storage.sql;
    sql.exec('CREATE TABLE IF NOT EXISTS doc (id INTEGER PRIMARY KEY, state BLOB NOT NULL)');
    return sql;
  }

  override async onLoad(): Promise<void> {
    const row = this.table().exec<{ state: ArrayBuffer }>('SELECT state FROM doc WHERE id = 1').toArray()[0];
    if (row) Y.applyUpdate(this.document, new Uint8Array(row.state));
  }

  override async onSave(): Promise<void> {
    this.table().exec('INSERT OR REPLACE INTO doc (id, state) VALUES (1, ?)', Y.encodeStateAsUpdate(this.document));
  }
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    if (new URL(request.url).pathname === '/healthz') return new Response('ok');
    return (await routePartykitRequest(request, env as unknown as Parameters<typeof routePartykitRequest>[1])) ?? new Response('not found', { status: 404 });
  },
} satisfies ExportedHandler<Env>;
