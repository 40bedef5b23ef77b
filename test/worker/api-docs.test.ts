/**
 * The routes end to end through working shard members. These need the ReplicaObject (they
 * answer 500 against its skeleton); everything the edge refuses on its own is in
 * api-validation.test.ts.
 */
import { env } from 'cloudflare:test';
import * as Y from 'yjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { readCausalToken, tokenSecret } from '../../src/api/causal-token.js';
import { shard } from '../../src/core/routing.js';
import { readConfig } from '../../src/objects/config.js';
import { adminToken, call, type CallInit, expectProblem, writeToken } from './helpers.js';

const SHARDS = 4;
const REGIONS = ['wnam', 'weur', 'apac'];
let token: string;
let admin: string;
beforeAll(async () => {
  token = await writeToken('*');
  admin = await adminToken();
});

const doc = (ns: string, key: string, init: CallInit = {}): Promise<Response> => call(`/v1/${ns}/docs/${encodeURIComponent(key)}`, { token, ...init });

describe('JSON documents', () => {
  it('PUT creates (201, Location) then replaces (200); GET reads it back with token, member and ETag', async () => {
    const created = await doc('docs1', 'a/b', { method: 'PUT', json: { title: 'Widget', stock: 3 } });
    expect(created.status).toBe(201);
    expect(created.headers.get('Location')).toBe('/v1/docs1/docs/a%2Fb');
    expect(created.headers.get('Content-Type')).toBe('application/json');
    expect(await created.json()).toEqual({ title: 'Widget', stock: 3 });
    const s = shard('docs1', 'a/b', SHARDS);
    expect(created.headers.get('Concord-Member')).toMatch(new RegExp(`^replica:${s}:(wnam|weur|apac)$`));
    const tokenOut = await readCausalToken(created.headers.get('Concord-Token')!, tokenSecret(env), readConfig(env));
    expect([...tokenOut.keys()]).toEqual([s]);
    expect(created.headers.get('ETag')).toMatch(/^".+"$/);

    const replaced = await doc('docs1', 'a/b', { method: 'PUT', json: { title: 'Gadget' } });
    expect(replaced.status).toBe(200);
    expect(await replaced.json()).toEqual({ title: 'Gadget' });

    const read = await doc('docs1', 'a/b');
    expect(read.status).toBe(200);
    expect(await read.json()).toEqual({ title: 'Gadget' });
    expect(read.headers.get('ETag')).toBe(replaced.headers.get('ETag'));
    const again = await doc('docs1', 'a/b', { headers: { 'If-None-Match': read.headers.get('ETag')! } });
    expect(again.status).toBe(304);
  });

  it('PATCH applies a merge patch and POST ops applies operations', async () => {
    await doc('docs2', 'k', { method: 'PUT', json: { a: 1, b: { c: 2 } } });
    const patched = await doc('docs2', 'k', { method: 'PATCH', body: '{"a":null,"b":{"d":3}}', headers: { 'Content-Type': 'application/merge-patch+json' } });
    expect(patched.status).toBe(200);
    expect(await patched.json()).toEqual({ b: { c: 2, d: 3 } });
    const ops = await call('/v1/docs2/docs/k/ops', { method: 'POST', token, json: { ops: [{ op: 'increment', path: '/n', by: 2 }, { op: 'set', path: ['t'], value: 'x' }] } });
    expect(ops.status).toBe(200);
    expect(await ops.json()).toEqual({ b: { c: 2, d: 3 }, n: 2, t: 'x' });
  });

  it('answers 404 for a missing document, and DELETE removes one (204) so that it reads as 404', async () => {
    await expectProblem(await doc('docs3', 'nope'), 404, 'not-found');
    await expectProblem(await doc('docs3', 'nope', { method: 'DELETE' }), 404, 'not-found');
    await doc('docs3', 'k', { method: 'PUT', json: { a: 1 } });
    const del = await doc('docs3', 'k', { method: 'DELETE' });
    expect(del.status).toBe(204);
    expect(del.headers.get('Concord-Token')).toBeTruthy();
    await expectProblem(await doc('docs3', 'k'), 404, 'not-found');
  });

  it('honours If-Match and guards at strong: 412 on a stale ETag, 409 past a bound', async () => {
    const put = await doc('docs4', 'k', { method: 'PUT', json: { stock: 1 }, headers: { Consistency: 'strong' } });
    const etag = put.headers.get('ETag')!;
    const ok = await doc('docs4', 'k', { method: 'PUT', json: { stock: 1, x: 1 }, headers: { Consistency: 'strong', 'If-Match': etag } });
    expect(ok.status).toBe(200);
    await expectProblem(await doc('docs4', 'k', { method: 'PUT', json: {}, headers: { Consistency: 'strong', 'If-Match': etag } }), 412, 'precondition-failed');
    // A counter is made by increment (a plain number from PUT is not one).
    const inc = { ops: [{ op: 'increment', path: ['count'], by: 1 }] };
    expect((await call('/v1/docs4/docs/k/ops', { method: 'POST', token, json: inc, headers: { Consistency: 'strong' } })).status).toBe(200);
    const dec = { ops: [{ op: 'increment', path: ['count'], by: -1, min: 0 }] };
    const first = await call('/v1/docs4/docs/k/ops', { method: 'POST', token, json: dec, headers: { Consistency: 'strong' } });
    expect(first.status, await first.clone().text()).toBe(200);
    await expectProblem(await call('/v1/docs4/docs/k/ops', { method: 'POST', token, json: dec, headers: { Consistency: 'strong' } }), 409, 'guard-violation');
  });

  it('answers path-not-found with 409', async () => {
    await doc('docs5', 'k', { method: 'PUT', json: {} });
    const res = await call('/v1/docs5/docs/k/ops', { method: 'POST', token, json: { ops: [{ op: 'splice', path: ['missing'], index: 0, insert: 'x' }] } });
    await expectProblem(res, 409, 'path-not-found');
  });

  it('serves the member of the region the caller names', async () => {
    for (const region of REGIONS) {
      const res = await doc('docs6', 'k', { method: 'PUT', json: { r: region }, headers: { 'Concord-Region': region } });
      expect(res.headers.get('Concord-Member')).toBe(`replica:${shard('docs6', 'k', SHARDS)}:${region}`);
    }
  });

  it('gives read-your-writes in another region at session level with the returned token', async () => {
    const w = await doc('docs7', 'k', { method: 'PUT', json: { n: 1 }, headers: { 'Concord-Region': 'wnam', Consistency: 'session' } });
    const r = await call('/v1/docs7/docs/k?region=apac', { token, headers: { Consistency: 'session', 'Concord-Token': w.headers.get('Concord-Token')! } });
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ n: 1 });
  });
});

