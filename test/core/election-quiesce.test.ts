import { describe, expect, it } from 'vitest';
import { Election, type ElectionConfig, type ElectionMessage } from '../../src/core/election.js';
import { memberId, type MemberId } from '../../src/core/ids.js';
import type { Random } from '../../src/core/ports.js';
import type { VersionVector } from '../../src/core/version-vector.js';

/**
 * Quiescence: a shard with no strong operation for `quiesceAfterMs` stops its heartbeats
 * (a last round tells the followers), so that its members can hibernate; the leader wakes on
 * its next operation, a follower when it cannot reach the leader it knows.
 */
const A = memberId('a');
const B = memberId('b');
const C = memberId('c');
const LEASE = 1000;
const QUIET = 3 * LEASE;
const config = (self: MemberId, over: Partial<ElectionConfig> = {}): ElectionConfig => ({
  self,
  members: [A, B, C],
  preferred: A,
  leaseMs: LEASE,
  maxClockDriftMs: 100,
  quiesceAfterMs: QUIET,
  ...over,
});
const fixed: Random = { next: () => 0.5 };
const none = { vv: {} as VersionVector };

/** a, b, c with every message delivered at once, except to and from members in `down`. */
class Cluster {
  readonly nodes: Map<MemberId, Election>;
  readonly down = new Set<MemberId>();
  sent: { at: number; from: MemberId; to: MemberId; message: ElectionMessage }[] = [];
  now = 0;
  constructor(over: Partial<ElectionConfig> = {}) {
    this.nodes = new Map([A, B, C].map((m) => [m, new Election(config(m, over), undefined, 0, fixed)]));
    this.deliver(A, this.get(A).bootstrap(0, none).send);
  }
  get(m: MemberId): Election {
    return this.nodes.get(m)!;
  }
  deliver(from: MemberId, out: { to: MemberId; message: ElectionMessage }[]): void {
    const queue = out.map((o) => ({ from, ...o }));
    while (queue.length > 0) {
      const f = queue.shift()!;
      if (this.down.has(f.from) || this.down.has(f.to)) continue;
      this.sent.push({ at: this.now, ...f });
      for (const o of this.get(f.to).receive(f.from, f.message, this.now, none).send) queue.push({ from: f.to, ...o });
    }
  }
  /** Ticks every member every 10 ms until `until`. */
  run(until: number): void {
    for (; this.now <= until; this.now += 10) {
      for (const [id, e] of this.nodes) if (!this.down.has(id)) this.deliver(id, e.tick(this.now, none).send);
    }
    this.now = until;
  }
  sentBetween(from: number, to: number) {
    return this.sent.filter((m) => m.at >= from && m.at <= to);
  }
}

describe('quiescence', () => {
  it('an idle leader tells its followers, then nobody sends anything, stands or steps down', () => {
    const c = new Cluster();
    c.run(500);
    expect(c.get(A).state).toBe('leader');
    c.run(QUIET + 2 * LEASE);
    const last = c.sent.filter((m) => m.message.type === 'heartbeat' && m.message.quiesce);
    expect(last.length).toBeGreaterThan(0);
    for (const m of [A, B, C]) expect(c.get(m).quiesced, m).toBe(true);
    const quietFrom = c.now;
    c.run(quietFrom + 60_000);
    expect(c.sentBetween(quietFrom + 1, c.now)).toEqual([]);
    expect(c.get(A).state).toBe('leader');
    expect(c.get(A).epoch).toBe(1);
    // Its lease has run out: reads take a majority round until it wakes.
    expect(c.get(A).leaseValid(c.now)).toBe(false);
  });

  it('does not quiesce while a follower does not answer, nor while it is busy', () => {
    const c = new Cluster();
    c.run(500);
    c.down.add(C);
    c.run(QUIET + 3 * LEASE);
    expect(c.get(A).quiesced).toBe(false);
    expect(c.sentBetween(c.now - LEASE, c.now).some((m) => m.message.type === 'heartbeat')).toBe(true);
    // c is back: the next rounds reach everyone, and the shard quiesces.
    c.down.delete(C);
    c.run(c.now + 2 * LEASE);
    for (const m of [A, B, C]) expect(c.get(m).quiesced, m).toBe(true);
    const busy = new Cluster();
    busy.run(500);
    for (; busy.now <= QUIET + 3 * LEASE; busy.now += 10) busy.deliver(A, busy.get(A).tick(busy.now, { ...none, busy: true }).send);
    expect(busy.get(A).quiesced).toBe(false);
  });

  it('an operation wakes the leader: heartbeats at once, the followers wake, the lease returns', () => {
    const c = new Cluster();
    c.run(QUIET + 2 * LEASE);
    expect(c.get(A).quiesced).toBe(true);
    const at = c.now + 5000;
    c.run(at);
    c.get(A).activity(c.now);
    c.run(c.now + 20);
    expect(c.get(A).quiesced).toBe(false);
    for (const m of [B, C]) expect(c.get(m).quiesced, m).toBe(false);
    expect(c.get(A).leaseValid(c.now)).toBe(true);
    expect(c.get(A).state).toBe('leader');
    expect(c.get(A).epoch).toBe(1);
    // Active again, it quiesces again only after another idle spell.
    c.run(c.now + QUIET - 100);
    expect(c.get(A).quiesced).toBe(false);
  });

  it('a follower that cannot reach its leader wakes, stands after its timeout, and is elected by quiesced peers', () => {
    const c = new Cluster();
    c.run(QUIET + 2 * LEASE);
    c.down.add(A);
    const lost = c.now + 10_000;
    c.run(lost);
    expect(c.get(B).epoch).toBe(1);
    c.get(B).suspect(c.now);
    c.run(c.now + 3 * LEASE);
    const leader = [B, C].find((m) => c.get(m).state === 'leader');
    expect(leader).toBeDefined();
    expect(c.get(leader!).epoch).toBe(2);
  });

  it('a restarted follower that knew its leader starts quiet, forwarding to it; a heartbeat wakes it', () => {
    const c = new Cluster();
    c.run(500);
    const b = new Election(config(B), c.get(B).durable(), c.now, fixed);
    expect(b.quiesced).toBe(true);
    expect(b.leader).toBe(A);
    for (let t = c.now; t < c.now + 10 * LEASE; t += 10) expect(b.tick(t, none).send).toEqual([]);
    b.receive(A, { type: 'heartbeat', epoch: 1, round: 99 }, c.now + 10 * LEASE, none);
    expect(b.quiesced).toBe(false);
  });

  it('without quiesceAfterMs nothing changes: heartbeats go on for ever', () => {
    const c = new Cluster({ quiesceAfterMs: 0 });
    c.run(QUIET + 5 * LEASE);
    expect(c.get(A).quiesced).toBe(false);
    expect(c.sentBetween(c.now - LEASE, c.now).some((m) => m.message.type === 'heartbeat')).toBe(true);
    const b = new Election(config(B, { quiesceAfterMs: 0 }), c.get(B).durable(), c.now, fixed);
    expect(b.quiesced).toBe(false);
  });
});
