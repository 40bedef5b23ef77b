import { describe, expect, it } from 'vitest';
import { Election } from '../../src/core/election.js';
import { docKey, type MemberId, memberId } from '../../src/core/ids.js';
import type { LogEntry } from '../../src/core/log.js';
import { seededRandom } from '../../src/core/ports.js';
import { accept, type Acceptor, type Proposal, STRONG_ORIGIN, unsettled } from '../../src/core/proposals.js';
import type { VersionVector } from '../../src/core/version-vector.js';
import { type ElectionSimOptions, type ElectionSimReport, LEASE_MS, MAX_DRIFT_MS, simulateElection } from '../support/sim/election.js';
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
  // links drop, duplicate and delay messages, clocks drift within the bound; strong writes are
  // proposals (src/core/proposals.ts) sent message by message. After every event at most one
  // leader per epoch, one entry per dot, each new leader and each lease holder covers every
  // acknowledged write or holds it to settle, every answer a leader gives covers the writes
  // acknowledged before it took the operation, one lease at a time, nobody elected while
  // another holds a lease; at the end the strong histories of the register and the guarded
  // counter are linearizable.
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
      // Leaders settle proposals they found unapplied (about 2 a seed), and peers catch up before accepting.
      expect(sum('settled')).toBeGreaterThan(0);
      expect(sum('caughtUp')).toBeGreaterThan(0);
      // An idle leader settles what it holds: none is left unsettled 12 leases after the heal.
      expect(sum('unsettledAtEnd')).toBe(0);
      expect(new Set(reports.map((r) => r.members))).toEqual(new Set([3, 4, 5]));
      // After the heal, leadership is back with the preferred member (nearly always within 12 leases).
      expect(sum('preferredLeadsAtEnd')).toBeGreaterThanOrEqual(0.95 * reports.length);
    });
  }

  it('catches voters that ignore the accepted rank: a new leader lacks an acknowledged write', async () => {
    // About 12 seeds in 1,000 fail (the first is 97): the vector rule alone misses proposals held, not applied.
    expect(await firstFailure({ mutant: 'rankless-votes' }, 1000)).toMatch(/elected in epoch \d+, lacks acknowledged write/);
  });

  it('catches a new leader that answers before settling the proposal it holds', async () => {
    // About 35 seeds in 1,000 fail (the first is 11): it reads or refuses without the write,
    // holds a lease without it, or has a second write acknowledged at its index.
    expect(await firstFailure({ mutant: 'no-settle' }, 200)).toMatch(/without acknowledged write|lacks acknowledged write|both acknowledged at/);
  });

  it('catches voters that ignore their vector when writes commit first; with proposals, the rank rule covers for it', async () => {
    // commit-first: about 100 seeds in 1,000 fail (the first is 12). proposals: none in 1,000 (an
    // acknowledged proposal's majority outranks a candidate that has not applied its index);
    // with the rank rule off too (`blind-votes,rankless-votes`), about 110.
    expect(await firstFailure({ writePath: 'commit-first', mutant: 'blind-votes' }, 100)).toMatch(/elected in epoch \d+, lacks acknowledged write/);
    expect(await firstFailure({ mutant: 'blind-votes' }, 200)).toBeUndefined();
  });

  it('finds that a leader settling only before its next operation leaves proposals unsettled, and the preferred member out', async () => {
    // Liveness, not safety: with no operation after the heal, a proposal stays unsettled, the
    // members that accepted it outrank the preferred member, and each handover to it fails.
    // About 480 seeds in 1,000 end with the leader holding one (48 of the first 100; none when
    // it settles while idle, see above), and the preferred member leads in about 920 (against 997).
    const reports: ElectionSimReport[] = [];
    for (let seed = 1; seed <= 100; seed++) reports.push(await simulateElection({ seed, mutant: 'lazy-settle' }));
    expect(reports.filter((r) => r.unsettledAtEnd).length).toBeGreaterThan(20);
  });

  it('catches clocks drifting past the configured bound: a member elected while the old lease holds, or a stale read', async () => {
    // About 6 seeds in 1,000 fail (the first is 151).
    expect(await firstFailure({ mutant: 'drift-beyond-bound' }, 1000)).toMatch(/holds a lease|no linearization/);
  });

  it('finds that today\'s write order (commit at the leader, then replicate) is unsafe under failover', async () => {
    // A deposed leader's unacknowledged write, committed where it was made, surfaces after a
    // new leader decided without it (see the README beside the simulator).
    // About 7 seeds in 1,000 fail (the first is 2), on the guarded counter or the register.
    expect(await firstFailure({ writePath: 'commit-first' }, 1000)).toMatch(/no linearization/);
  });
});

