import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  Election,
  type ElectionConfig,
  type ElectionMessage,
  type Durable,
  type Step,
} from '../../src/core/election.js';
import { memberId, type MemberId } from '../../src/core/ids.js';
import { seededRandom, type Random } from '../../src/core/ports.js';
import type { VersionVector } from '../../src/core/version-vector.js';

const A = memberId('a');
const B = memberId('b');
const C = memberId('c');
const MEMBERS = [A, B, C];
const LEASE = 1000;
const DRIFT = 100;

const config = (self: MemberId, over: Partial<ElectionConfig> = {}): ElectionConfig => ({
  self,
  members: MEMBERS,
  preferred: A,
  leaseMs: LEASE,
  maxClockDriftMs: DRIFT,
  ...over,
});
const fixed = (x: number): Random => ({ next: () => x });
const vv = (o: Record<string, number> = {}): VersionVector => o as VersionVector;
const none = { vv: vv() };

/** A member fresh (no durable state), at time 0, whose election timeout is the lease plus `x` of a lease. */
const fresh = (self: MemberId, x = 0, over: Partial<ElectionConfig> = {}) => new Election(config(self, over), undefined, 0, fixed(x));

const to = (s: Step, m: MemberId) => s.send.filter((o) => o.to === m).map((o) => o.message);
const only = (s: Step, type: ElectionMessage['type']) => s.send.filter((o) => o.message.type === type);

/** Makes `self` leader of epoch 1 with votes from b, at time `t`. */
function leaderA(t = 2000): Election {
  const a = fresh(A, 0, { preferred: A });
  a.tick(t, none);
  a.receive(B, { type: 'pre-vote-reply', epoch: 1, granted: true, current: 0 }, t, none);
  a.receive(B, { type: 'vote-reply', epoch: 1, granted: true }, t, none);
  expect(a.state).toBe('leader');
  return a;
}

/** A follower of `leader` at `epoch`, which acknowledged a heartbeat at `t`. */
function followerOf(self: MemberId, leader: MemberId, epoch: number, t: number, x = 0, myvv = vv()): Election {
  const f = new Election(config(self), { epoch, votedFor: leader }, t - 2 * LEASE, fixed(x));
  f.receive(leader, { type: 'heartbeat', epoch, round: 1 }, t, { vv: myvv });
  return f;
}

describe('election: terms and timeouts', () => {
  it('starts at epoch 0 with no vote and no leader, and persists nothing until something happens', () => {
    const b = fresh(B);
    expect(b.durable()).toEqual({ epoch: 0, votedFor: null });
    expect(b.state).toBe('follower');
    expect(b.leader).toBeUndefined();
    expect(b.tick(500, none)).toEqual({ send: [], events: [] });
  });

  it('asks for pre-votes at epoch + 1 once the leader has been silent past its timeout, without incrementing', () => {
    const b = fresh(B, 0);
    expect(b.tick(LEASE - 1, none).send).toEqual([]);
    const s = b.tick(LEASE, { vv: vv({ a: 3 }) });
    expect(s.persist).toBeUndefined();
    expect(b.epoch).toBe(0);
    expect(b.state).toBe('pre-candidate');
    expect(only(s, 'pre-vote').map((o) => o.to).sort()).toEqual([A, C]);
    expect(to(s, A)[0]).toEqual({ type: 'pre-vote', epoch: 1, vv: { a: 3 } });
  });

  it('draws its election timeout from the injected random source, between one and two leases', () => {
    const late = fresh(B, 0.99);
    expect(late.tick(LEASE + 980, none).send).toEqual([]);
    expect(late.tick(LEASE + 990, none).send.length).toBe(2);
    const a = new Election(config(B), undefined, 0, seededRandom(1));
    const b = new Election(config(B), undefined, 0, seededRandom(2));
    const first = (e: Election) => {
      for (let t = 0; t < 3 * LEASE; t += 10) if (e.tick(t, none).send.length > 0) return t;
      return -1;
    };
    const [ta, tb] = [first(a), first(b)];
    expect(ta).toBeGreaterThanOrEqual(LEASE);
    expect(tb).toBeLessThan(2 * LEASE + 10);
    expect(ta).not.toBe(tb);
  });

  it('increments the epoch and votes for itself only with a majority of pre-votes, persisting before it asks', () => {
    const b = fresh(B);
    b.tick(LEASE, none);
    const refused = b.receive(A, { type: 'pre-vote-reply', epoch: 1, granted: false, reason: 'leader-lease', current: 0 }, LEASE, none);
    expect(refused.send).toEqual([]);
    expect(b.epoch).toBe(0);
    const s = b.receive(C, { type: 'pre-vote-reply', epoch: 1, granted: true, current: 0 }, LEASE, { vv: vv({ b: 1 }) });
    expect(s.persist).toEqual({ epoch: 1, votedFor: B });
    expect(b.state).toBe('candidate');
    expect(only(s, 'vote').map((o) => o.message)).toEqual([
      { type: 'vote', epoch: 1, vv: { b: 1 }, transfer: false },
      { type: 'vote', epoch: 1, vv: { b: 1 }, transfer: false },
    ]);
  });

  it('ignores a pre-vote reply for another epoch (a late one from an earlier attempt)', () => {
    const b = new Election(config(B), { epoch: 4, votedFor: null }, 0, fixed(0));
    b.tick(2 * LEASE, none);
    expect(b.receive(C, { type: 'pre-vote-reply', epoch: 4, granted: true, current: 3 }, 2 * LEASE, none).persist).toBeUndefined();
    expect(b.state).toBe('pre-candidate');
  });

  it('becomes leader with a majority of votes, announces it, and sends heartbeats at once', () => {
    const a = fresh(A);
    a.tick(LEASE, none);
    a.receive(B, { type: 'pre-vote-reply', epoch: 1, granted: true, current: 0 }, LEASE, none);
    const s = a.receive(C, { type: 'vote-reply', epoch: 1, granted: true }, LEASE + 5, none);
    expect(a.state).toBe('leader');
    expect(a.leader).toBe(A);
    expect({ leader: a.leader, epoch: a.epoch }).toEqual({ leader: A, epoch: 1 });
    expect(s.events).toContainEqual({ kind: 'elected', epoch: 1 });
    expect(only(s, 'heartbeat').map((o) => o.to).sort()).toEqual([B, C]);
  });

  it('a candidate that hears a leader of its own epoch becomes its follower', () => {
    const b = fresh(B);
    b.tick(LEASE, none);
    b.receive(C, { type: 'pre-vote-reply', epoch: 1, granted: true, current: 0 }, LEASE, none);
    expect(b.state).toBe('candidate');
    const s = b.receive(A, { type: 'heartbeat', epoch: 1, round: 1 }, LEASE + 1, none);
    expect(b.state).toBe('follower');
    expect(b.leader).toBe(A);
    expect(to(s, A)[0]).toMatchObject({ type: 'heartbeat-reply', epoch: 1, ok: true });
  });

  it('a candidate whose election times out starts over with pre-votes at its new epoch + 1', () => {
    const b = fresh(B);
    b.tick(LEASE, none);
    b.receive(C, { type: 'pre-vote-reply', epoch: 1, granted: true, current: 0 }, LEASE, none);
    const s = b.tick(3 * LEASE, none);
    expect(b.state).toBe('pre-candidate');
    expect(b.epoch).toBe(1);
    expect(only(s, 'pre-vote')[0]!.message).toMatchObject({ epoch: 2 });
  });
});

