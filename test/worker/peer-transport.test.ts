import { describe, expect, it } from 'vitest';
import { shard } from '../../src/core/routing.js';
import type { DocResponse, FaultConfig } from '../../src/objects/protocol.js';
import { at, call, REGIONS, setFaults, SHARDS, stats, stub, waitFor } from './members.js';

/**
 * The peer transport (src/objects/peers.ts) as members use it: a quorum read taken in weur is
 * forwarded to the leader (wnam) over it, so what the forwarding call does on a failure is
 * what the client sees. Failures are injected before a message leaves (`failNext` of the
 * test environment's fault transport), shaped as the runtime's errors: `retryable`,
 * `overloaded`.
 */
const NS = 'transport';
const shardOf = (key: string): number => shard(NS, key, SHARDS);
const keyOn = (s: number, prefix: string): string => {
  for (let i = 0; ; i++) if (shardOf(`${prefix}-${i}`) === s) return `${prefix}-${i}`;
};

// The forwarding tests use a shard nobody writes to in this file: its members have nothing to
// gossip, so the only message weur sends is the forwarded read, and each injected failure is
// spent on it. Faults there are cleared with `{}` rather than null (healing re-arms gossip).
const QUIET = 0;
const MISSING = keyOn(QUIET, 'never-written');

async function setFaultsAt(s: number, region: string, cfg: FaultConfig | null): Promise<void> {
  await (stub(s, region) as unknown as { setFaults(c: FaultConfig | null): Promise<void> }).setFaults(cfg);
}

/** A quorum read at weur of a key nobody wrote, and how long it took: the leader's answer is 404 not-found. */
async function forwardedRead(): Promise<{ res: DocResponse; ms: number }> {
  const start = Date.now();
  const res = await call('weur', { op: 'get', ...at('quorum', NS, MISSING) });
  return { res, ms: Date.now() - start };
}
const codeOf = (res: DocResponse): string => (res.ok ? 'ok' : res.problem.code);


describe('peer transport: timeouts', () => {
  it('stops waiting for a leader that does not answer within twice QUORUM_TIMEOUT_MS and answers 503', async () => {
    // The leader's own majority pull is slowed past the forwarding call's 2000 ms timeout. (Its
    // delayed messages still land about a second after this test ends.) A read would be
    // answered from the leader's lease without a pull: this is a strong write whose
    // precondition fails on the missing document once the pull is done, so it writes nothing.
    await waitFor('weur to know wnam as the leader', async () => (await stats(QUIET, 'weur')).leaderRegion === 'wnam');
    await setFaultsAt(QUIET, 'wnam', { delayMs: 3000 });
    try {
      const start = Date.now();
      const res = await call('weur', { op: 'patch', ...at('strong', NS, MISSING), patch: { no: 1 }, ifMatch: ['*'] });
      const ms = Date.now() - start;
      expect(codeOf(res)).toBe('unavailable');
      expect(!res.ok && res.problem.detail).toContain('did not answer within 2000 ms');
      expect(ms).toBeGreaterThanOrEqual(1950);
      expect(ms).toBeLessThan(2900);
    } finally {
      await setFaultsAt(QUIET, 'wnam', {});
    }
    // The delayed heartbeats may have let weur and apac elect a leader meanwhile; the next tests
    // forward from weur to wnam, so they wait until leadership is back there.
    await waitFor('wnam to lead again', async () => (await stats(QUIET, 'weur')).leaderRegion === 'wnam' && (await stats(QUIET, 'wnam')).leader, 15_000);
  });
});

