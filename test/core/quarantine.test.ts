/**
 * A remote entry an engine keeps failing on, while the engines otherwise work, must not stop
 * the rest of a member's replication: after a few failures it is set aside (not applied, not
 * in the vector, shown in stats), the other entries of the message apply, and it is tried
 * again later. A storage failure is not an engine fault.
 */
import { describe, expect, it } from 'vitest';
import { EngineFaultError } from '../../src/core/errors.js';
import { EngineFaults } from '../../src/core/engines/fault-injection.js';
import { docKey, memberId } from '../../src/core/ids.js';
import { seededRandom } from '../../src/core/ports.js';
import { Quarantine } from '../../src/core/quarantine.js';
import { Replica } from '../../src/core/replica.js';
import type { Commit } from '../../src/core/storage.js';
import { MemoryStorage } from '../../src/core/storage-memory.js';
import { get } from '../../src/core/version-vector.js';

const ids = ['a', 'b', 'c'].map(memberId);
const X = docKey('t', 'x');
const Y = docKey('t', 'y');
const Z = docKey('t', 'z');

class FailingStorage extends MemoryStorage {
  failAt = -1;
  override commit(c: Commit): void {
    if (this.commits === this.failAt) throw new Error('disk full');
    super.commit(c);
  }
}

function node(id: string, clock: { t: number }, opts: { quarantine?: Quarantine; docCacheBytes?: number } = {}) {
  const storage = new FailingStorage();
  const faults = new EngineFaults();
  const quarantine = opts.quarantine ?? new Quarantine({ failures: 2, retryMs: 1_000 });
  const make = () =>
    new Replica(
      { self: memberId(id), members: ids, ...(opts.docCacheBytes && { docCacheBytes: opts.docCacheBytes }) },
      { storage, clock: { now: () => clock.t }, random: seededRandom(id.charCodeAt(0)), engines: faults.loader(), quarantine },
    );
  return { storage, faults, quarantine, replica: make(), rebuild: make };
}

/** `b` has written x (b:1); `c` wrote y (c:1) and a relayed it; a's message to b carries a:1 (z) and c:1 (y). */
function setup() {
  const clock = { t: 1_000 };
  const a = node('a', clock);
  const b = node('b', clock);
  const c = node('c', clock);
  const y = c.replica.write(Y, 'automerge', (e) => e.replace({ from: 'c' })).entry!;
  a.replica.receive(c.replica.push([y]));
  const z = a.replica.write(Z, 'automerge', (e) => e.replace({ from: 'a' })).entry!;
  const message = () => a.replica.push([y, z]);
  return { clock, a, b, c, message };
}

describe('an entry the engines keep failing on', () => {
  it('is set aside after repeated failures on fresh engines; the rest of the message applies', () => {
    const { clock, b, message } = setup();
    b.faults.failNext('merge', Infinity, 0, Z);
    for (let i = 0; i < 2; i++) {
      // Until it is set aside, every failure drops the whole message (nothing counted).
      expect(() => b.replica.receive(message())).toThrow(EngineFaultError);
      expect(get(b.replica.vv, memberId('c'))).toBe(0);
      b.replica = b.rebuild();
    }
    expect(b.replica.stats().quarantined).toMatchObject([{ origin: 'a', seq: 1, doc: Z, failures: 2 }]);
    b.replica.receive(message());
    expect(get(b.replica.vv, memberId('c'))).toBe(1);
    expect(get(b.replica.vv, memberId('a'))).toBe(0);
    expect(b.replica.json(Y)).toEqual({ from: 'c' });
    expect(b.replica.read(Z)).toBeUndefined();
    // Fixed (a new engine), and tried again once its wait is over.
    b.faults.clear();
    b.replica.receive(message());
    expect(get(b.replica.vv, memberId('a'))).toBe(0);
    clock.t += 1_001;
    b.replica.receive(message());
    expect(get(b.replica.vv, memberId('a'))).toBe(1);
    expect(b.replica.json(Z)).toEqual({ from: 'a' });
    expect(b.replica.stats().quarantined).toEqual([]);
  });

  it('is not blamed when the engines are broken as a whole', () => {
    const { b, message } = setup();
    b.faults.failNext('any', Infinity);
    for (let i = 0; i < 4; i++) {
      expect(() => b.replica.receive(message())).toThrow(EngineFaultError);
      b.replica = b.rebuild();
    }
    expect(b.replica.stats().quarantined).toEqual([]);
    b.faults.clear();
    b.replica.receive(message());
    expect(get(b.replica.vv, memberId('a'))).toBe(1);
    expect(get(b.replica.vv, memberId('c'))).toBe(1);
  });

  it('a set-aside entry waits longer after each failed retry', () => {
    const q = new Quarantine({ failures: 2, retryMs: 100, maxRetryMs: 350 });
    const e = { origin: memberId('a'), seq: 1, doc: Z };
    q.failed(e, 'x', 0);
    expect(q.holds(e, 0)).toBe(false);
    q.failed(e, 'x', 0);
    expect([q.holds(e, 99), q.holds(e, 100)]).toEqual([true, false]);
    q.failed(e, 'x', 100);
    expect([q.holds(e, 299), q.holds(e, 300)]).toEqual([true, false]);
    q.failed(e, 'x', 300);
    expect([q.holds(e, 649), q.holds(e, 650)]).toEqual([true, false]);
    q.applied(e);
    expect(q.list()).toEqual([]);
  });
});

describe('a storage failure while applying a peer\'s entries', () => {
  it('is reported as the storage error, not as an engine fault, even in a batch committed in parts', () => {
    const clock = { t: 1_000 };
    const a = node('a', clock);
    // A budget this small commits the batch after every document.
    const b = node('b', clock, { docCacheBytes: 1 });
    const entries = [X, Y, Z].map((d) => a.replica.write(d, 'automerge', (e) => e.replace({ d })).entry!);
    b.storage.failAt = b.storage.commits + 1;
    expect(() => b.replica.receive(a.replica.push(entries))).toThrow('disk full');
    expect(b.replica.stats().engineFaults).toBe(0);
    // What was committed before the failure is counted; the rest arrives again.
    expect(get(b.replica.vv, memberId('a'))).toBe(1);
    b.storage.failAt = -1;
    b.replica.receive(a.replica.push(entries));
    expect(get(b.replica.vv, memberId('a'))).toBe(3);
    expect(b.replica.json(Z)).toEqual({ d: Z });
  });
});