describe('election: pre-votes', () => {
  it('are granted only by a member that has not heard from a leader within the lease', () => {
    const c = followerOf(C, A, 1, 5000);
    const early = c.receive(B, { type: 'pre-vote', epoch: 2, vv: vv() }, 5000 + LEASE - 1, none);
    expect(to(early, B)[0]).toEqual({ type: 'pre-vote-reply', epoch: 2, granted: false, reason: 'leader-lease', current: 1 });
    const late = c.receive(B, { type: 'pre-vote', epoch: 2, vv: vv() }, 5000 + LEASE, none);
    expect(to(late, B)[0]).toMatchObject({ granted: true });
  });

  it('are refused to a candidate whose applied vector does not cover the member\'s', () => {
    const c = fresh(C);
    const s = c.receive(B, { type: 'pre-vote', epoch: 1, vv: vv({ a: 2 }) }, 5000, { vv: vv({ a: 3 }) });
    expect(to(s, B)[0]).toMatchObject({ granted: false, reason: 'behind' });
    const ok = c.receive(B, { type: 'pre-vote', epoch: 1, vv: vv({ a: 3, b: 1 }) }, 5000, { vv: vv({ a: 3 }) });
    expect(to(ok, B)[0]).toMatchObject({ granted: true });
  });

  it('are refused at an epoch not above the member\'s, and change nothing at the member', () => {
    const c = new Election(config(C), { epoch: 3, votedFor: A }, 0, fixed(0));
    const s = c.receive(B, { type: 'pre-vote', epoch: 3, vv: vv() }, 5000, none);
    expect(to(s, B)[0]).toMatchObject({ granted: false, reason: 'stale-epoch', current: 3 });
    const g = c.receive(B, { type: 'pre-vote', epoch: 4, vv: vv() }, 5000, none);
    expect(g.persist).toBeUndefined();
    expect(c.durable()).toEqual({ epoch: 3, votedFor: A });
  });

  it('are refused by a leader', () => {
    const a = leaderA();
    const s = a.receive(B, { type: 'pre-vote', epoch: 2, vv: vv() }, 2000 + 5 * LEASE, none);
    expect(to(s, B)[0]).toMatchObject({ granted: false, reason: 'leader-lease' });
  });

  it('keep a member cut off from a healthy leader from raising the epoch when it returns', () => {
    const c = followerOf(C, A, 1, 5000);
    const b = new Election(config(B), { epoch: 1, votedFor: A }, 0, fixed(0));
    // b was cut off: its timeout fires, it asks, c still hears from a: refused.
    const ask = b.tick(5000, none);
    const reply = c.receive(B, to(ask, C)[0]!, 5000 + 10, none);
    b.receive(C, to(reply, B)[0]!, 5020, none);
    expect(b.epoch).toBe(1);
    expect(c.epoch).toBe(1);
    expect(b.state).toBe('pre-candidate');
  });

  it('a member whose pre-vote reply names a higher epoch adopts it', () => {
    const b = fresh(B);
    b.tick(LEASE, none);
    const s = b.receive(C, { type: 'pre-vote-reply', epoch: 1, granted: false, reason: 'stale-epoch', current: 5 }, LEASE, none);
    expect(s.persist).toEqual({ epoch: 5, votedFor: null });
    expect(b.state).toBe('follower');
  });
});

