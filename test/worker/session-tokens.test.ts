import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { shard } from '../../src/core/routing.js';
import { call, expectProblem, writeToken } from './helpers.js';
import { setFaults, SHARDS, waitFor } from './members.js';

/**
 * Session consistency through the HTTP API, with Concord-Tokens exactly as the service
 * issues them (they carry a MAC, so they come from responses, never made up here).
 */
const NS = 'demo-session';
const shardOf = (key: string): number => shard(NS, key, SHARDS);
const keyOn = (s: number, prefix: string): string => {
  for (let i = 0; ; i++) if (shardOf(`${prefix}-${i}`) === s) return `${prefix}-${i}`;
};
const SESSION_WAIT_MS = 1500; // wrangler.toml, [env.test.vars]

let bearer: string;
beforeAll(async () => {
  bearer = await writeToken();
});
afterEach(async () => {
  for (let s = 0; s < SHARDS; s++) await setFaults(s, null);
});

interface Opts {
  region: string;
  level?: string;
  token?: string | null;
}
function headers({ region, level = 'eventual', token }: Opts, extra: Record<string, string> = {}): Record<string, string> {
  return { 'Concord-Region': region, Consistency: level, ...(token ? { 'Concord-Token': token } : {}), ...extra };
}
const path = (key: string): string => `/v1/${NS}/docs/${key}`;
const put = (key: string, json: unknown, o: Opts) => call(path(key), { method: 'PUT', token: bearer, json, headers: headers(o) });
const patch = (key: string, json: unknown, o: Opts) =>
  call(path(key), { method: 'PATCH', token: bearer, body: JSON.stringify(json), headers: headers(o, { 'Content-Type': 'application/merge-patch+json' }) });
const get = (key: string, o: Opts) => call(path(key), { token: bearer, headers: headers(o) });

/** The response's Concord-Token, after checking the write or read succeeded. */
async function tokenOf(res: Response, status = 200): Promise<string> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  const t = res.headers.get('Concord-Token');
  expect(t).toBeTruthy();
  return t!;
}

describe('session reads through the API', () => {
  it('a session read whose token cannot be reached answers 503 with Retry-After after SESSION_WAIT_MS, never the stale value, and the write once healed', async () => {
    const key = keyOn(0, 'unreachable');
    const s = shardOf(key);
    await tokenOf(await put(key, { v: 1 }, { region: 'wnam' }), 201);
    await waitFor('v1 in apac', async () => {
      const res = await get(key, { region: 'apac' });
      return res.status === 200 && ((await res.json()) as { v: number }).v === 1;
    });
    // The writer's region is cut off from the others after the first write has spread.
    await setFaults(s, { partitions: [['wnam'], ['weur', 'apac']] });
    const token = await tokenOf(await patch(key, { v: 2 }, { region: 'wnam' }));

    const start = Date.now();
    const refused = await get(key, { region: 'apac', level: 'session', token });
    const waited = Date.now() - start;
    const problem = await expectProblem(refused, 503, 'unavailable');
    expect(refused.headers.get('Retry-After')).toBe('1');
    expect(JSON.stringify(problem)).not.toContain('"v"');
    expect(waited).toBeGreaterThanOrEqual(SESSION_WAIT_MS - 50);
    expect(waited).toBeLessThan(SESSION_WAIT_MS + 1500);
    // A stale value was there to be served: apac still holds v 1.
    const stale = await get(key, { region: 'apac' });
    expect(await stale.json()).toEqual({ v: 1 });

    await setFaults(s, null);
    const healed = await get(key, { region: 'apac', level: 'session', token });
    expect(healed.status).toBe(200);
    expect(healed.headers.get('Concord-Member')).toMatch(/:apac$/);
    expect(await healed.json()).toEqual({ v: 2 });
  });

  it('a Concord-Token spanning shards gives read-your-writes for each: reads in other regions wait for their own shard', async () => {
    const a = keyOn(1, 'span-a');
    const b = keyOn(2, 'span-b');
    expect(shardOf(a)).not.toBe(shardOf(b));
    // Slow links: the eager pushes are still under way when the reads arrive, so only waiting
    // for the token can answer them.
    await setFaults(shardOf(a), { delayMs: 300 });
    await setFaults(shardOf(b), { delayMs: 300 });
    // One client, always sending back its latest token. Shard b gets more writes than shard a,
    // so that neither shard's vector covers the other's by accident.
    let token = await tokenOf(await put(a, { a: 1 }, { region: 'wnam', level: 'session' }), 201);
    token = await tokenOf(await put(b, { b: 1 }, { region: 'wnam', level: 'session', token }), 201);
    token = await tokenOf(await patch(b, { b: 2 }, { region: 'wnam', level: 'session', token }));
    token = await tokenOf(await patch(b, { b: 3 }, { region: 'wnam', level: 'session', token }));

    const [ra, rb] = await Promise.all([get(a, { region: 'apac', level: 'session', token }), get(b, { region: 'weur', level: 'session', token })]);
    expect(ra.status, await ra.clone().text()).toBe(200);
    expect(ra.headers.get('Concord-Member')).toMatch(/:apac$/);
    expect(await ra.json()).toEqual({ a: 1 });
    expect(rb.status, await rb.clone().text()).toBe(200);
    expect(rb.headers.get('Concord-Member')).toMatch(/:weur$/);
    expect(await rb.json()).toEqual({ b: 3 });
  });
});
