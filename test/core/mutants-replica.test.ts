/**
 * The replica at the edges the other suites pass over (recorded outcomes and their expiry,
 * what a message commits, what it learns of peers, creating and deleting, stats, engine
 * actors): written to kill the mutants Stryker found surviving (`npm run mutate`, see
 * MUTANTS.md).
 */
import * as A from '@automerge/automerge';
import { describe, expect, it } from 'vitest';
import { EngineFaults } from '../../src/core/engines/fault-injection.js';
import { restoreEngine } from '../../src/core/engines/index.js';
import { DepthLimitError, EngineFaultError, InvalidDocumentError } from '../../src/core/errors.js';
import { type DocKey, docKey, type MemberId, memberId } from '../../src/core/ids.js';
import { seededRandom } from '../../src/core/ports.js';
import { Replica, type ReplicaConfig } from '../../src/core/replica.js';
import { fnv1a64 } from '../../src/core/routing.js';
import type { StoredOutcome } from '../../src/core/storage.js';
import { MemoryStorage } from '../../src/core/storage-memory.js';
import { emptyVV, type VersionVector } from '../../src/core/version-vector.js';
import { cluster, restart, sync } from '../support/cluster.js';
import { gossipRound } from '../../src/core/anti-entropy.js';
import { encodeMessage } from '../../src/core/wire/codec.js';

const DOC = docKey('t', 'doc');
const ids = ['a', 'b', 'c'];
const [A_, B_] = ['a', 'b'].map(memberId) as [MemberId, MemberId];
const vv = (o: Record<string, number>): VersionVector => o as VersionVector;

/** A replica whose clock the test sets. */
function clocked(self = 'a', members = ['a', 'b'], config: Partial<ReplicaConfig> = {}, seed = 1) {
  const storage = new MemoryStorage();
  const clock = { t: 1_000, now: () => clock.t };
  const replica = new Replica({ self: memberId(self), members: members.map(memberId), ...config }, { storage, clock, random: seededRandom(seed) });
  return { storage, clock, replica };
}

const outcome = (id: string, expires: number, over: Partial<StoredOutcome> = {}): StoredOutcome => ({
  doc: DOC,
  id,
  fingerprint: `fp-${id}`,
  expires,
  response: `response of ${id}`,
  ...over,
});

