/**
 * The majority paths of `strong.ts` against fake replicas and ports, one behaviour per test:
 * written to kill the mutants Stryker found surviving (`npm run mutate`, see MUTANTS.md).
 */
import { describe, expect, it } from 'vitest';
import { UnavailableError } from '../../src/core/errors.js';
import { type MemberId, memberId } from '../../src/core/ids.js';
import type { LogEntry } from '../../src/core/log.js';
import type { Replica } from '../../src/core/replica.js';
import { gatherMajority, type MajorityPort, replicateToMajority, StrongQueue, succeedAtLeast } from '../../src/core/strong.js';
import { emptyVV, type VersionVector } from '../../src/core/version-vector.js';

const [A, B, C, D, E] = ['a', 'b', 'c', 'd', 'e'].map(memberId) as [MemberId, MemberId, MemberId, MemberId, MemberId];

/** Settles what can settle now, then says where `p` is. */
async function state(p: Promise<unknown>): Promise<'pending' | 'resolved' | 'rejected'> {
  let s: 'pending' | 'resolved' | 'rejected' = 'pending';
  p.then(
    () => (s = 'resolved'),
    () => (s = 'rejected'),
  );
  await new Promise((r) => setTimeout(r, 0));
  return s;
}

interface Deferred {
  readonly promise: Promise<void>;
  resolve(): void;
  reject(err: Error): void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

const vv = (o: Record<string, number>): VersionVector => o as VersionVector;

describe('succeedAtLeast', () => {
  it('needs nothing when need is 0, even with no tasks at all', async () => {
    expect(await state(succeedAtLeast([], 0, 'x'))).toBe('resolved');
    expect(await state(succeedAtLeast([new Promise(() => undefined)], 0, 'x'))).toBe('resolved');
  });

  it('resolves once `need` tasks succeeded, not before, whatever the others do', async () => {
    const ts = [deferred(), deferred(), deferred()];
    const p = succeedAtLeast(ts.map((t) => t.promise), 2, 'x');
    ts[0]!.resolve();
    expect(await state(p)).toBe('pending');
    ts[1]!.reject(new Error('down'));
    expect(await state(p)).toBe('pending');
    ts[2]!.resolve();
    expect(await state(p)).toBe('resolved');
  });

  it('rejects as soon as too many failed for `need` to be reached, naming the numbers and the first reason', async () => {
    const ts = [deferred(), deferred(), deferred()];
    const p = succeedAtLeast(ts.map((t) => t.promise), 2, 'no majority to read from');
    ts[0]!.reject(new Error('first is down'));
    expect(await state(p)).toBe('pending');
    ts[1]!.reject(new Error('second is down'));
    expect(await state(p)).toBe('rejected');
    const err = await p.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnavailableError);
    expect((err as Error).message).toBe('no majority to read from: 2 of 3 peers needed, 2 unreachable (first is down)');
  });

  it('names a reason that is not an Error', async () => {
    const err = await succeedAtLeast([Promise.reject('cut')], 1, 'w').catch((e: unknown) => e);
    expect((err as Error).message).toBe('w: 1 of 1 peers needed, 1 unreachable (cut)');
  });

  it('a task that succeeds after the verdict changes nothing', async () => {
    const ts = [deferred(), deferred()];
    const p = succeedAtLeast(ts.map((t) => t.promise), 1, 'x');
    ts[0]!.resolve();
    ts[1]!.reject(new Error('late'));
    expect(await state(p)).toBe('resolved');
  });

  it('rejects at once when fewer tasks than needed are configured', async () => {
    const p = succeedAtLeast([new Promise(() => undefined)], 2, 'no majority to write to');
    expect(await state(p)).toBe('rejected');
    await expect(p).rejects.toThrow(new UnavailableError('no majority to write to: 2 peers needed, only 1 configured'));
    await expect(p).rejects.toBeInstanceOf(UnavailableError);
  });
});

