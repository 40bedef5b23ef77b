/**
 * The anti-entropy conversation at its edges (what each message is answered with, the step
 * bound of a round, which vector a round reports, the choice of gossip peers): written to
 * kill the mutants Stryker found surviving (`npm run mutate`, see MUTANTS.md).
 */
import { describe, expect, it } from 'vitest';
import { answer, behindHorizon, gossipRound, pickPeers } from '../../src/core/anti-entropy.js';
import { docKey, type MemberId, memberId } from '../../src/core/ids.js';
import { seededRandom, type Transport } from '../../src/core/ports.js';
import type { Replica } from '../../src/core/replica.js';
import { emptyVV, type VersionVector } from '../../src/core/version-vector.js';
import { decodeMessage } from '../../src/core/wire/codec.js';
import type { SyncMessage } from '../../src/core/wire/messages.js';
import { cluster, member } from '../support/cluster.js';

const vv = (o: Record<string, number>): VersionVector => o as VersionVector;
const ids = ['a', 'b', 'c'];
const [A, B] = ['a', 'b'].map(memberId) as [MemberId, MemberId];

function write(r: Replica, key: string, value: number): void {
  r.write(docKey('t', key), 'automerge', (e) => e.replace({ value }));
}

/** A transport over in-process replicas that counts the requests it carries. */
function net(replicas: readonly Replica[]): Transport & { requests: number } {
  const byId = new Map(replicas.map((r) => [r.self, r]));
  const t = {
    requests: 0,
    request: async (to: MemberId, bytes: Uint8Array) => {
      t.requests++;
      return byId.get(to)!.receive(bytes);
    },
  };
  return t;
}

const digestFrom = (from: MemberId, v: VersionVector): SyncMessage => ({ kind: 'digest', from, vv: v, more: false, reply: true, entries: [] });
const deltaFrom = (from: MemberId, v: VersionVector, over: Partial<SyncMessage> = {}): SyncMessage => ({
  kind: 'delta',
  from,
  vv: v,
  more: false,
  reply: false,
  entries: [],
  ...over,
});

describe('behindHorizon', () => {
  it('a peer is behind only when it lacks an entry below the horizon', () => {
    expect(behindHorizon(vv({ a: 3 }), vv({ a: 3 }))).toBe(false);
    expect(behindHorizon(vv({ a: 4 }), vv({ a: 3 }))).toBe(false);
    expect(behindHorizon(vv({ a: 2 }), vv({ a: 3 }))).toBe(true);
    expect(behindHorizon(emptyVV, vv({ a: 1 }))).toBe(true);
    expect(behindHorizon(emptyVV, emptyVV)).toBe(false);
    // One member behind is enough, whatever the others.
    expect(behindHorizon(vv({ a: 5, b: 1 }), vv({ a: 3, b: 2 }))).toBe(true);
    expect(behindHorizon(vv({ a: 1, b: 5 }), vv({ a: 3, b: 2 }))).toBe(true);
  });
});