describe('recorded outcomes', () => {
  it('a write records its outcome in the same commit, readable until it expires (inclusive)', () => {
    const { storage, clock, replica } = clocked();
    const commits = storage.commits;
    replica.write(DOC, 'automerge', (e) => e.replace({ x: 1 }), { outcome: () => outcome('r1', 2_000) });
    expect(storage.commits).toBe(commits + 1);
    expect(replica.outcome(DOC, 'r1')).toMatchObject({ id: 'r1', response: 'response of r1' });
    clock.t = 2_000;
    expect(replica.outcome(DOC, 'r1')).toBeDefined();
    clock.t = 2_001;
    expect(replica.outcome(DOC, 'r1')).toBeUndefined();
    expect(replica.outcome(DOC, 'other')).toBeUndefined();
  });

  it('the outcome is made from the write as it will be committed', () => {
    const { replica } = clocked();
    let seen: { seq: number | undefined; vv: VersionVector } | undefined;
    const r = replica.write(DOC, 'automerge', (e) => e.replace({ x: 1 }), {
      outcome: (w) => {
        seen = { seq: w.entry?.seq, vv: w.vv };
        return outcome('r1', 5_000);
      },
    });
    expect(seen).toEqual({ seq: 1, vv: { a: 1 } });
    expect(r.vv).toEqual({ a: 1 });
  });

  it('an outcome with a status rides in the entry, and every member that applies it can answer a retry', () => {
    const [a, b] = cluster(ids);
    const r = a!.replica.write(DOC, 'automerge', (e) => e.replace({ x: 1 }), { outcome: () => outcome('r1', 1e12, { status: 201 }) });
    expect(r.entry!.request).toEqual({ id: 'r1', fingerprint: 'fp-r1', status: 201, expires: 1e12 });
    expect(a!.storage.scanLog(emptyVV, 1e9).entries[0]!.request).toEqual(r.entry!.request);
    sync(b!.replica, a!.replica);
    expect(b!.replica.outcome(DOC, 'r1')).toEqual({ doc: DOC, id: 'r1', fingerprint: 'fp-r1', expires: 1e12, response: '', status: 201, replicated: true });
  });

  it('an outcome without a status stays with the member that made it', () => {
    const [a, b] = cluster(ids);
    const r = a!.replica.write(DOC, 'automerge', (e) => e.replace({ x: 1 }), { outcome: () => outcome('r1', 1e12) });
    expect(r.entry!.request).toBeUndefined();
    sync(b!.replica, a!.replica);
    expect(b!.replica.json(DOC)).toEqual({ x: 1 });
    expect(b!.replica.outcome(DOC, 'r1')).toBeUndefined();
  });

  it('recordOutcome commits the outcome of a request that wrote nothing, and nothing else', () => {
    const { storage, replica } = clocked();
    const commits = storage.commits;
    replica.recordOutcome(outcome('refused', 9_000, { status: 409 }));
    expect(storage.commits).toBe(commits + 1);
    expect(replica.outcome(DOC, 'refused')).toMatchObject({ status: 409 });
    expect(replica.vv).toEqual({});
    expect(storage.logSize().entries).toBe(0);
  });

  it('expired outcomes are dropped by every 64th commit that records outcomes, not before', () => {
    const { storage, clock, replica } = clocked();
    replica.recordOutcome(outcome('old', 1_500));
    clock.t = 2_000;
    for (let i = 2; i < 64; i++) replica.recordOutcome(outcome(`n${i}`, 1e12));
    expect(replica.outcome(DOC, 'old')).toBeUndefined();
    expect(storage.loadOutcome(DOC, 'old')).toBeDefined();
    replica.recordOutcome(outcome('n64', 1e12));
    expect(storage.loadOutcome(DOC, 'old')).toBeUndefined();
    expect(storage.loadOutcome(DOC, 'n64')).toBeDefined();
    // And again 64 commits later, not at the next one.
    replica.recordOutcome(outcome('old2', 2_500));
    clock.t = 3_000;
    replica.recordOutcome(outcome('n65', 1e12));
    expect(storage.loadOutcome(DOC, 'old2')).toBeDefined();
    for (let i = 67; i <= 128; i++) replica.recordOutcome(outcome(`n${i}`, 1e12));
    expect(storage.loadOutcome(DOC, 'old2')).toBeUndefined();
  });
});

describe('what a message commits', () => {
  it('a digest that brings nothing commits nothing, but what it says of the peer is kept', () => {
    const [a, b] = cluster(ids);
    a!.replica.write(DOC, 'automerge', (e) => e.replace({ x: 1 }));
    b!.replica.write(docKey('t', 'other'), 'automerge', (e) => e.replace({ y: 1 }));
    const commits = a!.storage.commits;
    a!.replica.receive(b!.replica.digest());
    expect(a!.storage.commits).toBe(commits);
    expect(a!.replica.peers[B_]).toEqual({ b: 1 });
  });

  it('a duplicate push commits nothing', () => {
    const [a, b] = cluster(ids);
    b!.replica.write(DOC, 'automerge', (e) => e.replace({ x: 1 }));
    const push = b!.replica.push(b!.replica.entriesFor(emptyVV).entries);
    a!.replica.receive(push);
    const commits = a!.storage.commits;
    a!.replica.receive(push);
    expect(a!.storage.commits).toBe(commits);
    expect(a!.replica.vv).toEqual({ b: 1 });
  });

  it('a push out of causal order is held back, then applied when what it depends on arrives', () => {
    const [a, b] = cluster(ids);
    b!.replica.write(DOC, 'automerge', (e) => e.replace({ x: 1 }));
    b!.replica.write(DOC, 'automerge', (e) => e.mergePatch({ x: 2 }));
    const [e1, e2] = b!.replica.entriesFor(emptyVV).entries;
    a!.replica.receive(b!.replica.push([e2!]));
    expect(a!.replica.vv).toEqual({});
    expect(a!.replica.pendingCount).toBe(1);
    expect(a!.replica.stats().pending).toBe(1);
    a!.replica.receive(b!.replica.push([e1!]));
    expect(a!.replica.vv).toEqual({ b: 2 });
    expect(a!.replica.pendingCount).toBe(0);
    expect(a!.replica.json(DOC)).toEqual({ x: 2 });
  });
});

