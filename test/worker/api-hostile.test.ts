/**
 * Hostile input at the edge (issue 6): bodies nested deep enough to exhaust a stack, numbers
 * JSON cannot hold, invalid UTF-8, malformed percent-encoding and forged causal tokens. Each
 * is refused with a 400 problem before any member or recursive code sees it, the isolate
 * keeps serving, and the stored documents stay byte-for-byte what they were in every region.
 */
import { env } from 'cloudflare:test';
import * as Y from 'yjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { app } from '../../src/api/app.js';
import { shard } from '../../src/core/routing.js';
import type { Env } from '../../src/objects/config.js';
import { call, type CallInit, expectProblem, writeToken } from './helpers.js';

const AM = '/v1/demo/docs/hostile-am';
const YJS = '/v1/demo/docs/hostile-y';
const REGIONS = ['wnam', 'weur', 'apac'] as const;
const JSON_TYPE = { 'Content-Type': 'application/json' };
const PATCH_TYPE = { 'Content-Type': 'application/merge-patch+json' };
let token: string;

/** Each region's own member, read at `eventual` so that every region is really looked at. */
async function regionState(path: string, region: string): Promise<string> {
  const res = await call(`${path}/crdt`, { token, headers: { 'Concord-Region': region, Consistency: 'eventual' } });
  expect(res.status, `${path} in ${region}`).toBe(200);
  return `${path} ${region} ${res.headers.get('ETag')} ${Buffer.from(await res.arrayBuffer()).toString('base64')}`;
}

async function snapshot(): Promise<string[]> {
  const out: string[] = [];
  for (const path of [AM, YJS]) for (const region of REGIONS) out.push(await regionState(path, region));
  return out;
}

