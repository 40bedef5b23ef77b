/**
 * The paths that need a majority: the leader's strong operations and quorum reads, and
 * quorum writes at any member. Pure orchestration over a {@link MajorityPort}; the object
 * adapts the port to Durable Object RPC (with timeouts and the fault transport).
 *
 * @remarks Why this is linearizable for `strong` and `quorum` writes and `strong` reads: every
 * such write is durable on a majority before it is acknowledged (a strong write as a proposal
 * that nobody applies before then: src/core/proposals.ts); a strong operation starts by
 * pulling from a majority (itself included), and any two majorities intersect, so the leader
 * then holds every acknowledged write. Strong operations run one at a time in a
 * {@link StrongQueue}: the Durable Object input gate does not hold while the leader awaits
 * its peers, so without the queue two guarded decrements could both see the same counter.
 */
import { UnavailableError } from './errors.js';
import type { MemberId } from './ids.js';
import type { Clock } from './ports.js';
import type { LogEntry } from './log.js';
import type { AcceptRefusal, Proposal } from './proposals.js';
import type { Replica } from './replica.js';
import { majority } from './routing.js';
import { covers, type Dot, emptyVV, equals, leq, type VersionVector } from './version-vector.js';

export interface MajorityPort {
  /**
   * Delivers a push message to `to`, which applies it durably; resolves with `to`'s vector
   * afterwards, rejects when `to` cannot be reached in time.
   */
  replicate(to: MemberId, message: Uint8Array): Promise<VersionVector>;
  /**
   * One push-pull round with `to`; resolves with the vector `to` reported (undefined when it
   * never answered), rejects when it cannot be reached.
   */
  pull(to: MemberId): Promise<VersionVector | undefined>;
}

/** A {@link MajorityPort} that also carries a leader's strong write proposals (src/core/proposals.ts). */
export interface ProposalPort extends MajorityPort {
  /**
   * Offers a strong write proposal to `to`, which keeps it durably before it answers ok; it
   * refuses one it cannot take (see {@link AcceptRefusal}). Rejects when `to` cannot be reached
   * or knows a later epoch.
   */
  propose(to: MemberId, proposal: Proposal): Promise<ProposeAnswer>;
}

/** A peer's answer to a proposal, with its applied vector. */
export type ProposeAnswer = { readonly ok: true; readonly vv: VersionVector } | { readonly ok: false; readonly reason: AcceptRefusal; readonly vv: VersionVector };

/**
 * Runs async operations one at a time, in arrival order, whatever each one awaits. Bounded:
 * past `capacity` waiting operations it refuses more; and an operation whose caller has
 * given up (its deadline passed) is dropped when its turn comes rather than run, so that a
 * caller told "unavailable" never sees its operation applied later.
 */
export class StrongQueue {
  private tail: Promise<unknown> = Promise.resolve();
  private waiting = 0;
  /** Operations started and not yet settled (0 or 1). */
  active = 0;

  constructor(
    private readonly clock: Clock,
    private readonly capacity = 64,
  ) {}

  get size(): number {
    return this.waiting;
  }

