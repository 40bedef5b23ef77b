import * as Y from 'yjs';
import { describe, expect, it } from 'vitest';
import { docKey, type DocKey, memberId } from '../../src/core/ids.js';
import type { LogEntry } from '../../src/core/log.js';
import { seededRandom } from '../../src/core/ports.js';
import { Replica } from '../../src/core/replica.js';
import { MemoryStorage } from '../../src/core/storage-memory.js';
import { sync } from '../support/cluster.js';

const MEMBERS = ['a', 'b'].map(memberId);
const DOC = docKey('ns', 'pad');

function replica(self: string, committed: (entries: readonly LogEntry[], docs: readonly DocKey[]) => void, storage = new MemoryStorage()): Replica {
  let now = 1_000;
  return new Replica({ self: memberId(self), members: MEMBERS }, { storage, clock: { now: () => now++ }, random: seededRandom(7), committed });
}

const update = (text: string): Uint8Array => {
  const d = new Y.Doc();
  d.getText('t').insert(0, text);
  return Y.encodeStateAsUpdate(d);
};

describe('Replica: listeners of committed changes (what real-time sockets are told)', () => {
  it('hears local writes and peers\' entries once committed, with the documents they changed', () => {
    const heardA: [LogEntry[], DocKey[]][] = [];
    const heardB: [LogEntry[], DocKey[]][] = [];
    const a = replica('a', (e, d) => heardA.push([[...e], [...d]]));
    const b = replica('b', (e, d) => heardB.push([[...e], [...d]]));
    const w = a.write(DOC, 'yjs', (s) => s.applyUpdate(update('hi')));
    expect(heardA).toEqual([[[w.entry], [DOC]]]);
    sync(a, b);
    expect(heardB.flatMap(([e]) => e.map((x) => [x.origin, x.seq]))).toEqual([['a', 1]]);
    expect(heardB.flatMap(([, d]) => d)).toContain(DOC);
    // A write that changes nothing commits nothing and tells nothing.
    const before = heardA.length;
    a.write(DOC, 'yjs', (s) => s.applyUpdate(Y.encodeStateAsUpdate(new Y.Doc())));
    expect(heardA.length).toBe(before);
  });

  it('a listener that throws does not turn a committed write into an error', () => {
    const storage = new MemoryStorage();
    const a = replica('a', () => {
      throw new Error('listener broke');
    }, storage);
    const w = a.write(DOC, 'yjs', (s) => s.applyUpdate(update('kept')));
    expect(w.entry?.seq).toBe(1);
    const again = replica('a', () => undefined, storage);
    expect(again.json(DOC)).toEqual({ t: 'kept' });
  });
});