describe('election: votes', () => {
  it('grants at most one vote per epoch, persisted before the reply leaves; the same candidate may ask again', () => {
    const c = fresh(C);
    const first = c.receive(B, { type: 'vote', epoch: 1, vv: vv(), transfer: false }, 100, none);
    expect(first.persist).toEqual({ epoch: 1, votedFor: B });
    expect(to(first, B)[0]).toEqual({ type: 'vote-reply', epoch: 1, granted: true });
    expect(first.events).toContainEqual({ kind: 'voted', epoch: 1, for: B });
    const other = c.receive(A, { type: 'vote', epoch: 1, vv: vv(), transfer: false }, 101, none);
    expect(to(other, A)[0]).toEqual({ type: 'vote-reply', epoch: 1, granted: false, reason: 'voted' });
    expect(other.persist).toBeUndefined();
    const again = c.receive(B, { type: 'vote', epoch: 1, vv: vv(), transfer: false }, 102, none);
    expect(to(again, B)[0]).toMatchObject({ granted: true });
  });

  it('never votes twice in one epoch, across a restart from the persisted state', () => {
    const c = fresh(C);
    const s = c.receive(B, { type: 'vote', epoch: 7, vv: vv(), transfer: false }, 100, none);
    const restarted = new Election(config(C), s.persist!, 200, fixed(0));
    const other = restarted.receive(A, { type: 'vote', epoch: 7, vv: vv(), transfer: false }, 200 + LEASE, none);
    expect(to(other, A)[0]).toMatchObject({ granted: false, reason: 'voted' });
  });

  it('are granted only to a candidate whose accepted strong write proposal ranks at least as high as the voter\'s', () => {
    const c = fresh(C);
    const mine = { vv: vv({ a: 5 }), accepted: { epoch: 3, index: 7 } };
    // No proposal accepted, an older epoch's, or an earlier index of the same epoch: behind.
    for (const accepted of [undefined, { epoch: 2, index: 9 }, { epoch: 3, index: 6 }]) {
      const s = c.receive(B, { type: 'vote', epoch: 4, vv: vv({ a: 5 }), ...(accepted && { accepted }), transfer: false }, 100, mine);
      expect(to(s, B)[0]).toMatchObject({ granted: false, reason: 'behind' });
    }
    const pre = fresh(C).receive(B, { type: 'pre-vote', epoch: 4, vv: vv({ a: 5 }), accepted: { epoch: 3, index: 6 } }, 5000, mine);
    expect(to(pre, B)[0]).toMatchObject({ granted: false, reason: 'behind' });
    const same = c.receive(B, { type: 'vote', epoch: 4, vv: vv({ a: 5 }), accepted: { epoch: 3, index: 7 }, transfer: false }, 100, mine);
    expect(to(same, B)[0]).toMatchObject({ granted: true });
    const later = fresh(C).receive(A, { type: 'vote', epoch: 4, vv: vv({ a: 5 }), accepted: { epoch: 4, index: 1 }, transfer: false }, 100, mine);
    expect(to(later, A)[0]).toMatchObject({ granted: true });
    // A candidate that applied the voter's index (learnt by gossip) holds what was committed there.
    const applied = fresh(C).receive(A, { type: 'vote', epoch: 4, vv: vv({ a: 5, '~strong': 7 }), accepted: { epoch: 2, index: 3 }, transfer: false }, 100, mine);
    expect(to(applied, A)[0]).toMatchObject({ granted: true });
  });

  it('send the candidate\'s accepted rank with its vote and pre-vote requests', () => {
    const b = fresh(B);
    const rank = { epoch: 2, index: 3 };
    const pre = b.tick(3 * LEASE, { vv: vv(), accepted: rank });
    expect(only(pre, 'pre-vote')[0]!.message).toMatchObject({ accepted: rank });
    const votes = b.receive(C, { type: 'pre-vote-reply', epoch: 1, granted: true, current: 0 }, 3 * LEASE, { vv: vv(), accepted: rank });
    expect(only(votes, 'vote')[0]!.message).toMatchObject({ accepted: rank });
  });

  it('are granted only to a candidate whose applied vector covers the voter\'s; the voter still adopts the epoch', () => {
    const c = fresh(C);
    const s = c.receive(B, { type: 'vote', epoch: 2, vv: vv({ a: 4 }), transfer: false }, 100, { vv: vv({ a: 5 }) });
    expect(to(s, B)[0]).toMatchObject({ granted: false, reason: 'behind' });
    expect(s.persist).toEqual({ epoch: 2, votedFor: null });
    const ok = c.receive(A, { type: 'vote', epoch: 2, vv: vv({ a: 5, c: 1 }), transfer: false }, 100, { vv: vv({ a: 5 }) });
    expect(to(ok, A)[0]).toMatchObject({ granted: true });
  });

  it('are refused for an older epoch, with the voter\'s epoch in the reply', () => {
    const c = new Election(config(C), { epoch: 3, votedFor: null }, 0, fixed(0));
    const s = c.receive(B, { type: 'vote', epoch: 2, vv: vv(), transfer: false }, 5000, none);
    expect(to(s, B)[0]).toEqual({ type: 'vote-reply', epoch: 3, granted: false, reason: 'stale-epoch' });
  });

  it('a follower keeps the promise of the lease it granted: no vote, and no new epoch, until it expires', () => {
    const c = followerOf(C, A, 1, 5000);
    const s = c.receive(B, { type: 'vote', epoch: 2, vv: vv(), transfer: false }, 5000 + LEASE - 1, none);
    expect(to(s, B)[0]).toMatchObject({ granted: false, reason: 'leader-lease' });
    expect(s.persist).toBeUndefined();
    expect(c.epoch).toBe(1);
    const later = c.receive(B, { type: 'vote', epoch: 2, vv: vv(), transfer: false }, 5000 + LEASE, none);
    expect(to(later, B)[0]).toMatchObject({ granted: true });
  });

  it('a member does not stand (vote for itself) while its own lease promise holds, even with a short timeout', () => {
    // a is preferred: its timeout is half a lease to one, shorter than the promise it gave b.
    const a = followerOf(A, B, 1, 5000);
    expect(a.tick(5000 + LEASE - 1, none).send).toEqual([]);
    expect(a.state).toBe('follower');
    expect(only(a.tick(5000 + LEASE, none), 'pre-vote').length).toBe(2);
  });

  it('a restarted member grants no vote for a lease after it starts (it may have granted a lease it forgot)', () => {
    const c = new Election(config(C), { epoch: 1, votedFor: A }, 10_000, fixed(0));
    const s = c.receive(B, { type: 'vote', epoch: 2, vv: vv(), transfer: false }, 10_000 + LEASE - 1, none);
    expect(to(s, B)[0]).toMatchObject({ granted: false, reason: 'restarting' });
    const p = c.receive(B, { type: 'pre-vote', epoch: 2, vv: vv() }, 10_000 + LEASE - 1, none);
    expect(to(p, B)[0]).toMatchObject({ granted: false });
    const later = c.receive(B, { type: 'vote', epoch: 2, vv: vv(), transfer: false }, 10_000 + LEASE, none);
    expect(to(later, B)[0]).toMatchObject({ granted: true });
  });

  it('a restarted leader stands at once, and its followers, restarted or not, vote for it at once; for anyone else they keep their promises', () => {
    const a = leaderA(2000);
    expect(a.durable()).toEqual({ epoch: 1, votedFor: A, leader: A });
    // c acknowledged a's heartbeat: it persisted whom its lease went to before the reply left.
    const c = new Election(config(C), { epoch: 1, votedFor: A }, 0, fixed(0));
    const hb = c.receive(A, { type: 'heartbeat', epoch: 1, round: 1 }, 5000, none);
    expect(hb.persist).toEqual({ epoch: 1, votedFor: A, leader: A });
    // A whole restart: a stands in its first tick.
    const a2 = new Election(config(A, { preferred: A }), a.durable(), 5100, fixed(0));
    const pre = a2.tick(5100, none);
    expect(only(pre, 'pre-vote').length).toBe(2);
    const c2 = new Election(config(C), hb.persist!, 5100, fixed(0));
    expect(to(c2.receive(A, { type: 'pre-vote', epoch: 2, vv: vv() }, 5100, none), A)[0]).toMatchObject({ granted: true });
    expect(to(c2.receive(B, { type: 'vote', epoch: 2, vv: vv(), transfer: false }, 5100, none), B)[0]).toMatchObject({ granted: false, reason: 'restarting' });
    expect(to(c2.receive(A, { type: 'vote', epoch: 2, vv: vv(), transfer: false }, 5100, none), A)[0]).toMatchObject({ granted: true });
    // c not restarted, its promise to a still running: a may be voted for, b may not.
    const c3 = followerOf(C, A, 1, 5000);
    expect(to(c3.receive(B, { type: 'vote', epoch: 2, vv: vv(), transfer: false }, 5100, none), B)[0]).toMatchObject({ granted: false, reason: 'leader-lease' });
    expect(to(c3.receive(A, { type: 'pre-vote', epoch: 2, vv: vv() }, 5100, none), A)[0]).toMatchObject({ granted: true });
    expect(to(c3.receive(A, { type: 'vote', epoch: 2, vv: vv(), transfer: false }, 5100, none), A)[0]).toMatchObject({ granted: true });
  });

  it('a restarted member that knew no leader at its epoch stays quiet for a lease, for every candidate', () => {
    // It adopted epoch 2 (a vote request) after promising a lease at epoch 1: that promise is not on disk.
    const c = followerOf(C, A, 1, 5000);
    const adopted = c.receive(B, { type: 'vote', epoch: 2, vv: vv(), transfer: false }, 5000 + LEASE, none);
    const c2 = new Election(config(C), { ...c.durable(), votedFor: null }, 5000 + LEASE, fixed(0));
    expect(adopted.persist?.leader).toBeUndefined();
    expect(to(c2.receive(A, { type: 'vote', epoch: 3, vv: vv(), transfer: false }, 5000 + LEASE, none), A)[0]).toMatchObject({ granted: false, reason: 'restarting' });
  });

  it('a leader steps down when any message carries a higher epoch', () => {
    const a = leaderA();
    const s = a.receive(B, { type: 'heartbeat-reply', epoch: 3, round: 1, ok: false, vv: vv() }, 2100, none);
    expect(a.state).toBe('follower');
    expect(s.persist).toEqual({ epoch: 3, votedFor: null });
    expect(s.events).toContainEqual({ kind: 'stepped-down', epoch: 1, reason: 'higher-epoch' });
    const b = leaderA();
    const o = b.observe(4, 2100);
    expect(b.state).toBe('follower');
    expect(o.persist).toEqual({ epoch: 4, votedFor: null });
    expect(b.observe(4, 2100).persist).toBeUndefined();
  });

  it('refuses a heartbeat of an older epoch, naming its own', () => {
    const c = new Election(config(C), { epoch: 3, votedFor: null }, 0, fixed(0));
    const s = c.receive(A, { type: 'heartbeat', epoch: 2, round: 9 }, 5000, { vv: vv({ c: 1 }) });
    expect(to(s, A)[0]).toEqual({ type: 'heartbeat-reply', epoch: 3, round: 9, ok: false, vv: { c: 1 } });
    expect(c.leader).toBeUndefined();
  });
});

