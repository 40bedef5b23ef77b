import fc from 'fast-check';
import * as Y from 'yjs';
import { describe, expect, it } from 'vitest';
import { docKey, memberId } from '../../src/core/ids.js';
import {
  EngineMismatchError,
  InvalidDocumentError,
  InvalidUpdateError,
  PathNotFoundError,
  UnknownOperationError,
} from '../../src/core/errors.js';
import { parseOps } from '../../src/core/engines/ops.js';
import type { LogEntry } from '../../src/core/log.js';
import { equals, get, normalize } from '../../src/core/version-vector.js';
import { seededRandom } from '../../src/core/ports.js';
import { Replica } from '../../src/core/replica.js';
import { MemoryStorage } from '../../src/core/storage-memory.js';
import { canonical } from '../support/sim/check.js';
import { cluster, member, restart, sync, syncAll } from '../support/cluster.js';

const DOC = docKey('demo', 'doc');
const YDOC = docKey('demo', 'ydoc');
const ids = ['wnam', 'weur', 'apac'];

function yUpdate(edit: (d: Y.Doc) => void, clientID = 7): Uint8Array {
  const d = new Y.Doc();
  d.clientID = clientID;
  edit(d);
  return Y.encodeStateAsUpdate(d);
}

describe('replica: local writes and reads', () => {
  it('assigns dots in order and reads its own writes', () => {
    const [a] = cluster(ids);
    const r1 = a!.replica.write(DOC, 'automerge', (e) => e.replace({ title: 'Widget', stock: 3 }));
    const r2 = a!.replica.write(DOC, 'automerge', (e) => e.mergePatch({ stock: 4 }));
    expect([r1.entry?.seq, r2.entry?.seq]).toEqual([1, 2]);
    expect(a!.replica.json(DOC)).toEqual({ title: 'Widget', stock: 4 });
    expect(get(a!.replica.vv, memberId('wnam'))).toBe(2);
  });

  it('acknowledges a write that changes nothing without logging it', () => {
    const [a] = cluster(ids);
    a!.replica.write(DOC, 'automerge', (e) => e.replace({ x: 1 }));
    const commits = a!.storage.commits;
    const r = a!.replica.write(DOC, 'automerge', (e) => e.replace({ x: 1 }));
    expect(r.entry).toBeUndefined();
    expect(a!.storage.commits).toBe(commits);
  });

  it('commits the entry and the document together: a restart keeps every acknowledged write', () => {
    const [a] = cluster(ids);
    for (let i = 0; i < 300; i++) a!.replica.write(DOC, 'automerge', (e) => e.applyOps([{ op: 'set', path: [`k${i}`], value: i }]));
    a!.replica.write(YDOC, 'yjs', (e) => e.applyUpdate(yUpdate((d) => d.getText('t').insert(0, 'hello'))));
    const before = { json: canonical(a!.replica.json(DOC)), y: canonical(a!.replica.json(YDOC)), vv: a!.replica.vv };
    restart(a!, ids);
    expect(canonical(a!.replica.json(DOC))).toBe(before.json);
    expect(canonical(a!.replica.json(YDOC))).toBe(before.y);
    expect(equals(a!.replica.vv, before.vv)).toBe(true);
  });

  describe('bad input raises a typed error and changes nothing', () => {
    const cases: [string, (m: ReturnType<typeof cluster>[number]) => void, new (...a: never[]) => Error][] = [
      ['undecodable Automerge bytes', (m) => m.replica.write(DOC, 'automerge', (e) => e.applyUpdate(new Uint8Array([1, 2, 3]))), InvalidUpdateError],
      ['undecodable Yjs bytes', (m) => m.replica.write(YDOC, 'yjs', (e) => e.applyUpdate(new Uint8Array([0, 9, 9, 9]))), InvalidUpdateError],
      ['a merge patch that is not an object', (m) => m.replica.write(DOC, 'automerge', (e) => e.mergePatch([1, 2])), InvalidDocumentError],
      ['an unknown operation', (m) => m.replica.write(DOC, 'automerge', (e) => e.applyOps(parseOps({ ops: [{ op: 'frobnicate', path: ['a'] }] }, 100))), UnknownOperationError],
      ['a path that does not exist', (m) => m.replica.write(DOC, 'automerge', (e) => e.applyOps([{ op: 'set', path: ['missing', 'deep'], value: 1 }])), PathNotFoundError],
      ['JSON operations on a Yjs document', (m) => m.replica.write(YDOC, 'yjs', (e) => e.replace({ a: 1 })), EngineMismatchError],
      ['bytes of the other engine', (m) => m.replica.write(DOC, 'yjs', (e) => e.applyUpdate(yUpdate((d) => d.getMap('m').set('a', 1)))), EngineMismatchError],
    ];
    for (const [name, act, error] of cases) {
      it(name, () => {
        const [a] = cluster(ids);
        a!.replica.write(DOC, 'automerge', (e) => e.replace({ title: 'kept', n: 1 }));
        a!.replica.write(YDOC, 'yjs', (e) => e.applyUpdate(yUpdate((d) => d.getMap('m').set('kept', true))));
        const before = { doc: a!.replica.read(DOC)!.state.save(), y: a!.replica.read(YDOC)!.state.save(), vv: a!.replica.vv, commits: a!.storage.commits };
        expect(() => act(a!)).toThrow(error);
        expect(a!.replica.read(DOC)!.state.save()).toEqual(before.doc);
        expect(a!.replica.read(YDOC)!.state.save()).toEqual(before.y);
        expect(a!.replica.vv).toEqual(before.vv);
        expect(a!.storage.commits).toBe(before.commits);
      });
    }
  });
});

