/**
 * Token handling over the HTTP fallback (no WebSocket): the newest Concord-Token is kept per
 * document and sent back, persisted across a reload; a 401 refreshes the bearer token once;
 * a 403 (or a second 401) stops syncing with an AuthError and keeps the local edits. The
 * server here is a scripted `fetch` (the injection point); test/e2e/client-sdk.test.ts runs
 * the same paths against the real server.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { AuthError, type Status } from '../../client/index.js';
import { client, closeAll, IDBFactory, until } from './support.js';

afterEach(closeAll);

interface Seen {
  method: string;
  url: string;
  headers: Record<string, string>;
}

/** A scripted server: `answer` picks each response; every request is recorded. */
function server(answer: (req: Seen, n: number) => Response) {
  const seen: Seen[] = [];
  const fetchFn = (async (input: string | URL | Request, init?: RequestInit) => {
    const req: Seen = { method: init?.method ?? 'GET', url: String(input), headers: { ...(init?.headers as Record<string, string>) } };
    seen.push(req);
    return answer(req, seen.length);
  }) as typeof fetch;
  return { seen, fetch: fetchFn };
}

const ok = (token: string, status = 200): Response => new Response(status === 204 ? null : '', { status, headers: { 'Concord-Token': token } });
const problem = (status: number, code: string): Response =>
  new Response(JSON.stringify({ type: `https://concord.dev/problems/${code}`, title: code, status, detail: `${code} (scripted)` }), { status, headers: { 'Content-Type': 'application/problem+json' } });

const posts = (seen: Seen[]) => seen.filter((r) => r.method === 'POST');

describe('tokens', () => {
  it('keeps the newest Concord-Token of the document, sends it back with session consistency, and still has it after a reload', async () => {
    const idb = new IDBFactory();
    const s = server((req, n) => (req.method === 'POST' ? ok(`ct-${n}`, 201) : problem(404, 'not-found')));
    const a = client(idb, { online: true, fetch: s.fetch, pollMs: 60_000 });
    const h = await a.open('app', 'tok', { engine: 'automerge' });
    h.change((d) => {
      d.x = 1;
    });
    h.change((d) => {
      d.y = 2;
    });
    await until('both updates acknowledged', 5_000, () => (a.status.pending === 0 && posts(s.seen).length === 2 ? true : undefined));
    const [p1, p2] = posts(s.seen);
    expect(p1!.headers['Authorization']).toBe('Bearer jwt-1');
    expect(p1!.headers['Idempotency-Key']).toMatch(/^[0-9a-f]{32}$/);
    expect(p2!.headers['Idempotency-Key']).not.toBe(p1!.headers['Idempotency-Key']);
    expect(p1!.headers['Content-Type']).toBe('application/vnd.concord.automerge');
    // The second write carries the token the first one was answered with.
    const firstAnswer = `ct-${s.seen.indexOf(p1!) + 1}`;
    expect(p2!.headers['Concord-Token']).toBe(firstAnswer);
    expect(p2!.headers['Consistency']).toBe('session');
    await until('the pull after them', 5_000, () => (s.seen.length >= 3 ? true : undefined));
    const pull = s.seen[s.seen.length - 1]!;
    expect(pull.method).toBe('GET');
    expect(pull.url).toMatch(/\/v1\/app\/docs\/tok\/crdt\?since=[A-Za-z0-9_-]+$/);
    const newest = `ct-${s.seen.indexOf(p2!) + 1}`;
    expect(pull.headers['Concord-Token']).toBe(newest);
    expect(h.causalToken).toBe(newest);
    await a.close();

    // A reload: the first request of the new client sends the newest token it had.
    const t = server(() => problem(404, 'not-found'));
    const b = client(idb, { online: true, fetch: t.fetch, pollMs: 60_000 });
    await b.open('app', 'tok', { engine: 'automerge' });
    await until('a pull', 5_000, () => t.seen[0]);
    expect(t.seen[0]!.headers['Concord-Token']).toBe(newest);
  });

  it('a 401 calls tokenRefresh once and retries with the fresh token', async () => {
    const s = server((req, n) => (req.headers['Authorization'] !== 'Bearer jwt-2' ? problem(401, 'unauthorized') : req.method === 'POST' ? ok(`ct-${n}`, 201) : problem(404, 'not-found')));
    let refreshes = 0;
    const a = client(new IDBFactory(), {
      online: true,
      fetch: s.fetch,
      pollMs: 60_000,
      tokenRefresh: async () => {
        refreshes++;
        return 'jwt-2';
      },
    });
    const h = await a.open('app', 'refresh', { engine: 'yjs' });
    h.ydoc.getText('t').insert(0, 'hi');
    await until('synced', 5_000, () => (a.status.state === 'synced' && a.status.pending === 0 ? true : undefined));
    expect(refreshes).toBe(1);
    expect(a.error).toBeUndefined();
    expect(posts(s.seen).at(-1)!.headers['Authorization']).toBe('Bearer jwt-2');
  });

  it('a 401 that the refreshed token gets again stops syncing: AuthError 401, refreshed once, edits kept', async () => {
    const s = server(() => problem(401, 'unauthorized'));
    let refreshes = 0;
    const a = client(new IDBFactory(), { online: true, fetch: s.fetch, pollMs: 60_000, tokenRefresh: () => `jwt-${++refreshes + 1}` });
    const h = await a.open('app', 'expired', { engine: 'automerge' });
    h.change((d) => {
      d.kept = true;
    });
    const status = await until('an error status', 5_000, () => (a.status.error ? a.status : undefined));
    expect(status.error).toBeInstanceOf(AuthError);
    expect((status.error as AuthError).status).toBe(401);
    expect(refreshes).toBe(1);
    expect(h.value()).toEqual({ kept: true });
    expect(status.pending).toBe(1);
  });

  it('a 403 stops retrying, reports the error to status listeners, and keeps local edits (in IndexedDB too)', async () => {
    const idb = new IDBFactory();
    const s = server(() => problem(403, 'forbidden'));
    const a = client(idb, { online: true, fetch: s.fetch, pollMs: 0, backoff: { baseMs: 1, capMs: 1 } });
    const events: Status[] = [];
    a.onStatus((st) => events.push(st));
    const h = await a.open('app', 'nope', { engine: 'yjs' });
    h.ydoc.getText('t').insert(0, 'mine');
    const err = await until('the error', 5_000, () => a.error);
    expect(err).toBeInstanceOf(AuthError);
    expect((err as AuthError).status).toBe(403);
    expect(events.some((e) => e.error === err && e.state === 'offline')).toBe(true);
    const requests = s.seen.length;
    // More edits: kept and saved, and no request is made for them.
    h.ydoc.getText('t').insert(4, '!');
    await until('two updates in the outbox', 5_000, () => (h.pendingCount === 2 ? true : undefined));
    const b = client(idb);
    const again = await b.open('app', 'nope', { engine: 'yjs' });
    expect(again.value()).toEqual({ t: 'mine!' });
    expect(again.pendingCount).toBe(2);
    expect(s.seen.length).toBe(requests);
    expect(h.value()).toEqual({ t: 'mine!' });
  });

  it('a strong read offline rejects with OfflineError; a session read offline answers the local view', async () => {
    const a = client(new IDBFactory());
    const h = await a.open('app', 'off', { engine: 'automerge' });
    h.change((d) => {
      d.v = 1;
    });
    await expect(h.read({ consistency: 'strong' })).rejects.toMatchObject({ name: 'OfflineError' });
    expect(await h.read()).toEqual({ v: 1 });
  });
});
