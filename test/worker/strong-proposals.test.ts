import { env, runInDurableObject } from 'cloudflare:test';
import { afterEach, describe, expect, it } from 'vitest';
import { shard } from '../../src/core/routing.js';
import { type Acceptor, STRONG_ORIGIN, type Proposal, unsettled } from '../../src/core/proposals.js';
import { docKey } from '../../src/core/ids.js';
import { execute } from '../../src/objects/execute.js';
import { recorder } from '../../src/objects/outcomes.js';
import type { DocRequest, FaultConfig, ProposeResult, RequestIdentity } from '../../src/objects/protocol.js';
import type { Replica } from '../../src/core/replica.js';
import type { ReplicaObject } from '../../src/objects/replica-object.js';
import { at, call, leaderOf, ok, REGIONS, setFaults, SHARDS, stats, stub, waitFor } from './members.js';

/**
 * Strong writes are proposals (src/core/proposals.ts), on real workerd: a strong write its
 * leader could not get a majority to hold is seen by nobody and never surfaces, even after a
 * new leader decided without it; one a majority holds is settled by whoever leads next.
 */
const NS = 'proposals';
const shardOf = (key: string): number => shard(NS, key, SHARDS);
const LEASE_MS = Number(env.LEASE_MS);

afterEach(async () => {
  for (let s = 0; s < SHARDS; s++) await setFaults(s, null);
});

const setFaultsAt = (s: number, region: string, cfg: FaultConfig | null): Promise<void> =>
  (stub(s, region) as unknown as { setFaults(c: FaultConfig | null): Promise<void> }).setFaults(cfg);

/** The strong write proposal `region`'s member holds and has not applied. */
const heldAt = (s: number, region: string): Promise<Proposal | undefined> =>
  runInDurableObject(stub(s, region) as DurableObjectStub<ReplicaObject>, (obj) => {
    const o = obj as unknown as { acceptor: Acceptor; replica: Replica };
    return unsettled(o.acceptor, o.replica.vv);
  });


const decrement = (key: string, id?: string): DocRequest => ({
  op: 'ops',
  ...at('strong', NS, key),
  ops: [{ op: 'increment', path: ['stock'], by: -1, min: 0 }],
  ...(id && { request: { id, fingerprint: `fp-${id}`, client: true } }),
});

/** Every member has applied the same entries. */
const converged = async (s: number): Promise<boolean> => {
  const vvs = await Promise.all(REGIONS.map(async (r) => JSON.stringify(Object.entries((await stats(s, r)).vv).sort())));
  return vvs.every((v) => v === vvs[0]);
};

const stockAt = async (region: string, key: string): Promise<unknown> => (await ok(region, { op: 'get', ...at('eventual', NS, key) })).json!['stock'];