describe('answer', () => {
  it('a digest is answered with what the peer lacks, asking for a reply', () => {
    const [a] = cluster(ids);
    write(a!.replica, 'k1', 1);
    write(a!.replica, 'k2', 2);
    const reply = answer(a!.replica, digestFrom(B, vv({ a: 1 })))!;
    expect(reply.kind).toBe('delta');
    expect(reply.from).toBe(A);
    expect(reply.vv).toEqual({ a: 2 });
    expect(reply.reply).toBe(true);
    expect(reply.more).toBe(false);
    expect(reply.entries.map((e) => e.seq)).toEqual([2]);
    expect(reply.transfer).toBeUndefined();
    expect(reply.resume).toBeUndefined();
  });

  it('a digest from a peer that lacks nothing is still answered (with the vector, asking for a reply)', () => {
    const [a] = cluster(ids);
    write(a!.replica, 'k1', 1);
    const reply = answer(a!.replica, digestFrom(B, vv({ a: 1, b: 4 })))!;
    expect(reply.entries).toEqual([]);
    expect(reply.reply).toBe(true);
    expect(reply.vv).toEqual({ a: 1 });
  });

  it('a delta that asks for nothing and brings nothing needs no answer', () => {
    const [a] = cluster(ids);
    write(a!.replica, 'k1', 1);
    expect(answer(a!.replica, deltaFrom(B, emptyVV))).toBeUndefined();
  });

  it('entries that ask for nothing back are acknowledged with the vector alone', () => {
    const [a, b] = cluster(ids);
    write(b!.replica, 'k1', 1);
    const push = decodeMessage(b!.replica.push(b!.replica.entriesFor(emptyVV).entries));
    write(a!.replica, 'k2', 2);
    // The receiver has an entry the pusher lacks, but a push asked for nothing: it is not sent.
    const reply = answer(a!.replica, push)!;
    expect(reply).toBeDefined();
    expect(reply.entries).toEqual([]);
    expect(reply.reply).toBe(false);
    expect(reply.more).toBe(false);
    expect(reply.vv).toEqual(a!.replica.vv);
  });

  it('a delta cut by its byte bound (`more`) is answered asking for the rest', () => {
    const [a] = cluster(ids);
    const reply = answer(a!.replica, deltaFrom(B, emptyVV, { more: true }))!;
    expect(reply).toBeDefined();
    expect(reply.reply).toBe(true);
    expect(reply.entries).toEqual([]);
  });

  it('a delta asking for a reply gets what its sender lacks, and asks for nothing more itself', () => {
    const [a] = cluster(ids);
    write(a!.replica, 'k1', 1);
    const reply = answer(a!.replica, deltaFrom(B, emptyVV, { reply: true }))!;
    expect(reply.entries.map((e) => e.seq)).toEqual([1]);
    expect(reply.reply).toBe(false);
  });

  it('a batch bound by maxBatchBytes says there is more', () => {
    const [a] = cluster(ids, { maxBatchBytes: 64 });
    for (let i = 0; i < 5; i++) write(a!.replica, `k${i}`, i);
    const reply = answer(a!.replica, digestFrom(B, emptyVV))!;
    expect(reply.entries.length).toBeGreaterThan(0);
    expect(reply.entries.length).toBeLessThan(5);
    expect(reply.more).toBe(true);
  });

  it('a peer behind the horizon is sent a state transfer instead of entries', () => {
    const a = member('a', ['a', 'b'], { logMaxBytes: 200 });
    for (let i = 0; i < 20; i++) write(a.replica, `k${i}`, i);
    expect(behindHorizon(emptyVV, a.replica.horizon)).toBe(true);
    const reply = answer(a.replica, digestFrom(B, emptyVV))!;
    expect(reply.entries).toEqual([]);
    expect(reply.transfer).toBeDefined();
    expect(reply.transfer!.after).toBeUndefined();
    expect(reply.transfer!.docs.length).toBeGreaterThan(0);
    expect(reply.transfer!.target).toEqual(a.replica.vv);
  });

  it('a peer asking to resume a transfer behind the horizon is sent the chunk after its key', () => {
    const a = member('a', ['a', 'b'], { logMaxBytes: 200 });
    for (let i = 0; i < 20; i++) write(a.replica, `k${i}`, i);
    const after = docKey('t', 'k5');
    const reply = answer(a.replica, { ...digestFrom(B, emptyVV), resume: { target: a.replica.vv, after } })!;
    expect(reply.transfer).toBeDefined();
    expect(reply.transfer!.after).toBe(after);
    expect(reply.transfer!.docs.every((d) => d.meta.doc > after)).toBe(true);
  });

  it('a delta that only asks to resume a transfer (no reply wanted) is answered with the next chunk', () => {
    const a = member('a', ['a', 'b'], { logMaxBytes: 200 });
    for (let i = 0; i < 20; i++) write(a.replica, `k${i}`, i);
    const after = docKey('t', 'k5');
    const reply = answer(a.replica, { ...deltaFrom(B, emptyVV), resume: { target: a.replica.vv, after } });
    expect(reply).toBeDefined();
    expect(reply!.transfer!.after).toBe(after);
  });

  it('a chunk that asks for nothing is answered when the receiver wants the transfer to go on', () => {
    const a = member('a', ['a', 'b']);
    const resume = { target: vv({ b: 9 }), after: docKey('t', 'k3') };
    const reply = answer(a.replica, deltaFrom(B, vv({ b: 9 })), resume);
    expect(reply).toBeDefined();
    expect(reply!.resume).toEqual(resume);
    expect(reply!.reply).toBe(false);
  });

  it('a member receiving a transfer asks whoever wants an answer to resume it, and nobody else', async () => {
    const a = member('a', ['a', 'b', 'c'], { logMaxBytes: 200, maxBatchBytes: 256 });
    const c = member('c', ['a', 'b', 'c'], { maxBatchBytes: 256 });
    for (let i = 0; i < 30; i++) write(a.replica, `k${i}`, i);
    // Two messages: the digest, then the answer to the first chunk; the transfer is then under way.
    await gossipRound(c.replica, A, net([a.replica, c.replica]), 2);
    const resume = c.replica.transferResume();
    expect(resume).toBeDefined();
    expect(answer(c.replica, digestFrom(B, emptyVV))!.resume).toEqual(resume);
    expect(answer(c.replica, deltaFrom(B, emptyVV, { reply: true }))!.resume).toEqual(resume);
    expect(answer(c.replica, deltaFrom(B, emptyVV))).toBeUndefined();
    // A message that itself brought a chunk is answered with the resume that chunk called for
    // (here none, and nothing else to send), not with the one under way.
    const t = { target: emptyVV, hlc: 0, after: undefined, docs: [], next: undefined };
    expect(answer(c.replica, deltaFrom(B, emptyVV, { reply: true, transfer: t }))).toBeUndefined();
  });

  it('a resume from a peer that is not behind the horizon is answered with entries', () => {
    const a = member('a', ['a', 'b']);
    for (let i = 0; i < 3; i++) write(a.replica, `k${i}`, i);
    const reply = answer(a.replica, { ...deltaFrom(B, vv({ a: 1 })), resume: { target: vv({ a: 3 }), after: docKey('t', 'k0') } })!;
    expect(reply.transfer).toBeUndefined();
    expect(reply.entries.map((e) => e.seq)).toEqual([2, 3]);
  });
});