/** Polls until every region serves both documents with one ETag each; bounded. */
async function converged(ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const etags = await Promise.all(
      [AM, YJS].flatMap((path) =>
        REGIONS.map(async (region) => {
          const res = await call(`${path}/crdt`, { token, headers: { 'Concord-Region': region } });
          await res.arrayBuffer();
          return res.status === 200 ? `${path} ${res.headers.get('ETag')}` : `${path} missing in ${region}`;
        }),
      ),
    );
    if (new Set(etags).size === 2) return;
    if (Date.now() > deadline) throw new Error(`regions did not converge within ${ms} ms: ${etags.join(', ')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

let before: string[];
beforeAll(async () => {
  token = await writeToken();
  const put = await call(AM, { method: 'PUT', token, json: { title: 'kept', stock: 3, nested: { a: [1, { b: 2 }] } }, headers: { Consistency: 'strong' } });
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
  before = await snapshot();
});

// Every refusal in this file must have left both documents untouched in every region.
afterAll(async () => {
  expect(await snapshot()).toEqual(before);
});

/** The request, then the 400 problem it must get; returns the problem body. */
async function refused(path: string, init: CallInit, code: string, status = 400): Promise<{ detail: string }> {
  const res = await call(path, { token, ...init });
  return expectProblem(res, status, code);
}

/** A JSON text nested `depth` levels: an object holding arrays. */
const nested = (depth: number): string => `{"a":${'['.repeat(depth - 1)}${']'.repeat(depth - 1)}}`;
const opsWith = (value: string): string => `{"ops":[{"op":"set","path":["deep"],"value":${value}}]}`;

describe('MAX_DEPTH: bodies nested deeper than the limit', () => {
  it('are refused with 400 too-deep on PUT, PATCH and ops, naming MAX_DEPTH and the limit', async () => {
    for (const depth of [65, 1_080, 10_000, 100_000]) {
      const body = nested(depth);
      for (const [method, path, init] of [
        ['PUT', AM, { body, headers: JSON_TYPE }],
        ['PATCH', AM, { body, headers: PATCH_TYPE }],
        ['POST', `${AM}/ops`, { body: opsWith(body), headers: JSON_TYPE }],
      ] as const) {
        const problem = await refused(path, { method, ...init }, 'too-deep');
        expect(problem.detail, `${method} ${depth}`).toContain('MAX_DEPTH');
        expect(problem.detail, `${method} ${depth}`).toContain('64');
      }
    }
  });

  it('does not count brackets inside strings, and accepts a body exactly MAX_DEPTH deep', async () => {
    const path = '/v1/demo/docs/hostile-at-limit';
    const ok = await call(path, { method: 'PUT', token, body: `{"s":"${'['.repeat(500)}","d":${nested(63)}}`, headers: JSON_TYPE });
    expect(ok.status, await ok.clone().text()).toBe(201);
    const read = (await (await call(path, { token })).json()) as { s: string };
    expect(read.s).toBe('['.repeat(500));
    await refused(path, { method: 'PUT', body: `{"d":${nested(64)}}`, headers: JSON_TYPE }, 'too-deep');
  });

  it('leaves the isolate serving after the deepest body', async () => {
    await refused(AM, { method: 'PUT', body: nested(100_000), headers: JSON_TYPE }, 'too-deep');
    const res = await call(AM, { token });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ title: 'kept' });
  });

  it('reads the limit from MAX_DEPTH', async () => {
    const headers = { Authorization: `Bearer ${token}`, ...JSON_TYPE };
    const shallow = { ...env, MAX_DEPTH: '8' } as Env;
    const res = await app.request(AM, { method: 'PUT', headers, body: nested(9) }, shallow);
    const problem = await expectProblem(res, 400, 'too-deep');
    expect(problem.detail).toContain('8 levels');
  });
});

describe('numbers JSON cannot hold', () => {
  it('are refused with 400 invalid-document on PUT, PATCH and ops instead of being stored as null', async () => {
    for (const n of ['1e999', '-1e999', '1E400']) {
      await refused(AM, { method: 'PUT', body: `{"n":${n}}`, headers: JSON_TYPE }, 'invalid-document');
      await refused(AM, { method: 'PATCH', body: `{"stock":${n}}`, headers: PATCH_TYPE }, 'invalid-document');
      await refused(`${AM}/ops`, { method: 'POST', body: opsWith(`{"n":[${n}]}`), headers: JSON_TYPE }, 'invalid-document');
    }
  });
});

describe('invalid UTF-8 in a body', () => {
  const utf8 = new TextEncoder();
  const withBytes = (prefix: string, bad: number[], suffix: string): Uint8Array =>
    new Uint8Array([...utf8.encode(prefix), ...bad, ...utf8.encode(suffix)]);
  // A stray byte, an overlong '/', a UTF-8-encoded surrogate, a truncated sequence.
  const BAD = [[0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xe2, 0x82]];

  it('is refused with 400 invalid-encoding on PUT, PATCH and ops, not replaced with U+FFFD', async () => {
    for (const bad of BAD) {
      await refused(AM, { method: 'PUT', body: withBytes('{"title":"', bad, '"}'), headers: JSON_TYPE }, 'invalid-encoding');
      await refused(AM, { method: 'PATCH', body: withBytes('{"title":"', bad, '"}'), headers: PATCH_TYPE }, 'invalid-encoding');
      const ops = withBytes('{"ops":[{"op":"set","path":["title"],"value":"', bad, '"}]}');
      await refused(`${AM}/ops`, { method: 'POST', body: ops, headers: JSON_TYPE }, 'invalid-encoding');
    }
  });

  it('still accepts well-formed UTF-8 beyond ASCII', async () => {
    const path = '/v1/demo/docs/hostile-utf8';
    const res = await call(path, { method: 'PUT', token, body: utf8.encode('{"t":"été 😀 \\ud83d\\ude00"}'), headers: JSON_TYPE });
    expect(res.status).toBe(201);
    expect(await res.json()).toEqual({ t: 'été 😀 😀' });
  });
});

describe('malformed percent-encoding', () => {
  it('in a key or namespace is refused with 400 invalid-name, on reads and writes', async () => {
    // A stray byte, a bare or truncated escape, invalid UTF-8, an encoded surrogate.
    for (const bad of ['a%FF', 'a%', 'a%4', 'a%zz', 'a%C3%28', '%E2%82', '%ED%A0%80', 'a%C0%AF']) {
      await refused(`/v1/demo/docs/${bad}`, { method: 'PUT', json: { x: 1 } }, 'invalid-name');
      await refused(`/v1/demo/docs/${bad}`, {}, 'invalid-name');
      await refused(`/v1/demo/docs/${bad}/ops`, { method: 'POST', json: { ops: [{ op: 'set', path: ['x'], value: 1 }] } }, 'invalid-name');
      await refused(`/v1/demo/docs/${bad}/crdt`, {}, 'invalid-name');
      await refused(`/v1/demo/docs/${bad}`, { method: 'DELETE' }, 'invalid-name');
    }
    for (const ns of ['demo%FF', 'demo%', 'de%6Do%']) {
      await refused(`/v1/${ns}/docs/k`, {}, 'invalid-name');
      await refused(`/v1/${ns}/docs`, {}, 'invalid-name');
    }
  });

  it('never makes two spellings reach one document: alias%FF is refused, alias%25FF is the key "alias%FF"', async () => {
    await refused('/v1/demo/docs/alias%FF', { method: 'PUT', json: { spelled: 'raw' } }, 'invalid-name');
    const created = await call('/v1/demo/docs/alias%25FF', { method: 'PUT', token, json: { spelled: 'escaped' } });
    expect(created.status).toBe(201);
    expect(created.headers.get('Location')).toBe('/v1/demo/docs/alias%25FF');
    await refused('/v1/demo/docs/alias%FF', {}, 'invalid-name');
    const listed = await call('/v1/demo/docs?prefix=alias', { token });
    expect(((await listed.json()) as { keys: string[] }).keys).toEqual(['alias%FF']);
  });

  it('in a query parameter is refused with 400 invalid-parameter', async () => {
    for (const q of ['prefix=a%FF', 'prefix=a%', 'prefix=%E2%82', 'cursor=%FF', 'limit=1%', 'region=wnam%', 'prefix%FF=a']) {
      await refused(`/v1/demo/docs?${q}`, {}, 'invalid-parameter');
    }
    for (const q of ['since=%FF', 'region=wnam%FF', 'consistency=strong%', 'consistency=%ED%A0%80']) {
      await refused(`${AM}/crdt?${q}`, {}, 'invalid-parameter');
      await refused(`${AM}?${q}`, { method: 'PATCH', body: '{"title":"changed"}', headers: PATCH_TYPE }, 'invalid-parameter');
    }
  });
});

describe('Concord-Token is authenticated by the server', () => {
  const session = (t: string, region = 'apac'): CallInit => ({ headers: { Consistency: 'session', 'Concord-Region': region, 'Concord-Token': t } });
  /** A token the service issued: the answer to an eventual write in wnam (to another key, AM stays as it was). */
  async function issued(path = '/v1/demo/docs/hostile-token'): Promise<string> {
    const res = await call(path, { method: 'PUT', token, json: { v: 1 }, headers: { 'Concord-Region': 'wnam' } });
    expect(res.status).toBeLessThan(300);
    return res.headers.get('Concord-Token')!;
  }
  /** `count (shard vector)*`, vector `count (name seq)*`: what an unauthenticated token used to be. */
  function unsigned(shard: number, member: string, seq: number): string {
    const varint = (n: number): number[] => {
      const out: number[] = [];
      for (; n >= 0x80; n = Math.floor(n / 0x80)) out.push((n % 0x80) | 0x80);
      return [...out, n];
    };
    const name = [...new TextEncoder().encode(member)];
    return Buffer.from([1, ...varint(shard), 1, ...varint(name.length), ...name, ...varint(seq)]).toString('base64url');
  }

  it('is compact and URL-safe, and a token from a response gives read-your-writes in another region', async () => {
    const t = await issued();
    expect(t).toMatch(/^[A-Za-z0-9_-]{20,120}$/);
    const res = await call('/v1/demo/docs/hostile-token', { token, ...session(t) });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ v: 1 });
    const next = res.headers.get('Concord-Token')!;
    expect((await call(`${AM}?consistency=session&region=weur`, { token, headers: { 'Concord-Token': next } })).status).toBe(200);
  });

  it('refuses a corrupted, truncated, extended or forged token with 400 invalid-token', async () => {
    const t = await issued();
    const flip = (s: string, i: number): string => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
    const bad = [flip(t, 0), flip(t, t.length >> 1), flip(t, t.length - 2), t.slice(0, -4), `${t}AA`, unsigned(0, 'wnam', 1)];
    for (const b of bad) await refused(AM, session(b), 'invalid-token');
  });

  it('refuses a token naming a member that does not exist with 400 at once, where it used to wait and answer 503', async () => {
    const started = Date.now();
    await refused(AM, session(unsigned(shard('demo', 'hostile-am', 4), 'mars', 1_000_000)), 'invalid-token');
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('refuses a token keyed with another secret (TOKEN_SECRET), and honours TOKEN_SECRET when set', async () => {
    const other = { ...env, TOKEN_SECRET: 'another-token-secret' } as Env;
    const headers = { Authorization: `Bearer ${token}` };
    const res = await app.request(AM, { headers }, other);
    expect(res.status).toBe(200);
    const foreign = res.headers.get('Concord-Token')!;
    await refused(AM, session(foreign), 'invalid-token');
    const back = await app.request(AM, { headers: { ...headers, 'Concord-Token': foreign, Consistency: 'session' } }, other);
    expect(back.status).toBe(200);
  });

  it('refuses a verified token naming a shard past SHARDS or a region no longer in REGIONS', async () => {
    // Tokens issued by this deployment, presented after it shrank: no member could cover them.
    const presented = async (t: string, changed: Partial<Env>): Promise<Response> =>
      app.request(AM, { headers: { Authorization: `Bearer ${token}`, 'Concord-Token': t, Consistency: 'session' } }, { ...env, ...changed } as Env);
    const key = Array.from({ length: 64 }, (_, i) => `hostile-shard-${i}`).find((k) => shard('demo', k, 4) >= 2)!;
    const high = await call(`/v1/demo/docs/${key}`, { method: 'PUT', token, json: { v: 1 } });
    expect(high.status).toBe(201);
    const p1 = await expectProblem(await presented(high.headers.get('Concord-Token')!, { SHARDS: '2' }), 400, 'invalid-token');
    expect(p1.detail).toContain(`shard ${shard('demo', key, 4)}`);

    const inApac = await call('/v1/demo/docs/hostile-token', { method: 'PUT', token, json: { v: 2 }, headers: { 'Concord-Region': 'apac' } });
    expect(inApac.status).toBe(200);
    const p2 = await expectProblem(await presented(inApac.headers.get('Concord-Token')!, { REGIONS: 'wnam,weur' }), 400, 'invalid-token');
    expect(p2.detail).toContain('apac');
  });
});