describe('election: leases', () => {
  it('the leader holds a lease only once a majority acknowledged a round, from when it sent that round, minus the drift', () => {
    const a = leaderA(2000);
    expect(a.leaseValid(2000)).toBe(false);
    const round = a.tick(2000 + LEASE / 4, none);
    const hb = only(round, 'heartbeat')[0]!.message as Extract<ElectionMessage, { type: 'heartbeat' }>;
    a.receive(B, { type: 'heartbeat-reply', epoch: 1, round: hb.round, ok: true, vv: vv() }, 2300, none);
    const sent = 2000 + LEASE / 4;
    expect(a.leaseValid(2300)).toBe(true);
    expect(a.leaseExpiry).toBe(sent + LEASE - DRIFT);
    expect(a.leaseValid(sent + LEASE - DRIFT - 1)).toBe(true);
    expect(a.leaseValid(sent + LEASE - DRIFT)).toBe(false);
  });

  it('does not take a refused acknowledgement, or one for an older epoch, as a lease', () => {
    const a = leaderA(2000);
    const round = a.tick(2250, none);
    const r = (only(round, 'heartbeat')[0]!.message as { round: number }).round;
    a.receive(B, { type: 'heartbeat-reply', epoch: 0, round: r, ok: true, vv: vv() }, 2300, none);
    expect(a.leaseValid(2300)).toBe(false);
  });

  it('a leader that has not heard from a majority for two leases steps down', () => {
    const a = leaderA(2000);
    expect(a.tick(2000 + 2 * LEASE - 1, none).events).toEqual([]);
    const s = a.tick(2000 + 2 * LEASE + 1, none);
    expect(a.state).toBe('follower');
    expect(s.events).toContainEqual({ kind: 'stepped-down', epoch: 1, reason: 'lost-majority' });
  });

});

