import { afterEach, describe, expect, it } from 'vitest';
import { shard } from '../../src/core/routing.js';
import type { DocRequest, DocResponse } from '../../src/objects/protocol.js';
import { at, ok, setFaults, SHARDS, stats, stub, waitFor } from './members.js';

/**
 * Strong operations and retried writes apply exactly once: the outcome of a write is
 * recorded with it under the request's id, and a retry is answered from the record.
 */
const NS = 'once';
const shardOf = (key: string): number => shard(NS, key, SHARDS);
const lead = (key: string, req: DocRequest): Promise<DocResponse> =>
  (stub(shardOf(key), 'wnam') as unknown as { lead(r: DocRequest): Promise<DocResponse> }).lead(req);
const handle = (key: string, region: string, req: DocRequest): Promise<DocResponse> =>
  (stub(shardOf(key), region) as unknown as { handle(r: DocRequest): Promise<DocResponse> }).handle(req);

afterEach(async () => {
  for (let s = 0; s < SHARDS; s++) await setFaults(s, null);
});

async function stock(key: string): Promise<unknown> {
  return (await ok('wnam', { op: 'get', ...at('strong', NS, key) })).json?.['stock'];
}

describe('strong operations apply exactly once', () => {
  it('a strong increment delivered twice to the leader (a transport retry) applies once, and both get the same answer', async () => {
    const key = 'inc-twice';
    await ok('wnam', { op: 'ops', ...at('strong', NS, key), ops: [{ op: 'increment', path: ['stock'], by: 5 }] });
    const req: DocRequest = {
      op: 'ops', ...at('strong', NS, key), ops: [{ op: 'increment', path: ['stock'], by: -1, min: 0 }],
      request: { id: 'r:one', fingerprint: '', client: false },
    };
    const [a, b] = await Promise.all([lead(key, req), lead(key, req)]);
    const c = await lead(key, req);
    expect(a.ok, JSON.stringify(a)).toBe(true);
    expect(a).toEqual(b);
    expect(c).toEqual(a);
    expect(await stock(key)).toBe(4);
  });

  it('an If-Match write that succeeded answers its success again when retried, not 412', async () => {
    const key = 'ifmatch-retry';
    const created = await ok('wnam', { op: 'put', ...at('strong', NS, key), json: { v: 1 } });
    const req: DocRequest = {
      op: 'patch', ...at('strong', NS, key), patch: { v: 2 }, ifMatch: [created.etag!],
      request: { id: 'r:ifmatch', fingerprint: '', client: false },
    };
    const first = await lead(key, req);
    const retry = await lead(key, req);
    expect(first.ok).toBe(true);
    expect(retry).toEqual(first);
  });

  it('a strong operation whose caller gave up before it could start is dropped, never applied later', async () => {
    const key = 'gave-up';
    await ok('wnam', { op: 'ops', ...at('strong', NS, key), ops: [{ op: 'increment', path: ['stock'], by: 10 }] });
    await setFaults(shardOf(key), { delayMs: 300 });
    const slow = lead(key, { op: 'ops', ...at('strong', NS, key), ops: [{ op: 'increment', path: ['stock'], by: -1 }] });
    // The slow one holds the queue (its majority pull waits on the delay) before the next arrives.
    await waitFor('the slow operation to run', async () => (await stats(shardOf(key), 'wnam')).strongQueue.running > 0);
    const dropped = await lead(key, { op: 'ops', ...at('strong', NS, key), budgetMs: 50, ops: [{ op: 'increment', path: ['stock'], by: -5 }] });
    expect(dropped.ok).toBe(false);
    expect(!dropped.ok && dropped.problem.code).toBe('unavailable');
    const s = await slow;
    expect(s.ok, JSON.stringify(s)).toBe(true);
    await setFaults(shardOf(key), null);
    expect(await stock(key)).toBe(9);
  });
});

describe('Idempotency-Key at the member that took the write', () => {
  it('a retry with the same key and content answers the first outcome without applying again; other content is refused', async () => {
    const key = 'idem-eventual';
    const req = (fingerprint: string): DocRequest => ({
      op: 'ops', ...at('eventual', NS, key), ops: [{ op: 'increment', path: ['n'], by: 1 }],
      request: { id: 'k:abc', fingerprint, client: true },
    });
    const first = await handle(key, 'weur', req('f1'));
    const again = await handle(key, 'weur', req('f1'));
    expect(first.ok && first.result.status).toBe(201);
    expect(again).toEqual(first);
    const other = await handle(key, 'weur', req('f2'));
    expect(!other.ok && other.problem.code).toBe('idempotency-key-mismatch');
    expect((await ok('weur', { op: 'get', ...at('eventual', NS, key) })).json).toEqual({ n: 1 });
  });

  it('a refused write is refused the same way when retried, even once it would succeed', async () => {
    const key = 'idem-refused';
    const req: DocRequest = {
      op: 'ops', ...at('eventual', NS, key), ops: [{ op: 'set', path: ['missing', 'x'], value: 1 }],
      request: { id: 'k:refused', fingerprint: 'f', client: true },
    };
    await ok('weur', { op: 'put', ...at('eventual', NS, key), json: {} });
    const first = await handle(key, 'weur', req);
    expect(!first.ok && first.problem.code).toBe('path-not-found');
    await ok('weur', { op: 'put', ...at('eventual', NS, key), json: { missing: {} } });
    expect(await handle(key, 'weur', req)).toEqual(first);
  });

  it('a duplicate while the first is still running answers 409', async () => {
    const key = 'idem-running';
    await setFaults(shardOf(key), { delayMs: 200 });
    const req: DocRequest = {
      op: 'put', ...at('quorum', NS, key), json: { a: 1 },
      request: { id: 'k:running', fingerprint: 'f', client: true },
    };
    // One stub, so that the two calls arrive in the order sent (calls through two stubs may
    // overtake each other while the object starts).
    const member = stub(shardOf(key), 'weur') as unknown as { handle(r: DocRequest): Promise<DocResponse> };
    const first = member.handle(req);
    const dup = await member.handle(req);
    expect(!dup.ok && dup.problem.code, JSON.stringify(dup)).toBe('idempotency-key-in-use');
    expect((await first).ok).toBe(true);
    expect(await handle(key, 'weur', req)).toEqual(await first);
  });
});