describe('StrongQueue', () => {
  it('runs an operation whose deadline is exactly now, and refuses one whose deadline passed', async () => {
    let now = 5;
    const q = new StrongQueue({ now: () => now });
    await expect(q.run(async () => 'ran', 5)).resolves.toBe('ran');
    now = 6;
    const late = q.run(async () => 'ran', 5);
    await expect(late).rejects.toThrow(new UnavailableError('the caller gave up before this strong operation could start; it was not applied'));
  });

  it('without a deadline an operation runs however late its turn comes', async () => {
    const q = new StrongQueue({ now: () => Number.MAX_SAFE_INTEGER });
    await expect(q.run(async () => 1)).resolves.toBe(1);
  });

  it('an operation that fails does not stop the next one, and the failure reaches its caller', async () => {
    const q = new StrongQueue({ now: () => 0 });
    const failing = q.run(async () => {
      throw new Error('boom');
    });
    const next = q.run(async () => 'next');
    await expect(failing).rejects.toThrow('boom');
    await expect(next).resolves.toBe('next');
  });

  it('holds exactly `capacity` waiting operations, says how many in its refusal, and frees the room as they start', async () => {
    const q = new StrongQueue({ now: () => 0 }, 1);
    const gate = deferred();
    const running = q.run(() => gate.promise);
    while (q.size > 0) await Promise.resolve();
    const waiting = q.run(async () => 'second');
    expect(q.size).toBe(1);
    const refused = q.run(async () => 'third');
    await expect(refused).rejects.toThrow(new UnavailableError('the leader has 1 strong operations waiting; retry shortly'));
    gate.resolve();
    await running;
    await expect(waiting).resolves.toBe('second');
    expect(q.size).toBe(0);
    await expect(q.run(async () => 'room again')).resolves.toBe('room again');
  });

  it('counts the operation running (one at most) apart from those waiting, through success and failure', async () => {
    const q = new StrongQueue({ now: () => 0 });
    const gates = [deferred(), deferred()];
    expect(q.active).toBe(0);
    const first = q.run(() => gates[0]!.promise);
    const second = q.run(() => gates[1]!.promise);
    while (q.active === 0) await Promise.resolve();
    expect([q.active, q.size]).toEqual([1, 1]);
    gates[0]!.reject(new Error('failed'));
    await expect(first).rejects.toThrow('failed');
    while (q.size > 0) await Promise.resolve();
    expect([q.active, q.size]).toEqual([1, 0]);
    gates[1]!.resolve();
    await second;
    expect(q.active).toBe(0);
    const late = q.run(async () => 'never', -1);
    await expect(late).rejects.toThrow(UnavailableError);
    expect([q.active, q.size]).toEqual([0, 0]);
  });

  it('holds 64 by default', async () => {
    const q = new StrongQueue({ now: () => 0 });
    const gate = deferred();
    const ops = [q.run(() => gate.promise)];
    while (q.size > 0) await Promise.resolve();
    for (let i = 0; i < 64; i++) ops.push(q.run(async () => undefined));
    await expect(q.run(async () => undefined)).rejects.toThrow(UnavailableError);
    gate.resolve();
    await Promise.all(ops);
  });
});

/** A replica as far as `gatherMajority` sees it: its members, its name and a vector that pulls change. */
function fakeReplica(self: MemberId, members: readonly MemberId[]): { r: Replica; vv: VersionVector } {
  const box = { vv: emptyVV as VersionVector };
  const r = {
    self,
    memberList: members,
    get vv() {
      return box.vv;
    },
  } as unknown as Replica;
  return {
    r,
    get vv() {
      return box.vv;
    },
    set vv(v: VersionVector) {
      box.vv = v;
    },
  };
}

