import { describe, expect, it } from 'vitest';
import { type ElectionSimOptions, type ElectionSimReport, simulateElection } from '../support/sim/election.js';
import { checkLinearizable, type HistoryOp } from '../support/sim/linearizability.js';

const write = (v: number, invoke: number, complete: number | undefined): HistoryOp<number | null> => ({ name: `w${v}`, invoke, complete, step: () => v });
const read = (v: number | null, invoke: number, complete: number): HistoryOp<number | null> => ({ name: `r${v}`, invoke, complete, step: (s) => (s === v ? s : undefined) });
const dec = (invoke: number, complete: number | undefined): HistoryOp<number> => ({ name: 'dec', invoke, complete, step: (s) => (s >= 1 ? s - 1 : undefined) });
const count = (v: number, invoke: number, complete: number): HistoryOp<number> => ({ name: `c${v}`, invoke, complete, step: (s) => (s === v ? s : undefined) });
const inc = (invoke: number, complete: number | undefined): HistoryOp<number> => ({ name: 'inc', invoke, complete, step: (s) => s + 1 });

describe('linearizability checker', () => {
  it('accepts a sequential history and concurrent operations in either order', () => {
    expect(checkLinearizable(null, [write(1, 0, 1), read(1, 2, 3), write(2, 4, 6), read(1, 5, 7)], String).ok).toBe(true);
  });

  it('refuses a read of a value overwritten before the read began', () => {
    const r = checkLinearizable(null, [write(1, 0, 1), write(2, 2, 3), read(1, 4, 5)], String);
    expect(r.ok).toBe(false);
  });

  it('lets an unanswered write take effect at any time after its invocation, or never', () => {
    expect(checkLinearizable(null, [write(1, 0, 1), write(2, 2, undefined), read(1, 3, 4), read(2, 5, 6)], String).ok).toBe(true);
    expect(checkLinearizable(null, [write(1, 0, 1), write(2, 2, undefined), read(1, 3, 4)], String).ok).toBe(true);
    // Not before it was invoked.
    expect(checkLinearizable(null, [write(1, 0, 1), read(2, 2, 3), write(2, 4, undefined)], String).ok).toBe(false);
  });

  it('refuses a guarded counter that an unanswered decrement takes below its floor', () => {
    // inc, dec (acknowledged) leave 0; an unanswered dec cannot have applied after, nor before both.
    expect(checkLinearizable(0, [inc(0, 1), dec(2, undefined), dec(3, 4), count(-1, 5, 6)], String).ok).toBe(false);
    expect(checkLinearizable(0, [inc(0, 1), dec(2, undefined), dec(3, 4), count(0, 5, 6)], String).ok).toBe(true);
  });
});

async function firstFailure(opts: Omit<ElectionSimOptions, 'seed'>, seeds: number): Promise<string | undefined> {
  for (let seed = 1; seed <= seeds; seed++) {
    try {
      await simulateElection({ ...opts, seed });
    } catch (err) {
      return (err as Error).message;
    }
  }
  return undefined;
}

describe('election simulator', () => {
  it('replays a seed identically', async () => {
    expect(await simulateElection({ seed: 4242 })).toEqual(await simulateElection({ seed: 4242 }));
  });

  // Each seed: leaders crash, are partitioned away (alone or with a minority) and come back,
  // links drop, duplicate and delay messages, clocks drift within the bound; after every event
  // at most one leader per epoch, each new leader and each lease holder covers every
  // acknowledged write, one lease at a time, nobody elected while another holds a lease; at
  // the end the strong histories of the register and the guarded counter are linearizable.
  for (const [from, to] of [[1, 500], [501, 1000]] as const) {
    it(`seeds ${from}–${to}: one leader per epoch, no acknowledged write missing from a new leader, linearizable strong history`, async () => {
      const reports: ElectionSimReport[] = [];
      for (let seed = from; seed <= to; seed++) reports.push(await simulateElection({ seed }));
      const sum = (k: keyof ElectionSimReport) => reports.reduce((n, r) => n + Number(r[k]), 0);
      // The runs exercise what they claim to.
      expect(sum('elections')).toBeGreaterThan(2 * reports.length);
      expect(sum('handovers')).toBeGreaterThan(reports.length / 2);
      expect(sum('crashes')).toBeGreaterThan(reports.length);
      expect(sum('partitions')).toBeGreaterThan(reports.length);
      expect(sum('writes')).toBeGreaterThan(5 * reports.length);
      expect(sum('refusals')).toBeGreaterThan(0);
      expect(sum('leaseReads')).toBeGreaterThan(0);
      expect(sum('roundReads')).toBeGreaterThan(0);
      expect(sum('indeterminate')).toBeGreaterThan(0);
      expect(new Set(reports.map((r) => r.members))).toEqual(new Set([3, 4, 5]));
      // After the heal, leadership is back with the preferred member (nearly always within 12 leases).
      expect(sum('preferredLeadsAtEnd')).toBeGreaterThanOrEqual(0.95 * reports.length);
    });
  }

  it('catches voters that ignore their vector: a new leader lacks an acknowledged write', async () => {
    // About a quarter of the seeds fail.
    expect(await firstFailure({ mutant: 'blind-votes' }, 100)).toMatch(/elected in epoch \d+, lacks acknowledged write/);
  });

  it('catches clocks drifting past the configured bound: a member elected while the old lease holds, or a stale read', async () => {
    // About 6 seeds in 1,000 fail (the first is 235).
    expect(await firstFailure({ mutant: 'drift-beyond-bound' }, 1000)).toMatch(/holds a lease|no linearization/);
  });

  it('finds that today\'s write order (commit at the leader, then replicate) is unsafe under failover', async () => {
    // A deposed leader's unacknowledged write, committed where it was made, surfaces after a
    // new leader decided without it (see the README beside the simulator).
    // About 9 seeds in 1,000 fail (the first is 57), nearly all on the guarded counter.
    expect(await firstFailure({ writePath: 'commit-first' }, 1000)).toMatch(/no linearization/);
  });
});
