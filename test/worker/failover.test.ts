import { env, runInDurableObject } from 'cloudflare:test';
import { afterEach, describe, expect, it } from 'vitest';
import { shard } from '../../src/core/routing.js';
import type { DocRequest, DocResponse } from '../../src/objects/protocol.js';
import { Election } from '../../src/core/election.js';
import { memberId } from '../../src/core/ids.js';
import { adminToken, call as http } from './helpers.js';
import type { ReplicaObject } from '../../src/objects/replica-object.js';
import { at, call, leaderOf, ok, type Region, REGIONS, setFaults, SHARDS, stats, stub, waitFor } from './members.js';

/**
 * Leader failover (issue 9) on real workerd: the leader's region (PRIMARY_REGION, wnam) is
 * partitioned away; the majority side elects a leader of its own and strong operations work
 * there again within twice the lease; a guarded counter never goes below its floor across
 * the change; after the heal, leadership returns to PRIMARY_REGION by a handover.
 */
const NS = 'failover';
const shardOf = (key: string): number => shard(NS, key, SHARDS);
const LEASE_MS = Number(env.LEASE_MS);
/** Allowance beyond twice the lease: a tick (at most 50 ms), the vote round and the write itself. */
const TICK_SLACK_MS = 250;

afterEach(async () => {
  for (let s = 0; s < SHARDS; s++) await setFaults(s, null);
});


/**
 * Rebuilds the election of these members from its durable state, as a deployment with other
 * settings would start it (the test environment's are REGIONS wnam,weur,apac and failover on).
 */
const rebuildElection = (s: number, regions: readonly Region[], opts: { failover?: boolean; members?: readonly string[] } = {}) =>
  Promise.all(
    regions.map((r) =>
      runInDurableObject(stub(s, r) as DurableObjectStub<ReplicaObject>, (obj) => {
        const o = obj as unknown as { election: Election };
        const config = {
          self: memberId(r),
          members: (opts.members ?? REGIONS).map(memberId),
          preferred: memberId('wnam'),
          leaseMs: LEASE_MS,
          maxClockDriftMs: Number(env.MAX_CLOCK_DRIFT_MS),
          failover: opts.failover ?? true,
        };
        o.election = new Election(config, o.election.durable(), Date.now(), { next: () => Math.random() });
      }),
    ),
  );

const decrement = (key: string): DocRequest => ({ op: 'ops', ...at('strong', NS, key), ops: [{ op: 'increment', path: ['stock'], by: -1, min: 0 }] });

