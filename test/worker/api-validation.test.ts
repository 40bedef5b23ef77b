/**
 * Bad input is refused at the edge with a 4xx problem naming it, before any member is asked.
 */
import { env } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { app } from '../../src/api/app.js';
import { DRAIN_BYTES_PER_LIMIT } from '../../src/api/limits.js';
import type { Env } from '../../src/objects/config.js';
import { adminToken, call, expectProblem, writeToken } from './helpers.js';

let token: string;
beforeAll(async () => {
  token = await writeToken('*');
});

const put = (path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> =>
  call(path, { method: 'PUT', token, body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'Content-Type': 'application/json', ...headers } });

const ops = (body: unknown, headers: Record<string, string> = {}): Promise<Response> =>
  call('/v1/demo/docs/x/ops', { method: 'POST', token, body: JSON.stringify(body), headers: { 'Content-Type': 'application/json', ...headers } });

describe('names', () => {
  it('refuses namespaces outside [A-Za-z0-9][A-Za-z0-9_.-]{0,63}', async () => {
    for (const ns of ['_x', '-x', 'a%20b', 'a%00b', 'x'.repeat(65), '%C3%A9t%C3%A9']) {
      await expectProblem(await call(`/v1/${ns}/docs/k`, { token }), 400, 'invalid-name');
    }
    await expectProblem(await call('/v1/_bad/docs', { token }), 400, 'invalid-name');
  });

  it('refuses keys with control characters, NUL above all, or longer than 512 characters', async () => {
    for (const key of ['a%00b', 'a%0Ab', 'a%7Fb', 'k'.repeat(513), '%F0%9F%98%80'.repeat(513)]) {
      await expectProblem(await call(`/v1/demo/docs/${key}`, { token }), 400, 'invalid-name');
    }
  });
});

describe('bodies', () => {
  it('refuses a body over MAX_BODY_BYTES with 413, by Content-Length or while streaming', async () => {
    const big = JSON.stringify({ s: 'x'.repeat(1024 * 1024) });
    await expectProblem(await put('/v1/demo/docs/x', big), 413, 'payload-too-large');
    const chunk = new TextEncoder().encode('x'.repeat(64 * 1024));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(ctl) {
        if (sent >= 20) return ctl.close();
        sent++;
        ctl.enqueue(chunk);
      },
    });
    // In-process, so that refusing mid-stream leaves no half-written socket behind.
    const headers = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/vnd.concord.yjs' };
    const res = await app.request('/v1/demo/docs/x/crdt', { method: 'POST', headers, body: stream }, env);
    await expectProblem(res, 413, 'payload-too-large');
    // The rest of an oversized stream is read and discarded, so that its connection can
    // carry the next request (test/e2e/hostile-http.test.ts).
    expect(sent).toBe(20);
  });

  it('stops discarding an endless stream past its bound and still answers 413', async () => {
    const chunk = new Uint8Array(16 * 1024);
    let pulled = 0;
    const endless = new ReadableStream<Uint8Array>({
      pull(ctl) {
        pulled++;
        ctl.enqueue(chunk);
      },
    });
    const small = { ...env, MAX_BODY_BYTES: String(64 * 1024) } as Env;
    const headers = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/vnd.concord.yjs' };
    const res = await app.request('/v1/demo/docs/x/crdt', { method: 'POST', headers, body: endless }, small);
    await expectProblem(res, 413, 'payload-too-large');
    // MAX_BODY_BYTES, then at most DRAIN_BYTES_PER_LIMIT times that; a few chunks of read-ahead.
    expect(pulled * chunk.length).toBeLessThanOrEqual((1 + DRAIN_BYTES_PER_LIMIT) * 64 * 1024 + 4 * chunk.length);
  });

  it('refuses malformed and empty JSON', async () => {
    await expectProblem(await put('/v1/demo/docs/x', '{"a":'), 400, 'malformed-json');
    await expectProblem(await put('/v1/demo/docs/x', ''), 400, 'malformed-json');
    const raw = await call('/v1/demo/docs/x/ops', { method: 'POST', token, body: '{not json', headers: { 'Content-Type': 'application/json' } });
    await expectProblem(raw, 400, 'malformed-json');
  });

  it('refuses a document that is not a JSON object', async () => {
    await expectProblem(await put('/v1/demo/docs/x', [1, 2]), 400, 'invalid-document');
    const patch = await call('/v1/demo/docs/x', { method: 'PATCH', token, body: '"x"', headers: { 'Content-Type': 'application/merge-patch+json' } });
    await expectProblem(patch, 400, 'invalid-document');
  });

  it('refuses wrong content types with 415, naming merge-patch for PATCH', async () => {
    await expectProblem(await put('/v1/demo/docs/x', {}, { 'Content-Type': 'text/plain' }), 415, 'unsupported-media-type');
    const patch = await call('/v1/demo/docs/x', { method: 'PATCH', token, json: {} });
    expect(patch.headers.get('Accept-Patch')).toBe('application/merge-patch+json');
    await expectProblem(patch, 415, 'unsupported-media-type');
    await expectProblem(await ops({ ops: [] }, { 'Content-Type': 'application/x-www-form-urlencoded' }), 415, 'unsupported-media-type');
    const crdt = await call('/v1/demo/docs/x/crdt', { method: 'POST', token, body: new Uint8Array([0]), headers: { 'Content-Type': 'application/octet-stream' } });
    await expectProblem(crdt, 415, 'unsupported-media-type');
  });

  it('accepts a charset parameter on application/json (refused further on, by the consistency check)', async () => {
    const res = await put('/v1/demo/docs/x', {}, { 'Content-Type': 'application/json; charset=utf-8', Consistency: 'nope' });
    await expectProblem(res, 400, 'invalid-consistency');
  });

  it('refuses empty engine bytes', async () => {
    const res = await call('/v1/demo/docs/x/crdt', { method: 'POST', token, body: new Uint8Array(), headers: { 'Content-Type': 'application/vnd.concord.automerge' } });
    await expectProblem(res, 400, 'invalid-update');
  });
});

