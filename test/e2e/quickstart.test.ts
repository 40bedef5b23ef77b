/**
 * The README quickstart, end to end: the real `wrangler dev` (as `npm start` runs it), a
 * token minted by `npm run -s token`, and the requests the README shows, over HTTP from
 * Node's fetch. A second suite runs the test environment (`npm run start:test`) and drives
 * a partition through `/v1/_test/faults` and back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { eventually } from './eventually.js';
import { mintToken, startWrangler, type WranglerDev } from './wrangler.js';

const JSON_TYPE = 'application/json';
const YJS_TYPE = 'application/vnd.concord.yjs';
const PROBLEM_TYPE = 'application/problem+json';

interface Send {
  token?: string;
  json?: unknown;
  body?: BodyInit;
  headers?: Record<string, string>;
}

/** A client of one running server, as curl would call it. */
function client(dev: () => WranglerDev) {
  return async (method: string, path: string, { token, json, body, headers = {} }: Send = {}): Promise<Response> => {
    const h: Record<string, string> = { ...headers };
    if (token) h['Authorization'] = `Bearer ${token}`;
    if (json !== undefined && !h['Content-Type']) h['Content-Type'] = JSON_TYPE;
    const payload = json !== undefined ? JSON.stringify(json) : body;
    return fetch(`${dev().url}${path}`, { method, headers: h, ...(payload !== undefined && { body: payload }), signal: AbortSignal.timeout(30_000) });
  };
}

/** Asserts an RFC 9457 problem with the documented `type` and returns its body. */
async function expectProblem(res: Response, status: number, code: string): Promise<{ type: string; detail: string }> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  expect(res.headers.get('Content-Type')).toBe(PROBLEM_TYPE);
  const body = JSON.parse(text) as { type: string; status: number; detail: string };
  expect(body).toMatchObject({ type: `https://concord.dev/problems/${code}`, status });
  return body;
}

