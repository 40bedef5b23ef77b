/**
 * Replicas wired together synchronously, for unit tests: no network, no faults, just the
 * anti-entropy conversation run to its end.
 */
import { type MemberId, memberId } from '../../src/core/ids.js';
import { seededRandom } from '../../src/core/ports.js';
import { Replica, type ReplicaConfig } from '../../src/core/replica.js';
import { MemoryStorage } from '../../src/core/storage-memory.js';

export interface TestMember {
  readonly id: MemberId;
  readonly storage: MemoryStorage;
  replica: Replica;
}

export function member(id: string, members: readonly string[], extra: Partial<ReplicaConfig> = {}, seed = 1): TestMember {
  const storage = new MemoryStorage();
  const config: ReplicaConfig = { self: memberId(id), members: members.map(memberId), ...extra };
  let now = 1_000;
  const env = { storage, clock: { now: () => now++ }, random: seededRandom(seed * 1000 + [...id].reduce((h, ch) => h * 31 + ch.charCodeAt(0), 7)) };
  return { id: memberId(id), storage, replica: new Replica(config, env) };
}

export function cluster(ids: readonly string[], extra: Partial<ReplicaConfig> = {}): TestMember[] {
  return ids.map((id, i) => member(id, ids, extra, i + 1));
}

/** Restarts a member from what its storage committed. */
export function restart(m: TestMember, members: readonly string[], extra: Partial<ReplicaConfig> = {}): void {
  m.replica.close();
  let now = 10_000_000;
  m.replica = new Replica(
    { self: m.id, members: members.map(memberId), ...extra },
    { storage: m.storage, clock: { now: () => now++ }, random: seededRandom(99) },
  );
}

/** One full gossip round from `a` to `b`; returns the number of messages exchanged. */
export function sync(a: Replica, b: Replica, maxSteps = 64): number {
  let out: Uint8Array | undefined = a.digest();
  let [here, there] = [a, b];
  let n = 0;
  while (out && n < maxSteps) {
    n++;
    out = there.receive(out);
    [here, there] = [there, here];
  }
  return n;
}

/** Rounds between every ordered pair until nothing changes. */
export function syncAll(ms: readonly TestMember[], rounds = 3): void {
  for (let i = 0; i < rounds; i++) for (const a of ms) for (const b of ms) if (a !== b) sync(a.replica, b.replica);
}
