import { describe, expect, it } from 'vitest';
import { memberId, type MemberId } from '../../src/core/ids.js';
import type { LogEntry } from '../../src/core/log.js';
import type { Replica } from '../../src/core/replica.js';
import { type MajorityPort, replicateToMajority } from '../../src/core/strong.js';
import { emptyVV, type VersionVector } from '../../src/core/version-vector.js';

/** `replicateToMajority(…, required)`: a quorum write also waits for the shard's leader (its lease reads must see it). */
const [A, B, C] = [memberId('a'), memberId('b'), memberId('c')];
const entry: LogEntry = { origin: A, seq: 1, doc: 'd/k' as LogEntry['doc'], hlc: 1, deps: emptyVV, engine: 'automerge', kind: 'update', data: new Uint8Array([1]) };
const replica = {
  self: A,
  memberList: [A, B, C],
  peers: {},
  push: () => new Uint8Array([1]),
  learnPeer: () => undefined,
  entriesFor: () => ({ entries: [entry], more: false }),
} as unknown as Replica;

function port(answers: Record<string, () => Promise<VersionVector>>): MajorityPort {
  return { replicate: (to: MemberId) => answers[to]!(), pull: () => Promise.reject(new Error('unused')) };
}
const has = (): Promise<VersionVector> => Promise.resolve({ a: 1 } as VersionVector);
const down = (): Promise<VersionVector> => Promise.reject(new Error('down'));

describe('replicateToMajority with a required member', () => {
  it('a majority without the required member is not enough', async () => {
    await expect(replicateToMajority(replica, port({ b: has, c: down }), [entry], C)).rejects.toMatchObject({ code: 'unavailable' });
    await expect(replicateToMajority(replica, port({ b: has, c: down }), [entry])).resolves.toBeUndefined();
  });

  it('waits for the required member even when another peer made the majority first', async () => {
    let release!: () => void;
    const slow = new Promise<void>((r) => (release = r));
    let done = false;
    const p = replicateToMajority(replica, port({ b: has, c: () => slow.then(has) }), [entry], C).then(() => (done = true));
    await new Promise((r) => setTimeout(r, 10));
    expect(done).toBe(false);
    release();
    await p;
    expect(done).toBe(true);
  });

  it('the writer itself as the required member changes nothing', async () => {
    await expect(replicateToMajority(replica, port({ b: has, c: down }), [entry], A)).resolves.toBeUndefined();
  });
});
