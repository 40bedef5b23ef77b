/**
 * The floor of `npm run bench:edge` (part d): the least a geo-replicated Durable Object store
 * has to do for the two writes the bench measures on Concord, so that Concord's figures can
 * be read as a multiple of what the platform itself costs.
 *
 * The same HTTP shapes and the same layout as Concord: the Worker picks the object
 * `replica:<shard>:<region>` (Concord's shard function and names, the region from
 * `Concord-Region`, else `?region=`, else `PRIMARY_REGION`) and calls it over RPC; the object
 * commits the write in one SQLite transaction, answers, and pushes the change to the objects
 * of the same shard in the other regions, batched per peer while a push is in flight (as
 * Concord's eager push does), without waiting for them (Concord's `eventual`).
 *
 * - `PUT` / `PATCH /v1/:ns/docs/:key`: a JSON object, stored whole or merged in (RFC 7396)
 *   into the stored JSON text. The push carries the patch; the peer merges it the same way.
 * - `POST /v1/:ns/docs/:key/crdt`: the body's bytes appended as a row. No Yjs is loaded.
 *
 * `GET /v1/:ns/docs/:key` answers the stored JSON text, to check that pushes arrive.
 *
 * Nothing else: no authentication, validation, CRDT, version vectors, log or gossip. A lost
 * push is lost. `Prefer: return=minimal` answers 204; otherwise the document (PATCH, PUT) or
 * `{"engine":"yjs"}` (crdt).
 */
import { DurableObject } from 'cloudflare:workers';
import { memberName, shard } from '../../src/core/routing.js';

interface Env {
  STORE: DurableObjectNamespace;
  REGIONS: string;
  PRIMARY_REGION: string;
  SHARDS: string;
}

type Json = null | boolean | number | string | Json[] | JsonObject;
interface JsonObject {
  [k: string]: Json;
}

/** A write as it is committed and as it travels to the other regions. */
type Change = { doc: string; patch: JsonObject; replace: boolean } | { doc: string; bytes: Uint8Array };