describe('peer transport: retries', () => {
  it('a forwarded read reaches the leader once the member is sound', async () => {
    await setFaultsAt(QUIET, 'weur', {});
    expect(codeOf((await forwardedRead()).res)).toBe('not-found');
    // Nothing was ever written on this shard, so no member has anything to gossip.
    for (const r of REGIONS) expect((await stats(QUIET, r)).logEntries).toBe(0);
  });

  it('retries failures the runtime marks retryable, backing off between attempts, and succeeds on the third', async () => {
    await setFaultsAt(QUIET, 'weur', { failNext: { times: 2, retryable: true } });
    const { res, ms } = await forwardedRead();
    expect(codeOf(res), JSON.stringify(res)).toBe('not-found');
    // Two backoffs of at least 25 ms and 50 ms (BACKOFF_MS × 2^attempt × [1, 2)).
    expect(ms).toBeGreaterThanOrEqual(75);
  });

  it('gives up after three attempts and answers 503 with the last failure', async () => {
    await setFaultsAt(QUIET, 'weur', { failNext: { times: 3, retryable: true } });
    const { res, ms } = await forwardedRead();
    expect(codeOf(res)).toBe('unavailable');
    expect(!res.ok && res.problem.detail).toContain('injected failure 3 of 3');
    expect(!res.ok && res.problem.retryAfterSeconds).toBe(1);
    expect(ms).toBeGreaterThanOrEqual(75);
    // The fault is spent: the next read gets through.
    expect(codeOf((await forwardedRead()).res)).toBe('not-found');
  });

  it('does not retry a peer that is overloaded, even when the error is also marked retryable', async () => {
    await setFaultsAt(QUIET, 'weur', { failNext: { times: 1, retryable: true, overloaded: true } });
    const { res } = await forwardedRead();
    // One more attempt would have succeeded (only one failure was armed): none was made.
    expect(codeOf(res)).toBe('unavailable');
    expect(!res.ok && res.problem.detail).toContain('injected failure 1 of 1');
    expect(codeOf((await forwardedRead()).res)).toBe('not-found');
  });

  it('does not retry a failure the runtime does not mark retryable', async () => {
    await setFaultsAt(QUIET, 'weur', { failNext: { times: 1 } });
    const { res } = await forwardedRead();
    expect(codeOf(res)).toBe('unavailable');
    expect(!res.ok && res.problem.detail).toContain('injected failure 1 of 1');
    expect(codeOf((await forwardedRead()).res)).toBe('not-found');
  });

});

describe('lossy links', () => {
  it('with 30% of member-to-member messages dropped, eventual writes in every region are acknowledged and converge everywhere', async () => {
    const s = (QUIET + 1) % SHARDS;
    const key = keyOn(s, 'lossy');
    const expected: Record<string, number> = {};
    // The drop fault is in force: with every message dropped, a quorum write finds no majority
    // (it stays committed where it was taken, and must converge like the rest).
    await setFaults(s, { dropRate: 1 });
    try {
      expect(codeOf(await call('apac', { op: 'patch', ...at('quorum', NS, key), patch: { unacknowledged: 1 } }))).toBe('unavailable');
      expected['unacknowledged'] = 1;
      await setFaults(s, { dropRate: 0.3 });
      for (let i = 0; i < 4; i++) {
        for (const r of REGIONS) {
          const res = await call(r, { op: 'patch', ...at('eventual', NS, key), patch: { [`${r}${i}`]: i } });
          expect(codeOf(res), `write ${i} at ${r}`).toBe('ok');
          expected[`${r}${i}`] = i;
        }
      }
      const canon = (o: object | undefined): string => JSON.stringify(Object.entries(o ?? {}).sort(([a], [b]) => (a < b ? -1 : 1)));
      await waitFor(
        'every member to hold every write, with drops still on',
        async () => {
          const docs = await Promise.all(REGIONS.map((r) => call(r, { op: 'get', ...at('eventual', NS, key) })));
          return docs.every((d) => d.ok && canon(d.result.json) === canon(expected));
        },
        20_000,
      );
      const vvs = await Promise.all(REGIONS.map(async (r) => (await stats(s, r)).vv));
      for (const vv of vvs) expect(vv).toEqual(vvs[0]);
    } finally {
      await setFaults(s, {});
    }
  });
});
