import { abortAllDurableObjects, runInDurableObject } from 'cloudflare:test';
import * as Y from 'yjs';
import { describe, expect, it } from 'vitest';
import { shard } from '../../src/core/routing.js';
import { equals } from '../../src/core/version-vector.js';
import { encodeMessage } from '../../src/core/wire/codec.js';
import type { ReplicaObject } from '../../src/objects/replica-object.js';
import { at, ok, REGIONS, SHARDS, stats, stub, waitFor } from './members.js';

const NS = 'obj';

describe('replica objects', () => {
  it('stop re-arming their gossip alarm once every peer has caught up, and re-arm on the next write', async () => {
    const key = 'quiet-1';
    const s = shard(NS, key, SHARDS);
    await ok('weur', { op: 'put', ...at('eventual', NS, key), json: { a: 1 } });
    const alarm = (region: string) =>
      runInDurableObject(stub(s, region) as DurableObjectStub<ReplicaObject>, (_o, state) => state.storage.getAlarm());
    await waitFor('converged vectors', async () => {
      const all = await Promise.all(REGIONS.map((r) => stats(s, r)));
      return all.every((m) => equals(m.vv, all[0]!.vv));
    });
    await waitFor('no alarm left on any member', async () => (await Promise.all(REGIONS.map(alarm))).every((a) => a === null));
    await ok('weur', { op: 'patch', ...at('eventual', NS, key), patch: { b: 2 } });
    expect(await alarm('weur')).not.toBeNull();
  });

  it('refuse strong traffic from a leader epoch older than one already seen', async () => {
    // Shard 1 holds none of this file's other keys, so its raised epoch disturbs nothing.
    const s = stub(1, 'apac') as unknown as { replicate(b: Uint8Array, e: number): Promise<{ ok: boolean; detail?: string }> };
    const empty = encodeMessage({ kind: 'delta', from: 'wnam' as never, vv: {}, more: false, reply: false, entries: [] });
    expect((await s.replicate(empty, 2)).ok).toBe(true);
    expect(await s.replicate(empty, 1)).toEqual({ ok: false, code: 'stale-epoch', detail: 'leader epoch 1 is older than 2', epoch: 2 });
  });

  it('store documents larger than the 2 MB SQLite row limit and load them back after a restart', async () => {
    const key = 'big-1';
    // Random text: Automerge and Yjs compress repetitive content to almost nothing.
    let seed = 7;
    const randomText = (n: number) =>
      Array.from({ length: n }, () => String.fromCharCode(97 + ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % 26))).join('');
    const client = new Y.Doc();
    for (let i = 0; i < 3; i++) {
      const before = Y.encodeStateVector(client);
      client.getMap('m').set(`part${i}`, randomText(900 * 1024));
      await ok('wnam', { op: 'postCrdt', ...at('eventual', NS, key), engine: 'yjs', bytes: Y.encodeStateAsUpdate(client, before) });
    }
    await abortAllDurableObjects();
    const r = await ok('wnam', { op: 'getCrdt', ...at('eventual', NS, key) });
    expect(r.bytes!.length).toBeGreaterThan(2 * 1024 * 1024);
    const m = (await ok('wnam', { op: 'get', ...at('eventual', NS, key) })).json!['m'] as Record<string, string>;
    expect(Object.keys(m).sort()).toEqual(['part0', 'part1', 'part2']);
    expect(m['part2']).toBe((client.getMap('m').get('part2') as string));
  });
});