const isObject = (v: Json | undefined): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/** RFC 7396. */
function mergePatch(target: Json | undefined, patch: Json): Json {
  if (!isObject(patch)) return patch;
  const out: JsonObject = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/**
 * The object's RPC surface as plain signatures: the generated stub types recurse through
 * `Json` until the checker gives up (TS2589), as they do for Concord's members.
 */
interface FloorRpc {
  write(change: Change, peers: string[], full: boolean): Promise<Json | undefined>;
  receive(changes: Change[]): Promise<void>;
  read(doc: string): Promise<string | undefined>;
}
const stubOf = (env: Env, name: string): FloorRpc => env.STORE.get(env.STORE.idFromName(name)) as unknown as FloorRpc;

// A push caught by a stuck peer would otherwise hold its queue for good.
const PUSH_TIMEOUT_MS = 2000;

export class FloorObject extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private readonly queues = new Map<string, { changes: Change[]; running: boolean }>();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(`
      CREATE TABLE IF NOT EXISTS docs (doc TEXT PRIMARY KEY, json TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS updates (seq INTEGER PRIMARY KEY AUTOINCREMENT, doc TEXT NOT NULL, data BLOB NOT NULL);
    `);
  }

  /** A client's write routed here by the Worker: committed, answered, pushed to `peers`. */
  write(change: Change, peers: string[], full: boolean): Json | undefined {
    const doc = this.ctx.storage.transactionSync(() => this.apply(change));
    for (const peer of peers) this.enqueue(peer, change);
    return full ? doc : undefined;
  }

  /** Changes pushed by another region's object, committed together. */
  receive(changes: Change[]): void {
    this.ctx.storage.transactionSync(() => {
      for (const c of changes) this.apply(c);
    });
  }

  /** The stored JSON text of `doc` (for checking that pushes arrive). */
  read(doc: string): string | undefined {
    return this.sql.exec<{ json: string }>('SELECT json FROM docs WHERE doc = ?', doc).toArray()[0]?.json;
  }

  private apply(c: Change): Json | undefined {
    if ('bytes' in c) {
      this.sql.exec('INSERT INTO updates (doc, data) VALUES (?, ?)', c.doc, c.bytes);
      return undefined;
    }
    let next: Json = c.patch;
    if (!c.replace) {
      const row = this.sql.exec<{ json: string }>('SELECT json FROM docs WHERE doc = ?', c.doc).toArray()[0];
      next = mergePatch(row ? (JSON.parse(row.json) as Json) : {}, c.patch);
    }
    this.sql.exec('INSERT OR REPLACE INTO docs (doc, json) VALUES (?, ?)', c.doc, JSON.stringify(next));
    return next;
  }

  private enqueue(peer: string, change: Change): void {
    let q = this.queues.get(peer);
    if (!q) this.queues.set(peer, (q = { changes: [], running: false }));
    q.changes.push(change);
    if (!q.running) this.ctx.waitUntil(this.drain(peer, q));
  }

  private async drain(peer: string, q: { changes: Change[]; running: boolean }): Promise<void> {
    q.running = true;
    try {
      while (q.changes.length > 0) {
        const batch = q.changes;
        q.changes = [];
        await withTimeout(stubOf(this.env, peer).receive(batch), PUSH_TIMEOUT_MS).catch(() => undefined);
      }
    } finally {
      q.running = false;
    }
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

const DOC = /^\/v1\/([^/]+)\/docs\/([^/]+)(\/crdt)?$/;

const text = (status: number, body: string): Response => new Response(body, { status, headers: { 'Content-Type': 'text/plain' } });

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    const regions = env.REGIONS.split(',').map((r) => r.trim());
    const shards = Number(env.SHARDS);
    if (url.pathname === '/healthz') return Response.json({ ok: true, floor: true, regions, shards, primary: env.PRIMARY_REGION });
    const m = DOC.exec(url.pathname);
    if (!m) return text(404, 'no such route');
    const crdt = m[3] !== undefined;
    const method = request.method;
    if (crdt ? method !== 'POST' : method !== 'GET' && method !== 'PUT' && method !== 'PATCH') return text(405, 'method not allowed');
    let ns: string;
    let key: string;
    try {
      ns = decodeURIComponent(m[1]!);
      key = decodeURIComponent(m[2]!);
    } catch {
      return text(400, 'malformed percent-encoding');
    }
    const region = (request.headers.get('Concord-Region') ?? url.searchParams.get('region') ?? env.PRIMARY_REGION).trim().toLowerCase();
    if (!regions.includes(region)) return text(400, `unknown region ${region}`);

    const doc = `${ns}\u0000${key}`;
    const s = shard(ns, key, shards);
    const member = memberName(s, region);
    if (method === 'GET') {
      const json = await stubOf(env, member).read(doc);
      if (json === undefined) return text(404, 'not found');
      return new Response(json, { headers: { 'Content-Type': 'application/json', 'Concord-Member': member } });
    }
    let change: Change;
    if (crdt) {
      const bytes = new Uint8Array(await request.arrayBuffer());
      if (bytes.length === 0) return text(400, 'empty update');
      change = { doc, bytes };
    } else {
      let body: Json;
      try {
        body = JSON.parse(await request.text()) as Json;
      } catch {
        return text(400, 'malformed JSON');
      }
      if (!isObject(body)) return text(400, 'a document is a JSON object');
      change = { doc, patch: body, replace: method === 'PUT' };
    }

    const peers = regions.filter((r) => r !== region).map((r) => memberName(s, r));
    const minimal = /\breturn=minimal\b/i.test(request.headers.get('Prefer') ?? '');
    const result = await stubOf(env, member).write(change, peers, !minimal);
    const headers = { 'Concord-Member': member };
    if (minimal) return new Response(null, { status: 204, headers: { ...headers, 'Preference-Applied': 'return=minimal' } });
    return Response.json(crdt ? { engine: 'yjs' } : result, { headers });
  },
} satisfies ExportedHandler<Env>;