describe('replica: remote entries', () => {
  /** Three members write independently (with occasional syncs); returns every entry and the reference state. */
  function history(seed: number, writes: number) {
    const ms = cluster(ids);
    const entries: LogEntry[] = [];
    let n = 0;
    const rng = fc.sample(fc.array(fc.nat(1000), { minLength: writes * 3, maxLength: writes * 3 }), { seed, numRuns: 1 })[0]!;
    for (let i = 0; i < writes; i++) {
      const m = ms[rng[i]! % 3]!;
      const roll = rng[i + writes]! % 10;
      const res =
        roll < 4
          ? m.replica.write(DOC, 'automerge', (e) => e.applyOps([{ op: 'set', path: [`f${n++}`], value: i }]))
          : roll < 6
            ? m.replica.write(DOC, 'automerge', (e) => e.applyOps([{ op: 'increment', path: ['count'], by: 1 }]))
            : m.replica.write(YDOC, 'yjs', (e) => e.applyUpdate(yUpdate((d) => d.getMap("m").set(`y${n}`, i), 1000 + n++)));
      if (res.entry) entries.push(res.entry);
      if (rng[i]! % 7 === 0) syncAll(ms, 1);
    }
    syncAll(ms);
    return { ms, entries };
  }

  it('applies the same entries in any order, with duplicates, to identical JSON and vectors', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1_000_000 }), fc.integer({ min: 0, max: 1_000_000 }), (seed, shuffleSeed) => {
        const { ms, entries } = history(seed, 20);
        const reference = ms[0]!.replica;
        const shuffled = fc.sample(fc.shuffledSubarray(entries.concat(entries.slice(0, 5)), { minLength: entries.length + 5 }), { seed: shuffleSeed, numRuns: 1 })[0]!;
        const fresh = member('eeur', [...ids, 'eeur'], {}, 5).replica;
        for (const [i, e] of shuffled.entries()) {
          const vvBefore = fresh.vv;
          fresh.receive(ms[0]!.replica.push([e]));
          // Never claims an entry it has not applied: the vector only covers what arrived, after every delivery.
          const arrivedSoFar = shuffled.slice(0, i + 1);
          for (const m of ids.map(memberId)) {
            const claimed = get(fresh.vv, m);
            expect(claimed).toBeGreaterThanOrEqual(get(vvBefore, m));
            const arrived = new Set(arrivedSoFar.filter((x) => x.origin === m).map((x) => x.seq));
            for (let s = 1; s <= claimed; s++) expect(arrived.has(s), `${m}:${s} claimed before it arrived`).toBe(true);
          }
        }
        expect(normalize(fresh.vv)).toEqual(normalize(reference.vv));
        expect(canonical(fresh.json(DOC))).toBe(canonical(reference.json(DOC)));
        expect(canonical(fresh.json(YDOC))).toBe(canonical(reference.json(YDOC)));
      }),
      { numRuns: 25 },
    );
  });

  it('members that gossip converge to identical documents', () => {
    const { ms } = history(42, 60);
    for (const m of ms.slice(1)) {
      expect(normalize(m.replica.vv)).toEqual(normalize(ms[0]!.replica.vv));
      expect(canonical(m.replica.json(DOC))).toBe(canonical(ms[0]!.replica.json(DOC)));
      expect(canonical(m.replica.json(YDOC))).toBe(canonical(ms[0]!.replica.json(YDOC)));
    }
  });
});

