import { afterEach, describe, expect, it } from 'vitest';
import { shard } from '../../src/core/routing.js';
import { call as http, expectProblem, writeToken } from './helpers.js';
import { at, ok, setFaults, SHARDS, stats, stub, waitFor } from './members.js';

/**
 * An engine that fails for no fault of the input is the member's fault: the request gets a
 * 503 with Retry-After, nothing is stored or counted, the member rebuilds from storage (with
 * a spare wasm instance when the module itself broke), and nothing acknowledged is lost.
 */
const NS = 'demo';
const shardOf = (key: string): number => shard(NS, key, SHARDS);

interface FaultStub {
  injectEngineFault(spec: { method?: string; times?: number; skip?: number; doc?: { ns: string; key: string }; breakWasm?: boolean }): Promise<void>;
}
const inject = (key: string, region: string, spec: Parameters<FaultStub['injectEngineFault']>[0]) =>
  (stub(shardOf(key), region) as unknown as FaultStub).injectEngineFault(spec);

afterEach(async () => {
  for (let s = 0; s < SHARDS; s++) await setFaults(s, null);
});

describe('engine faults', () => {
  it('a cut-off region whose engine fails on a peer entry still gets the document after the heal', async () => {
    const key = 'fault-merge';
    const s = shardOf(key);
    await setFaults(s, { partitions: [['wnam', 'weur'], ['apac']] });
    await ok('wnam', { op: 'put', ...at('eventual', NS, key), json: { kept: 'yes' } });
    const before = await stats(s, 'apac');
    await inject(key, 'apac', { method: 'merge', times: 3, doc: { ns: NS, key } });
    await setFaults(s, null);
    await waitFor('apac to have the document', async () => {
      const r = await (await import('./members.js')).call('apac', { op: 'get', ...at('eventual', NS, key) });
      return r.ok && JSON.stringify(r.result.json) === '{"kept":"yes"}';
    }, 20_000);
    const after = await stats(s, 'apac');
    expect(after.engineFaults).toBeGreaterThan(0);
    expect(after.engineFaults - (before.engineFaults ?? 0)).toBeGreaterThan(0);
  });

  it('a write whose engine throws answers 503 engine-fault with Retry-After, stores nothing, and the next write works', async () => {
    const token = await writeToken();
    const path = `/v1/${NS}/docs/fault-write`;
    const headers = { 'Concord-Region': 'weur', 'Content-Type': 'application/json' };
    expect((await http(path, { method: 'PUT', token, headers, body: '{"n":1}' })).status).toBe(201);
    const etag = (await http(path, { token, headers })).headers.get('ETag');
    await inject('fault-write', 'weur', { method: 'mergePatch', doc: { ns: NS, key: 'fault-write' } });
    const res = await http(path, { method: 'PATCH', token, headers: { ...headers, 'Content-Type': 'application/merge-patch+json' }, body: '{"n":2}' });
    await expectProblem(res, 503, 'engine-fault');
    expect(res.headers.get('Retry-After')).toBe('1');
    const read = await http(path, { token, headers });
    expect(read.headers.get('ETag')).toBe(etag);
    expect(await read.json()).toEqual({ n: 1 });
    const retry = await http(path, { method: 'PATCH', token, headers: { ...headers, 'Content-Type': 'application/merge-patch+json' }, body: '{"n":2}' });
    expect(retry.status).toBe(200);
    expect(await retry.json()).toEqual({ n: 2 });
  });

  it('a broken Automerge wasm module is replaced by a spare instance, and the member serves again', async () => {
    const token = await writeToken();
    const headers = { 'Concord-Region': 'wnam', 'Content-Type': 'application/json' };
    const kept = `/v1/${NS}/docs/fault-wasm-kept`;
    expect((await http(kept, { method: 'PUT', token, headers, body: '{"kept":true}' })).status).toBe(201);
    await inject('fault-wasm-new', 'wnam', { breakWasm: true });
    const res = await http(`/v1/${NS}/docs/fault-wasm-new`, { method: 'PUT', token, headers, body: '{"a":1}' });
    await expectProblem(res, 503, 'engine-fault');
    const retry = await http(`/v1/${NS}/docs/fault-wasm-new`, { method: 'PUT', token, headers, body: '{"a":1}' });
    expect(retry.status).toBe(201);
    expect(await retry.json()).toEqual({ a: 1 });
    const read = await http(kept, { token, headers: { 'Concord-Region': 'wnam' } });
    expect(await read.json()).toEqual({ kept: true });
  });
});
