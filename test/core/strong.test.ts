import { describe, expect, it } from 'vitest';
import { gossipRound } from '../../src/core/anti-entropy.js';
import { UnavailableError } from '../../src/core/errors.js';
import { docKey, type MemberId } from '../../src/core/ids.js';
import type { Replica } from '../../src/core/replica.js';
import { gatherMajority, type MajorityPort, StrongQueue } from '../../src/core/strong.js';
import { leq } from '../../src/core/version-vector.js';
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
