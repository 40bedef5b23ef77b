import { describe, expect, it } from 'vitest';
import { gossipRound } from '../../src/core/anti-entropy.js';
import { UnavailableError } from '../../src/core/errors.js';
import { docKey, type MemberId } from '../../src/core/ids.js';
import type { Replica } from '../../src/core/replica.js';
import { ensureOnMajority, gatherMajority, type MajorityPort, StrongQueue } from '../../src/core/strong.js';
import { covers, get, leq, type VersionVector } from '../../src/core/version-vector.js';
import { cluster } from '../support/cluster.js';

const ids = ['wnam', 'weur', 'apac'];

/** A port over in-process replicas whose gossip rounds stop after `steps` messages; `down` never answer. */
function port(replicas: Map<MemberId, Replica>, self: Replica, steps: number, down: ReadonlySet<string>): MajorityPort {
  const transport = {
    request: async (to: MemberId, bytes: Uint8Array) => {
      if (down.has(to)) throw new Error(`${to} is unreachable`);
      return replicas.get(to)!.receive(bytes);
    },
  };
  return {
    pull: (to) => gossipRound(self, to, transport, steps),
    replicate: async () => {
      throw new Error('not used');
    },
  };
}

describe('a majority pull counts only peers this member caught up with', () => {
  it('a round cut short by its step bound does not count: the leader pulls again until it covers the peer', async () => {
    const ms = cluster(ids, { maxBatchBytes: 256 });
    const [leader, peer] = [ms[0]!.replica, ms[1]!.replica];
    for (let i = 0; i < 60; i++) peer.write(docKey('t', `k${i}`), 'automerge', (e) => e.replace({ i, pad: 'x'.repeat(100) }));
    const replicas = new Map(ms.map((m) => [m.id, m.replica]));
    await gatherMajority(leader, port(replicas, leader, 3, new Set(['apac'])));
    expect(leq(peer.vv, leader.vv)).toBe(true);
  });

  it('a peer that never lets the leader catch up is not counted', async () => {
    const ms = cluster(ids, { maxBatchBytes: 256 });
    const [leader, peer] = [ms[0]!.replica, ms[1]!.replica];
    for (let i = 0; i < 60; i++) peer.write(docKey('t', `k${i}`), 'automerge', (e) => e.replace({ i, pad: 'x'.repeat(100) }));
    const replicas = new Map(ms.map((m) => [m.id, m.replica]));
    // Rounds that end before any answer: nothing ever shows the leader what the peer has.
    await expect(gatherMajority(leader, port(replicas, leader, 0, new Set(['apac'])))).rejects.toThrow(UnavailableError);
  });
});

describe('a recorded write whose entry left the log', () => {
  function compactedAway() {
    // A small log bound: the first write is compacted away although no peer has it.
    const ms = cluster(ids, { maxBatchBytes: 1024, logMaxBytes: 2048 });
    const leader = ms[0]!.replica;
    const first = leader.write(docKey('t', 'recorded'), 'automerge', (e) => e.replace({ n: 1 })).entry!;
    for (let i = 0; i < 40; i++) leader.write(docKey('t', `k${i}`), 'automerge', (e) => e.replace({ i, pad: 'x'.repeat(100) }));
    const dot = { member: first.origin, seq: first.seq };
    expect(leader.entriesFor({}).entries.some((e) => e.seq === dot.seq && e.origin === dot.member)).toBe(false);
    return { ms, leader, dot, replicas: new Map(ms.map((m) => [m.id, m.replica])) };
  }

  it('reaches a majority by rounds (a state transfer) before a retry is answered', async () => {
    const { ms, leader, dot, replicas } = compactedAway();
    await ensureOnMajority(leader, port(replicas, leader, 32, new Set(['apac'])), [dot]);
    expect(covers(ms[1]!.replica.vv, dot)).toBe(true);
    expect(ms[1]!.replica.json(docKey('t', 'recorded'))).toEqual({ n: 1 });
  });

  it('is unavailable when no majority can be reached, and counts peers already known to hold it', async () => {
    const { ms, leader, dot, replicas } = compactedAway();
    await expect(ensureOnMajority(leader, port(replicas, leader, 32, new Set(['weur', 'apac'])), [dot])).rejects.toThrow(UnavailableError);
    expect(get(ms[1]!.replica.vv, dot.member)).toBe(0);
    // Once weur has it (and the leader knows), nothing more needs reaching.
    await ensureOnMajority(leader, port(replicas, leader, 32, new Set(['apac'])), [dot]);
    await ensureOnMajority(leader, port(replicas, leader, 32, new Set(['weur', 'apac'])), [dot]);
  });
});

describe('ensureOnMajority against peers that report only what a fake port says', () => {
  const dots = [
    { member: 'wnam' as MemberId, seq: 1 },
    { member: 'weur' as MemberId, seq: 5 },
  ];
  /** A port whose pulls answer `answer(peer)`; it counts pulls, and fails the test past a bound instead of looping for ever. */
  function fakePort(answer: (p: MemberId) => VersionVector | undefined): MajorityPort & { pulls: number } {
    const port = {
      pulls: 0,
      pull: async (p: MemberId) => {
        if (++port.pulls > 1000) throw new Error('pulled without end');
        return answer(p);
      },
      replicate: async (): Promise<VersionVector> => {
        throw new Error('not used');
      },
    };
    return port;
  }

  it('a peer counts only when it holds every one of the dots, and rounds stop after their bound', async () => {
    const leader = cluster(ids)[0]!.replica;
    // Each peer reports the first dot and never the second.
    const p = fakePort(() => ({ wnam: 1 }) as VersionVector);
    const refused = ensureOnMajority(leader, p, dots);
    await expect(refused).rejects.toThrow(UnavailableError);
    // The answer names a peer that never got it, not only that no majority did.
    await expect(refused).rejects.toThrow(/(weur|apac) did not receive the recorded write in time/);
    // Both peers were asked 64 rounds each, no more.
    expect(p.pulls).toBe(2 * 64);
  });

  it('a peer learnt to hold them during a round counts, though the round itself reported nothing', async () => {
    const leader = cluster(ids)[0]!.replica;
    const p = fakePort((peer) => {
      leader.learnPeer(peer, { wnam: 1, weur: 5 } as VersionVector);
      return undefined;
    });
    await ensureOnMajority(leader, p, dots);
    expect(p.pulls).toBeLessThanOrEqual(2);
  });
});

describe('the strong queue', () => {
  it('runs operations one at a time, refuses past its capacity, and drops those whose caller gave up', async () => {
    let now = 0;
    const q = new StrongQueue({ now: () => now }, 2);
    const order: string[] = [];
    let release!: () => void;
    const first = q.run(() => new Promise<void>((r) => (release = () => { order.push('first'); r(); })));
    // Let the first one start: only operations that have not started count against the capacity.
    while (q.size > 0) await Promise.resolve();
    const late = q.run(async () => { order.push('late'); }, 5);
    const second = q.run(async () => { order.push('second'); });
    await expect(q.run(async () => undefined)).rejects.toThrow(UnavailableError);
    expect(q.size).toBe(2);
    now = 10;
    release();
    await first;
    await expect(late).rejects.toThrow(/gave up/);
    await second;
    expect(order).toEqual(['first', 'second']);
    expect(q.size).toBe(0);
  });
});