describe('election: handover to the preferred member', () => {
  /** b leads epoch 1; a (preferred) answers every heartbeat with `avv`; returns the handover step, if any. */
  function bLeadsWithA(avv: VersionVector, busy = false) {
    const b = new Election(config(B), undefined, 0, fixed(0));
    b.tick(LEASE, none);
    b.receive(C, { type: 'pre-vote-reply', epoch: 1, granted: true, current: 0 }, LEASE, none);
    b.receive(C, { type: 'vote-reply', epoch: 1, granted: true }, LEASE, none);
    const local = { vv: vv({ b: 5 }), busy };
    let handover: Step | undefined;
    for (let t = LEASE; t <= LEASE * 4 && !handover; t += 50) {
      const s = b.tick(t, local);
      if (s.send.some((o) => o.message.type === 'timeout-now')) handover = s;
      for (const o of only(s, 'heartbeat')) {
        const round = (o.message as { round: number }).round;
        b.receive(o.to, { type: 'heartbeat-reply', epoch: 1, round, ok: true, vv: o.to === A ? avv : vv() }, t + 5, local);
      }
    }
    return { b, handover };
  }

  it('hands over once the preferred member has been healthy and caught up for a lease: stops taking operations, drops its lease, sends timeout-now', () => {
    const { b, handover } = bLeadsWithA(vv({ b: 5 }));
    expect(handover).toBeDefined();
    expect(to(handover!, A)).toContainEqual({ type: 'timeout-now', epoch: 1 });
    expect(handover!.events).toContainEqual({ kind: 'handover', to: A, epoch: 1 });
    expect(b.acceptsOperations()).toBe(false);
    expect(b.leaseValid(LEASE * 4)).toBe(false);
  });

  it('does not hand over to a preferred member that is behind, or while operations are under way', () => {
    expect(bLeadsWithA(vv({ b: 4 })).handover).toBeUndefined();
    expect(bLeadsWithA(vv({ b: 5 }), true).handover).toBeUndefined();
  });

  it('resumes leading if the preferred member is not elected in time, but holds no lease again in that epoch', () => {
    const { b } = bLeadsWithA(vv({ b: 5 }));
    const local = { vv: vv({ b: 5 }) };
    let resumedAt = -1;
    for (let t = 2 * LEASE; t <= 6 * LEASE && resumedAt < 0; t += 50) {
      const s = b.tick(t, local);
      if (b.acceptsOperations()) resumedAt = t;
      // c still answers; a (which never stood) is silent now.
      for (const o of only(s, 'heartbeat')) if (o.to === C) b.receive(C, { type: 'heartbeat-reply', epoch: 1, round: (o.message as { round: number }).round, ok: true, vv: vv() }, t + 5, local);
    }
    expect(resumedAt).toBeGreaterThan(0);
    expect(b.state).toBe('leader');
    expect(b.leaseValid(resumedAt)).toBe(false);
    const s = b.tick(resumedAt + LEASE, local);
    const round = (only(s, 'heartbeat')[0]!.message as { round: number }).round;
    b.receive(C, { type: 'heartbeat-reply', epoch: 1, round, ok: true, vv: vv() }, resumedAt + LEASE + 5, local);
    // A vote request of the handover, arriving late, may still make c disregard this round's promise.
    expect(b.leaseValid(resumedAt + LEASE + 5)).toBe(false);
    expect(b.acceptsOperations()).toBe(true);
  });

  it('the preferred member stands at once, without pre-vote, and voters bound by the old leader\'s lease vote for it', () => {
    const a = followerOf(A, B, 1, 5000);
    const s = a.receive(B, { type: 'timeout-now', epoch: 1 }, 5010, { vv: vv({ b: 5 }) });
    expect(s.persist).toEqual({ epoch: 2, votedFor: A });
    expect(to(s, C)[0]).toEqual({ type: 'vote', epoch: 2, vv: { b: 5 }, transfer: true });
    const c = followerOf(C, B, 1, 5000);
    const v = c.receive(A, to(s, C)[0]!, 5020, { vv: vv({ b: 5 }) });
    expect(to(v, A)[0]).toMatchObject({ granted: true });
    // A transfer vote disregards only the lease of the epoch just before it.
    const c2 = followerOf(C, B, 1, 5000);
    const w = c2.receive(A, { type: 'vote', epoch: 3, vv: vv({ b: 5 }), transfer: true }, 5020, none);
    expect(to(w, A)[0]).toMatchObject({ granted: false, reason: 'leader-lease' });
  });

  it('ignores a timeout-now from anyone but its leader, or of another epoch', () => {
    const a = followerOf(A, B, 1, 5000);
    expect(a.receive(C, { type: 'timeout-now', epoch: 1 }, 5010, none).persist).toBeUndefined();
    expect(a.receive(B, { type: 'timeout-now', epoch: 0 }, 5010, none).persist).toBeUndefined();
    expect(a.state).toBe('follower');
  });

  it('the leader grants the vote of its own handover, and steps down', () => {
    const { b } = bLeadsWithA(vv({ b: 5 }));
    const s = b.receive(A, { type: 'vote', epoch: 2, vv: vv({ b: 5 }), transfer: true }, LEASE * 4 + 10, { vv: vv({ b: 5 }) });
    expect(to(s, A)[0]).toMatchObject({ granted: true });
    expect(b.state).toBe('follower');
  });
});

