import { describe, expect, it } from 'vitest';
import { Election, type ElectionConfig, type Step } from '../../src/core/election.js';
import { memberId, type MemberId } from '../../src/core/ids.js';
import type { Random } from '../../src/core/ports.js';
import type { VersionVector } from '../../src/core/version-vector.js';

/** `Election.bootstrap`: a fresh shard's preferred member stands for epoch 1 at once (no pre-vote, no timeout). */
const A = memberId('a');
const B = memberId('b');
const C = memberId('c');
const config = (self: MemberId): ElectionConfig => ({ self, members: [A, B, C], preferred: A, leaseMs: 1000, maxClockDriftMs: 100 });
const fixed: Random = { next: () => 0 };
const none = { vv: {} as VersionVector };
const deliver = (from: MemberId, step: Step, members: Map<MemberId, Election>, now: number): Step[] =>
  step.send.map((o) => members.get(o.to)!.receive(from, o.message, now, none));

describe('Election.bootstrap', () => {
  it('the preferred member without durable state stands for epoch 1 at once and fresh peers elect it in one round trip', () => {
    const a = new Election(config(A), undefined, 0, fixed);
    const b = new Election(config(B), undefined, 0, fixed);
    const c = new Election(config(C), undefined, 0, fixed);
    const step = a.bootstrap(0, none);
    expect(step.persist).toEqual({ epoch: 1, votedFor: A });
    expect(step.send.map((o) => [o.to, o.message.type, o.message.epoch])).toEqual([
      [B, 'vote', 1],
      [C, 'vote', 1],
    ]);
    const replies = deliver(A, step, new Map([[B, b], [C, c]]), 1);
    for (const [i, r] of replies.entries()) {
      expect(r.persist).toEqual({ epoch: 1, votedFor: A });
      a.receive([B, C][i]!, r.send[0]!.message, 2, none);
    }
    expect(a.state).toBe('leader');
    expect(a.epoch).toBe(1);
  });

  it('does nothing for a member that is not preferred, or that has durable state', () => {
    expect(new Election(config(B), undefined, 0, fixed).bootstrap(0, none).send).toEqual([]);
    const restarted = new Election(config(A), { epoch: 1, votedFor: A }, 0, fixed);
    expect(restarted.bootstrap(0, none)).toEqual({ send: [], events: [] });
    expect(new Election(config(A), { epoch: 3, votedFor: null }, 0, fixed).bootstrap(0, none).send).toEqual([]);
  });

  it('a preferred member that lost the bootstrap race cannot win epoch 1 from members that voted in it', () => {
    // b was elected in epoch 1 while a was away; a then starts fresh and tries to bootstrap.
    const c = new Election(config(C), { epoch: 1, votedFor: B }, 0, fixed);
    const a = new Election(config(A), undefined, 5000, fixed);
    const step = a.bootstrap(5000, none);
    const reply = c.receive(A, step.send.find((o) => o.to === C)!.message, 5000, none);
    expect(reply.send[0]!.message).toMatchObject({ type: 'vote-reply', granted: false, reason: 'voted' });
  });
});
