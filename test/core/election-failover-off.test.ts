import { describe, expect, it } from 'vitest';
import { Election, type ElectionConfig } from '../../src/core/election.js';
import { memberId, type MemberId } from '../../src/core/ids.js';
import type { Random } from '../../src/core/ports.js';
import type { VersionVector } from '../../src/core/version-vector.js';

/**
 * `failover: false` (`FAILOVER=off`): only the preferred member ever stands, so the leader is
 * the preferred member or nobody, and an idle shard costs nothing: one heartbeat round when
 * elected, none after. It is still elected by votes, so that two members that each believe
 * they are preferred (PRIMARY_REGION changed during a rolling deploy) never lead one epoch.
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

describe('Election with failover off: an idle shard costs nothing', () => {
  /** Runs a, b, c (a preferred) until `until`, every message delivered at once; returns every message sent from `from` on. */
  function run(nodes: Map<MemberId, Election>, from: number, until: number) {
    const sent: { at: number; type: string; from: MemberId }[] = [];
    for (let now = from; now <= until; now += 50) {
      const queue = [...nodes].map(([id, e]) => ({ from: id, step: e.tick(now, none) }));
      while (queue.length > 0) {
        const { from: f, step } = queue.shift()!;
        for (const o of step.send) {
          sent.push({ at: now, type: o.message.type, from: f });
          queue.push({ from: o.to, step: nodes.get(o.to)!.receive(f, o.message, now, none) });
        }
      }
    }
    return sent;
  }

  it('the leader sends one heartbeat round when elected and none after, never steps down, and followers forward to it', () => {
    const nodes = new Map([A, B, C].map((m) => [m, new Election(config(m, false), undefined, 0, fixed)]));
    const a = nodes.get(A)!;
    const boot = a.bootstrap(0, none);
    for (const o of boot.send) nodes.get(o.to)!.receive(A, o.message, 0, none);
    const sent = run(nodes, 0, 2000);
    expect(a.state).toBe('leader');
    expect(sent.filter((m) => m.type === 'heartbeat').length).toBe(2);
    // A minute later, alone (its peers never answer again): still the leader, nothing sent.
    for (let now = 2000; now <= 60_000; now += 100) expect(a.tick(now, none).send).toEqual([]);
    expect(a.state).toBe('leader');
    expect(nodes.get(B)!.leader).toBe(A);
    // A follower restarted knows no leader from a heartbeat, and forwards to the preferred member.
    const b2 = new Election(config(B, false), nodes.get(B)!.durable(), 60_000, fixed);
    expect(b2.leader).toBe(A);
  });

  it('a restarted preferred leader stands at once and is elected again within the round', () => {
    const nodes = new Map([A, B, C].map((m) => [m, new Election(config(m, false), undefined, 0, fixed)]));
    const boot = nodes.get(A)!.bootstrap(0, none);
    for (const o of boot.send) nodes.get(o.to)!.receive(A, o.message, 0, none);
    run(nodes, 0, 2000);
    expect(nodes.get(A)!.state).toBe('leader');
    const epoch = nodes.get(A)!.epoch;
    nodes.set(A, new Election(config(A, false), nodes.get(A)!.durable(), 10_000, fixed));
    run(nodes, 10_000, 10_000);
    expect(nodes.get(A)!.state).toBe('leader');
    expect(nodes.get(A)!.epoch).toBe(epoch + 1);
  });
});