describe('README quickstart on wrangler dev (default config)', () => {
  let dev: WranglerDev;
  let token: string;
  let admin: string;
  const api = client(() => dev);
  const doc = (key: string): string => `/v1/demo/docs/${encodeURIComponent(key)}`;

  beforeAll(async () => {
    [dev, token, admin] = await Promise.all([
      startWrangler(),
      mintToken('--ns', 'demo*', '--scope', 'write'),
      mintToken('--scope', 'admin', '--ns', '*'),
    ]);
  });
  afterAll(async () => {
    await dev?.stop();
  });

  it('serves GET /healthz without a token', async () => {
    const res = await api('GET', '/healthz');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
  });

  it('PUT creates a JSON document and GET returns it with ETag and Concord-Token', async () => {
    const value = { title: 'Widget', stock: 3, tags: ['new'] };
    const put = await api('PUT', doc('hello'), { token, json: value });
    expect(put.status, await put.clone().text()).toBe(201);
    expect(await put.json()).toEqual(value);
    expect(put.headers.get('Concord-Token')).toBeTruthy();

    const get = await api('GET', doc('hello'), { token });
    expect(get.status).toBe(200);
    expect(get.headers.get('Content-Type')).toContain(JSON_TYPE);
    expect(await get.json()).toEqual(value);
    expect(get.headers.get('ETag')).toMatch(/^(W\/)?".+"$/);
    expect(get.headers.get('Concord-Token')).toBeTruthy();
    expect(get.headers.get('Concord-Member')).toMatch(/^replica:\d+:wnam$/);

    const again = await api('GET', doc('hello'), { token, headers: { 'If-None-Match': get.headers.get('ETag')! } });
    expect(again.status).toBe(304);
  });

  it('PATCH applies a JSON merge patch', async () => {
    await api('PUT', doc('patched'), { token, json: { title: 'Widget', draft: true, dims: { w: 1, h: 2 } } });
    const res = await api('PATCH', doc('patched'), {
      token,
      json: { draft: null, dims: { h: 5 }, price: 9.5 },
      headers: { 'Content-Type': 'application/merge-patch+json' },
    });
    expect(res.status, await res.clone().text()).toBe(200);
    expect(await res.json()).toEqual({ title: 'Widget', dims: { w: 1, h: 5 }, price: 9.5 });
  });

  it('POST ops: set, increment and splice as one change', async () => {
    await api('PUT', doc('ops'), { token, json: { title: 'x', notes: 'world' } });
    const res = await api('POST', `${doc('ops')}/ops`, {
      token,
      json: {
        ops: [
          { op: 'set', path: ['title'], value: 'Widget' },
          { op: 'increment', path: ['stock'], by: 5 },
          { op: 'increment', path: ['stock'], by: -2 },
          { op: 'splice', path: ['notes'], index: 0, delete: 0, insert: 'hello ' },
        ],
      },
    });
    expect(res.status, await res.clone().text()).toBe(200);
    expect(await res.json()).toEqual({ title: 'Widget', stock: 3, notes: 'hello world' });
    const get = await api('GET', doc('ops'), { token });
    expect(await get.json()).toEqual({ title: 'Widget', stock: 3, notes: 'hello world' });
  });

  it('a session read in another region with the write\'s Concord-Token sees the write', async () => {
    const put = await api('PUT', doc('travel'), { token, json: { city: 'Lisbon', n: 1 }, headers: { 'Concord-Region': 'wnam' } });
    expect(put.status).toBe(201);
    const patch = await api('PATCH', doc('travel'), {
      token,
      json: { n: 2 },
      headers: { 'Content-Type': 'application/merge-patch+json', 'Concord-Region': 'wnam' },
    });
    expect(patch.status).toBe(200);
    const written = patch.headers.get('Concord-Token')!;
    expect(written).toBeTruthy();

    const read = await api('GET', doc('travel'), {
      token,
      headers: { 'Concord-Region': 'weur', Consistency: 'session', 'Concord-Token': written },
    });
    expect(read.status, await read.clone().text()).toBe(200);
    expect(read.headers.get('Concord-Member')).toMatch(/:weur$/);
    expect(await read.json()).toEqual({ city: 'Lisbon', n: 2 });
    expect(read.headers.get('Concord-Token')).toBeTruthy();
  });

  it('a strong read from any region is answered by the leader with the latest write', async () => {
    await api('PUT', doc('strong'), { token, json: { v: 1 }, headers: { 'Concord-Region': 'apac' } });
    const write = await api('PUT', doc('strong'), { token, json: { v: 2 }, headers: { 'Concord-Region': 'apac', Consistency: 'strong' } });
    expect([200, 201], await write.clone().text()).toContain(write.status);
    const read = await api('GET', doc('strong'), { token, headers: { 'Concord-Region': 'weur', Consistency: 'strong' } });
    expect(read.status, await read.clone().text()).toBe(200);
    expect(read.headers.get('Concord-Member')).toMatch(/:wnam$/);
    expect(await read.json()).toEqual({ v: 2 });
  });

  it('lists keys with GET /v1/demo/docs?prefix=', async () => {
    for (const k of ['list/a', 'list/b', 'list/c']) {
      expect((await api('PUT', doc(k), { token, json: { k } })).status).toBe(201);
    }
    const all = await api('GET', '/v1/demo/docs?prefix=', { token });
    expect(all.status).toBe(200);
    const body = (await all.json()) as { keys: string[]; cursor: string | null };
    expect(body.keys).toEqual(expect.arrayContaining(['hello', 'list/a', 'list/b', 'list/c']));

    const page = (await (await api('GET', '/v1/demo/docs?prefix=list/&limit=2', { token })).json()) as { keys: string[]; cursor: string | null };
    expect(page.keys).toEqual(['list/a', 'list/b']);
    expect(page.cursor).toBeTruthy();
    const next = (await (await api('GET', `/v1/demo/docs?prefix=list/&limit=2&cursor=${encodeURIComponent(page.cursor!)}`, { token })).json()) as { keys: string[]; cursor: string | null };
    expect(next).toEqual({ keys: ['list/c'], cursor: null });
  });

  it('a Yjs document: POST engine bytes from yjs, GET .../crdt back', async () => {
    const ydoc = new Y.Doc();
    ydoc.getText('body').insert(0, 'hello from yjs');
    ydoc.getMap('meta').set('author', 'ada');
    const res = await api('POST', `${doc('notes')}/crdt`, {
      token,
      body: Y.encodeStateAsUpdate(ydoc),
      headers: { 'Content-Type': YJS_TYPE },
    });
    expect(res.status, await res.clone().text()).toBe(201);
    expect(await res.json()).toEqual({ engine: 'yjs', json: { body: 'hello from yjs', meta: { author: 'ada' } } });

    const get = await api('GET', `${doc('notes')}/crdt`, { token });
    expect(get.status).toBe(200);
    expect(get.headers.get('Content-Type')).toBe(YJS_TYPE);
    const copy = new Y.Doc();
    Y.applyUpdate(copy, new Uint8Array(await get.arrayBuffer()));
    expect(copy.getText('body').toString()).toBe('hello from yjs');
    expect(copy.getMap('meta').get('author')).toBe('ada');

    const asJson = await api('GET', doc('notes'), { token });
    expect(await asJson.json()).toEqual({ body: 'hello from yjs', meta: { author: 'ada' } });
  });

  it('DELETE removes a document; GET then answers 404', async () => {
    expect((await api('PUT', doc('doomed'), { token, json: { bye: true } })).status).toBe(201);
    const del = await api('DELETE', doc('doomed'), { token });
    expect(del.status).toBe(204);
    await expectProblem(await api('GET', doc('doomed'), { token }), 404, 'not-found');
  });

  it('malformed JSON is a 400 problem+json and changes nothing', async () => {
    const before = await (await api('GET', doc('hello'), { token })).text();
    const res = await api('PUT', doc('hello'), { token, body: '{"title": ', headers: { 'Content-Type': JSON_TYPE } });
    await expectProblem(res, 400, 'malformed-json');
    expect(await (await api('GET', doc('hello'), { token })).text()).toBe(before);
  });

  it('no token is a 401 problem', async () => {
    await expectProblem(await api('GET', doc('hello')), 401, 'unauthorized');
  });

  it('/v1/_test/faults does not exist outside the test environment', async () => {
    await expectProblem(await api('POST', '/v1/_test/faults', { token: admin, json: { partitions: [['wnam'], ['weur', 'apac']] } }), 404, 'route-not-found');
    await expectProblem(await api('DELETE', '/v1/_test/faults', { token: admin }), 404, 'route-not-found');
  });
});