describe('the hybrid clock', () => {
  it('a message whose entries are all held back still commits the time it saw', () => {
    const [a, b] = cluster(ids);
    b!.replica.write(DOC, 'automerge', (e) => e.replace({ x: 1 }));
    const e2 = b!.replica.write(DOC, 'automerge', (e) => e.mergePatch({ x: 2 })).entry!;
    const commits = a!.storage.commits;
    a!.replica.receive(b!.replica.push([e2]));
    expect(a!.replica.vv).toEqual({});
    expect(a!.storage.commits).toBe(commits + 1);
    expect(a!.storage.loadMeta()!.hlc).toBeGreaterThanOrEqual(e2.hlc);
    restart(a!, ids);
    expect(a!.replica.lastHlc).toBeGreaterThanOrEqual(e2.hlc);
    // A write after the restart is later than the entry it saw.
    expect(a!.replica.write(DOC, 'automerge', (e) => e.replace({ y: 1 })).entry!.hlc).toBeGreaterThan(e2.hlc);
  });
});

describe('what a replica knows of its peers', () => {
  it('keeps the highest it heard of each peer, and nothing of itself', () => {
    const { replica } = clocked('a', ['a', 'b', 'c']);
    replica.learnPeer(B_, vv({ a: 2, b: 3 }));
    replica.learnPeer(B_, vv({ a: 1, b: 1 }));
    expect(replica.peers[B_]).toEqual({ a: 2, b: 3 });
    replica.learnPeer(B_, vv({ a: 1, c: 4 }));
    expect(replica.peers[B_]).toEqual({ a: 2, b: 3, c: 4 });
    replica.learnPeer(A_, vv({ a: 9 }));
    expect(replica.peers[A_]).toBeUndefined();
  });

  it('compaction waits for the members it is told of, and only those', () => {
    const [a, b, c] = cluster(ids);
    a!.replica.write(DOC, 'automerge', (e) => e.replace({ x: 1 }));
    sync(b!.replica, a!.replica);
    a!.replica.compact();
    expect(a!.replica.stats().logEntries).toBe(1);
    a!.replica.setMembers([A_, B_]);
    expect(a!.replica.memberList).toEqual([A_, B_]);
    a!.replica.compact();
    expect(a!.replica.stats().logEntries).toBe(0);
    expect(a!.replica.horizon).toEqual({ a: 1 });
    expect(c!.replica.vv).toEqual({});
  });
});