describe('gatherMajority', () => {
  it('pulls from the other members only, and needs a majority counting itself', async () => {
    const f = fakeReplica(A, [A, B, C, D, E]);
    const pulled: MemberId[] = [];
    const reachable = new Set([B, C]);
    const port: MajorityPort = {
      pull: async (to) => {
        pulled.push(to);
        if (!reachable.has(to)) throw new Error(`${to} unreachable`);
        return emptyVV;
      },
      replicate: () => Promise.reject(new Error('unused')),
    };
    await gatherMajority(f.r, port);
    expect(pulled.sort()).toEqual([B, C, D, E]);
    // 5 members: itself and two peers. One reachable peer is not enough.
    reachable.delete(C);
    await expect(gatherMajority(f.r, port)).rejects.toThrow(/no majority to read from: 2 of 4 peers needed/);
  });

  it('a peer counts once this replica covers what the peer reported, possibly after several rounds', async () => {
    const f = fakeReplica(A, [A, B]);
    let pulls = 0;
    const port: MajorityPort = {
      pull: async () => {
        pulls++;
        f.vv = vv({ b: pulls });
        return vv({ b: 3 });
      },
      replicate: () => Promise.reject(new Error('unused')),
    };
    await gatherMajority(f.r, port);
    expect(f.vv).toEqual({ b: 3 });
    expect(pulls).toBe(3);
  });

  it('a round that heard nothing but made progress is tried again', async () => {
    const f = fakeReplica(A, [A, B]);
    const answers: (VersionVector | undefined)[] = [undefined, vv({ b: 2 })];
    let pulls = 0;
    const port: MajorityPort = {
      pull: async () => {
        f.vv = vv({ b: ++pulls });
        return answers[pulls - 1];
      },
      replicate: () => Promise.reject(new Error('unused')),
    };
    // Two members: a majority is both, so the one peer must be caught up with.
    await gatherMajority(f.r, port);
    expect(pulls).toBe(2);
  });

  it('gives up on a peer at the first round that brings nothing, naming the peer', async () => {
    const f = fakeReplica(A, [A, B]);
    let pulls = 0;
    const port: MajorityPort = {
      pull: async () => {
        pulls++;
        return vv({ b: 1 });
      },
      replicate: () => Promise.reject(new Error('unused')),
    };
    const err = await gatherMajority(f.r, port).catch((e: unknown) => e);
    expect(pulls).toBe(1);
    expect(err).toBeInstanceOf(UnavailableError);
    expect((err as Error).message).toBe('no majority to read from: 1 of 1 peers needed, 1 unreachable (this member could not catch up with b in time)');
  });

  it('gives up on a peer after 64 rounds that each make progress without catching up', async () => {
    const f = fakeReplica(A, [A, B]);
    let pulls = 0;
    const port: MajorityPort = {
      pull: async () => {
        f.vv = vv({ c: ++pulls });
        return vv({ b: 1 });
      },
      replicate: () => Promise.reject(new Error('unused')),
    };
    await expect(gatherMajority(f.r, port)).rejects.toThrow(/could not catch up with b/);
    expect(pulls).toBe(64);
  });

  it('a single member is its own majority', async () => {
    const f = fakeReplica(A, [A]);
    const port: MajorityPort = {
      pull: () => Promise.reject(new Error('nobody to pull')),
      replicate: () => Promise.reject(new Error('unused')),
    };
    await expect(gatherMajority(f.r, port)).resolves.toBeUndefined();
  });
});

function entry(seq: number): LogEntry {
  return { origin: A, seq, doc: 'd/k' as LogEntry['doc'], hlc: seq, deps: emptyVV, engine: 'automerge', kind: 'update', data: new Uint8Array([seq]) };
}