describe('engine-native bytes', () => {
  it('POST creates a Yjs document; GET returns its bytes, whole or since a state vector', async () => {
    const d = new Y.Doc();
    d.getText('t').insert(0, 'hello');
    const posted = await call('/v1/crdt1/docs/y/crdt', { method: 'POST', token, body: Y.encodeStateAsUpdate(d), headers: { 'Content-Type': 'application/vnd.concord.yjs' } });
    expect(posted.status).toBe(201);
    expect(await posted.json()).toEqual({ engine: 'yjs', json: { t: 'hello' } });

    const got = await call('/v1/crdt1/docs/y/crdt', { token });
    expect(got.headers.get('Content-Type')).toBe('application/vnd.concord.yjs');
    const copy = new Y.Doc();
    Y.applyUpdate(copy, new Uint8Array(await got.arrayBuffer()));
    expect(copy.getText('t').toString()).toBe('hello');

    const sv = Buffer.from(Y.encodeStateVector(copy)).toString('base64url');
    const none = await call(`/v1/crdt1/docs/y/crdt?since=${sv}`, { token });
    expect(none.status).toBe(200);
    expect((await call('/v1/crdt1/docs/y', { token })).status).toBe(200);
  });

  it('refuses JSON operations on a Yjs document and Yjs bytes on an Automerge one (409)', async () => {
    const d = new Y.Doc();
    d.getMap('m').set('a', 1);
    await call('/v1/crdt2/docs/y/crdt', { method: 'POST', token, body: Y.encodeStateAsUpdate(d), headers: { 'Content-Type': 'application/vnd.concord.yjs' } });
    await expectProblem(await call('/v1/crdt2/docs/y', { method: 'PUT', token, json: { a: 2 } }), 409, 'engine-mismatch');
    await call('/v1/crdt2/docs/am', { method: 'PUT', token, json: { a: 1 } });
    const res = await call('/v1/crdt2/docs/am/crdt', { method: 'POST', token, body: Y.encodeStateAsUpdate(d), headers: { 'Content-Type': 'application/vnd.concord.yjs' } });
    await expectProblem(res, 409, 'engine-mismatch');
  });

  it('refuses bytes that do not decode (400) and leaves no document behind', async () => {
    const res = await call('/v1/crdt3/docs/bad/crdt', { method: 'POST', token, body: new Uint8Array([1, 2, 3, 250]), headers: { 'Content-Type': 'application/vnd.concord.automerge' } });
    await expectProblem(res, 400, 'invalid-update');
    await expectProblem(await call('/v1/crdt3/docs/bad', { token }), 404, 'not-found');
  });
});

