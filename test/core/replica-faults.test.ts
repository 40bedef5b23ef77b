import { describe, expect, it } from 'vitest';
import { EngineFaultError } from '../../src/core/errors.js';
import { EngineFaults } from '../../src/core/engines/fault-injection.js';
import { docKey, memberId } from '../../src/core/ids.js';
import { seededRandom } from '../../src/core/ports.js';
import { Replica } from '../../src/core/replica.js';
import { MemoryStorage } from '../../src/core/storage-memory.js';
import { get } from '../../src/core/version-vector.js';
import { sync } from '../support/cluster.js';

const ids = ['wnam', 'weur'].map(memberId);
const DOC = docKey('demo', 'doc');
const OTHER = docKey('demo', 'other');

function faultyMember(id: string) {
  const storage = new MemoryStorage();
  const faults = new EngineFaults();
  let now = 1000;
  const replica = new Replica(
    { self: memberId(id), members: ids },
    { storage, clock: { now: () => now++ }, random: seededRandom(id.length), engines: faults.loader() },
  );
  return { storage, faults, replica };
}

describe('an engine error that is not a validation error is a fault of the member', () => {
  it('a remote entry whose merge fails is not counted as applied, and arrives once the engine is rebuilt', () => {
    const a = faultyMember('wnam');
    const b = faultyMember('weur');
    const w = a.replica.write(DOC, 'automerge', (e) => e.replace({ title: 'kept' }));
    b.faults.failNext('merge');
    expect(() => b.replica.receive(a.replica.push([w.entry!]))).toThrow(EngineFaultError);
    expect(get(b.replica.vv, memberId('wnam'))).toBe(0);
    expect(b.storage.loadMeta()?.vv['wnam' as never] ?? 0).toBe(0);
    expect(b.replica.stats().engineFaults).toBe(1);
    // The same entry again, or a gossip round: applied now, by a fresh engine.
    sync(b.replica, a.replica);
    expect(get(b.replica.vv, memberId('wnam'))).toBe(1);
    expect(b.replica.json(DOC)).toEqual({ title: 'kept' });
  });

  it('a fault in the middle of a batch commits none of it, and the other documents stay readable', () => {
    const a = faultyMember('wnam');
    const b = faultyMember('weur');
    b.replica.write(OTHER, 'automerge', (e) => e.replace({ mine: 1 }));
    const e1 = a.replica.write(OTHER, 'automerge', (e) => e.replace({ x: 1 })).entry!;
    const e2 = a.replica.write(DOC, 'automerge', (e) => e.replace({ y: 2 })).entry!;
    const commits = b.storage.commits;
    b.faults.failNext('merge', 1, 1);
    expect(() => b.replica.receive(a.replica.push([e1, e2]))).toThrow(EngineFaultError);
    expect(b.storage.commits).toBe(commits);
    expect(b.replica.json(OTHER)).toEqual({ mine: 1 });
    sync(b.replica, a.replica);
    expect(b.replica.json(OTHER)).toEqual({ mine: 1, x: 1 });
    expect(b.replica.json(DOC)).toEqual({ y: 2 });
  });

  it('a local write whose engine throws stores nothing, answers EngineFaultError, and the next write works', () => {
    const a = faultyMember('wnam');
    a.replica.write(DOC, 'automerge', (e) => e.replace({ n: 1 }));
    const commits = a.storage.commits;
    a.faults.failNext('mergePatch');
    expect(() => a.replica.write(DOC, 'automerge', (e) => e.mergePatch({ n: 2 }))).toThrow(EngineFaultError);
    expect(a.storage.commits).toBe(commits);
    expect(a.replica.json(DOC)).toEqual({ n: 1 });
    a.replica.write(DOC, 'automerge', (e) => e.mergePatch({ n: 3 }));
    expect(a.replica.json(DOC)).toEqual({ n: 3 });
  });

  it('a write whose view cannot be rendered stores nothing', () => {
    const a = faultyMember('wnam');
    a.replica.write(DOC, 'automerge', (e) => e.replace({ n: 1 }));
    const commits = a.storage.commits;
    a.faults.failNext('toJSON');
    expect(() => a.replica.write(DOC, 'automerge', (e) => e.mergePatch({ n: 2 }), { render: true })).toThrow(EngineFaultError);
    expect(a.storage.commits).toBe(commits);
    expect(a.replica.json(DOC)).toEqual({ n: 1 });
    const ok = a.replica.write(DOC, 'automerge', (e) => e.mergePatch({ n: 2 }), { render: true });
    expect(ok.json).toEqual({ n: 2 });
  });

  it('an engine that fails while a state transfer chunk is built is an engine fault of the sender', () => {
    const storage = new MemoryStorage();
    const faults = new EngineFaults();
    const a = new Replica(
      { self: memberId('wnam'), members: ids, logMaxBytes: 256 },
      { storage, clock: { now: () => 1000 }, random: seededRandom(1), engines: faults.loader() },
    );
    const b = faultyMember('weur');
    for (let i = 0; i < 8; i++) a.write(docKey('demo', `d${i}`), 'automerge', (e) => e.replace({ i, pad: 'x'.repeat(64) }));
    expect(get(a.horizon, memberId('wnam'))).toBeGreaterThan(0);
    a.close();
    // Engines are loaded again to save the documents the chunk carries.
    faults.failNext('any', 1);
    expect(() => a.receive(b.replica.digest())).toThrow(EngineFaultError);
    expect(a.stats().engineFaults).toBe(1);
    sync(b.replica, a);
    expect(b.replica.json(docKey('demo', 'd7'))).toEqual({ i: 7, pad: 'x'.repeat(64) });
  });
});