describe('gossipRound', () => {
  it('reports the vector the peer had when it first answered, and brings both sides up to date', async () => {
    const [a, b] = cluster(ids);
    write(a!.replica, 'x', 1);
    write(b!.replica, 'y', 1);
    write(b!.replica, 'z', 1);
    const t = net([a!.replica, b!.replica]);
    const heard = await gossipRound(a!.replica, B, t);
    expect(heard).toEqual({ b: 2 });
    expect(a!.replica.vv).toEqual({ a: 1, b: 2 });
    expect(b!.replica.vv).toEqual({ a: 1, b: 2 });
    // The digest, then this replica's delta (which the peer acknowledges with its vector).
    expect(t.requests).toBe(2);
  });

  it('a peer that never answers is reported as undefined', async () => {
    const [a] = cluster(ids);
    const t: Transport = { request: async () => undefined };
    await expect(gossipRound(a!.replica, B, t)).resolves.toBeUndefined();
  });

  it('stops after its step bound, 32 by default', async () => {
    const [a, b] = cluster(ids, { maxBatchBytes: 64 });
    for (let i = 0; i < 80; i++) write(b!.replica, `k${i}`, i);
    const t = net([a!.replica, b!.replica]);
    await gossipRound(a!.replica, B, t);
    expect(t.requests).toBe(32);
    const t3 = net([a!.replica, b!.replica]);
    await gossipRound(a!.replica, B, t3, 3);
    expect(t3.requests).toBe(3);
  });

  it('rejects when the transport fails', async () => {
    const [a] = cluster(ids);
    const t: Transport = { request: () => Promise.reject(new Error('cut')) };
    await expect(gossipRound(a!.replica, B, t)).rejects.toThrow('cut');
  });
});

describe('pickPeers', () => {
  it('picks `fanout` distinct members other than itself, all of them when fanout is large', () => {
    const [a] = cluster(['a', 'b', 'c', 'd', 'e']);
    const random = seededRandom(7);
    for (let i = 0; i < 50; i++) {
      const two = pickPeers(a!.replica, 2, random);
      expect(two).toHaveLength(2);
      expect(new Set(two).size).toBe(2);
      expect(two).not.toContain(A);
    }
    expect(pickPeers(a!.replica, 10, random).sort()).toEqual(['b', 'c', 'd', 'e']);
    expect(pickPeers(a!.replica, 0, random)).toEqual([]);
  });

  it('draws every order of the peers about equally often', () => {
    const [a] = cluster(['a', 'b', 'c', 'd']);
    const random = seededRandom(3);
    const counts = new Map<string, number>();
    const n = 6000;
    for (let i = 0; i < n; i++) {
      const order = pickPeers(a!.replica, 3, random).join('');
      counts.set(order, (counts.get(order) ?? 0) + 1);
    }
    expect(counts.size).toBe(6);
    for (const c of counts.values()) expect(Math.abs(c / n - 1 / 6)).toBeLessThan(0.03);
  });
});