describe('create and remove', () => {
  it('create makes a new document live with an empty entry, and is a no-op on a live one', () => {
    const { replica } = clocked();
    const r = replica.create(DOC, 'automerge', { render: true });
    expect(r.entry).toMatchObject({ seq: 1, kind: 'update' });
    expect(r.entry!.data).toHaveLength(0);
    expect(r.json).toEqual({});
    expect(replica.json(DOC)).toEqual({});
    expect(replica.create(DOC, 'automerge').json).toBeUndefined();
    const again = replica.create(DOC, 'automerge', { render: true });
    expect(again.entry).toBeUndefined();
    expect(again.vv).toEqual({ a: 1 });
  });

  it('create without render answers no JSON', () => {
    const { replica } = clocked();
    expect(replica.create(DOC, 'yjs').json).toBeUndefined();
    expect(replica.read(DOC)!.live).toBe(true);
  });

  it('a write renders its JSON only when asked', () => {
    const { replica } = clocked();
    expect(replica.write(DOC, 'automerge', (e) => e.replace({ x: 1 })).json).toBeUndefined();
    expect(replica.write(DOC, 'automerge', (e) => e.mergePatch({ y: 2 }), { render: true }).json).toEqual({ x: 1, y: 2 });
  });

  it('remove deletes a live document once; nothing to remove answers undefined', () => {
    const { replica } = clocked();
    expect(replica.remove(DOC)).toBeUndefined();
    replica.write(DOC, 'automerge', (e) => e.replace({ x: 1 }));
    const r = replica.remove(DOC)!;
    expect(r.entry).toMatchObject({ kind: 'delete', seq: 2, engine: 'automerge' });
    expect(replica.json(DOC)).toBeUndefined();
    expect(replica.read(DOC)!.live).toBe(false);
    expect(replica.remove(DOC)).toBeUndefined();
  });

  it('a document created with no content can be removed', () => {
    const { replica } = clocked();
    replica.create(DOC, 'automerge');
    const r = replica.remove(DOC)!;
    expect(r.entry!.kind).toBe('delete');
    expect(replica.read(DOC)!.live).toBe(false);
  });
});

describe('engine actors', () => {
  function actorOf(data: Uint8Array): string {
    const doc = A.loadIncremental(A.init(), data);
    return A.decodeChange(A.getAllChanges(doc)[0]!).actor;
  }

  it('end with the member name hashed, so members with the same random source never share one', () => {
    const a = clocked('wnam', ['wnam', 'weur'], {}, 5);
    const b = clocked('weur', ['wnam', 'weur'], {}, 5);
    const actorA = actorOf(a.replica.write(DOC, 'automerge', (e) => e.replace({ x: 1 })).entry!.data);
    const actorB = actorOf(b.replica.write(DOC, 'automerge', (e) => e.replace({ x: 1 })).entry!.data);
    expect(actorA).toHaveLength(32);
    expect(actorA.slice(0, 24)).toBe(actorB.slice(0, 24));
    for (const [self, actor] of [['wnam', actorA], ['weur', actorB]] as const) {
      const h = Number(fnv1a64(new TextEncoder().encode(self)) & 0xffffffffn);
      expect(actor.slice(24)).toBe(h.toString(16).padStart(8, '0'));
    }
  });
});

describe('stats', () => {
  it('counts documents, log and transfer; no faults on a healthy replica', () => {
    const { replica } = clocked();
    replica.write(DOC, 'automerge', (e) => e.replace({ x: 1 }));
    replica.write(docKey('t', 'two'), 'automerge', (e) => e.replace({ y: 1 }));
    const s = replica.stats();
    expect(s).toMatchObject({ vv: { a: 2 }, horizon: {}, docs: 2, logEntries: 2, pending: 0, engineFaults: 0, lastEngineFault: null, transfer: null, quarantined: [] });
    expect(s.logBytes).toBeGreaterThan(0);
  });
});