describe('fault injection on wrangler dev --env test', () => {
  let dev: WranglerDev;
  let token: string;
  let admin: string;
  const api = client(() => dev);
  const doc = (key: string): string => `/v1/demo/docs/${encodeURIComponent(key)}`;
  const at = (region: string, extra: Record<string, string> = {}): Record<string, string> => ({ 'Concord-Region': region, ...extra });

  beforeAll(async () => {
    [dev, token, admin] = await Promise.all([
      startWrangler({ env: 'test' }),
      mintToken('--ns', 'demo*', '--scope', 'write'),
      mintToken('--scope', 'admin', '--ns', '*'),
    ]);
  });
  afterAll(async () => {
    await dev?.stop();
  });

  it('a partition keeps eventual writes available, fails strong fast, and heals', async () => {
    // Only an admin may set faults.
    await expectProblem(await api('POST', '/v1/_test/faults', { token, json: {} }), 403, 'forbidden');

    const cut = await api('POST', '/v1/_test/faults', { token: admin, json: { partitions: [['wnam'], ['weur', 'apac']] } });
    expect(cut.status, await cut.clone().text()).toBe(204);
    try {
      // Both sides accept eventual writes.
      expect((await api('PUT', doc('split'), { token, json: { from: 'weur' }, headers: at('weur') })).status).toBe(201);
      expect((await api('PUT', doc('other'), { token, json: { from: 'wnam' }, headers: at('wnam') })).status).toBe(201);
      // The leader (wnam) is cut off from weur: strong through weur fails fast with Retry-After.
      const strong = await api('PUT', doc('split'), { token, json: { from: 'strong' }, headers: at('weur', { Consistency: 'strong' }) });
      await expectProblem(strong, 503, 'unavailable');
      expect(strong.headers.get('Retry-After')).toMatch(/^\d+$/);
      // The leader alone is no majority: once its lease (1.5 s in the test environment) has
      // lapsed, it no longer answers quorum reads from its own state.
      const refused = await eventually('the leader alone refusing a quorum read', 4000, async () => {
        const res = await api('GET', doc('other'), { token, headers: at('wnam', { Consistency: 'quorum' }) });
        return res.status === 503 ? res : (await res.arrayBuffer(), undefined);
      });
      await expectProblem(refused, 503, 'unavailable');
    } finally {
      const heal = await api('DELETE', '/v1/_test/faults', { token: admin });
      expect(heal.status).toBe(204);
    }

    // After healing, gossip carries the weur write to wnam, and strong works again.
    const seen = await eventually('the weur write reaching wnam', 30_000, async () => {
      const res = await api('GET', doc('split'), { token, headers: at('wnam') });
      return res.status === 200 ? await res.json() : (await res.arrayBuffer(), undefined);
    });
    expect(seen).toEqual({ from: 'weur' });
    const strong = await eventually('a strong write after healing', 30_000, async () => {
      const res = await api('PUT', doc('split'), { token, json: { from: 'strong' }, headers: at('weur', { Consistency: 'strong' }) });
      return res.status === 200 ? res : (await res.arrayBuffer(), undefined);
    });
    expect(await strong.json()).toEqual({ from: 'strong' });
    const read = await api('GET', doc('other'), { token, headers: at('apac', { Consistency: 'strong' }) });
    expect(read.status).toBe(200);
    expect(await read.json()).toEqual({ from: 'wnam' });
  });
});
