import { abortAllDurableObjects, env, runInDurableObject } from 'cloudflare:test';
import * as Y from 'yjs';
import { afterEach, describe, expect, it } from 'vitest';
import { shard } from '../../src/core/routing.js';
import { memberId } from '../../src/core/ids.js';
import { equals, get } from '../../src/core/version-vector.js';
import type { DocRequest } from '../../src/objects/protocol.js';
import { at, call, ok, REGIONS, setFaults, SHARDS, stats, stub, waitFor } from './members.js';

const NS = 'it';
const shardOf = (key: string) => shard(NS, key, SHARDS);

afterEach(async () => {
  for (let s = 0; s < SHARDS; s++) await setFaults(s, null);
});

async function readAt(region: string, key: string) {
  const res = await call(region, { op: 'get', ...at('eventual', NS, key) });
  return res.ok ? res.result.json : undefined;
}

describe('replication between regions', () => {
  it('an Automerge write in one region is read back at eventual from every other region', async () => {
    await ok('wnam', { op: 'put', ...at('eventual', NS, 'am-1'), json: { title: 'Widget', stock: 3 } });
    for (const r of REGIONS) {
      await waitFor(`am-1 at ${r}`, async () => JSON.stringify(await readAt(r, 'am-1')) === '{"stock":3,"title":"Widget"}');
    }
  });

  it('a Yjs write in one region is read back at eventual from every other region', async () => {
    const d = new Y.Doc();
    d.getText('t').insert(0, 'hello');
    await ok('weur', { op: 'postCrdt', ...at('eventual', NS, 'y-1'), engine: 'yjs', bytes: Y.encodeStateAsUpdate(d) });
    for (const r of REGIONS) await waitFor(`y-1 at ${r}`, async () => (await readAt(r, 'y-1'))?.['t'] === 'hello');
  });

  it('a session read in another region sees the caller’s own write at once', async () => {
    // Slow links between members: an eager push is still under way when the read arrives.
    await setFaults(shardOf('s-1'), { delayMs: 150 });
    const w = await ok('wnam', { op: 'put', ...at('session', NS, 's-1'), json: { n: 1 } });
    const r = await ok('apac', { op: 'get', ...at('session', NS, 's-1'), token: w.vv });
    expect(r.json).toEqual({ n: 1 });
  });

  it('strong and quorum reads see every acknowledged strong or quorum write', async () => {
    for (let i = 0; i < 5; i++) {
      const level = i % 2 ? 'quorum' : 'strong';
      const region = REGIONS[i % 3]!;
      await ok(region, { op: 'patch', ...at(level, NS, 'q-1'), patch: { [`k${i}`]: i } });
      for (const reader of REGIONS) {
        for (const readLevel of ['quorum', 'strong'] as const) {
          const r = await ok(reader, { op: 'get', ...at(readLevel, NS, 'q-1') });
          expect(Object.keys(r.json!)).toHaveLength(i + 1);
        }
      }
    }
  });
});

describe('partitions', () => {
  it('keeps eventual writes on both sides, refuses strong and quorum on the minority side, and converges after healing', async () => {
    const key = 'p-1';
    const s = shardOf(key);
    await ok('wnam', { op: 'put', ...at('eventual', NS, key), json: { base: true } });
    await waitFor('base everywhere', async () => (await Promise.all(REGIONS.map((r) => readAt(r, key)))).every((j) => j?.['base'] === true));
    await setFaults(s, { partitions: [['wnam'], ['weur', 'apac']] });

    await ok('wnam', { op: 'patch', ...at('eventual', NS, key), patch: { minority: 1 } });
    await ok('weur', { op: 'patch', ...at('eventual', NS, key), patch: { majority: 1 } });
    await ok('apac', { op: 'patch', ...at('eventual', NS, key), patch: { majority2: 1 } });

    // Until it elects a leader of its own (at least a lease after the cut: its members promised
    // the leader not to), the majority side cannot reach the leader: strong reads and writes
    // and quorum reads fail there.
    const refusedAtWeur: DocRequest[] = [
      { op: 'get', ...at('strong', NS, key) },
      { op: 'get', ...at('quorum', NS, key) },
      { op: 'patch', ...at('strong', NS, key), patch: { refusedStrongAtWeur: 1 } },
    ];
    for (const req of refusedAtWeur) {
      const res = await call('weur', req);
      expect(res.ok ? 'ok' : res.problem.code, `${req.op} ${req.level} at weur`).toBe('unavailable');
    }
    // The leader (wnam) is alone: once its lease has lapsed (within it, it still answers reads
    // from its own state), strong and quorum fail there. Each refused write sets a field no
    // other write touches, so what it left behind shows.
    await waitFor('the lease at wnam to lapse', async () => ((await stats(s, 'wnam')).leaseExpiresAt ?? 0) < Date.now(), 2 * Number(env.LEASE_MS));
    const refusedAtWnam: DocRequest[] = [
      { op: 'get', ...at('strong', NS, key) },
      { op: 'get', ...at('quorum', NS, key) },
      { op: 'patch', ...at('strong', NS, key), patch: { refusedStrong: 1 } },
      { op: 'patch', ...at('quorum', NS, key), patch: { refusedQuorum: 2 } },
    ];
    for (const req of refusedAtWnam) {
      const res = await call('wnam', req);
      expect(res.ok ? 'ok' : res.problem.code, `${req.op} ${req.level} at wnam`).toBe('unavailable');
    }
    // A strong write reaches a majority before it applies: the refused one left nothing, even at the leader.
    expect(await readAt('wnam', key)).not.toHaveProperty('refusedStrong');
    // ...but the other side holds a majority: once it has elected a leader, a quorum write is acknowledged there.
    await waitFor('a quorum write at weur', async () => (await call('weur', { op: 'patch', ...at('quorum', NS, key), patch: { quorum: 1 } })).ok, 3 * Number(env.LEASE_MS));

    await setFaults(s, null);
    await waitFor('identical vectors on every member', async () => {
      const all = await Promise.all(REGIONS.map((r) => stats(s, r)));
      return all.every((m) => equals(m.vv, all[0]!.vv));
    });
    const docs = await Promise.all(REGIONS.map((r) => readAt(r, key)));
    // The refused quorum write at wnam was not acknowledged, but it was committed there before
    // its majority round failed, so gossip carries it everywhere (README, "503 on a write").
    // The refused strong writes never applied anywhere; nothing else may differ.
    for (const [i, d] of docs.entries()) {
      expect(d, REGIONS[i]).toEqual({ base: true, majority: 1, majority2: 1, minority: 1, quorum: 1, refusedQuorum: 2 });
    }
  });
});

