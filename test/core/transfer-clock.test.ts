/**
 * A state transfer brings documents whose entries the receiver then counts as applied, so the
 * receiver's hybrid clock must move past their times: a write made after a transfer carries
 * a later time than every write its context covers (engine conflicts are decided by it).
 */
import { describe, expect, it } from 'vitest';
import { docKey, memberId } from '../../src/core/ids.js';
import { seededRandom } from '../../src/core/ports.js';
import { Replica } from '../../src/core/replica.js';
import { MemoryStorage } from '../../src/core/storage-memory.js';
import { get } from '../../src/core/version-vector.js';
import { sync } from '../support/cluster.js';

const ids = ['ahead', 'behind'].map(memberId);

function member(id: 'ahead' | 'behind', clock: () => number): Replica {
  return new Replica(
    { self: memberId(id), members: ids, logMaxBytes: 512, maxBatchBytes: 1024 },
    { storage: new MemoryStorage(), clock: { now: clock }, random: seededRandom(id.length) },
  );
}

describe('the hybrid clock after a state transfer', () => {
  it('a write after a transfer is later than every entry the transfer brought', () => {
    // The sender's clock runs an hour ahead of the receiver's.
    let fast = 3_600_000;
    let slow = 1_000;
    const ahead = member('ahead', () => fast++);
    const behind = member('behind', () => slow++);
    const doc = docKey('t', 'doc');
    for (let i = 0; i < 40; i++) ahead.write(docKey('t', `d${i}`), 'automerge', (e) => e.replace({ i, pad: 'x'.repeat(40) }));
    const last = ahead.write(doc, 'automerge', (e) => e.replace({ n: 1 })).entry!;
    // Compacted past what `behind` has: it can only catch up by a transfer.
    expect(get(ahead.horizon, memberId('ahead'))).toBeGreaterThan(0);
    for (let i = 0; i < 10 && get(behind.vv, memberId('ahead')) < last.seq; i++) sync(behind, ahead);
    expect(get(behind.vv, memberId('ahead'))).toBe(last.seq);
    expect(behind.lastHlc).toBeGreaterThanOrEqual(last.hlc);
    const mine = behind.write(doc, 'automerge', (e) => e.mergePatch({ n: 2 })).entry!;
    expect(mine.deps[memberId('ahead')]).toBe(last.seq);
    expect(mine.hlc).toBeGreaterThan(last.hlc);
  });

  it('survives a restart of the receiver', () => {
    let fast = 3_600_000;
    const ahead = member('ahead', () => fast++);
    const storage = new MemoryStorage();
    const make = () =>
      new Replica({ self: memberId('behind'), members: ids, logMaxBytes: 512, maxBatchBytes: 1024 }, { storage, clock: { now: () => 1_000 }, random: seededRandom(3) });
    let behind = make();
    for (let i = 0; i < 40; i++) ahead.write(docKey('t', `d${i}`), 'automerge', (e) => e.replace({ i, pad: 'x'.repeat(40) }));
    const last = ahead.write(docKey('t', 'doc'), 'automerge', (e) => e.replace({ n: 1 })).entry!;
    for (let i = 0; i < 10 && get(behind.vv, memberId('ahead')) < last.seq; i++) sync(behind, ahead);
    expect(get(behind.vv, memberId('ahead'))).toBe(last.seq);
    behind = make();
    expect(behind.lastHlc).toBeGreaterThanOrEqual(last.hlc);
  });
});