describe('settling at the leader\'s own epoch (Raft\'s Figure 8), step by step with the real acceptor and votes', () => {
  // Five members that all applied strong index 1. The simulator's `keep-epoch` mutant meets
  // this schedule too rarely for a test (see the README beside the simulator), so here it is.
  const [A, B, C, D, E] = ['a', 'b', 'c', 'd', 'e'].map(memberId) as [MemberId, MemberId, MemberId, MemberId, MemberId];
  const applied: VersionVector = { [STRONG_ORIGIN]: 1 };
  const entry = (data: number): LogEntry => ({ origin: STRONG_ORIGIN, seq: 2, doc: docKey('t', 'fig8'), engine: 'automerge', kind: 'update', hlc: 1, deps: {}, data: new Uint8Array([data]) });
  const accepted = (s: Acceptor, p: Proposal): Acceptor => {
    const a = accept(s, p, applied);
    if (!a.ok) throw new Error(`refused: ${a.reason}`);
    return a.state;
  };

  /** Runs the schedule with the settle stamped `settleEpoch`; the votes E gets from B, C and D at epoch 5. */
  function schedule(settleEpoch: (first: number, own: number) => number): { granted: MemberId[]; holds: Proposal | undefined } {
    const start: Acceptor = { accepted: { epoch: 1, index: 1 } };
    const s = new Map<MemberId, Acceptor>([A, B, C, D, E].map((m) => [m, start]));
    // A, leader of epoch 2, proposes P at index 2: only B accepts it before A is cut off.
    const p: Proposal = { epoch: 2, entry: entry(23) };
    for (const m of [A, B]) s.set(m, accepted(s.get(m)!, p));
    // E, leader of epoch 3, proposes Q at index 2: nobody else accepts it.
    s.set(E, accepted(s.get(E)!, { epoch: 3, entry: entry(36) }));
    // A, leader of epoch 4, settles P: A, B and C accept, a majority, so P is committed (A
    // applies and acknowledges it); A is cut off before its push reaches anyone.
    const settle: Proposal = { epoch: settleEpoch(2, 4), entry: p.entry };
    for (const m of [A, B, C]) s.set(m, accepted(s.get(m)!, settle));
    // E stands at epoch 5 with the vector of B, C and D and its own rank (3, 2).
    const granted: MemberId[] = [];
    for (const v of [B, C, D]) {
      const voter = new Election({ self: v, members: [A, B, C, D, E], leaseMs: LEASE_MS, maxClockDriftMs: MAX_DRIFT_MS }, { epoch: 4, votedFor: A }, 0, seededRandom(1));
      const step = voter.receive(E, { type: 'vote', epoch: 5, vv: applied, accepted: s.get(E)!.accepted, transfer: false }, 10 * LEASE_MS, { vv: applied, accepted: s.get(v)!.accepted });
      if (step.send.some((o) => o.message.type === 'vote-reply' && o.message.granted)) granted.push(v);
    }
    return { granted, holds: unsettled(s.get(E)!, applied) };
  }

  it('at the first epoch, a candidate without the committed write wins a majority and would settle another at its index', () => {
    const { granted, holds } = schedule((first) => first);
    expect(granted).toEqual([B, C, D]);
    expect(holds?.entry.data).toEqual(new Uint8Array([36]));
  });

  it('at the settling leader\'s epoch, the members that accepted it outrank that candidate', () => {
    expect(schedule((_, own) => own).granted).toEqual([D]);
  });
});
