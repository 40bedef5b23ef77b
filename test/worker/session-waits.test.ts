import { afterEach, describe, expect, it } from 'vitest';
import { shard } from '../../src/core/routing.js';
import { at, call, ok, setFaults, SHARDS, stats } from './members.js';

/** Session requests wait for the caller's token; waiting requests share one pull per peer. */
const NS = 'sess';
const shardOf = (key: string): number => shard(NS, key, SHARDS);

afterEach(async () => {
  for (let s = 0; s < SHARDS; s++) await setFaults(s, null);
});

describe('session waits', () => {
  it('twenty session reads waiting for one unreachable token share their pulls, then answer 503', async () => {
    const key = 'shared-pull';
    const s = shardOf(key);
    await setFaults(s, { partitions: [['wnam', 'weur'], ['apac']] });
    const w = await ok('wnam', { op: 'put', ...at('eventual', NS, key), json: { a: 1 } });
    const before = (await stats(s, 'apac')).sessionPulls;
    const reads = await Promise.all(
      Array.from({ length: 20 }, () => call('apac', { op: 'get', ...at('session', NS, key), token: w.vv })),
    );
    for (const r of reads) expect(!r.ok && r.problem.code).toBe('unavailable');
    const pulls = (await stats(s, 'apac')).sessionPulls - before;
    // One waiter alone pulls at most once per 25 ms pause over SESSION_WAIT_MS (1500 ms).
    expect(pulls).toBeGreaterThan(0);
    expect(pulls).toBeLessThanOrEqual(1500 / 25 + 5);
  });

  it('a session delete waits for the token, so that it removes what the client saw', async () => {
    const key = 'session-delete';
    const s = shardOf(key);
    await ok('apac', { op: 'put', ...at('eventual', NS, key), json: { old: true } });
    await setFaults(s, { partitions: [['wnam', 'weur'], ['apac']] });
    const seen = await ok('wnam', { op: 'patch', ...at('eventual', NS, key), patch: { seen: true } });
    const refused = await call('apac', { op: 'delete', ...at('session', NS, key), token: seen.vv });
    expect(!refused.ok && refused.problem.code).toBe('unavailable');
    await setFaults(s, null);
    const deleted = await call('apac', { op: 'delete', ...at('session', NS, key), token: seen.vv });
    expect(deleted.ok).toBe(true);
    const after = await call('apac', { op: 'get', ...at('session', NS, key), token: deleted.ok ? deleted.result.vv : seen.vv });
    expect(!after.ok && after.problem.code).toBe('not-found');
  });
});