// ---- properties over a small cluster of Election instances ----

interface Flight {
  from: MemberId;
  to: MemberId;
  message: ElectionMessage;
  at: number;
}

/**
 * Drives `n` members through `ops` (advance time, deliver or drop a message, restart a
 * member from what it persisted, cut or restore a member's links) and records every leader
 * per epoch and every vote granted.
 */
function runCluster(n: number, seed: number, ops: readonly number[], cutOff?: (t: number) => MemberId | undefined, membersOf?: (self: MemberId) => readonly MemberId[], apart?: (a: MemberId, b: MemberId) => boolean, quiesceAfterMs?: number) {
  const ids = ['a', 'b', 'c', 'd', 'e'].slice(0, n).map(memberId);
  const random = seededRandom(seed);
  const disk = new Map<MemberId, Durable>();
  let now = 0;
  // Each member's configuration (REGIONS as it was deployed to it); all of `ids` by default.
  const members = (self: MemberId): readonly MemberId[] => membersOf?.(self) ?? ids;
  const cfg = (self: MemberId): ElectionConfig => ({ self, members: members(self), preferred: ids[0]!, leaseMs: LEASE, maxClockDriftMs: DRIFT, ...(quiesceAfterMs && { quiesceAfterMs }) });
  const nodes = new Map(ids.map((id) => [id, new Election(cfg(id), undefined, 0, random)]));
  const leaders = new Map<number, MemberId>();
  const votes = new Map<string, MemberId>();
  const epochs: number[] = [];
  let flights: Flight[] = [];
  const apply = (id: MemberId, s: Step) => {
    if (s.persist) disk.set(id, s.persist);
    for (const e of s.events) {
      if (e.kind === 'elected') {
        const was = leaders.get(e.epoch);
        if (was && was !== id) throw new Error(`two leaders in epoch ${e.epoch}: ${was} and ${id}`);
        leaders.set(e.epoch, id);
      }
    }
    for (const o of s.send) {
      if (o.message.type === 'vote-reply' && o.message.granted) {
        const key = `${id}@${o.message.epoch}`;
        const was = votes.get(key);
        if (was && was !== o.to) throw new Error(`${id} voted for ${was} and ${o.to} in epoch ${o.message.epoch}`);
        votes.set(key, o.to);
        // The vote must have been persisted before it left.
        if (disk.get(id)?.votedFor !== o.to || disk.get(id)?.epoch !== o.message.epoch) throw new Error(`${id} voted without persisting`);
      }
      flights.push({ from: id, to: o.to, message: o.message, at: now });
    }
  };
  // A member takes messages only from the members of its own configuration (as the object's `elect` does).
  const reachable = (a: MemberId, b: MemberId) => {
    const cut = cutOff?.(now);
    return a !== cut && b !== cut && members(b).includes(a) && !apart?.(a, b);
  };
  for (const op of ops) {
    const kind = op % 10;
    if (quiesceAfterMs && op % 50 === 19) {
      // An operation at a leader (it wakes if quiesced).
      for (const id of ids) nodes.get(id)!.activity(now);
    } else if (quiesceAfterMs && op % 50 === 29) {
      // A forward that found the leader unreachable.
      nodes.get(ids[op % n]!)!.suspect(now);
    } else if (kind === 9 && op % 50 === 9) {
      const id = ids[op % n]!;
      nodes.set(id, new Election(cfg(id), disk.get(id), now, random));
      flights = flights.filter((f) => f.to !== id && f.from !== id);
    } else if (kind < 4 || kind === 9) {
      now += 1 + (op % 97);
      for (const id of ids) apply(id, nodes.get(id)!.tick(now, none));
    } else if (kind < 8 && flights.length > 0) {
      const f = flights.splice(op % flights.length, 1)[0]!;
      if (reachable(f.from, f.to)) apply(f.to, nodes.get(f.to)!.receive(f.from, f.message, now, none));
    } else if (kind === 8 && flights.length > 0) {
      flights.splice(op % flights.length, 1);
    }
    const leasing = ids.filter((id) => nodes.get(id)!.leaseValid(now));
    if (leasing.length > 1) throw new Error(`${leasing.join(' and ')} both hold a lease at ${now}`);
    epochs.push(Math.max(...ids.map((id) => nodes.get(id)!.epoch)));
  }
  return { leaders, votes, epochs, nodes, now };
}

