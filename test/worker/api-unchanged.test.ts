import * as Y from 'yjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { call, mint, readToken, writeToken } from './helpers.js';

/**
 * Every kind of bad input, on every route that writes, against existing documents: each gets
 * its 4xx, and afterwards the stored documents are byte-for-byte what they were, in every
 * region, at every level.
 */
const AM = '/v1/demo/docs/unchanged-am';
const YJS = '/v1/demo/docs/unchanged-y';
let token: string;

const REGIONS = ['wnam', 'weur', 'apac'];

// At `eventual` each region's own member answers (a strong read would always reach the
// leader), so every region's stored bytes are really compared.
async function snapshot(): Promise<string[]> {
  const out: string[] = [];
  for (const path of [AM, YJS]) {
    for (const region of REGIONS) {
      const res = await call(`${path}/crdt`, { token, headers: { 'Concord-Region': region, Consistency: 'eventual' } });
      expect(res.status).toBe(200);
      expect(res.headers.get('Concord-Member')).toMatch(new RegExp(`:${region}$`));
      out.push(`${path} ${region} ${res.headers.get('ETag')} ${Buffer.from(await res.arrayBuffer()).toString('base64')}`);
    }
  }
  return out;
}

/** Polls until every region holds both documents at one ETag each; bounded. */
async function converged(ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const etags: string[] = [];
    for (const path of [AM, YJS]) {
      for (const region of REGIONS) {
        const res = await call(`${path}/crdt`, { token, headers: { 'Concord-Region': region } });
        await res.arrayBuffer();
        etags.push(res.status === 200 ? `${path} ${res.headers.get('ETag')}` : `${path} missing in ${region}`);
      }
    }
    if (new Set(etags).size === 2) return;
    if (Date.now() > deadline) throw new Error(`regions did not converge within ${ms} ms: ${etags.join(', ')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  token = await writeToken();
  const put = await call(AM, { method: 'PUT', token, json: { title: 'kept', stock: 3, notes: 'hello' }, headers: { Consistency: 'strong' } });
  expect(put.status).toBe(201);
  const d = new Y.Doc();
  d.getText('t').insert(0, 'kept');
  const post = await call(`${YJS}/crdt`, {
    method: 'POST',
    token,
    body: Y.encodeStateAsUpdate(d),
    headers: { 'Content-Type': 'application/vnd.concord.yjs', Consistency: 'strong' },
  });
  expect(post.status).toBe(201);
  await converged();
});

describe('bad input never changes stored state', () => {
  it('answers every bad request with a 4xx problem and leaves both documents byte-for-byte unchanged', async () => {
    const before = await snapshot();
    const issued = (await call(YJS, { token, headers: { Consistency: 'eventual' } })).headers.get('Concord-Token')!;
    const json = { 'Content-Type': 'application/json' };
    const bad: [string, string, RequestInit & { token?: string }][] = [
      ['PUT', AM, { body: '{"title": ', headers: json }],
      ['PUT', AM, { body: '[1,2]', headers: json }],
      ['PUT', AM, { body: '{"a":1}', headers: { 'Content-Type': 'text/plain' } }],
      ['PUT', AM, { body: JSON.stringify({ big: 'x'.repeat(1_100_000) }), headers: json }],
      ['PUT', YJS, { body: '{"a":1}', headers: json }],
      ['PATCH', AM, { body: '{"a":1}', headers: json }],
      ['PATCH', AM, { body: '"str"', headers: { 'Content-Type': 'application/merge-patch+json' } }],
      ['PATCH', AM, { body: '{"a":', headers: { 'Content-Type': 'application/merge-patch+json' } }],
      ['POST', `${AM}/ops`, { body: JSON.stringify({ ops: [{ op: 'frobnicate', path: ['a'] }] }), headers: json }],
      ['POST', `${AM}/ops`, { body: JSON.stringify({ ops: [{ op: 'set', path: ['title'], value: 'x' }, { op: 'delete', path: ['missing'] }] }), headers: json }],
      ['POST', `${AM}/ops`, { body: JSON.stringify({ ops: [{ op: 'increment', path: ['stock'], by: -9, min: 0 }] }), headers: { ...json, Consistency: 'strong' } }],
      ['POST', `${AM}/ops`, { body: JSON.stringify({ ops: [{ op: 'increment', path: ['stock'], by: -1, min: 0 }] }), headers: json }],
      ['POST', `${AM}/ops`, { body: JSON.stringify({ ops: [{ op: 'splice', path: ['notes'], index: 99, delete: 0, insert: 'x' }] }), headers: json }],
      ['PUT', AM, { body: '{"a":1}', headers: { ...json, Consistency: 'strong', 'If-Match': '"stale"' } }],
      ['PUT', AM, { body: '{"a":1}', headers: { ...json, Consistency: 'linearizable' } }],
      ['PUT', AM, { body: '{"a":1}', headers: { ...json, 'Concord-Token': '!!' } }],
      ['POST', `${AM}/crdt`, { body: new Uint8Array([1, 2, 3]), headers: { 'Content-Type': 'application/vnd.concord.automerge' } }],
      ['POST', `${YJS}/crdt`, { body: new Uint8Array([0, 9, 9, 9]), headers: { 'Content-Type': 'application/vnd.concord.yjs' } }],
      ['POST', `${YJS}/crdt`, { body: new Uint8Array([1, 2, 3]), headers: { 'Content-Type': 'application/octet-stream' } }],
      ['POST', `${AM}/crdt`, { body: Y.encodeStateAsUpdate(new Y.Doc()), headers: { 'Content-Type': 'application/vnd.concord.yjs' } }],
      ['DELETE', AM, { headers: { Consistency: 'strong', 'If-Match': '"stale"' } }],
      ['PUT', '/v1/bad%20ns/docs/x', { body: '{}', headers: json }],
      ['PUT', AM, { body: '{"a":1}', headers: json, token: await readToken() }],
      ['PUT', AM, { body: '{"a":1}', headers: json, token: await mint({ ns: 'other*', scope: 'write' }) }],
      ['PUT', AM, { body: '{"a":1}', headers: json, token: 'not.a.jwt' }],
      ['DELETE', AM, { token: await readToken() }],
      // Hostile input (issue 6): nesting past MAX_DEPTH, numbers JSON cannot hold.
      ['PUT', AM, { body: `{"a":${'['.repeat(100_000)}${']'.repeat(100_000)}}`, headers: json }],
      ['PATCH', AM, { body: `{"a":${'['.repeat(1_080)}${']'.repeat(1_080)}}`, headers: { 'Content-Type': 'application/merge-patch+json' } }],
      ['POST', `${AM}/ops`, { body: `{"ops":[{"op":"set","path":["d"],"value":${'['.repeat(10_000)}${']'.repeat(10_000)}}]}`, headers: json }],
      ['PUT', AM, { body: '{"title":1e999}', headers: json }],
      ['PATCH', AM, { body: '{"stock":-1e999}', headers: { 'Content-Type': 'application/merge-patch+json' } }],
      ['PUT', AM, { body: new Uint8Array([...new TextEncoder().encode('{"title":"'), 0xff, 0x22, 0x7d]), headers: json }],
      // Malformed percent-encoding: refused, never read as some other key or value.
      ['PUT', `${AM}%FF`, { body: '{"a":1}', headers: json }],
      ['DELETE', `${AM}%`, {}],
      ['PATCH', `${AM}?consistency=eventual%FF`, { body: '{"a":1}', headers: { 'Content-Type': 'application/merge-patch+json' } }],
      // Concord-Tokens the service did not issue: unsigned (as tokens were before they carried a MAC), or altered.
      ['PUT', AM, { body: '{"a":1}', headers: { ...json, 'Concord-Token': Buffer.from([1, 0, 1, 4, ...Buffer.from('mars'), 9]).toString('base64url') } }],
      ['PATCH', AM, { body: '{"a":1}', headers: { 'Content-Type': 'application/merge-patch+json', Consistency: 'session', 'Concord-Token': `${issued.slice(0, -3)}${issued.endsWith('AAA') ? 'BBB' : 'AAA'}` } }],
      ['POST', `${AM}/ops`, { body: new Uint8Array([...new TextEncoder().encode('{"ops":[{"op":"set","path":["title"],"value":"'), 0xed, 0xa0, 0x80, ...new TextEncoder().encode('"}]}')]), headers: json }],
    ];
    for (const [method, path, init] of bad) {
      const res = await call(path, { method, token, ...init });
      const what = `${method} ${path} ${JSON.stringify(init.headers ?? {})}`;
      expect(res.status, what).toBeGreaterThanOrEqual(400);
      expect(res.status, what).toBeLessThan(500);
      expect(res.headers.get('Content-Type'), what).toBe('application/problem+json');
      await res.arrayBuffer();
    }
    expect(await snapshot()).toEqual(before);
  });
});