describe('replica: observed-remove delete', () => {
  it('a delete removes the document everywhere', () => {
    const ms = cluster(ids);
    ms[0]!.replica.write(DOC, 'automerge', (e) => e.replace({ a: 1 }));
    syncAll(ms);
    expect(ms[1]!.replica.remove(DOC)).toBeDefined();
    syncAll(ms);
    for (const m of ms) expect(m.replica.json(DOC)).toBeUndefined();
    expect(ms[2]!.replica.remove(DOC)).toBeUndefined();
  });

  it('a write concurrent with a delete survives on every member, without what the delete saw', () => {
    for (const engine of ['automerge', 'yjs'] as const) {
      const ms = cluster(ids);
      const doc = engine === 'automerge' ? DOC : YDOC;
      const write = (m: (typeof ms)[number], key: string, client: number) =>
        engine === 'automerge'
          ? m.replica.write(doc, engine, (e) => e.mergePatch({ [key]: true }))
          : m.replica.write(doc, engine, (e) => e.applyUpdate(yUpdate((d) => d.getMap('m').set(key, true), client)));
      write(ms[0]!, 'old', 1);
      syncAll(ms);
      ms[0]!.replica.remove(doc);
      write(ms[1]!, 'concurrent', 2);
      syncAll(ms);
      const expected = engine === 'automerge' ? { concurrent: true } : { m: { concurrent: true } };
      for (const m of ms) expect(m.replica.json(doc)).toEqual(expected);
    }
  });

  it('writes after a delete re-create the document', () => {
    const ms = cluster(ids);
    ms[0]!.replica.write(DOC, 'automerge', (e) => e.replace({ a: 1 }));
    ms[0]!.replica.remove(DOC);
    ms[0]!.replica.write(DOC, 'automerge', (e) => e.replace({ b: 2 }));
    syncAll(ms);
    for (const m of ms) expect(m.replica.json(DOC)).toEqual({ b: 2 });
  });
});

describe('replica: engines of one key', () => {
  /** Members of `ids` whose wall clocks the test sets, so that each creation gets the hybrid time the case names. */
  function clockedCluster() {
    return ids.map((id, i) => {
      const clock = { t: 0 };
      const storage = new MemoryStorage();
      const replica = new Replica({ self: memberId(id), members: ids.map(memberId) }, { storage, clock: { now: () => clock.t }, random: seededRandom(100 + i) });
      return { id: memberId(id), storage, replica, clock };
    });
  }
  let yClient = 500;
  const write = {
    automerge: (r: Replica, by = 'automerge') => r.write(DOC, 'automerge', (e) => e.mergePatch({ by })),
    yjs: (r: Replica, by = 'yjs') => r.write(DOC, 'yjs', (e) => e.applyUpdate(yUpdate((d) => d.getMap('m').set('by', by), yClient++))),
  } as const;
  const content = { automerge: { by: 'automerge' }, yjs: { m: { by: 'yjs' } } } as const;
  /** The earliest of two stamps in (hlc, member) order, worked out here rather than by the code under test. */
  const earliest = (a: LogEntry, b: LogEntry): LogEntry => (a.hlc !== b.hlc ? (a.hlc < b.hlc ? a : b) : a.origin < b.origin ? a : b);

  // Each engine wins in some case, once by hybrid time and once by the member tie-break, so a
  // comparison reversed in either part fails.
  const cases: { am: [string, number]; y: [string, number]; winner: 'automerge' | 'yjs' }[] = [
    { am: ['wnam', 1_000], y: ['weur', 2_000], winner: 'automerge' },
    { am: ['wnam', 2_000], y: ['weur', 1_000], winner: 'yjs' },
    { am: ['wnam', 1_500], y: ['weur', 1_500], winner: 'yjs' },
    { am: ['weur', 1_500], y: ['wnam', 1_500], winner: 'automerge' },
  ];
  for (const { am, y, winner } of cases) {
    it(`serves the engine created first in (hlc, member) order everywhere and refuses the other: automerge at ${am[0]}@${am[1]}, yjs at ${y[0]}@${y[1]}`, () => {
      const ms = clockedCluster();
      const by = (id: string) => ms.find((m) => m.id === id)!;
      by(am[0]).clock.t = am[1];
      const amEntry = write.automerge(by(am[0]).replica).entry!;
      by(y[0]).clock.t = y[1];
      const yEntry = write.yjs(by(y[0]).replica).entry!;
      expect([amEntry.hlc, yEntry.hlc]).toEqual([am[1], y[1]]);
      const first = earliest(amEntry, yEntry);
      expect(first.engine, 'the case table agrees with the stamps').toBe(winner);
      const loser = winner === 'automerge' ? 'yjs' : 'automerge';
      const [winnerAt, loserAt] = winner === 'automerge' ? [by(am[0]), by(y[0])] : [by(y[0]), by(am[0])];
      const third = ms.find((m) => m !== winnerAt && m !== loserAt)!;
      // Before they hear of each other each creator serves its own engine; the third member
      // hears of the later creation first and serves it until it learns of the earlier one.
      expect(loserAt.replica.read(DOC)!.engine).toBe(loser);
      sync(third.replica, loserAt.replica);
      expect(third.replica.read(DOC)!.engine).toBe(loser);
      sync(third.replica, winnerAt.replica);
      syncAll(ms);
      for (const m of ms) {
        expect(m.replica.read(DOC)!.engine, m.id).toBe(winner);
        expect(m.replica.json(DOC), m.id).toEqual(content[winner]);
        expect(() => write[loser](m.replica), m.id).toThrow(EngineMismatchError);
        m.clock.t = 10_000;
        expect(write[winner](m.replica, `again at ${m.id}`).entry, m.id).toBeDefined();
      }
    });
  }
});