describe('election: properties', () => {
  it('at most one leader per epoch, and no member votes twice in one epoch, across drops, reorders and restarts', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.integer(), fc.array(fc.nat({ max: 10_000 }), { minLength: 50, maxLength: 600 }), (n, seed, ops) => {
        runCluster(n, seed, ops);
      }),
      { numRuns: 300 },
    );
  });

  it('with quiescence (leaders going quiet, waking on operations, followers on suspicion), still at most one leader per epoch and one lease', () => {
    let quiesced = 0;
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.integer(), fc.array(fc.nat({ max: 10_000 }), { minLength: 50, maxLength: 800 }), (n, seed, ops) => {
        const { nodes } = runCluster(n, seed, ops, undefined, undefined, undefined, 2 * LEASE);
        quiesced += [...nodes.values()].filter((e) => e.quiesced).length;
      }),
      { numRuns: 300 },
    );
    // The runs do go quiet (the property is not vacuous).
    expect(quiesced).toBeGreaterThan(0);
  });

  it('a change of REGIONS by one region, rolled out member by member, never makes two leaders in one epoch', () => {
    // Old and new configurations differ by one member (added or removed); each member runs
    // either, the added one the new, the removed one the old: any majority of one and any of
    // the other share a member, which votes once per epoch.
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 4 }), fc.boolean(), fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }), fc.boolean(), fc.integer(), fc.array(fc.nat({ max: 10_000 }), { minLength: 50, maxLength: 600 }), (n, add, onNew, split, seed, ops) => {
        const all = ['a', 'b', 'c', 'd', 'e'].slice(0, n + 1).map(memberId);
        const changed = all[n]!;
        const [before, after] = add ? [all.slice(0, n), all] : [all, all.slice(0, n)];
        const isNew = (self: MemberId) => (self === changed ? add : onNew[all.indexOf(self)]!);
        const membersOf = (self: MemberId) => (isNew(self) ? after : before);
        // Optionally a partition between the members on each configuration, as in the two-region case below.
        runCluster(n + 1, seed, ops, undefined, membersOf, (x, y) => split && isNew(x) !== isNew(y));
      }),
      { numRuns: 300 },
    );
  });

  it('a change by two regions at once can make two leaders (in one epoch, or holding leases together): why README, Failover, says one at a time', () => {
    // a and b still run {a, b, c}; c, d and e run {a, b, c, d, e}: {a, b} and {c, d, e} are
    // majorities of each. A partition between the two groups lets each elect on its own side.
    const three = ['a', 'b', 'c'].map(memberId);
    const five = ['a', 'b', 'c', 'd', 'e'].map(memberId);
    const old = (m: MemberId) => m === 'a' || m === 'b';
    const membersOf = (self: MemberId) => (old(self) ? three : five);
    let twoLeaders = 0;
    for (let seed = 1; seed <= 200 && twoLeaders === 0; seed++) {
      const ops = Array.from({ length: 600 }, (_, i) => (i * 7919 + seed * 104729) % 10_000);
      try {
        runCluster(5, seed, ops, undefined, membersOf, (x, y) => old(x) !== old(y));
      } catch (err) {
        if (!/two leaders in epoch|both hold a lease/.test((err as Error).message)) throw err;
        twoLeaders++;
      }
    }
    expect(twoLeaders).toBeGreaterThan(0);
  });

  it('elections do happen in those runs (the property is not vacuous)', () => {
    let elected = 0;
    for (let seed = 1; seed <= 50; seed++) {
      const ops = Array.from({ length: 400 }, (_, i) => (i * 7919 + seed * 104729) % 10_000);
      elected += runCluster(3, seed, ops).leaders.size;
    }
    expect(elected).toBeGreaterThan(20);
  });

  it('pre-vote: a member cut off from a healthy leader, then back, never raises the epoch', () => {
    fc.assert(
      fc.property(fc.integer({ min: 3, max: 5 }), fc.integer(), (n, seed) => {
        // Elect a leader on a network without faults: every message delivered in order, time advancing.
        const ids = ['a', 'b', 'c', 'd', 'e'].slice(0, n).map(memberId);
        const random = seededRandom(seed);
        const cfg = (self: MemberId): ElectionConfig => ({ self, members: ids, preferred: ids[0]!, leaseMs: LEASE, maxClockDriftMs: DRIFT });
        const nodes = new Map(ids.map((id) => [id, new Election(cfg(id), undefined, 0, random)]));
        const outcast = ids[n - 1]!;
        let cut = false;
        let queue: Flight[] = [];
        const run = (until: number, from: number) => {
          for (let t = from; t <= until; t += 10) {
            for (const id of ids) for (const o of nodes.get(id)!.tick(t, none).send) queue.push({ from: id, to: o.to, message: o.message, at: t });
            while (queue.length > 0) {
              const batch = queue;
              queue = [];
              for (const f of batch) {
                if (cut && (f.from === outcast || f.to === outcast)) continue;
                for (const o of nodes.get(f.to)!.receive(f.from, f.message, t, none).send) queue.push({ from: f.to, to: o.to, message: o.message, at: t });
              }
            }
          }
        };
        run(5 * LEASE, 0);
        const leader = ids.find((id) => nodes.get(id)!.state === 'leader' && id !== outcast);
        if (!leader) return; // the outcast itself leads: nothing to show with this seed
        const epoch = nodes.get(leader)!.epoch;
        cut = true;
        run(15 * LEASE, 5 * LEASE + 10);
        expect(nodes.get(outcast)!.epoch).toBe(epoch);
        cut = false;
        run(20 * LEASE, 15 * LEASE + 10);
        expect(nodes.get(leader)!.state).toBe('leader');
        expect(Math.max(...ids.map((id) => nodes.get(id)!.epoch))).toBe(epoch);
      }),
      { numRuns: 60 },
    );
  });
});
