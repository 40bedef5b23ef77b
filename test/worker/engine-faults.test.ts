import { afterEach, describe, expect, it } from 'vitest';
import { docKey } from '../../src/core/ids.js';
import { shard } from '../../src/core/routing.js';
import { equals } from '../../src/core/version-vector.js';
import { adminToken, call as http, expectProblem, writeToken } from './helpers.js';
import { at, call, ok, setFaults, SHARDS, stats, stub, waitFor } from './members.js';

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

/** Every member of every shard holds the same vector and nothing pending. */
async function converged(): Promise<boolean> {
  for (let s = 0; s < SHARDS; s++) {
    const all = await Promise.all(['wnam', 'weur', 'apac'].map((r) => stats(s, r)));
    if (all.some((m) => !equals(m.vv, all[0]!.vv) || m.pending > 0 || m.transfer)) return false;
  }
  return true;
}

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

  it('a peer entry the engine keeps failing on is set aside and shown in /v1/cluster; other regions\' entries still apply; it applies once fixed', async () => {
    // Two keys of one shard: the poisoned one written at wnam, the other at weur.
    const poisoned = 'fault-poison';
    const s = shardOf(poisoned);
    let other = 'fault-other-0';
    for (let i = 1; shardOf(other) !== s; i++) other = `fault-other-${i}`;
    await setFaults(s, { partitions: [['wnam', 'weur'], ['apac']] });
    await inject(poisoned, 'apac', { method: 'merge', times: 1_000_000, doc: { ns: NS, key: poisoned } });
    await ok('wnam', { op: 'put', ...at('eventual', NS, poisoned), json: { poisoned: true } });
    await setFaults(s, null);
    const admin = await adminToken();
    type Member = { shard: number; region: string; quarantined?: { origin: string; doc: string; failures: number; retryAt: number }[] };
    const apacOf = async (): Promise<Member> => {
      const body = (await (await http('/v1/cluster', { token: admin })).json()) as { members: Member[] };
      return body.members.find((m) => m.shard === s && m.region === 'apac')!;
    };
    await waitFor('apac to set the entry aside', async () => ((await apacOf()).quarantined ?? []).some((q) => q.retryAt > 0), 20_000);
    expect((await apacOf()).quarantined).toMatchObject([{ origin: 'wnam', doc: docKey(NS, poisoned) }]);
    // A write from another region reaches apac though wnam's entry cannot be applied there.
    await ok('weur', { op: 'put', ...at('eventual', NS, other), json: { other: true } });
    await waitFor('apac to have the other document', async () => {
      const r = await call('apac', { op: 'get', ...at('eventual', NS, other) });
      return r.ok && JSON.stringify(r.result.json) === '{"other":true}';
    }, 20_000);
    const stuck = await call('apac', { op: 'get', ...at('eventual', NS, poisoned) });
    expect(stuck.ok && stuck.result.status).not.toBe(200);
    // The engine is fixed: the entry is tried again after its wait, and applies.
    await inject(poisoned, 'apac', { method: 'merge', times: 0, doc: { ns: NS, key: poisoned } });
    await waitFor('apac to have the poisoned document', async () => {
      const r = await call('apac', { op: 'get', ...at('eventual', NS, poisoned) });
      return r.ok && JSON.stringify(r.result.json) === '{"poisoned":true}';
    }, 20_000);
    expect((await apacOf()).quarantined).toEqual([]);
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
    // Nothing in flight: a push arriving anywhere in the isolate after the break would meet the
    // broken module first and install the spare before the request below.
    await waitFor('every member to be converged', converged, 20_000);
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