describe('operations', () => {
  it('refuses an unknown op, a malformed op, an empty list and too many ops', async () => {
    await expectProblem(await ops({ ops: [{ op: 'frobnicate', path: ['a'] }] }), 400, 'unknown-operation');
    await expectProblem(await ops({ ops: [{ op: 'increment', path: ['a'], by: 1.5 }] }), 400, 'invalid-operation');
    await expectProblem(await ops({ ops: [] }), 400, 'invalid-operation');
    await expectProblem(await ops({ nope: 1 }), 400, 'invalid-operation');
    const many = Array.from({ length: 1001 }, () => ({ op: 'set', path: ['a'], value: 1 }));
    await expectProblem(await ops({ ops: many }), 400, 'invalid-operation');
  });

  it('refuses increment guards below consistency strong', async () => {
    const guarded = { ops: [{ op: 'increment', path: ['stock'], by: -1, min: 0 }] };
    await expectProblem(await ops(guarded), 400, 'precondition-needs-strong');
    await expectProblem(await ops(guarded, { Consistency: 'quorum' }), 400, 'precondition-needs-strong');
  });
});

describe('headers and parameters', () => {
  it('refuses an unknown consistency level, by header or query', async () => {
    await expectProblem(await call('/v1/demo/docs/x', { token, headers: { Consistency: 'linearizable' } }), 400, 'invalid-consistency');
    await expectProblem(await call('/v1/demo/docs/x?consistency=always', { token }), 400, 'invalid-consistency');
  });

  it('refuses If-Match below consistency strong, and a malformed If-Match at any level', async () => {
    await expectProblem(await put('/v1/demo/docs/x', {}, { 'If-Match': '"abc"' }), 400, 'precondition-needs-strong');
    await expectProblem(await call('/v1/demo/docs/x', { method: 'DELETE', token, headers: { 'If-Match': '*', Consistency: 'session' } }), 400, 'precondition-needs-strong');
    await expectProblem(await put('/v1/demo/docs/x', {}, { 'If-Match': 'abc', Consistency: 'strong' }), 400, 'invalid-parameter');
  });

  it('refuses a Concord-Token this service did not issue', async () => {
    await expectProblem(await call('/v1/demo/docs/x', { token, headers: { 'Concord-Token': 'not a token!' } }), 400, 'invalid-token');
    await expectProblem(await call('/v1/demo/docs/x', { token, headers: { 'Concord-Token': 'AAAA' } }), 400, 'invalid-token');
  });

  it('refuses a since that is not base64url', async () => {
    await expectProblem(await call('/v1/demo/docs/x/crdt?since=a+b/c', { token }), 400, 'invalid-version');
    await expectProblem(await call('/v1/demo/docs/x/crdt?since=A', { token }), 400, 'invalid-version');
  });

  it('refuses an unknown region, by header or query', async () => {
    await expectProblem(await call('/v1/demo/docs/x', { token, headers: { 'Concord-Region': 'mars' } }), 400, 'unknown-region');
    await expectProblem(await call('/v1/demo/docs/x?region=enam', { token }), 400, 'unknown-region');
    await expectProblem(await call('/v1/demo/docs?region=mars', { token }), 400, 'unknown-region');
  });

  it('refuses list limits outside 1..MAX_LIST_LIMIT, bad cursors and bad prefixes', async () => {
    for (const q of ['limit=1001', 'limit=0', 'limit=-1', 'limit=ten', 'limit=1.5', 'cursor=!!', 'cursor=_w', 'prefix=%00']) {
      await expectProblem(await call(`/v1/demo/docs?${q}`, { token }), 400, 'invalid-parameter');
    }
  });
});

describe('the fault routes', () => {
  it('validate the fault configuration before touching any member', async () => {
    const admin = await adminToken();
    const bodies = [
      [],
      { partitions: [['wnam'], ['mars']] },
      { partitions: ['wnam'] },
      { partitions: [['wnam'], ['wnam', 'weur']] },
      { dropRate: 1.5 },
      { dropRate: '0.1' },
      { delayMs: 60_001 },
      { delayMs: 2.5 },
      { dropsRate: 0.1 },
    ];
    for (const json of bodies) {
      await expectProblem(await call('/v1/_test/faults', { method: 'POST', token: admin, json }), 400, 'invalid-parameter');
    }
  });

  it('do not exist outside the test environment: 404 like any unknown route, even for an admin', async () => {
    const prod = { ...env, TEST_FAULTS: undefined } as Env;
    const headers = { Authorization: `Bearer ${await adminToken()}`, 'Content-Type': 'application/json' };
    for (const method of ['POST', 'DELETE', 'GET']) {
      const res = await app.request('/v1/_test/faults', { method, headers, body: method === 'POST' ? '{}' : null }, prod);
      const body = await expectProblem(res, 404, 'route-not-found');
      expect(body.detail).toBe(`no route ${method} /v1/_test/faults`);
    }
    await expectProblem(await app.request('/v1/_test/faults', { method: 'POST' }, prod), 404, 'route-not-found');
  });
});