describe('replica: compaction and membership', () => {
  it('drops entries every member has', () => {
    const ms = cluster(ids);
    for (let i = 0; i < 50; i++) ms[i % 3]!.replica.write(DOC, 'automerge', (e) => e.mergePatch({ [`k${i}`]: i }));
    syncAll(ms);
    for (const m of ms) expect(m.replica.stats().logEntries).toBe(0);
    for (const m of ms) expect(Object.keys(m.replica.json(DOC)!)).toHaveLength(50);
  });

  it('keeps the log under its bound while a member is away, then repairs it by state transfer', () => {
    const bound = 16 * 1024;
    const ms = cluster(ids, { logMaxBytes: bound, maxBatchBytes: 2048 });
    const [a, b, c] = ms as [typeof ms[number], typeof ms[number], typeof ms[number]];
    for (let i = 0; i < 2000; i++) {
      const m = i % 2 ? a : b;
      m.replica.write(docKey('demo', `d${i % 40}`), 'automerge', (e) => e.mergePatch({ [`k${i}`]: 'x'.repeat(20) }));
      if (i % 25 === 0) {
        sync(a.replica, b.replica);
        sync(b.replica, a.replica);
      }
      for (const x of [a, b]) expect(x.replica.stats().logBytes).toBeLessThanOrEqual(bound);
    }
    expect(get(a.replica.horizon, memberId('wnam'))).toBeGreaterThan(0);
    // The away member is behind both horizons: only a state transfer can repair it.
    expect(get(c.replica.vv, memberId('wnam'))).toBe(0);
    syncAll(ms, 6);
    for (const m of [b, c]) {
      expect(normalize(m.replica.vv)).toEqual(normalize(a.replica.vv));
      for (let d = 0; d < 40; d++) {
        const key = docKey('demo', `d${d}`);
        expect(canonical(m.replica.json(key))).toBe(canonical(a.replica.json(key)));
      }
    }
    expect(Object.keys(c.replica.json(docKey('demo', 'd7'))!)).toHaveLength(50);
  });

  it('a new empty member fills itself, and a removed member stops holding back compaction', () => {
    const ms = cluster(['wnam', 'weur', 'apac']);
    for (let i = 0; i < 30; i++) ms[i % 2]!.replica.write(DOC, 'automerge', (e) => e.mergePatch({ [`k${i}`]: i }));
    ms.slice(0, 2).forEach((m) => m.replica.setMembers(['wnam', 'weur'].map(memberId)));
    syncAll(ms.slice(0, 2));
    // apac is no longer a member: compaction no longer waits for it.
    expect(ms[0]!.replica.stats().logEntries).toBe(0);
    const added = member('oc', ['wnam', 'weur', 'oc']);
    ms.slice(0, 2).forEach((m) => m.replica.setMembers(['wnam', 'weur', 'oc'].map(memberId)));
    sync(added.replica, ms[0]!.replica);
    expect(added.replica.json(DOC)).toEqual(ms[0]!.replica.json(DOC));
    expect(normalize(added.replica.vv)).toEqual(normalize(ms[0]!.replica.vv));
  });
});

describe('replica: engine actors', () => {
  it('members whose random sources repeat still write under distinct actors, so no write is lost', () => {
    const make = (id: string) =>
      new Replica({ self: memberId(id), members: ids.map(memberId) }, { storage: new MemoryStorage(), clock: { now: () => 1 }, random: seededRandom(5) });
    const [a, b] = [make('wnam'), make('weur')];
    for (let i = 0; i < 5; i++) {
      a.write(DOC, 'automerge', (e) => e.mergePatch({ [`a${i}`]: i }));
      b.write(DOC, 'automerge', (e) => e.mergePatch({ [`b${i}`]: i }));
    }
    sync(a, b);
    sync(b, a);
    for (const r of [a, b]) expect(Object.keys(r.json(DOC)!)).toHaveLength(10);
  });
});