describe('engine faults', () => {
  function faulty(self = 'a', load = restoreEngine as Parameters<EngineFaults['loader']>[0]) {
    const faults = new EngineFaults();
    const storage = new MemoryStorage();
    let now = 1_000;
    const replica = new Replica({ self: memberId(self), members: [A_, B_] }, { storage, clock: { now: () => now++ }, random: seededRandom(3), engines: faults.loader(load) });
    return { faults, storage, replica };
  }

  it('each is counted once and named by what the member was doing', () => {
    const { faults, replica } = faulty();
    replica.write(DOC, 'automerge', (e) => e.replace({ n: 1 }));
    const cases: [string, () => unknown, Parameters<EngineFaults['failNext']>[0]][] = [
      ['a write', () => replica.write(DOC, 'automerge', (e) => e.mergePatch({ n: 2 })), 'mergePatch'],
      ['a delete', () => replica.remove(DOC), 'clear'],
      ['a read', () => replica.json(DOC), 'toJSON'],
      ['a read', () => replica.view(DOC, (s) => s.save()), 'save'],
    ];
    let count = 0;
    for (const [during, act, method] of cases) {
      faults.failNext(method);
      let err: unknown;
      try {
        act();
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(EngineFaultError);
      expect((err as EngineFaultError).during).toBe(during);
      expect(replica.stats().engineFaults).toBe(++count);
      expect(replica.stats().lastEngineFault).toBe(`${during}: injected engine fault in ${method}`);
    }
    expect(replica.json(DOC)).toEqual({ n: 1 });
  });

  it('an engine that fails to load is a fault during the load', () => {
    let fail = false;
    const { replica } = faulty('a', (name, chunks, opts) => {
      if (fail) throw 'no memory';
      return restoreEngine(name, chunks, opts);
    });
    replica.write(DOC, 'automerge', (e) => e.replace({ n: 1 }));
    replica.close();
    fail = true;
    expect(() => replica.read(DOC)).toThrow(EngineFaultError);
    expect(replica.stats().lastEngineFault).toBe('a load: no memory');
    fail = false;
    expect(replica.json(DOC)).toEqual({ n: 1 });
  });

  it('a fault while applying entries from a peer is named so', () => {
    const a = faulty('a');
    const b = faulty('b');
    const w = a.replica.write(DOC, 'automerge', (e) => e.replace({ n: 1 }));
    b.faults.failNext('merge');
    expect(() => b.replica.receive(a.replica.push([w.entry!]))).toThrow(EngineFaultError);
    expect(b.replica.stats().lastEngineFault).toBe("applying a peer's entries: injected engine fault in merge");
    expect(b.replica.stats().engineFaults).toBe(1);
  });

  it('a validation error is no fault: it propagates as it is and the engine is reloaded', () => {
    const { replica } = faulty();
    replica.write(DOC, 'automerge', (e) => e.replace({ n: 1 }));
    expect(() =>
      replica.write(DOC, 'automerge', (e) => {
        e.mergePatch({ m: 2 });
        return e.mergePatch([1]);
      }),
    ).toThrow(InvalidDocumentError);
    expect(replica.stats().engineFaults).toBe(0);
    expect(replica.stats().lastEngineFault).toBeNull();
    // What the refused change did to the engine before it threw is gone.
    expect(replica.json(DOC)).toEqual({ n: 1 });
  });
});

describe('what storage is handed', () => {
  it('a document created with no content stores no engine state, at its origin or at a peer', () => {
    const [a, b] = cluster(ids);
    a!.replica.create(DOC, 'automerge');
    sync(b!.replica, a!.replica);
    expect(b!.replica.read(DOC)!.live).toBe(true);
    for (const m of [a!, b!]) expect(m.storage.loadState(DOC, 'automerge')).toBeUndefined();
    a!.replica.write(DOC, 'automerge', (e) => e.replace({ x: 1 }));
    sync(b!.replica, a!.replica);
    for (const m of [a!, b!]) expect(m.storage.loadState(DOC, 'automerge')!.increments).toHaveLength(1);
  });

  it('a write whose commit fails leaves the document as storage has it', () => {
    class Failing extends MemoryStorage {
      fail = false;
      override commit(c: Parameters<MemoryStorage['commit']>[0]): void {
        if (this.fail) throw new Error('disk full');
        super.commit(c);
      }
    }
    const storage = new Failing();
    let now = 1_000;
    const replica = new Replica({ self: A_, members: [A_, B_] }, { storage, clock: { now: () => now++ }, random: seededRandom(1) });
    replica.write(DOC, 'automerge', (e) => e.replace({ n: 1 }));
    storage.fail = true;
    expect(() => replica.write(DOC, 'automerge', (e) => e.mergePatch({ n: 2 }))).toThrow('disk full');
    storage.fail = false;
    expect(replica.vv).toEqual({ a: 1 });
    expect(replica.json(DOC)).toEqual({ n: 1 });
    expect(replica.write(DOC, 'automerge', (e) => e.mergePatch({ n: 3 })).entry!.seq).toBe(2);
    expect(replica.json(DOC)).toEqual({ n: 3 });
  });

  it('engines loaded only to apply a transfer chunk are freed once it is committed', () => {
    const a = clocked('a', ['a', 'b'], { logMaxBytes: 200 });
    const b = clocked('b', ['a', 'b']);
    for (let i = 0; i < 10; i++) a.replica.write(docKey('t', `k${i}`), 'automerge', (e) => e.replace({ i }));
    expect(a.replica.horizon).not.toEqual({});
    sync(b.replica, a.replica);
    expect(b.replica.vv).toEqual(a.replica.vv);
    for (let i = 0; i < 10; i++) expect(b.replica.docs.isCached(docKey('t', `k${i}`), 'automerge')).toBe(false);
    expect(b.replica.json(docKey('t', 'k3'))).toEqual({ i: 3 });
  });
});

describe('state transfer at the receiver', () => {
  const K = (i: number) => docKey('t', `k${i}`);
  /** `a` compacted past its bound, `b` holding every entry in its log, `c` empty. */
  function behind() {
    const ms = ['a', 'b', 'c'];
    const a = clocked('a', ms, { logMaxBytes: 200, maxBatchBytes: 256 }, 1);
    const b = clocked('b', ms, {}, 2);
    const c = clocked('c', ms, { maxBatchBytes: 256 }, 3);
    for (let i = 0; i < 30; i++) {
      const w = a.replica.write(K(i), 'automerge', (e) => e.replace({ i }));
      b.replica.receive(a.replica.push([w.entry!]));
    }
    expect(a.replica.horizon).not.toEqual({});
    expect(b.replica.vv).toEqual(a.replica.vv);
    const transport = { request: async (to: MemberId, bytes: Uint8Array) => ({ a, b, c })[to as 'a' | 'b' | 'c'].replica.receive(bytes) };
    return { a, b, c, transport };
  }

  it('a transfer whose target entries from elsewhere cover ends there', async () => {
    const { b, c, transport } = behind();
    await gossipRound(c.replica, A_, transport, 2);
    expect(c.replica.transfer).toBeDefined();
    await gossipRound(c.replica, B_, transport);
    expect(c.replica.vv).toEqual(b.replica.vv);
    expect(c.replica.transfer).toBeUndefined();
    expect(c.storage.loadMeta()!.transfer).toBeUndefined();
  });

  it('a completed transfer puts what it brought below the horizon, so that the receiver can pass it on only by transfer', async () => {
    const { a, c, transport } = behind();
    c.replica.write(docKey('t', 'mine'), 'automerge', (e) => e.replace({ mine: true }));
    a.replica.receive(c.replica.push(c.replica.entriesFor(emptyVV).entries));
    for (let i = 0; i < 20 && c.replica.vv['a' as MemberId] !== a.replica.vv['a' as MemberId]; i++) await gossipRound(c.replica, A_, transport);
    expect(c.replica.transfer).toBeUndefined();
    expect(c.replica.vv).toEqual(a.replica.vv);
    // The entries of `a` it never logged are below its horizon; its own write it still logs.
    expect(c.replica.horizon).toEqual({ a: a.replica.vv['a' as MemberId] });
    expect(c.storage.scanLog(emptyVV, 1e9).entries.map((e) => `${e.origin}:${e.seq}`)).toEqual(['c:1']);
    for (let i = 0; i < 30; i++) expect(c.replica.json(K(i))).toEqual({ i });
    // Each document's state arrived whole: stored as a snapshot, not appended as an increment.
    const stored = c.storage.loadState(K(4), 'automerge')!;
    expect(stored.snapshot).toBeDefined();
    expect(stored.increments).toEqual([]);
  });

  function chunkMessage(bytes: Uint8Array | undefined, after?: DocKey, hlc = 5, doc = DOC): Uint8Array {
    const meta = { doc, vv: vv({ b: 1 }), removed: emptyVV, creators: { automerge: { hlc: 5, origin: B_ } } };
    return encodeMessage({
      kind: 'delta',
      from: B_,
      vv: vv({ b: 1 }),
      more: false,
      reply: false,
      entries: [],
      transfer: { target: vv({ b: 1 }), hlc, after, docs: [{ meta, states: bytes ? [{ engine: 'automerge', bytes }] : [] }], next: undefined },
    });
  }

  it('a chunk of a transfer this member does not follow is still committed with the documents it merged', () => {
    const a = clocked('a', ['a', 'b']);
    const source = clocked('b', ['a', 'b']);
    source.replica.write(DOC, 'automerge', (e) => e.replace({ x: 1 }));
    const commits = a.storage.commits;
    // A chunk that tells this member's clock nothing new (hybrid time 0), so that only its documents need a commit.
    a.replica.receive(chunkMessage(source.replica.read(DOC)!.state.save(), docKey('t', 'a'), 0));
    expect(a.replica.lastHlc).toBe(0);
    expect(a.replica.transfer).toBeUndefined();
    expect(a.replica.vv).toEqual({});
    expect(a.storage.commits).toBe(commits + 1);
    expect(a.storage.loadDocs().map((d) => d.doc)).toEqual([DOC]);
    expect(a.storage.loadState(DOC, 'automerge')).toBeDefined();
    // Metadata alone (no engine state) is committed too.
    const other = docKey('t', 'meta-only');
    a.replica.receive(chunkMessage(undefined, docKey('t', 'a'), 0, other));
    expect(a.storage.commits).toBe(commits + 2);
    expect(a.storage.loadDocs().map((d) => d.doc).sort()).toEqual([DOC, other].sort());
  });

  it('a chunk an engine fails on is an engine fault named so, and nothing of it is kept', () => {
    const faults = new EngineFaults();
    const storage = new MemoryStorage();
    const replica = new Replica({ self: A_, members: [A_, B_] }, { storage, clock: { now: () => 1_000 }, random: seededRandom(1), engines: faults.loader() });
    const source = clocked('b', ['a', 'b']);
    source.replica.write(DOC, 'automerge', (e) => e.replace({ x: 1 }));
    const bytes = source.replica.read(DOC)!.state.save();
    faults.failNext('merge');
    expect(() => replica.receive(chunkMessage(bytes))).toThrow(EngineFaultError);
    expect(replica.stats().lastEngineFault).toBe('applying a state transfer: injected engine fault in merge');
    expect(replica.stats().engineFaults).toBe(1);
    expect(replica.read(DOC)).toBeUndefined();
    replica.receive(chunkMessage(bytes));
    expect(replica.json(DOC)).toEqual({ x: 1 });
  });
});

describe('the log bound', () => {
  it('counts what compaction dropped as gone: later writes under the bound drop nothing', () => {
    const pad = 'x'.repeat(100);
    const a = clocked('a', ['a', 'b'], { logMaxBytes: 1_500 });
    const b = clocked('b', ['a', 'b']);
    for (let i = 0; i < 6; i++) a.replica.write(docKey('t', `k${i}`), 'automerge', (e) => e.replace({ i, pad }));
    expect(a.replica.horizon).toEqual({});
    sync(b.replica, a.replica);
    sync(a.replica, b.replica);
    expect(a.replica.stats().logEntries).toBe(0);
    for (let i = 6; i < 12; i++) a.replica.write(docKey('t', `k${i}`), 'automerge', (e) => e.replace({ i, pad }));
    expect(a.replica.stats().logEntries).toBe(6);
    expect(a.replica.horizon).toEqual({ a: 6 });
  });
});

describe('configured nesting depth', () => {
  it('a write nested deeper than maxDepth is refused; the default allows it', () => {
    const deep = { a: { b: { c: { d: 1 } } } };
    const limited = clocked('a', ['a', 'b'], { maxDepth: 3 });
    expect(() => limited.replica.write(DOC, 'automerge', (e) => e.replace(deep))).toThrow(DepthLimitError);
    expect(limited.replica.vv).toEqual({});
    const open = clocked('a', ['a', 'b']);
    expect(open.replica.write(DOC, 'automerge', (e) => e.replace(deep)).entry).toBeDefined();
  });
});
