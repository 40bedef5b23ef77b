import { describe, expect, it } from 'vitest';
import { Election, type ElectionConfig } from '../../src/core/election.js';
import { memberId, type MemberId } from '../../src/core/ids.js';
import type { Random } from '../../src/core/ports.js';
import type { VersionVector } from '../../src/core/version-vector.js';

/**
 * `failover: false`: only the preferred member ever stands, so the leader is the preferred
 * member or nobody, as before elections existed. A shard whose strong writes are committed on
 * the leader before they reach a majority needs this: a deposed leader's unacknowledged write
 * would surface after a new leader decided without it (see test/support/sim/README.md).
 */
const A = memberId('a');
const B = memberId('b');
const C = memberId('c');
const config = (self: MemberId, failover: boolean): ElectionConfig => ({ self, members: [A, B, C], preferred: A, leaseMs: 1000, maxClockDriftMs: 100, failover });
const fixed: Random = { next: () => 0.5 };
const none = { vv: {} as VersionVector };

describe('Election with failover off', () => {
  it('a member that is not preferred never stands, however long the leader is gone', () => {
    const b = new Election(config(B, false), { epoch: 1, votedFor: A }, 0, fixed);
    for (let now = 0; now <= 60_000; now += 100) expect(b.tick(now, none).send).toEqual([]);
    expect(b.epoch).toBe(1);
    // With failover on, the same member stands within a few leases.
    const on = new Election(config(B, true), { epoch: 1, votedFor: A }, 0, fixed);
    let stood = false;
    for (let now = 0; now <= 60_000 && !stood; now += 100) stood = on.tick(now, none).send.some((o) => o.message.type === 'pre-vote');
    expect(stood).toBe(true);
  });

  it('the preferred member still stands after a restart, and is elected by the others', () => {
    const a = new Election(config(A, false), { epoch: 1, votedFor: A }, 0, fixed);
    const b = new Election(config(B, false), { epoch: 1, votedFor: A }, 0, fixed);
    const c = new Election(config(C, false), { epoch: 1, votedFor: A }, 0, fixed);
    const peers = new Map([[B, b], [C, c]]);
    for (let now = 0; now <= 20_000 && a.state !== 'leader'; now += 50) {
      const queue = [{ from: A, step: a.tick(now, none) }];
      while (queue.length > 0) {
        const { from, step } = queue.shift()!;
        for (const o of step.send) {
          const to = o.to === A ? a : peers.get(o.to)!;
          queue.push({ from: o.to, step: to.receive(from, o.message, now, none) });
        }
      }
      for (const [id, m] of peers) expect(m.tick(now, none).send.filter((o) => o.message.type !== 'heartbeat-reply'), `${id} stands`).toEqual([]);
    }
    expect(a.state).toBe('leader');
    expect(a.epoch).toBeGreaterThan(1);
  });
});