  /** @throws UnavailableError when the queue is full, or when `deadline` passed before `op` could start. */
  run<T>(op: () => Promise<T>, deadline = Infinity): Promise<T> {
    if (this.waiting >= this.capacity) {
      return Promise.reject(new UnavailableError(`the leader has ${this.waiting} strong operations waiting; retry shortly`, 1));
    }
    this.waiting++;
    const start = (): Promise<T> => {
      this.waiting--;
      if (this.clock.now() > deadline) {
        return Promise.reject(new UnavailableError('the caller gave up before this strong operation could start; it was not applied', 1));
      }
      this.active++;
      return op().finally(() => {
        this.active--;
      });
    };
    const result = this.tail.then(start, start);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

/**
 * Resolves once `need` of `tasks` have succeeded; rejects with {@link UnavailableError} as
 * soon as too many have failed for that to happen.
 */
export function succeedAtLeast(tasks: readonly Promise<unknown>[], need: number, what: string): Promise<void> {
  if (need <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    let ok = 0;
    let failed = 0;
    const reasons: string[] = [];
    for (const t of tasks) {
      t.then(
        () => {
          if (++ok === need) resolve();
        },
        (err: unknown) => {
          reasons.push(err instanceof Error ? err.message : String(err));
          if (++failed === tasks.length - need + 1) {
            reject(new UnavailableError(`${what}: ${need} of ${tasks.length} peers needed, ${failed} unreachable (${reasons[0]})`));
          }
        },
      );
    }
    if (tasks.length < need) reject(new UnavailableError(`${what}: ${need} peers needed, only ${tasks.length} configured`));
  });
}

/** Rounds a majority pull may take with one peer (each bounded by bytes and steps) before giving up on it. */
const MAX_PULL_ROUNDS = 64;

const peersOf = (r: Replica): MemberId[] => r.memberList.filter((m) => m !== r.self);
const peersNeeded = (r: Replica): number => majority(r.memberList.length) - 1;

/**
 * Pulls from enough peers that this replica, with them, is a majority. A peer counts only
 * once this replica covers everything that peer had when it answered: a round may stop
 * short (its step bound, a byte-bounded batch), so rounds repeat while they make progress.
 */
export function gatherMajority(r: Replica, port: MajorityPort): Promise<void> {
  const caughtUp = async (p: MemberId): Promise<void> => {
    for (let round = 0; round < MAX_PULL_ROUNDS; round++) {
      const before = r.vv;
      const heard = await port.pull(p);
      if (heard && leq(heard, r.vv)) return;
      if (equals(before, r.vv)) break;
    }
    throw new UnavailableError(`this member could not catch up with ${p} in time`);
  };
  return succeedAtLeast(peersOf(r).map(caughtUp), peersNeeded(r), 'no majority to read from');
}

/**
 * Makes `entries` (just committed here) durable on a majority. A peer that cannot apply them
 * at once (it lacks what they depend on) is sent everything it lacks, a few times at most.
 * With `required` (another member), that member must be one of them: a quorum write waits for
 * the shard's leader, so that the leader's lease reads never miss an acknowledged write.
 */
export function replicateToMajority(r: Replica, port: MajorityPort, entries: readonly LogEntry[], required?: MemberId): Promise<void> {
  const last = entries[entries.length - 1];
  if (!last) return Promise.resolve();
  const dot = { member: last.origin, seq: last.seq };
  const toPeer = async (p: MemberId): Promise<void> => {
    let message = r.push(entries);
    for (let attempt = 0; attempt < 4; attempt++) {
      const vv = await port.replicate(p, message);
      r.learnPeer(p, vv);
      if (covers(vv, dot)) return;
      message = r.push(r.entriesFor(r.peers[p] ?? emptyVV).entries);
    }
    throw new UnavailableError(`${p} did not apply ${dot.member}:${dot.seq}`);
  };
  const peers = peersOf(r);
  const tasks = peers.map(toPeer);
  const majorityRound = succeedAtLeast(tasks, peersNeeded(r), 'no majority to write to');
  const i = required === undefined ? -1 : peers.indexOf(required);
  if (i < 0) return majorityRound;
  const leader = tasks[i]!.catch((err: unknown) => {
    throw new UnavailableError(`the leader ${required} did not take the write: ${err instanceof Error ? err.message : String(err)}`);
  });
  return Promise.all([majorityRound, leader]).then(() => undefined);
}

/**
 * Has a majority hold `proposal` (this member, which accepted it already, and enough peers):
 * the strong write is then committed, and the caller applies it. A peer that lacks what the
 * proposal needs gets push-pull rounds (which send it what it lacks) and is asked again; a
 * peer that accepted a later rank, or applied an entry at this index, does not count (this
 * leader is behind; a round with the latter brings here what it applied).
 */
export function proposeToMajority(r: Replica, port: ProposalPort, proposal: Proposal): Promise<void> {
  const toPeer = async (p: MemberId): Promise<void> => {
    for (let round = 0; round < MAX_PULL_ROUNDS; round++) {
      const a = await port.propose(p, proposal);
      r.learnPeer(p, a.vv);
      if (a.ok) return;
      if (a.reason === 'superseded') throw new UnavailableError(`${p} accepted a later strong write than this leader's`);
      await port.pull(p);
      if (a.reason === 'applied') throw new UnavailableError(`${p} applied another strong write at index ${proposal.entry.seq}`);
    }
    throw new UnavailableError(`${p} could not catch up to accept the strong write in time`);
  };
  return succeedAtLeast(peersOf(r).map(toPeer), peersNeeded(r), 'no majority to propose the strong write to');
}

/**
 * Makes sure a majority holds `dots`, entries this member has but whose log rows may be gone
 * (compacted past the log bound): a retry of a recorded write must not be acknowledged on
 * this member alone. Peers known to hold them count at once; each other peer gets push-pull
 * rounds, which send it what it lacks (a state transfer when it is behind the horizon), until
 * it reports them or the rounds stop.
 */
export function ensureOnMajority(r: Replica, port: MajorityPort, dots: readonly Dot[]): Promise<void> {
  const holds = (vv: VersionVector | undefined): boolean => vv !== undefined && dots.every((d) => covers(vv, d));
  const others = peersOf(r).filter((p) => !holds(r.peers[p]));
  const toPeer = async (p: MemberId): Promise<void> => {
    for (let round = 0; round < MAX_PULL_ROUNDS; round++) {
      const heard = await port.pull(p);
      if (holds(heard) || holds(r.peers[p])) return;
    }
    throw new UnavailableError(`${p} did not receive the recorded write in time`);
  };
  const need = peersNeeded(r) - (peersOf(r).length - others.length);
  return need <= 0 ? Promise.resolve() : succeedAtLeast(others.map(toPeer), need, 'no majority holds the recorded write');
}