describe('strong writes as proposals', () => {
  it('a guarded decrement its leader could not get to a majority never surfaces, though the new leader took the counter to its floor without it', async () => {
    const key = 'unacked-1';
    const s = shardOf(key);
    await ok('weur', { op: 'ops', ...at('strong', NS, key), ops: [{ op: 'increment', path: ['stock'], by: 1 }] });
    await waitFor('wnam leading', async () => (await leaderOf(s))?.region === 'wnam');

    // wnam's messages take 500 ms, so the decrement is still pulling from its peers when the
    // cut comes; it decides, proposes, and nobody can hold the proposal.
    await setFaultsAt(s, 'wnam', { delayMs: 500 });
    const cutOff = call('wnam', decrement(key));
    await waitFor('the decrement running at wnam', async () => (await stats(s, 'wnam')).strongQueue.running === 1, 2000);
    await setFaults(s, { partitions: [['wnam'], ['weur', 'apac']] });
    const answer = await cutOff;
    expect(answer.ok ? 'ok' : answer.problem.code).toBe('unavailable');
    expect((await heldAt(s, 'wnam'))?.entry.doc).toBe(docKey(NS, key));
    // Not applied at wnam either: nobody sees it.
    expect(await stockAt('wnam', key)).toBe(1);

    // The majority side elects a leader, which takes the last unit.
    await waitFor(
      'a decrement on the majority side',
      async () => {
        const res = await call('weur', decrement(key));
        if (!res.ok) expect(res.problem.code).toBe('unavailable');
        return res.ok;
      },
      4 * LEASE_MS + 500,
    );
    // (Its leader may be apac: a strong read, since weur may not have the entry yet.)
    expect((await ok('weur', { op: 'get', ...at('strong', NS, key) })).json).toEqual({ stock: 0 });

    await setFaults(s, null);
    await waitFor('leadership back at wnam', async () => (await leaderOf(s))?.region === 'wnam', 8 * LEASE_MS);
    // A strong operation at wnam; then every member holds the same entries.
    const read = await ok('wnam', { op: 'get', ...at('strong', NS, key) });
    expect(read.json).toEqual({ stock: 0 });
    await waitFor('the members converge', () => converged(s), 20_000);
    for (const r of REGIONS) expect(await stockAt(r, key), r).toBe(0);
  });

  it('a strong write answered 503 is carried out once: its retry finds it settled', async () => {
    const key = 'retry-1';
    const s = shardOf(key);
    await ok('weur', { op: 'ops', ...at('strong', NS, key), ops: [{ op: 'increment', path: ['stock'], by: 5 }] });
    await waitFor('wnam leading', async () => (await leaderOf(s))?.region === 'wnam');
    await setFaultsAt(s, 'wnam', { delayMs: 300 });
    const first = call('wnam', decrement(key, 'dec-retry-1'));
    await waitFor('the decrement running at wnam', async () => (await stats(s, 'wnam')).strongQueue.running === 1, 2000);
    await setFaults(s, { partitions: [['wnam'], ['weur', 'apac']] });
    const answer = await first;
    expect(answer.ok ? 'ok' : answer.problem.code).toBe('unavailable');
    expect((await heldAt(s, 'wnam'))?.entry.request?.id).toBe('dec-retry-1');
    // Healed within the lease: wnam still leads, holding the write it proposed.
    await setFaults(s, null);
    let retried: number | undefined;
    await waitFor('the retry answered', async () => {
      const res = await call('weur', decrement(key, 'dec-retry-1'));
      if (!res.ok) expect(res.problem.code).toBe('unavailable');
      else retried = res.result.status;
      return res.ok;
    }, 6 * LEASE_MS);
    expect(retried).toBe(200);
    // Once, whoever settled it: 5 − 1.
    const read = await ok('apac', { op: 'get', ...at('strong', NS, key) });
    expect(read.json).toEqual({ stock: 4 });
    await waitFor('the members converge', () => converged(s), 20_000);
    for (const r of REGIONS) expect(await stockAt(r, key), r).toBe(4);
  });

  it('a proposal a majority holds is settled by the next leader when its own leader is lost before applying it', async () => {
    const key = 'settle-1';
    const s = shardOf(key);
    const doc = docKey(NS, key);
    await ok('apac', { op: 'ops', ...at('strong', NS, key), ops: [{ op: 'increment', path: ['stock'], by: 3 }] });
    await waitFor('wnam leading', async () => (await leaderOf(s))?.region === 'wnam');
    await waitFor('the members converge', () => converged(s), 10_000);
    // wnam proposes a decrement and weur keeps it; then wnam is cut off before it applies it
    // (as if it crashed between the two): a majority (wnam, weur) holds a write nobody applied.
    const proposal = await runInDurableObject(stub(s, 'wnam') as DurableObjectStub<ReplicaObject>, (obj) => {
      const o = obj as unknown as { replica: Replica; election: { epoch: number }; name: string };
      const req = decrement(key, 'dec-settle-1') as DocRequest & { request: RequestIdentity };
      // As the leader's `once` records it: the entry carries the request.
      const made = o.replica.propose(() => execute(o.replica, req, o.name, recorder(doc, req.request, Date.now(), 60_000)));
      expect(made.entry?.origin).toBe(STRONG_ORIGIN);
      return { epoch: o.election.epoch, entry: made.entry! } satisfies Proposal;
    });
    const kept = (await (stub(s, 'weur') as unknown as { propose(p: Proposal): Promise<ProposeResult> }).propose(proposal)) as ProposeResult;
    expect(kept.ok).toBe(true);
    expect(await stockAt('wnam', key)).toBe(3);
    expect(await stockAt('weur', key)).toBe(3);
    await setFaults(s, { partitions: [['wnam'], ['weur', 'apac']] });

    // apac lacks the proposal, so only weur can win the majority side's votes; once elected, it
    // settles the decrement.
    await waitFor('weur leading', async () => (await stats(s, 'weur')).leader, 4 * LEASE_MS + 500);
    // At once, with no operation to wait for: until then the members holding the proposal
    // outrank those that do not, and a handover to one of those could not succeed.
    await waitFor('weur settling the proposal unasked', async () => ((await stats(s, 'weur')).vv[STRONG_ORIGIN] ?? 0) >= proposal.entry.seq, 2 * LEASE_MS);
    const read = await ok('apac', { op: 'get', ...at('strong', NS, key) });
    expect(read.json).toEqual({ stock: 2 });
    // The client's retry of the decrement is answered from the record the entry carried, not applied again.
    const retry = await ok('apac', decrement(key, 'dec-settle-1'));
    expect(retry.status).toBe(200);
    expect((await ok('weur', { op: 'get', ...at('strong', NS, key) })).json).toEqual({ stock: 2 });
    const weur = await stats(s, 'weur');
    expect(weur.vv[STRONG_ORIGIN]).toBeGreaterThanOrEqual(proposal.entry.seq);
  });
});