/** A replica as far as `replicateToMajority` sees it, recording what it was asked. */
function pushReplica(members: readonly MemberId[], peers: Record<string, VersionVector> = {}) {
  const calls = { pushed: [] as (readonly LogEntry[])[], learned: [] as [MemberId, VersionVector][], asked: [] as VersionVector[] };
  const r = {
    self: A,
    memberList: members,
    peers,
    push: (entries: readonly LogEntry[]) => {
      calls.pushed.push(entries);
      return new Uint8Array([calls.pushed.length]);
    },
    learnPeer: (p: MemberId, v: VersionVector) => calls.learned.push([p, v]),
    entriesFor: (v: VersionVector) => {
      calls.asked.push(v);
      return { entries: [entry(1), entry(2)], more: false };
    },
  } as unknown as Replica;
  return { r, calls };
}

describe('replicateToMajority', () => {
  it('with no entries there is nothing to wait for', async () => {
    const { r } = pushReplica([A, B, C]);
    const port: MajorityPort = { replicate: () => Promise.reject(new Error('must not be called')), pull: () => Promise.reject(new Error('unused')) };
    await expect(replicateToMajority(r, port, [])).resolves.toBeUndefined();
  });

  it('sends the entries to the other members, learns their vectors, and waits for the last entry at a majority', async () => {
    const { r, calls } = pushReplica([A, B, C, D, E]);
    const sent: MemberId[] = [];
    const messages: Uint8Array[] = [];
    const port: MajorityPort = {
      replicate: async (to, message) => {
        sent.push(to);
        messages.push(message);
        // b and c apply both entries; d only the first (not enough); e is down.
        if (to === E) throw new Error('e is down');
        return to === D ? vv({ a: 1 }) : vv({ a: 2 });
      },
      pull: () => Promise.reject(new Error('unused')),
    };
    await replicateToMajority(r, port, [entry(1), entry(2)]);
    expect(sent.slice(0, 4).sort()).toEqual([B, C, D, E]);
    expect(calls.pushed.slice(0, 4)).toEqual([0, 1, 2, 3].map(() => [entry(1), entry(2)]));
    // Each peer is sent the message the replica encoded for it.
    expect(messages.slice(0, 4)).toEqual([1, 2, 3, 4].map((n) => new Uint8Array([n])));
    expect(calls.learned).toContainEqual([B, { a: 2 }]);
    expect(calls.learned).toContainEqual([C, { a: 2 }]);
  });

  it('a peer that lacks what the entries depend on is sent everything it lacks, from what it is known to have', async () => {
    const { r, calls } = pushReplica([A, B], { b: vv({ z: 7 }) });
    let n = 0;
    const port: MajorityPort = {
      replicate: async () => (++n < 3 ? vv({ a: 0 }) : vv({ a: 2 })),
      pull: () => Promise.reject(new Error('unused')),
    };
    await replicateToMajority(r, port, [entry(2)]);
    expect(n).toBe(3);
    expect(calls.asked).toEqual([{ z: 7 }, { z: 7 }]);
    expect(calls.pushed).toEqual([[entry(2)], [entry(1), entry(2)], [entry(1), entry(2)]]);
  });

  it('a peer nobody knows anything of is sent everything from the start', async () => {
    const { r, calls } = pushReplica([A, B]);
    let n = 0;
    const port: MajorityPort = {
      replicate: async () => (++n < 2 ? emptyVV : vv({ a: 1 })),
      pull: () => Promise.reject(new Error('unused')),
    };
    await replicateToMajority(r, port, [entry(1)]);
    expect(calls.asked).toEqual([{}]);
  });

  it('gives up on a peer after four attempts, naming the entry', async () => {
    const { r } = pushReplica([A, B]);
    let n = 0;
    const port: MajorityPort = {
      replicate: async () => {
        n++;
        return vv({ a: 1 });
      },
      pull: () => Promise.reject(new Error('unused')),
    };
    const err = await replicateToMajority(r, port, [entry(1), entry(2)]).catch((e: unknown) => e);
    expect(n).toBe(4);
    expect((err as Error).message).toBe('no majority to write to: 1 of 1 peers needed, 1 unreachable (b did not apply a:2)');
  });
});
