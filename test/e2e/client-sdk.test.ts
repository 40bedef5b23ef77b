/**
 * The client SDK (`concord/client`) in Node against the real `wrangler dev`: `ws` as the
 * WebSocket and a fake-indexeddb per client (each one a separate browser). Both engines sync
 * two clients in two regions; offline edits go out as a delta on reconnect; the HTTP
 * fallback posts each update once under its Idempotency-Key, even when an answer is lost;
 * a wrong token shows the error and keeps the local edits.
 */
import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import * as Y from 'yjs';
import { AuthError, ConcordClient, type ConcordClientOptions, type WebSocketCtor } from '../../client/index.js';
import { eventually } from './eventually.js';
import { mintToken, startWrangler, type WranglerDev } from './wrangler.js';

const NS = 'sdk';

describe('client SDK against wrangler dev', () => {
  let dev: WranglerDev;
  let write: string;
  let other: string;
  const clients: ConcordClient[] = [];

  beforeAll(async () => {
    [dev, write, other] = await Promise.all([
      startWrangler({ env: 'test', logLevel: 'warn' }),
      mintToken('--ns', `${NS}*`, '--scope', 'write'),
      mintToken('--ns', 'elsewhere', '--scope', 'write'),
    ]);
  });
  afterAll(async () => {
    for (const c of clients) await c.close();
    await dev?.stop();
  });

  function client(opts: Partial<ConcordClientOptions> = {}): ConcordClient {
    const c = new ConcordClient({
      url: dev.url,
      token: write,
      indexedDB: new IDBFactory(),
      WebSocket: WebSocket as unknown as WebSocketCtor,
      BroadcastChannel: null,
      online: true,
      backoff: { baseMs: 50, capMs: 500 },
      onError: (e) => {
        if (process.env['SDK_DEBUG']) console.error('client error:', e);
      },
      ...opts,
    });
    clients.push(c);
    return c;
  }

  async function serverJson(key: string, region: string): Promise<unknown> {
    const res = await fetch(`${dev.url}/v1/${NS}/docs/${encodeURIComponent(key)}?region=${region}`, { headers: { Authorization: `Bearer ${write}` } });
    return res.status === 200 ? res.json() : undefined;
  }

  const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

  it('Automerge: two clients in two regions converge, and every region stores the result', async () => {
    const a = await client({ region: 'wnam' }).open(NS, 'todo', { engine: 'automerge' });
    const b = await client({ region: 'weur' }).open(NS, 'todo', { engine: 'automerge' });
    a.change((d) => {
      d.west = 'a';
    });
    b.change((d) => {
      d.east = 'b';
    });
    const want = { east: 'b', west: 'a' };
    await eventually('both clients converge', 20_000, () => (same(a.value(), want) && same(b.value(), want) ? true : undefined));
    for (const region of ['wnam', 'weur', 'apac']) await eventually(`${region} stores both`, 20_000, async () => (same(await serverJson('todo', region), want) ? true : undefined));
  });

  it('Yjs: two clients in two regions converge, presence crosses regions, every region stores the text', async () => {
    const a = await client({ region: 'wnam' }).open(NS, 'pad', { engine: 'yjs' });
    const b = await client({ region: 'apac' }).open(NS, 'pad', { engine: 'yjs' });
    a.ydoc.getText('text').insert(0, 'west ');
    b.ydoc.getText('text').insert(0, 'east ');
    const text = await eventually('converged', 20_000, () => {
      const x = a.ydoc.getText('text').toString();
      return x.length === 10 && x === b.ydoc.getText('text').toString() ? x : undefined;
    });
    for (const region of ['wnam', 'weur', 'apac']) await eventually(`${region} stores it`, 20_000, async () => (same(await serverJson('pad', region), { text }) ? true : undefined));
    a.presence.setLocalStateField('user', { name: 'ada' });
    await eventually('apac sees ada', 20_000, () => (b.presence.getStates().get(a.presence.clientID)?.['user']?.name === 'ada' ? true : undefined));
  });

  it('offline edits reach the other client after a reconnect, sending a delta, not the document', async () => {
    for (const engine of ['yjs', 'automerge'] as const) {
      const key = `delta-${engine}`;
      const ca = client({ region: 'wnam' });
      const a = await ca.open(NS, key, { engine });
      const b = await client({ region: 'weur' }).open(NS, key, { engine });
      const big = 'x'.repeat(20_000);
      if (a.engine === 'yjs') a.ydoc.getText('text').insert(0, big);
      else
        a.change((d) => {
          d.text = big;
        });
      const textOf = (h: typeof a): string => String((h.value() as { text?: unknown }).text ?? '');
      await eventually(`${engine}: b has the big text`, 20_000, () => (textOf(b).length === big.length ? true : undefined));
      ca.setOnline(false);
      await eventually(`${engine}: a is offline`, 10_000, () => (ca.status.state === 'offline' && a.state === 'offline' ? true : undefined));
      if (a.engine === 'yjs') a.ydoc.getText('text').insert(0, 'offline!');
      else
        a.change((d) => {
          d.note = 'offline!';
        });
      const before = a.socketBytesSent;
      ca.setOnline(true);
      await eventually(`${engine}: b gets the offline edit`, 20_000, () => (JSON.stringify(b.value()).includes('offline!') ? true : undefined));
      const sent = a.socketBytesSent - before;
      expect(sent, `${engine}: bytes sent on reconnect`).toBeGreaterThan(0);
      expect(sent, `${engine}: bytes sent on reconnect`).toBeLessThan(2_000);
    }
  });

  it('HTTP fallback: without WebSockets each update is POSTed under its Idempotency-Key, and one whose answer was lost applies once', async () => {
    const calls: { url: string; init: RequestInit; status: number; token: string | null }[] = [];
    let dropped = 0;
    const recording = (async (input: string | URL | Request, init?: RequestInit) => {
      const res = await fetch(input, init);
      const token = res.headers.get('Concord-Token');
      calls.push({ url: String(input), init: init ?? {}, status: res.status, token });
      // The first write reaches the server, and its answer is lost on the way back.
      if ((init?.method ?? 'GET') === 'POST' && dropped++ === 0) throw new TypeError('fetch failed (answer lost)');
      return res;
    }) as typeof fetch;
    const c = client({ WebSocket: null, fetch: recording, region: 'weur', pollMs: 200 });
    const h = await c.open(NS, 'http', { engine: 'yjs' });
    h.ydoc.getMap('m').set('n', 1);
    await eventually('acknowledged over HTTP', 20_000, () => (c.status.pending === 0 && c.status.state === 'synced' ? true : undefined));
    const posts = calls.filter((x) => x.init.method === 'POST');
    expect(posts.length).toBe(2);
    const key = (x: (typeof posts)[number]) => (x.init.headers as Record<string, string>)['Idempotency-Key'];
    expect(key(posts[0]!)).toBe(key(posts[1]!));
    // The retry was answered from the first outcome's record: the same causal token, nothing applied again.
    expect(posts[1]!.token).toBe(posts[0]!.token);
    expect(await serverJson('http', 'weur')).toEqual({ m: { n: 1 } });
    // A change made elsewhere arrives by the pull.
    const y = new Y.Doc();
    Y.applyUpdate(y, Y.encodeStateAsUpdate(h.ydoc));
    y.getMap('m').set('from', 'server');
    const res = await fetch(`${dev.url}/v1/${NS}/docs/http/crdt?region=wnam`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${write}`, 'Content-Type': 'application/vnd.concord.yjs' },
      body: Y.encodeStateAsUpdate(y, Y.encodeStateVector(h.ydoc)),
    });
    expect(res.status).toBeLessThan(300);
    await eventually('pulled', 20_000, () => (same(h.value(), { m: { from: 'server', n: 1 } }) ? true : undefined));
    expect(calls.some((x) => /\/crdt\?since=/.test(x.url))).toBe(true);
  });

  it('a token of another namespace, or an invalid one, shows the error and keeps local edits', async () => {
    const c = client({ token: other });
    const h = await c.open(NS, 'denied', { engine: 'automerge' });
    h.change((d) => {
      d.mine = true;
    });
    const err = await eventually('a 403', 20_000, () => c.status.error);
    expect(err).toBeInstanceOf(AuthError);
    expect((err as AuthError).status).toBe(403);
    expect(h.value()).toEqual({ mine: true });
    expect(c.status.pending).toBe(1);
    expect(c.status.state).toBe('offline');

    let refreshed = 0;
    const bad = client({ token: 'not.a.jwt', tokenRefresh: () => `${++refreshed}.still.bad` });
    const hb = await bad.open(NS, 'denied', { engine: 'yjs' });
    hb.ydoc.getText('t').insert(0, 'kept');
    const e401 = await eventually('a 401', 20_000, () => bad.status.error);
    expect((e401 as AuthError).status).toBe(401);
    expect(refreshed).toBe(1);
    expect(hb.value()).toEqual({ t: 'kept' });
    // A working token resumes: the kept edit reaches the server.
    bad.setToken(write);
    await eventually('stored after setToken', 20_000, async () => (same(await serverJson('denied', 'wnam'), { t: 'kept' }) || same(await serverJson('denied', 'apac'), { t: 'kept' }) ? true : undefined));
  });
});