describe('leader failover', () => {
  it('the majority side takes over within twice the lease, the guard holds across the change, and leadership returns to PRIMARY_REGION after the heal', async () => {
    expect(LEASE_MS).toBeGreaterThan(0);
    const key = 'stock-fo';
    const s = shardOf(key);
    const START = 40;
    await ok('weur', { op: 'ops', ...at('strong', NS, key), ops: [{ op: 'increment', path: ['stock'], by: START }] });
    const before = await leaderOf(s);
    expect(before?.region).toBe('wnam');
    expect(before!.leaseExpiresAt).toBeGreaterThan(Date.now() - LEASE_MS);

    // Guarded decrements from every region, all along; none may take stock below 0.
    let succeeded = 0;
    let stop = false;
    const unexpected: string[] = [];
    const seenStock: number[] = [];
    const loops = REGIONS.map(async (region) => {
      while (!stop) {
        const res: DocResponse = await call(region, decrement(key));
        if (res.ok) {
          succeeded++;
          seenStock.push(res.result.json!['stock'] as number);
        } else if (res.problem.code !== 'unavailable' && res.problem.code !== 'guard-violation') unexpected.push(`${region}: ${res.problem.code}: ${res.problem.detail}`);
        else if (res.problem.code === 'unavailable' && !(res.problem.retryAfterSeconds! >= 1)) unexpected.push(`${region}: 503 without Retry-After`);
        // Paces the load (about three decrements a second per region); every outcome is waited for by condition below.
        await new Promise((r) => setTimeout(r, 300));
      }
    });
    try {
      // Let a couple of decrements through before the cut.
      await waitFor('a decrement before the cut', async () => succeeded >= 1);
      await setFaults(s, { partitions: [['wnam'], ['weur', 'apac']] });
      const cut = Date.now();

      // The majority side: a strong write and a strong read succeed again within twice the
      // lease, or, when the first election there failed (a split vote), within another two.
      let firstWriteMs = -1;
      await waitFor(
        'a strong write on the majority side',
        async () => {
          const res = await call('weur', { op: 'patch', ...at('strong', NS, 'fo-probe'), patch: { at: Date.now() } });
          if (res.ok) firstWriteMs = Date.now() - cut;
          else expect(res.problem.code).toBe('unavailable');
          return res.ok;
        },
        4 * LEASE_MS + TICK_SLACK_MS,
      );
      const read = await call('apac', { op: 'get', ...at('strong', NS, key) });
      expect(read.ok, JSON.stringify(read)).toBe(true);
      const readMs = Date.now() - cut;
      console.log(`failover: first strong write on the majority side ${firstWriteMs} ms after the cut, strong read at ${readMs} ms (lease ${LEASE_MS} ms)`);
      const during = await leaderOf(s);
      expect(['weur', 'apac']).toContain(during?.region);
      expect(during!.epoch).toBeGreaterThan(before!.epoch);
      const rounds = during!.epoch - before!.epoch;
      console.log(`failover: elected at epoch ${during!.epoch} (${rounds} election round${rounds > 1 ? 's' : ''})`);
      expect(firstWriteMs).toBeLessThanOrEqual(2 * rounds * LEASE_MS + TICK_SLACK_MS);
      expect(during!.lastElection).toMatchObject({ epoch: during!.epoch, leader: during!.region });
      // The minority side takes no strong write.
      const minority = await call('wnam', { op: 'patch', ...at('strong', NS, 'fo-minority'), patch: { no: 1 } });
      expect(minority.ok ? 'ok' : minority.problem.code).toBe('unavailable');
      // Decrements went on on the majority side.
      const during0 = succeeded;
      await waitFor('a decrement on the majority side', async () => succeeded > during0 || seenStock.includes(0), 4 * LEASE_MS);

      await setFaults(s, null);
      const healed = Date.now();
      await waitFor(
        'leadership back at wnam',
        async () => {
          const l = await leaderOf(s);
          return l?.region === 'wnam' && l.epoch > during!.epoch;
        },
        6 * LEASE_MS,
      );
      console.log(`failover: leadership back at wnam ${Date.now() - healed} ms after the heal`);
      // /v1/cluster: the shard's leader, its epoch, lease expiry and the election that made it leader.
      const cluster = (await (await http('/v1/cluster', { token: await adminToken() })).json()) as {
        leaders: { shard: number; region: string; epoch: number; leaseExpiresAt: number | null; lastElection: { epoch: number; leader: string; at: number } | null }[];
      };
      const row = cluster.leaders.find((l) => l.shard === s);
      expect(row).toMatchObject({ region: 'wnam', lastElection: { leader: 'wnam' } });
      expect(row!.epoch).toBeGreaterThan(during!.epoch);
      expect(row!.lastElection!.epoch).toBe(row!.epoch);
      expect(row!.lastElection!.at).toBeGreaterThanOrEqual(healed);
      await waitFor(
        'a strong write answered by wnam',
        async () => {
          const res = await call('wnam', { op: 'patch', ...at('strong', NS, 'fo-back'), patch: { back: 1 } });
          return res.ok && res.result.member.endsWith(':wnam');
        },
        2 * LEASE_MS,
      );
      await waitFor(
        'the counter at its floor',
        async () => {
          const res = await call('weur', { op: 'get', ...at('strong', NS, key) });
          return res.ok && res.result.json!['stock'] === 0;
        },
        20_000,
      );
    } finally {
      stop = true;
      await Promise.all(loops);
    }
    expect(unexpected).toEqual([]);
    // A decrement answered 503 at the cut may still be carried out: a majority held its
    // proposal, and the next leader settled it (src/core/proposals.ts). One its leader could
    // not get to a majority never surfaces (test/worker/strong-proposals.test.ts).
    expect(succeeded).toBeGreaterThanOrEqual(START - 1);
    expect(succeeded).toBeLessThanOrEqual(START);
    expect(seenStock.every((n) => n >= 0)).toBe(true);
    // Every region converges on the floor, never below it.
    for (const r of REGIONS) {
      await waitFor(`stock 0 at ${r}`, async () => {
        const res = await call(r, { op: 'get', ...at('eventual', NS, key) });
        return res.ok && res.result.json!['stock'] === 0;
      });
    }
    const final = await ok('weur', { op: 'get', ...at('strong', NS, key) });
    expect(final.json).toEqual({ stock: 0 });
  });

  it('with FAILOVER off only PRIMARY_REGION stands: a majority cut off from it elects nobody', async () => {
    const key = 'off-1';
    const s = shardOf(key);
    await ok('apac', { op: 'patch', ...at('strong', NS, key), patch: { a: 1 } });
    await waitFor('wnam leading', async () => (await leaderOf(s))?.region === 'wnam');
    const before = await leaderOf(s);
    // The test environment turns failover on; these two members run as a deployment without it.
    const setFailover = (on: boolean) => rebuildElection(s, ['weur', 'apac'], { failover: on });
    await setFailover(false);
    try {
      await setFaults(s, { partitions: [['wnam'], ['weur', 'apac']] });
      const cut = Date.now();
      // Three leases: with failover on, the majority side elects within two (the first test).
      await waitFor('three leases', async () => Date.now() - cut > 3 * LEASE_MS, 4 * LEASE_MS);
      for (const r of ['weur', 'apac'] as const) {
        const m = await stats(s, r);
        expect(m.leader, r).toBe(false);
        expect(m.epoch, r).toBe(before!.epoch);
      }
      const res = await call('weur', { op: 'patch', ...at('strong', NS, key), patch: { b: 1 } });
      expect(res.ok ? 'ok' : res.problem.code).toBe('unavailable');
    } finally {
      await setFaults(s, null);
      await setFailover(true);
    }
    await waitFor('wnam leading after the heal', async () => (await ok('weur', { op: 'get', ...at('strong', NS, key) })).member.endsWith(':wnam'), 4 * LEASE_MS);
  });

  it('a member still running the old REGIONS during a rolling deploy (a fourth region being removed) makes no second leader of an epoch', async () => {
    const key = 'roll-1';
    const s = shardOf(key);
    await ok('weur', { op: 'patch', ...at('strong', NS, key), patch: { a: 1 } });
    await waitFor('wnam leading', async () => (await leaderOf(s))?.region === 'wnam');
    const before = await leaderOf(s);
    // apac has not got the new list yet: it still counts enam, so its majority is three of four.
    await rebuildElection(s, ['apac'], { members: [...REGIONS, 'enam'] });
    /** Every member's view of who won which epoch: two winners of one epoch fail the test. */
    const winners = new Map<number, string>();
    const checkWinners = async (): Promise<void> => {
      for (const m of await Promise.all(REGIONS.map((r) => stats(s, r)))) {
        const e = m.lastElection;
        if (!e) continue;
        const was = winners.get(e.epoch);
        expect(was === undefined || was === e.leader, `epoch ${e.epoch}: ${was} and ${e.leader}`).toBe(true);
        winners.set(e.epoch, e.leader);
      }
    };
    try {
      await setFaults(s, { partitions: [['wnam'], ['weur', 'apac']] });
      // weur needs two of three and gets apac's vote; apac, needing three of four, cannot win here.
      await waitFor(
        'a strong write on the majority side',
        async () => {
          await checkWinners();
          const res = await call('apac', { op: 'patch', ...at('strong', NS, key), patch: { b: Date.now() } });
          return res.ok;
        },
        4 * LEASE_MS + TICK_SLACK_MS,
      );
      const during = await leaderOf(s);
      expect(during?.region).toBe('weur');
      expect(during!.epoch).toBeGreaterThan(before!.epoch);
      expect((await stats(s, 'apac')).leader).toBe(false);
      await setFaults(s, null);
      await waitFor('wnam leading after the heal', async () => {
        await checkWinners();
        return (await leaderOf(s))?.region === 'wnam';
      }, 6 * LEASE_MS);
      await checkWinners();
    } finally {
      await setFaults(s, null);
      await rebuildElection(s, ['apac']);
    }
  });

  it('an idle shard quiesces (no heartbeats, no timers); its next strong write wakes it, and a lost leader is found by the next request', async () => {
    const key = 'quiet-1';
    const s = shardOf(key);
    const QUIESCE_MS = 3 * LEASE_MS;
    await ok('weur', { op: 'patch', ...at('strong', NS, key), patch: { a: 1 } });
    const allQuiet = async () => (await Promise.all(REGIONS.map((r) => stats(s, r)))).every((m) => m.quiesced);
    await waitFor('the shard quiesced', allQuiet, QUIESCE_MS + 4 * LEASE_MS);
    const quiet = await leaderOf(s);
    expect(quiet?.region).toBe('wnam');
    expect(quiet!.leaseExpiresAt === null || quiet!.leaseExpiresAt < Date.now() + LEASE_MS).toBe(true);
    // Its next strong write wakes it: answered, and the followers hear heartbeats again.
    const woke = await ok('apac', { op: 'patch', ...at('strong', NS, key), patch: { b: 1 } });
    expect(woke.member).toBe(`replica:${s}:wnam`);
    await waitFor('the shard awake', async () => (await Promise.all(REGIONS.map((r) => stats(s, r)))).every((m) => !m.quiesced), 2 * LEASE_MS);
    // Quiet again, and then the leader's region is lost: the next request finds out.
    await waitFor('the shard quiesced again', allQuiet, QUIESCE_MS + 4 * LEASE_MS);
    const epoch = (await leaderOf(s))!.epoch;
    try {
      await setFaults(s, { partitions: [['wnam'], ['weur', 'apac']] });
      const first = await call('weur', { op: 'patch', ...at('strong', NS, key), patch: { c: 1 } });
      expect(first.ok ? 'ok' : first.problem.code).toBe('unavailable');
      await waitFor(
        'a strong write on the majority side',
        async () => (await call('weur', { op: 'patch', ...at('strong', NS, key), patch: { c: Date.now() } })).ok,
        4 * LEASE_MS + TICK_SLACK_MS,
      );
      const during = await leaderOf(s);
      expect(['weur', 'apac']).toContain(during?.region);
      expect(during!.epoch).toBeGreaterThan(epoch);
    } finally {
      await setFaults(s, null);
    }
    await waitFor('wnam leading after the heal', async () => (await leaderOf(s))?.region === 'wnam', 8 * LEASE_MS);
  });
});