describe('listing', () => {
  it('pages through the keys of a namespace across shards, in order, with an opaque cursor', async () => {
    const keys = ['a1', 'a2', 'a3', 'a4', 'a5', 'b1'];
    for (const k of keys) await doc('list1', k, { method: 'PUT', json: { k }, headers: { 'Concord-Region': 'weur' } });
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const q: string = `prefix=a&limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const res = await call(`/v1/list1/docs?${q}`, { token, headers: { 'Concord-Region': 'weur' } });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { keys: string[]; cursor: string | null };
      seen.push(...body.keys);
      cursor = body.cursor;
      pages++;
    } while (cursor && pages < 10);
    expect(seen).toEqual(['a1', 'a2', 'a3', 'a4', 'a5']);
    expect(pages).toBe(3);
  });
});

describe('admin', () => {
  it('/v1/cluster reports every member of every shard', async () => {
    const res = await call('/v1/cluster', { token: admin });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { regions: string[]; primary: string; shards: number; members: { member: string; error?: string }[]; leaders: unknown[] };
    expect(body).toMatchObject({ regions: REGIONS, primary: 'wnam', shards: SHARDS });
    expect(body.members).toHaveLength(SHARDS * REGIONS.length);
    expect(body.members.filter((m) => m.error)).toEqual([]);
    expect(body.leaders).toHaveLength(SHARDS);
  });

  it('fault injection cuts the leader off: strong writes from the other side answer 503 with Retry-After until healed', async () => {
    const faults = await call('/v1/_test/faults', { method: 'POST', token: admin, json: { partitions: [['wnam'], ['weur', 'apac']] } });
    expect(faults.status).toBe(204);
    try {
      const res = await doc('faults1', 'k', { method: 'PUT', json: { a: 1 }, headers: { Consistency: 'strong', 'Concord-Region': 'weur' } });
      expect(Number(res.headers.get('Retry-After'))).toBeGreaterThanOrEqual(1);
      await expectProblem(res, 503, 'unavailable');
      const eventual = await doc('faults1', 'k', { method: 'PUT', json: { a: 1 }, headers: { 'Concord-Region': 'weur' } });
      expect(eventual.status).toBe(201);
    } finally {
      expect((await call('/v1/_test/faults', { method: 'DELETE', token: admin })).status).toBe(204);
    }
    const healed = await doc('faults1', 'k', { method: 'PUT', json: { a: 2 }, headers: { Consistency: 'strong', 'Concord-Region': 'weur' } });
    expect(healed.status).toBe(200);
  });
});
