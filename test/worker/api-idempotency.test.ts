import { afterEach, describe, expect, it } from 'vitest';
import { shard } from '../../src/core/routing.js';
import { call, expectProblem, writeToken } from './helpers.js';
import { setFaults, SHARDS, waitFor } from './members.js';

/** `Idempotency-Key` on every write route (IETF httpapi draft) and `Prefer: return=minimal` (RFC 7240). */
const NS = 'demo';

afterEach(async () => {
  for (let s = 0; s < SHARDS; s++) await setFaults(s, null);
});

async function send(path: string, init: RequestInit & { token: string }): Promise<{ status: number; body: string; headers: Headers }> {
  const res = await call(path, init);
  return { status: res.status, body: await res.text(), headers: res.headers };
}

describe('Idempotency-Key', () => {
  for (const level of ['eventual', 'session', 'quorum', 'strong']) {
    it(`a retried increment at ${level} answers the first status, body and headers and applies once`, async () => {
      const token = await writeToken();
      const path = `/v1/${NS}/docs/idem-${level}`;
      const init = {
        method: 'POST', token,
        headers: { 'Content-Type': 'application/json', Consistency: level, 'Concord-Region': 'weur', 'Idempotency-Key': `inc-${level}` },
        body: JSON.stringify({ ops: [{ op: 'increment', path: ['n'], by: 1 }] }),
      };
      const first = await send(`${path}/ops`, init);
      const retry = await send(`${path}/ops`, init);
      expect(first.status).toBe(201);
      expect(retry.status).toBe(201);
      expect(retry.body).toBe(first.body);
      for (const h of ['ETag', 'Concord-Member', 'Concord-Token']) expect(retry.headers.get(h)).toBe(first.headers.get(h));
      const read = await call(path, { token, headers: { 'Concord-Region': 'weur', Consistency: level === 'eventual' ? 'eventual' : 'strong' } });
      expect(await read.json()).toEqual({ n: 1 });
    });
  }

  it('below strong, a retry in another region finds the key once the write has replicated, and applies nothing again', async () => {
    const token = await writeToken();
    const path = `/v1/${NS}/docs/idem-elsewhere`;
    const init = (region: string) => ({
      method: 'POST', token,
      headers: { 'Content-Type': 'application/json', 'Concord-Region': region, 'Idempotency-Key': 'elsewhere-1' },
      body: JSON.stringify({ ops: [{ op: 'increment', path: ['n'], by: 1 }] }),
    });
    const first = await send(`${path}/ops`, init('weur'));
    expect(first.status).toBe(201);
    await waitFor('the write to reach apac', async () => (await call(path, { token, headers: { 'Concord-Region': 'apac' } })).status === 200);
    const retry = await send(`${path}/ops`, init('apac'));
    expect(retry.status).toBe(201);
    expect(JSON.parse(retry.body)).toEqual({ n: 1 });
    expect(retry.headers.get('Concord-Member')).toContain('apac');
    for (const region of ['wnam', 'weur', 'apac']) {
      await waitFor(`${region} to settle`, async () => (await call(path, { token, headers: { 'Concord-Region': region } })).status === 200);
      expect(await (await call(path, { token, headers: { 'Concord-Region': region } })).json()).toEqual({ n: 1 });
    }
    const other = await send(`${path}/ops`, { ...init('apac'), body: JSON.stringify({ ops: [{ op: 'increment', path: ['n'], by: 2 }] }) });
    expect(other.status).toBe(422);
  });

  it('the same key with another body answers 422 and changes nothing', async () => {
    const token = await writeToken();
    const path = `/v1/${NS}/docs/idem-mismatch`;
    const headers = { 'Content-Type': 'application/json', 'Idempotency-Key': '"k-1"' };
    expect((await call(path, { method: 'PUT', token, headers, body: '{"a":1}' })).status).toBe(201);
    await expectProblem(await call(path, { method: 'PUT', token, headers, body: '{"a":2}' }), 422, 'idempotency-key-mismatch');
    expect(await (await call(path, { token })).json()).toEqual({ a: 1 });
  });

  it('a strong retry reaches the first outcome from any region', async () => {
    const token = await writeToken();
    const path = `/v1/${NS}/docs/idem-strong-regions`;
    const body = JSON.stringify({ ops: [{ op: 'increment', path: ['n'], by: 1 }] });
    const headers = (region: string) => ({ 'Content-Type': 'application/json', Consistency: 'strong', 'Concord-Region': region, 'Idempotency-Key': 'strong-anywhere' });
    const first = await send(`${path}/ops`, { method: 'POST', token, headers: headers('apac'), body });
    const again = await send(`${path}/ops`, { method: 'POST', token, headers: headers('weur'), body });
    expect(again.status).toBe(first.status);
    expect(again.body).toBe(first.body);
    expect(await (await call(path, { token, headers: { Consistency: 'strong' } })).json()).toEqual({ n: 1 });
  });

  it('an invalid key is refused before anything is stored', async () => {
    const token = await writeToken();
    const path = `/v1/${NS}/docs/idem-invalid`;
    for (const key of ['', 'x'.repeat(256), 'a"b']) {
      await expectProblem(await call(path, { method: 'PUT', token, headers: { 'Content-Type': 'application/json', 'Idempotency-Key': key }, body: '{}' }), 400, 'invalid-idempotency-key');
    }
    await expectProblem(await call(path, { token }), 404, 'not-found');
  });
});

describe('Prefer: return=minimal', () => {
  it('answers a write with its status and headers and no body', async () => {
    const token = await writeToken();
    const path = `/v1/${NS}/docs/minimal`;
    const res = await call(path, { method: 'PUT', token, headers: { 'Content-Type': 'application/json', Prefer: 'return=minimal' }, body: '{"a":1}' });
    expect(res.status).toBe(201);
    expect(res.headers.get('Preference-Applied')).toBe('return=minimal');
    expect(res.headers.get('ETag')).toMatch(/^"/);
    expect(await res.text()).toBe('');
    expect(await (await call(path, { token })).json()).toEqual({ a: 1 });
  });
});