describe('compaction in the runtime', () => {
  it('a region cut off while the log outgrows its bound catches up by state transfer after healing', async () => {
    const key = 'c-0';
    const s = shardOf(key);
    const keys = Array.from({ length: 40 }, (_, i) => `c-${i}`).filter((k) => shardOf(k) === s);
    await setFaults(s, { partitions: [['wnam', 'weur'], ['apac']] });
    const apacBefore = (await stats(s, 'apac')).vv;
    // About 200 KB of entries: three times the test environment's LOG_MAX_BYTES (64 KiB).
    for (let round = 0; round < 10; round++) {
      for (const k of keys) await ok(round % 2 ? 'weur' : 'wnam', { op: 'patch', ...at('eventual', NS, k), patch: { [`r${round}`]: 'x'.repeat(2000) } });
    }
    const wnam = await stats(s, 'wnam');
    expect(wnam.logBytes).toBeLessThanOrEqual(65536);
    expect((await stats(s, 'apac')).vv).toEqual(apacBefore);
    // The entries apac lacks are gone from wnam's log: only a state transfer can repair it.
    expect(get(wnam.horizon, memberId('wnam'))).toBeGreaterThan(get(apacBefore, memberId('wnam')));
    await setFaults(s, null);
    await waitFor('apac caught up', async () => equals((await stats(s, 'apac')).vv, (await stats(s, 'wnam')).vv), 20_000);
    for (const k of keys) expect(Object.keys((await readAt('apac', k))!)).toHaveLength(10);
  });
});

describe('durability', () => {
  it('an object that is aborted comes back with every acknowledged write', async () => {
    const keys = Array.from({ length: 20 }, (_, i) => `d-${i}`);
    for (const [i, key] of keys.entries()) {
      await ok('weur', { op: 'ops', ...at('eventual', NS, key), ops: [{ op: 'set', path: ['i'], value: i }] });
    }
    await abortAllDurableObjects();
    for (const [i, key] of keys.entries()) {
      const r = await ok('weur', { op: 'get', ...at('eventual', NS, key) });
      expect(r.json).toEqual({ i });
    }
  });
});

describe('restarts', () => {
  it('a member restarted with entries its peers lack sends them without waiting for another write', async () => {
    const key = 'rearm-1';
    const s = shardOf(key);
    await setFaults(s, { partitions: [['wnam'], ['weur', 'apac']] });
    await ok('wnam', { op: 'put', ...at('eventual', NS, key), json: { only: 'wnam' } });
    // Heal in storage only and forget every pending alarm, then restart: nothing but the
    // restarted member's own start-up may send the entry.
    for (const r of REGIONS) {
      await runInDurableObject(stub(s, r), async (_obj, state) => {
        await state.storage.put('faults', null);
        await state.storage.deleteAlarm();
      });
    }
    await abortAllDurableObjects();
    // Any request wakes the member (here a read of its figures, which writes nothing).
    await stats(s, 'wnam');
    await waitFor('the write to reach apac', async () => (await readAt('apac', key)) !== undefined, 10_000);
    expect(await readAt('apac', key)).toEqual({ only: 'wnam' });
  });
});

describe('guarded counters at strong', () => {
  it('concurrent guarded decrements never drive stock below its floor, and exactly the successful ones apply', async () => {
    const key = 'stock-1';
    await ok('wnam', { op: 'ops', ...at('strong', NS, key), ops: [{ op: 'increment', path: ['stock'], by: 5 }] });
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        call(REGIONS[i % 3]!, { op: 'ops', ...at('strong', NS, key), ops: [{ op: 'increment', path: ['stock'], by: -1, min: 0 }] }),
      ),
    );
    const succeeded = results.filter((r) => r.ok).length;
    const refused = results.filter((r) => !r.ok && r.problem.code === 'guard-violation').length;
    expect(succeeded).toBe(5);
    expect(refused).toBe(7);
    const final = await ok('apac', { op: 'get', ...at('strong', NS, key) });
    expect(final.json).toEqual({ stock: 0 });
  });
});
