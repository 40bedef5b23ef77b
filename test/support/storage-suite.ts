/**
 * The acceptance suite every {@link Storage} implementation passes (after automerge-repo's
 * `runStorageAdapterTests`): the in-memory one in Node, the SQLite one inside workerd.
 * `run` receives each case's name and body and calls the body with a fresh, empty storage.
 */
import { describe, expect, it } from 'vitest';
import { docKey, memberId } from '../../src/core/ids.js';
import type { LogEntry } from '../../src/core/log.js';
import type { DocMeta, Storage } from '../../src/core/storage.js';
import type { VersionVector } from '../../src/core/version-vector.js';
import { bytesEqual } from '../../src/core/wire/bytes.js';

const A = memberId('wnam');
const B = memberId('weur');
const vv = (o: Record<string, number>) => o as VersionVector;

function entry(origin: typeof A, seq: number, size = 10): LogEntry {
  return {
    origin,
    seq,
    doc: docKey('ns', `k${seq}`),
    engine: 'yjs',
    kind: 'update',
    hlc: seq,
    deps: vv({}),
    data: new Uint8Array(size).fill(seq % 256),
  };
}

type Case = (name: string, body: (s: Storage) => void) => void;

/** Runs the suite with a fresh storage per case from `setup`. */
export function runStorageSuite(name: string, setup: () => Storage): void {
  runStorageCases(name, (title, body) => it(title, () => body(setup())));
}

export function runStorageCases(name: string, test: Case): void {
  describe(`${name} storage (acceptance suite)`, () => {
    test('starts empty', (s) => {
      expect(s.loadMeta()).toBeUndefined();
      expect(s.loadDocs()).toEqual([]);
      expect(s.logSize()).toEqual({ entries: 0, bytes: 0 });
      expect(s.scanLog(vv({}), 1 << 20)).toEqual({ entries: [], more: false });
    });

    test('commits meta, entries, documents and states together', (s) => {
      const doc = docKey('ns', 'a');
      const meta: DocMeta = { doc, vv: vv({ wnam: 1 }), removed: vv({}), creators: { yjs: { hlc: 5, origin: A } } };
      s.commit({
        meta: { vv: vv({ wnam: 1 }), horizon: vv({}), peers: { [B]: vv({ weur: 3 }) }, hlc: 5 },
        append: [entry(A, 1)],
        docs: [meta],
        states: [{ doc, write: { engine: 'yjs', snapshot: new Uint8Array([1, 2, 3]) } }],
      });
      expect(s.loadMeta()).toEqual({ vv: { wnam: 1 }, horizon: {}, peers: { weur: { weur: 3 } }, hlc: 5 });
      expect(s.loadDocs()).toEqual([meta]);
      expect(s.loadState(doc, 'yjs')).toEqual({ snapshot: new Uint8Array([1, 2, 3]), increments: [] });
      expect(s.loadState(doc, 'automerge')).toBeUndefined();
      expect(s.scanLog(vv({}), 1 << 20).entries).toEqual([entry(A, 1)]);
    });

    test('keeps the progress of a state transfer in the meta, committed with the chunk', (s) => {
      const doc = docKey('ns', 'k');
      const transfer = { target: vv({ wnam: 9, weur: 4 }), after: doc, from: A, docs: 12 };
      s.commit({
        meta: { vv: vv({}), horizon: vv({}), peers: {}, hlc: 1, transfer },
        docs: [{ doc, vv: vv({ wnam: 9 }), removed: vv({}), creators: { yjs: { hlc: 1, origin: A } } }],
      });
      expect(s.loadMeta()?.transfer).toEqual(transfer);
      s.commit({ meta: { vv: vv({ wnam: 9, weur: 4 }), horizon: vv({ wnam: 9, weur: 4 }), peers: {}, hlc: 1 } });
      expect(s.loadMeta()?.transfer).toBeUndefined();
    });

    test('appends increments after a snapshot and a new snapshot replaces them', (s) => {
      const doc = docKey('ns', 'b');
      s.commit({ states: [{ doc, write: { engine: 'automerge', increment: new Uint8Array([7]) } }] });
      s.commit({ states: [{ doc, write: { engine: 'automerge', increment: new Uint8Array([8]) } }] });
      expect(s.loadState(doc, 'automerge')).toEqual({ snapshot: undefined, increments: [new Uint8Array([7]), new Uint8Array([8])] });
      s.commit({ states: [{ doc, write: { engine: 'automerge', snapshot: new Uint8Array([9]) } }] });
      s.commit({ states: [{ doc, write: { engine: 'automerge', increment: new Uint8Array([10]) } }] });
      expect(s.loadState(doc, 'automerge')).toEqual({ snapshot: new Uint8Array([9]), increments: [new Uint8Array([10])] });
    });

    test('scans entries a vector lacks, oldest first, within a byte bound', (s) => {
      s.commit({ append: [entry(A, 1), entry(B, 1), entry(A, 2), entry(B, 2), entry(A, 3)] });
      const lacks = s.scanLog(vv({ wnam: 1 }), 1 << 20).entries.map((e) => `${e.origin}${e.seq}`);
      expect(lacks).toEqual(['weur1', 'wnam2', 'weur2', 'wnam3']);
      const first = s.scanLog(vv({}), 1);
      expect(first.entries.length).toBe(1);
      expect(first.more).toBe(true);
      expect(s.logSize().entries).toBe(5);
    });

    test('truncates entries at or below a vector', (s) => {
      s.commit({ append: [entry(A, 1), entry(B, 1), entry(A, 2), entry(B, 2)] });
      const before = s.logSize().bytes;
      s.commit({ truncate: vv({ wnam: 1, weur: 2 }) });
      expect(s.scanLog(vv({}), 1 << 20).entries.map((e) => `${e.origin}${e.seq}`)).toEqual(['wnam2']);
      expect(s.logSize().entries).toBe(1);
      expect(s.logSize().bytes).toBeLessThan(before);
    });

    test('records request outcomes with the commit that carries them out, and drops expired ones', (s) => {
      const doc = docKey('ns', 'o');
      const o = { doc, id: 'req-1', fingerprint: 'f1', expires: 100, response: '{"status":201}' };
      s.commit({ append: [entry(A, 1)], outcomes: [o, { ...o, id: 'req-2', expires: 300 }] });
      expect(s.loadOutcome(doc, 'req-1')).toEqual(o);
      expect(s.loadOutcome(docKey('ns', 'other'), 'req-1')).toBeUndefined();
      s.commit({ expireOutcomes: 200 });
      expect(s.loadOutcome(doc, 'req-1')).toBeUndefined();
      expect(s.loadOutcome(doc, 'req-2')?.response).toBe('{"status":201}');
    });

    test('keeps large values intact', (s) => {
      const doc = docKey('ns', 'big');
      const big = new Uint8Array(5 * 1024 * 1024).map((_, i) => i % 251);
      s.commit({ append: [{ ...entry(A, 1), data: big }], states: [{ doc, write: { engine: 'yjs', snapshot: big } }] });
      // bytesEqual: a deep toEqual over 5 MB is needlessly slow.
      expect(bytesEqual(s.loadState(doc, 'yjs')!.snapshot!, big)).toBe(true);
      expect(bytesEqual(s.scanLog(vv({}), 1 << 30).entries[0]!.data, big)).toBe(true);
    });
  });
}
