/**
 * Elections under faults: `simulateElection({ seed })` runs 3–5 members of one shard, each
 * with the real {@link Election} of `src/core/election.ts`, on the simulated network of
 * `network.ts` (drops, duplicates, delays, partitions that isolate the leader and heal), with
 * crash-restarts (the election's durable state, the acceptor and applied entries survive,
 * nothing else) and clocks that run fast or slow within the configured drift bound. Clients
 * send strong operations on two objects through any member, which forwards them to the leader
 * it knows: writes of a register `r`, increments and guarded decrements (floor 0) of a counter
 * `c`, and strong reads of both. The leader runs them one at a time; a read (and a refusal at
 * the floor, which reads `c`, as the object's guard runs after `gatherMajority`) is answered
 * from its state while its lease holds, else after a majority round that also pulls what peers
 * hold.
 *
 * The write path is modelled, not the replica: entries are dots with the request they carry,
 * and a member's applied vector counts each origin's entries without gaps.
 * - `proposals` (default): the protocol of `src/core/proposals.ts`, message by message. A
 *   strong write is an entry of {@link STRONG_ORIGIN} at the next strong index, proposed at
 *   the leader's epoch; the leader accepts it, sends it to every peer (which adopts the epoch,
 *   catches up on the leader's applied entries when `accept` says `behind`, and stores the new
 *   acceptor state), and applies it once a majority accepted while it still leads that epoch,
 *   then pushes it. Votes carry the candidate's accepted rank. A leader settles the proposal it
 *   holds and has not applied (proposed again at its own epoch) before any operation, and
 *   whenever it is idle (so at once when elected, and again after a proposal that failed).
 * - `commit-first`: today's order (`src/core/strong.ts` as the leader uses it): commit at the
 *   leader (a dot of its own), then push to peers, acknowledge on a majority; entries also
 *   spread by gossip. Kept to show that the checks catch it.
 *
 * Checked after every event: at most one leader per epoch; at most one vote per member per
 * epoch, across its restarts, each on disk before it leaves; at most one entry per dot (two
 * different writes at one dot on any member fail the run); each newly elected leader, and
 * any member holding a valid lease, covers every acknowledged write or holds it as the
 * proposal it will settle; at most one member holds a valid lease, and nobody is elected while
 * another member holds one. Whenever a leader answers a read, refuses a decrement at the floor,
 * or acknowledges a write, it covers every write acknowledged before it took the operation. At
 * the end: no request carried out at two dots, and the strong history of `r` and of `c` is
 * linearizable.
 */
import { Election, type ElectionConfig, type ElectionMessage, type Local, type Step } from '../../../src/core/election.js';
import { docKey, type MemberId } from '../../../src/core/ids.js';
import type { LogEntry } from '../../../src/core/log.js';
import { seededRandom, type Random } from '../../../src/core/ports.js';
import { accept, type Acceptor, freshAcceptor, type Proposal, STRONG_ORIGIN, unsettled } from '../../../src/core/proposals.js';
import { majority } from '../../../src/core/routing.js';
import { covers, type Dot, emptyVV, get, type VersionVector } from '../../../src/core/version-vector.js';
import { checkLinearizable, type HistoryOp } from './linearizability.js';
import { SimNetwork } from './network.js';
import { memberIds, pick } from './workload.js';

export type WritePath = 'proposals' | 'commit-first';
/** Broken variants that the checks must catch. */
export type ElectionMutant =
  /** Voters compare the candidate's vector with an empty one: any candidate covers it. */
  | 'blind-votes'
  /** Voters are given no accepted rank: the rank rule of votes is off (vectors still count). */
  | 'rankless-votes'
  /** A new leader answers without settling the proposal it holds: it writes at its next index, reads at once. */
  | 'no-settle'
  /** A leader settles a proposal at the epoch it was first proposed in, not its own (Raft's Figure 8). */
  | 'keep-epoch'
  /** A leader settles only before its next operation, not when idle: a liveness mutant (the preferred member is left out). */
  | 'lazy-settle'
  /** Clocks run up to 70% fast or slow, far past what `maxClockDriftMs` allows for. */
  | 'drift-beyond-bound';

export interface ElectionSimOptions {
  readonly seed: number;
  readonly members?: number;
  /** Virtual milliseconds of chaos before the final heal. */
  readonly duration?: number;
  readonly writePath?: WritePath;
  /** One broken variant, or several at once (to show which rule covers for which). */
  readonly mutant?: ElectionMutant | readonly ElectionMutant[];
}

export interface ElectionSimReport {
  readonly seed: number;
  readonly members: number;
  readonly elections: number;
  readonly maxEpoch: number;
  readonly handovers: number;
  readonly crashes: number;
  readonly partitions: number;
  readonly writes: number;
  readonly refusals: number;
  readonly leaseReads: number;
  readonly roundReads: number;
  /** Proposals a leader found unsettled and applied after a majority accepted them again at its epoch. */
  readonly settled: number;
  /** Peers that caught up on the leader's applied entries before accepting (`accept` said `behind`). */
  readonly caughtUp: number;
  readonly indeterminate: number;
  readonly historyOps: number;
  /** Leader at the end is the preferred member (after the heal). */
  readonly preferredLeadsAtEnd: boolean;
  /** The leader at the end holds a proposal it has not settled (none should, 12 leases after the heal). */
  readonly unsettledAtEnd: boolean;
}

export const LEASE_MS = 300;
export const MAX_DRIFT_MS = 150;
/** Clock rates stay within this of real time, so two clocks disagree by at most MAX_DRIFT_MS over a lease. */
const MAX_RATE = MAX_DRIFT_MS / (2 * LEASE_MS) - 0.005;
const TICK_MS = 15;
const OP_TIMEOUT_MS = 200;
const CLIENT_GIVES_UP_MS = 900;
const FLOOR = 0;

interface Entry {
  readonly dot: Dot;
  /** The epoch it was first proposed (`proposals`) or committed (`commit-first`) in. */
  readonly epoch: number;
  /** The client request it carries out (a leader answers a duplicate from it, as the object's `once`/`replay` do). */
  readonly req: number;
  readonly op: { readonly obj: 'r'; readonly value: number } | { readonly obj: 'c'; readonly by: number };
}

/** The model's entry in the shape `src/core/proposals.ts` reads (`origin`, `seq`, `deps`), carrying the entry itself. */
interface ProposedEntry extends LogEntry {
  readonly sim: Entry;
}

const STRONG_DOC = docKey('sim', 'strong');

/** Every strong entry depends only on the strong entries below it: `deps` empty, so `proposalBase` is `{ STRONG_ORIGIN: seq - 1 }`. */
const proposalOf = (epoch: number, e: Entry): Proposal => {
  const entry: ProposedEntry = { origin: e.dot.member, seq: e.dot.seq, doc: STRONG_DOC, engine: 'automerge', kind: 'update', hlc: 0, deps: emptyVV, data: new Uint8Array(0), sim: e };
  return { epoch, entry };
};
const entryOf = (p: Proposal): Entry => (p.entry as ProposedEntry).sim;

interface Disk {
  durable: ReturnType<Election['durable']> | undefined;
  /** Entries held (applied when the vector covers their dot). */
  readonly entries: Map<string, Entry>;
  /** Requests this member refused as leader (the object's recorded outcomes: kept where they were decided). */
  readonly refused: Set<number>;
  vv: VersionVector;
  /** The strong log beyond what it applied (`proposals` only). */
  acceptor: Acceptor;
}

type ClientOp =
  | { readonly obj: 'r'; readonly kind: 'write'; readonly value: number }
  | { readonly obj: 'c'; readonly kind: 'inc' | 'dec' }
  | { readonly obj: 'r' | 'c'; readonly kind: 'read' };

/** `failed`: refused before any effect (no leader, no majority to read from); `unavailable`: it may or may not have taken effect. */
type Outcome = { readonly kind: 'ok'; readonly value?: number | null } | { readonly kind: 'refused' } | { readonly kind: 'failed' } | { readonly kind: 'unavailable' };

interface Recorded {
  readonly req: number;
  readonly op: ClientOp;
  readonly invoke: number;
  complete?: number;
  outcome?: Outcome;
}

/** A write acknowledged to its client (or applied by a leader that settled it): the dot it is at and the request it carries. */
interface Acked {
  readonly dot: Dot;
  readonly req: number;
}

/** How a proposal ended at its leader: applied there after a majority accepted it; its index applied there by a pull; or neither. */
type Proposed = 'committed' | 'pulled' | 'failed';

export class ElectionSimFailure extends Error {
  constructor(readonly seed: number, message: string) {
    super(`seed ${seed}: ${message}\n  replay: simulateElection({ seed: ${seed} })`);
  }
}

class Member {
  election: Election | undefined;
  incarnation = 0;
  readonly disk: Disk = { durable: undefined, entries: new Map(), refused: new Set(), vv: {}, acceptor: freshAcceptor };
  rate = 0;
  offset = 0;
  queue: (() => void)[] = [];
  busy = false;
  constructor(readonly id: MemberId, private readonly net: SimNetwork) {}
  now(): number {
    return this.offset + this.net.now * (1 + this.rate);
  }
  get up(): boolean {
    return this.election !== undefined;
  }
  /** What the election is told: the applied vector and the highest accepted rank. */
  local(busy: boolean): Local {
    return { vv: this.disk.vv, accepted: this.disk.acceptor.accepted, busy };
  }
  /** The entries this member applied (not merely holds). */
  applied(): Entry[] {
    return [...this.disk.entries.values()].filter((e) => covers(this.disk.vv, e.dot));
  }
}

const key = (d: Dot): string => `${d.member}:${d.seq}`;

export async function simulateElection(opts: ElectionSimOptions): Promise<ElectionSimReport> {
  const sim = new ElectionSim(opts);
  try {
    sim.run();
  } catch (err) {
    throw new ElectionSimFailure(opts.seed, err instanceof Error ? err.message : String(err));
  }
  return sim.report();
}

class ElectionSim {
  private readonly rng: Random;
  private readonly net: SimNetwork;
  private readonly members: Member[];
  private readonly ids: MemberId[];
  private readonly preferred: MemberId;
  private readonly writePath: WritePath;
  private readonly mutants: ReadonlySet<ElectionMutant>;
  private readonly leaders = new Map<number, MemberId>();
  /** Every vote granted, by voter and epoch (kept across the voter's restarts). */
  private readonly votes = new Map<string, MemberId>();
  /** In the order they were acknowledged; `ackedAt` finds each by dot. */
  private readonly acked: Acked[] = [];
  private readonly ackedAt = new Map<string, number>();
  private readonly history: Recorded[] = [];
  private nextValue = 1;
  /** Anti-entropy interval, drawn per run: slow repair leaves members behind when elections come. */
  private readonly gossipMs: number;
  private counts = { elections: 0, handovers: 0, crashes: 0, partitions: 0, writes: 0, refusals: 0, leaseReads: 0, roundReads: 0, settled: 0, caughtUp: 0 };

  constructor(private readonly opts: ElectionSimOptions) {
    this.rng = seededRandom(opts.seed);
    this.net = new SimNetwork(seededRandom(opts.seed * 7919 + 1));
    const n = opts.members ?? 3 + Math.floor(this.rng.next() * 3);
    this.ids = memberIds(n);
    this.preferred = this.ids[0]!;
    this.writePath = opts.writePath ?? 'proposals';
    this.mutants = new Set(typeof opts.mutant === 'string' ? [opts.mutant] : (opts.mutant ?? []));
    this.gossipMs = 60 + Math.floor(this.rng.next() * 1500);
    this.members = this.ids.map((id) => new Member(id, this.net));
    for (const m of this.members) this.start(m);
  }

  // ---- members ----

  private config(self: MemberId): ElectionConfig {
    return { self, members: this.ids, preferred: this.preferred, leaseMs: LEASE_MS, maxClockDriftMs: MAX_DRIFT_MS };
  }

  private start(m: Member): void {
    const bound = this.mutants.has('drift-beyond-bound') ? 0.7 : MAX_RATE;
    m.rate = (this.rng.next() * 2 - 1) * bound;
    m.offset = 1_000_000 + Math.floor(this.rng.next() * 1000);
    m.incarnation++;
    m.queue = [];
    m.busy = false;
    m.election = new Election(this.config(m.id), m.disk.durable, m.now(), this.rng);
    const inc = m.incarnation;
    const tick = () => {
      if (m.incarnation !== inc || !m.election) return;
      this.settleWhenIdle(m);
      this.apply(m, m.election.tick(m.now(), m.local(m.busy || m.queue.length > 0)));
      this.net.schedule(TICK_MS, tick);
    };
    this.net.schedule(1 + Math.floor(this.rng.next() * TICK_MS), tick);
    const gossip = () => {
      if (m.incarnation !== inc || !m.election) return;
      const peer = pick(this.rng, this.members.filter((p) => p !== m));
      const entries = [...m.disk.entries.values()];
      this.net.send(m.id, peer.id, () => peer.up && this.merge(peer, entries));
      this.net.schedule(this.gossipMs, gossip);
    };
    this.net.schedule(this.gossipMs, gossip);
  }

  private crash(m: Member): void {
    m.election = undefined;
    m.incarnation++;
    m.queue = [];
    m.busy = false;
    this.counts.crashes++;
  }

  /** Persist, then send; record what the election announced. */
  private apply(m: Member, step: Step): void {
    if (step.persist) m.disk.durable = step.persist;
    for (const e of step.events) {
      if (e.kind === 'elected') this.elected(m, e.epoch);
      if (e.kind === 'handover') this.counts.handovers++;
    }
    const inc = m.incarnation;
    for (const o of step.send) {
      if (o.message.type === 'vote-reply' && o.message.granted) this.voted(m, o.message.epoch, o.to);
      const to = this.member(o.to);
      this.net.send(m.id, o.to, () => this.deliver(m, inc, to, o.message));
    }
  }

  private deliver(from: Member, _inc: number, to: Member, msg: ElectionMessage): void {
    if (!to.election) return;
    const local = to.local(to.busy);
    if (msg.type === 'vote' || msg.type === 'pre-vote') {
      // blind-votes: voters compare against an empty vector (any candidate covers it).
      // rankless-votes: voters know no accepted rank (any candidate's ranks at least as high).
      const vv = this.mutants.has('blind-votes') ? {} : local.vv;
      const accepted = this.mutants.has('rankless-votes') ? undefined : local.accepted;
      return this.apply(to, to.election.receive(from.id, msg, to.now(), { vv, busy: to.busy, ...(accepted && { accepted }) }));
    }
    this.apply(to, to.election.receive(from.id, msg, to.now(), local));
  }

  /** A member votes at most once per epoch, its restarts included, and only once its vote is on disk. */
  private voted(m: Member, epoch: number, candidate: MemberId): void {
    const k = `${m.id}@${epoch}`;
    const was = this.votes.get(k);
    if (was !== undefined && was !== candidate) throw new Error(`${m.id} voted for ${was} and for ${candidate} in epoch ${epoch}`);
    this.votes.set(k, candidate);
    const d = m.disk.durable;
    if (d?.epoch !== epoch || d.votedFor !== candidate) throw new Error(`${m.id}'s vote for ${candidate} in epoch ${epoch} left before it was persisted`);
  }

  private elected(m: Member, epoch: number): void {
    this.counts.elections++;
    const was = this.leaders.get(epoch);
    if (was !== undefined && was !== m.id) throw new Error(`two leaders in epoch ${epoch}: ${was} and ${m.id}`);
    this.leaders.set(epoch, m.id);
    const lacks = this.lacking(m, this.acked.length, true);
    if (lacks) throw new Error(`${m.id}, elected in epoch ${epoch}, lacks acknowledged write ${lacks}`);
    // No new leader may act before the old lease has expired.
    for (const o of this.members) {
      if (o !== m && o.election?.leaseValid(o.now())) throw new Error(`${m.id} was elected in epoch ${epoch} while ${o.id} holds a lease of epoch ${o.election.epoch}`);
    }
  }

  /**
   * The first of the first `n` acknowledged writes that `m` has not applied (and, when
   * `settling`, does not hold as the proposal it will settle), described; undefined when none.
   */
  private lacking(m: Member, n: number, settling: boolean): string | undefined {
    const pending = settling ? unsettled(m.disk.acceptor, m.disk.vv) : undefined;
    for (const a of this.acked.slice(0, n)) {
      if (covers(m.disk.vv, a.dot)) continue;
      if (pending && key(entryOf(pending).dot) === key(a.dot) && entryOf(pending).req === a.req) continue;
      return `${key(a.dot)} (request ${a.req})${pending ? `, holding ${key(entryOf(pending).dot)} (request ${entryOf(pending).req}) to settle` : ''}`;
    }
    return undefined;
  }

  private member(id: MemberId): Member {
    return this.members.find((m) => m.id === id)!;
  }

  // ---- entries ----

  /** Holds `entries` and applies what has no gap below it. Two different writes at one dot fail the run. */
  private merge(m: Member, entries: readonly Entry[]): void {
    for (const e of entries) {
      const k = key(e.dot);
      const had = m.disk.entries.get(k);
      if (had === undefined) m.disk.entries.set(k, e);
      else if (had.req !== e.req) throw new Error(`${m.id} holds request ${had.req} at ${k} and is sent request ${e.req} at the same dot`);
    }
    const vv: Record<string, number> = { ...m.disk.vv };
    for (const id of [...this.ids, STRONG_ORIGIN]) {
      let s = get(m.disk.vv, id);
      while (m.disk.entries.has(`${id}:${s + 1}`)) s++;
      if (s > 0) vv[id] = s;
    }
    m.disk.vv = vv as VersionVector;
  }

  /** What `m` has applied: `r` is the strong entry at the highest index (`commit-first`: the latest epoch, then seq), `c` the sum. */
  private state(m: Member): { r: number | null; c: number } {
    let r: Entry | undefined;
    let c = 0;
    for (const e of m.applied()) {
      if (e.op.obj === 'c') c += e.op.by;
      else if (!r || later(e, r)) r = e;
    }
    return { r: r && r.op.obj === 'r' ? r.op.value : null, c };
  }

  /** Records a write that a majority holds (acknowledged, or applied by the leader that settled it). */
  private ack(e: Entry): void {
    const k = key(e.dot);
    const was = this.ackedAt.get(k);
    if (was !== undefined) {
      if (this.acked[was]!.req !== e.req) throw new Error(`request ${this.acked[was]!.req} and request ${e.req} were both acknowledged at ${k}`);
      return;
    }
    this.ackedAt.set(k, this.acked.length);
    this.acked.push({ dot: e.dot, req: e.req });
  }

  // ---- clients and the leader ----

  private client(): void {
    const roll = this.rng.next();
    const op: ClientOp =
      roll < 0.25 ? { obj: 'r', kind: 'write', value: this.nextValue++ }
      : roll < 0.45 ? { obj: 'r', kind: 'read' }
      : roll < 0.6 ? { obj: 'c', kind: 'inc' }
      : roll < 0.85 ? { obj: 'c', kind: 'dec' }
      : { obj: 'c', kind: 'read' };
    const up = this.members.filter((m) => m.up);
    // Half the clients are where a member believes it leads (a deposed one may not know yet).
    const leading = up.filter((m) => m.election!.state === 'leader');
    const via = leading.length > 0 && this.rng.next() < 0.5 ? pick(this.rng, leading) : up.length > 0 ? pick(this.rng, up) : undefined;
    const leaderId = via?.election!.leader;
    // No member up, or none knowing a leader: a 503 at once, nothing sent anywhere.
    if (!via || !leaderId) return;
    const rec: Recorded = { req: this.history.length + 1, op, invoke: this.net.now };
    this.history.push(rec);
    const answer = (o: Outcome) => {
      if (rec.complete !== undefined || this.net.now - rec.invoke > CLIENT_GIVES_UP_MS) return;
      rec.complete = this.net.now;
      rec.outcome = o;
    };
    const leader = this.member(leaderId);
    this.net.send(via.id, leader.id, () => {
      if (!leader.election) return;
      const inc = leader.incarnation;
      const reply = (o: Outcome) => this.net.send(leader.id, via.id, () => answer(o));
      if (!leader.election.acceptsOperations()) return reply({ kind: 'failed' });
      leader.queue.push(() => this.lead(leader, inc, rec.req, op, this.acked.length, (o) => {
        if (leader.incarnation !== inc) return;
        reply(o);
        leader.busy = false;
        this.next(leader);
      }));
      this.next(leader);
    });
  }

  private next(m: Member): void {
    if (m.busy || !m.election) return;
    const run = m.queue.shift();
    if (!run) return;
    m.busy = true;
    run();
  }

  /**
   * The leader's side of one operation, which it took when `known` writes were acknowledged:
   * whatever it answers from its state (a read, a refusal at the floor, a write applied) must
   * cover those.
   */
  private lead(m: Member, inc: number, req: number, op: ClientOp, known: number, done: (o: Outcome) => void): void {
    const e = m.election;
    if (!e || !e.acceptsOperations()) return done({ kind: 'failed' });
    const epoch = e.epoch;
    // Settle first: the proposal this leader holds and has not applied may have been acknowledged.
    const pending = this.writePath === 'proposals' && !this.mutants.has('no-settle') ? unsettled(m.disk.acceptor, m.disk.vv) : undefined;
    if (pending) return this.settle(m, inc, epoch, pending, (ok) => (ok ? this.lead(m, inc, req, op, known, done) : done({ kind: 'unavailable' })));
    const answered = (o: Outcome & { kind: 'ok' | 'refused' }, what: string): void => {
      const lacks = this.lacking(m, known, false);
      if (lacks) throw new Error(`${m.id}, leader in epoch ${epoch}, ${what} without acknowledged write ${lacks}`);
      done(o);
    };
    /** Reads (a refusal at the floor is one): from the lease, else after a majority round. */
    const fenced = (then: () => void, round: () => void): void => {
      if (e.leaseValid(m.now())) return then();
      this.round(m, inc, epoch, (ok) => (ok ? round() : done({ kind: op.kind === 'read' ? 'unavailable' : 'failed' })));
    };
    if (op.kind === 'read') {
      const read = (): void => {
        const s = this.state(m);
        answered({ kind: 'ok', value: op.obj === 'r' ? s.r : s.c }, `answered a read of ${op.obj}`);
      };
      return fenced(() => (this.counts.leaseReads++, read()), () => (this.counts.roundReads++, read()));
    }
    // Carried out already (a duplicate, or a retry): answered from the entry, not applied again.
    if (m.applied().some((x) => x.req === req)) return done({ kind: 'ok' });
    if (m.disk.refused.has(req)) return done({ kind: 'refused' });
    const write = (): void => {
      const entryOp: Entry['op'] = op.obj === 'r' ? { obj: 'r', value: op.value } : { obj: 'c', by: op.kind === 'inc' ? 1 : -1 };
      if (this.writePath === 'proposals') this.proposalWrite(m, inc, epoch, req, entryOp, (o) => (o.kind === 'ok' ? answered(o, 'acknowledged a write') : done(o)));
      else this.commitFirstWrite(m, inc, epoch, req, entryOp, done);
    };
    const belowFloor = (): boolean => op.kind === 'dec' && this.state(m).c - 1 < FLOOR;
    if (!belowFloor()) return write();
    const refuse = (): void => {
      m.disk.refused.add(req);
      this.counts.refusals++;
      answered({ kind: 'refused' }, 'refused a decrement at the floor');
    };
    // The round pulls what peers applied: the decrement may be allowed after all.
    fenced(refuse, () => (belowFloor() ? refuse() : write()));
  }

  /**
   * Settles `pending`, the proposal the leader of `epoch` holds and has not applied: proposes
   * its entry again at `epoch` (a new rank). True once its index is applied here (this entry,
   * or, pulled from a peer, whatever a majority accepted there).
   */
  private settle(m: Member, inc: number, epoch: number, pending: Proposal, done: (ok: boolean) => void): void {
    const again = proposalOf(this.mutants.has('keep-epoch') ? pending.epoch : epoch, entryOf(pending));
    this.propose(m, inc, epoch, again, (r) => {
      if (r === 'committed') this.counts.settled++;
      done(r !== 'failed');
    });
  }

  /**
   * A leader with nothing to do settles the proposal it holds: at once when elected (Raft's
   * entry of its own term), and again after a proposal of its own or a settle that found no
   * majority in time (Raft's leader retries until followers hold its log). Otherwise, with no
   * operation coming, the proposal stays unsettled, the members that accepted it outrank the
   * preferred member, and every handover to it fails (the `lazy-settle` mutant).
   */
  private settleWhenIdle(m: Member): void {
    const e = m.election;
    if (this.writePath !== 'proposals' || this.mutants.has('no-settle') || this.mutants.has('lazy-settle')) return;
    if (!e?.acceptsOperations() || m.busy || m.queue.length > 0 || !unsettled(m.disk.acceptor, m.disk.vv)) return;
    const inc = m.incarnation;
    m.queue.push(() => {
      const release = (): void => {
        if (m.incarnation !== inc) return;
        m.busy = false;
        this.next(m);
      };
      const pending = unsettled(m.disk.acceptor, m.disk.vv);
      if (!m.election?.acceptsOperations() || !pending) return release();
      this.settle(m, inc, m.election.epoch, pending, release);
    });
    this.next(m);
  }

  /** A new write: the next strong index, proposed at the leader's epoch. */
  private proposalWrite(m: Member, inc: number, epoch: number, req: number, op: Entry['op'], done: (o: Outcome) => void): void {
    const entry: Entry = { dot: { member: STRONG_ORIGIN, seq: get(m.disk.vv, STRONG_ORIGIN) + 1 }, epoch, req, op };
    this.propose(m, inc, epoch, proposalOf(epoch, entry), (r) => {
      if (r !== 'committed') return done({ kind: 'unavailable' });
      this.counts.writes++;
      done({ kind: 'ok' });
    });
  }

  /**
   * One proposal round of the leader of `epoch` (src/core/proposals.ts): accept `p` here, send
   * it to every peer, and apply it once a majority (this member included) accepted it while
   * this member still leads `epoch`; then push it. A peer past `epoch` refuses and the leader
   * adopts its epoch; a peer that has applied the index answers with what it applied (pulled
   * here); one that accepted a later rank refuses. No majority within OP_TIMEOUT_MS: failed
   * (the proposal may still be settled by a later leader).
   */
  private propose(m: Member, inc: number, epoch: number, p: Proposal, done: (r: Proposed) => void): void {
    const own = accept(m.disk.acceptor, p, m.disk.vv);
    if (!own.ok) return done('failed');
    m.disk.acceptor = own.state;
    const entry = entryOf(p);
    const acks = new Set<MemberId>([m.id]);
    let over = false;
    const finish = (r: Proposed): void => {
      if (over) return;
      over = true;
      done(r);
    };
    // A peer that lacks the entries below the index catches up on them first (`behind`, then ask again).
    const applied = m.applied();
    for (const peer of this.members) {
      if (peer === m) continue;
      this.net.send(m.id, peer.id, () => {
        const pe = peer.election;
        if (!pe) return;
        const reply = (handle: () => void): void => this.net.send(peer.id, m.id, () => {
          if (!over && m.incarnation === inc && m.election) handle();
        });
        const theirs = pe.epoch;
        if (theirs > epoch) {
          return reply(() => {
            this.apply(m, m.election!.observe(theirs, m.now()));
            finish('failed');
          });
        }
        this.apply(peer, pe.observe(epoch, peer.now()));
        let a = accept(peer.disk.acceptor, p, peer.disk.vv);
        if (!a.ok && a.reason === 'behind') {
          this.counts.caughtUp++;
          this.merge(peer, applied);
          a = accept(peer.disk.acceptor, p, peer.disk.vv);
        }
        if (a.ok) {
          peer.disk.acceptor = a.state;
          return reply(() => {
            acks.add(peer.id);
            if (acks.size < majority(this.ids.length)) return;
            const le = m.election!;
            if (le.state !== 'leader' || le.epoch !== epoch) return finish('failed');
            this.merge(m, [entry]);
            if (!covers(m.disk.vv, entry.dot)) throw new Error(`${m.id} cannot apply ${key(entry.dot)}, which a majority accepted`);
            this.ack(entry);
            for (const o of this.members) if (o !== m) this.net.send(m.id, o.id, () => o.up && this.merge(o, [entry]));
            finish('committed');
          });
        }
        if (a.reason === 'applied') {
          const theirsApplied = peer.applied();
          return reply(() => {
            this.merge(m, theirsApplied);
            if (covers(m.disk.vv, entry.dot)) finish('pulled');
          });
        }
        // superseded: not counted.
      });
    }
    this.net.schedule(OP_TIMEOUT_MS, () => {
      if (m.incarnation === inc) finish('failed');
    });
  }

  /** Today's order: commit at the leader, push to every peer, acknowledge once a majority applied it. */
  private commitFirstWrite(m: Member, inc: number, epoch: number, req: number, op: Entry['op'], done: (o: Outcome) => void): void {
    const entry: Entry = { dot: { member: m.id, seq: get(m.disk.vv, m.id) + 1 }, epoch, req, op };
    this.merge(m, [entry]);
    const acks = new Set<MemberId>([m.id]);
    let settled = false;
    const entries = [...m.disk.entries.values()];
    for (const p of this.members) {
      if (p === m) continue;
      this.net.send(m.id, p.id, () => {
        if (!p.election || p.election.epoch > epoch) return;
        this.apply(p, p.election.observe(epoch, p.now()));
        this.merge(p, entries);
        this.net.send(p.id, m.id, () => {
          if (settled || m.incarnation !== inc) return;
          acks.add(p.id);
          if (acks.size >= majority(this.ids.length)) {
            settled = true;
            this.ack(entry);
            this.counts.writes++;
            done({ kind: 'ok' });
          }
        });
      });
    }
    this.net.schedule(OP_TIMEOUT_MS, () => {
      if (settled || m.incarnation !== inc) return;
      settled = true;
      done({ kind: 'unavailable' });
    });
  }

  /** A majority round at `epoch`: peers confirm they are not past it and send what they hold. */
  private round(m: Member, inc: number, epoch: number, done: (ok: boolean) => void): void {
    const acks = new Set<MemberId>([m.id]);
    let settled = false;
    for (const p of this.members) {
      if (p === m) continue;
      this.net.send(m.id, p.id, () => {
        if (!p.election) return;
        const theirs = p.election.epoch;
        const entries = [...p.disk.entries.values()];
        this.net.send(p.id, m.id, () => {
          if (settled || m.incarnation !== inc || !m.election) return;
          if (theirs > epoch) {
            settled = true;
            this.apply(m, m.election.observe(theirs, m.now()));
            return done(false);
          }
          this.merge(m, entries);
          acks.add(p.id);
          if (acks.size >= majority(this.ids.length)) {
            settled = true;
            done(m.election.epoch === epoch && m.election.acceptsOperations());
          }
        });
      });
    }
    this.net.schedule(OP_TIMEOUT_MS, () => {
      if (settled || m.incarnation !== inc) return;
      settled = true;
      done(false);
    });
  }

  // ---- the run ----

  run(): void {
    const duration = this.opts.duration ?? 6000;
    this.net.faults = { dropRate: 0.03, duplicateRate: 0.03, minDelay: 1, maxDelay: 25 };
    const chaos = (): void => {
      if (this.net.now >= duration) return;
      this.chaosStep();
      this.net.schedule(10 + Math.floor(this.rng.next() * 40), chaos);
    };
    this.net.schedule(LEASE_MS * 3, chaos);
    this.runUntil(duration);
    // Heal: everyone up, network whole and clean; leadership settles and returns to the preferred member.
    this.net.heal();
    this.net.faults = { dropRate: 0, duplicateRate: 0, minDelay: 1, maxDelay: 10 };
    for (const m of this.members) if (!m.up) this.start(m);
    this.runUntil(duration + LEASE_MS * 12);
    this.checkHistory();
  }

  private runUntil(until: number): void {
    while (this.net.step(until)) this.checkStep();
    this.net.run(until);
  }

  private chaosStep(): void {
    const roll = this.rng.next();
    const leader = this.members.find((m) => m.election?.state === 'leader');
    if (roll < 0.62) this.client();
    else if (roll < 0.74 && leader) {
      // The leader is partitioned away (alone, or with a minority).
      this.counts.partitions++;
      const others = this.members.filter((m) => m !== leader).sort(() => this.rng.next() - 0.5);
      const minority = others.slice(0, Math.floor(this.rng.next() * (majority(this.ids.length) - 1)));
      this.net.partition([[leader.id, ...minority.map((m) => m.id)], others.slice(minority.length).map((m) => m.id)]);
    } else if (roll < 0.77) this.net.heal();
    else if (roll < 0.86) {
      const up = this.members.filter((m) => m.up);
      const victim = leader && this.rng.next() < 0.6 ? leader : up.length > 0 ? pick(this.rng, up) : undefined;
      if (victim) {
        this.crash(victim);
        this.net.schedule(LEASE_MS / 2 + Math.floor(this.rng.next() * LEASE_MS * 4), () => this.start(victim));
      }
    } else if (roll < 0.9) {
      const [a, b] = [pick(this.rng, this.members), pick(this.rng, this.members)];
      if (a !== b) this.net.setCut(a.id, b.id, this.rng.next() < 0.5);
    } else this.client();
  }

  private checkStep(): void {
    const leasing = this.members.filter((m) => m.election?.leaseValid(m.now()));
    if (leasing.length > 1) throw new Error(`${leasing.map((m) => `${m.id}@${m.election!.epoch}`).join(' and ')} both hold a lease at ${this.net.now}`);
    // A deposed leader that has not heard yet may still take operations (they fail: fenced), but
    // one that may answer from its own state holds every acknowledged write (applied, or to
    // settle before it answers anything).
    for (const m of leasing) {
      const lacks = this.lacking(m, this.acked.length, true);
      if (lacks) throw new Error(`${m.id}, holding a lease in epoch ${m.election!.epoch}, lacks acknowledged write ${lacks}`);
    }
  }

  // ---- linearizability ----

  private checkHistory(): void {
    // Requests carried out: those of entries some member applied (held is not enough: a
    // proposal is held before a majority accepts it, and may never be). Each at one dot only.
    const carried = new Map<number, string>();
    for (const m of this.members) {
      for (const e of m.applied()) {
        const was = carried.get(e.req);
        if (was !== undefined && was !== key(e.dot)) throw new Error(`request ${e.req} was carried out twice: at ${was} and at ${key(e.dot)}`);
        carried.set(e.req, key(e.dot));
      }
    }
    const register: HistoryOp<number | null>[] = [];
    const counter: HistoryOp<number>[] = [];
    for (const h of this.history) {
      const o = h.outcome;
      // A write whose client heard no success (a 503, or nothing) may have taken effect at any
      // time after its invocation, or never. The simulator knows which: one whose request no
      // member applied never took effect (by the end) and leaves the history (a duplicate of a
      // write that did may well have been refused, so the client's answer alone cannot tell).
      const definite = o !== undefined && (o.kind === 'ok' || o.kind === 'refused');
      if (!definite && h.op.kind !== 'read' && !carried.has(h.req)) continue;
      const complete = definite ? h.complete : undefined;
      if (h.op.kind === 'read') {
        if (!definite || o.kind !== 'ok') continue;
        const v = o.value;
        if (h.op.obj === 'r') register.push({ name: `read r=${v}`, invoke: h.invoke, complete, step: (s) => (s === v ? s : undefined) });
        else counter.push({ name: `read c=${v}`, invoke: h.invoke, complete, step: (s) => (s === v ? s : undefined) });
      } else if (h.op.obj === 'r' && h.op.kind === 'write') {
        const v = h.op.value;
        register.push({ name: `write r=${v}`, invoke: h.invoke, complete, step: () => v });
      } else if (h.op.kind === 'inc') {
        counter.push({ name: 'inc', invoke: h.invoke, complete, step: (s) => s + 1 });
      } else if (o?.kind === 'refused') {
        counter.push({ name: 'dec refused', invoke: h.invoke, complete, step: (s) => (s - 1 < FLOOR ? s : undefined) });
      } else {
        counter.push({ name: definite ? 'dec' : 'dec?', invoke: h.invoke, complete, step: (s) => (s - 1 >= FLOOR ? s - 1 : undefined) });
      }
    }
    const r = checkLinearizable<number | null>(null, register, String);
    if (!r.ok) throw new Error(`register r: ${r.reason}`);
    const c = checkLinearizable<number>(0, counter, String);
    if (!c.ok) throw new Error(`counter c: ${c.reason}`);
  }

  report(): ElectionSimReport {
    const leader = this.members.find((m) => m.election?.acceptsOperations());
    return {
      seed: this.opts.seed,
      members: this.ids.length,
      ...this.counts,
      maxEpoch: Math.max(...this.members.map((m) => m.disk.durable?.epoch ?? 0)),
      indeterminate: this.history.filter((h) => h.op.kind !== 'read' && (h.outcome === undefined || h.outcome.kind === 'unavailable')).length,
      historyOps: this.history.length,
      preferredLeadsAtEnd: leader?.id === this.preferred,
      unsettledAtEnd: leader !== undefined && unsettled(leader.disk.acceptor, leader.disk.vv) !== undefined,
    };
  }
}

/** Of two applied register writes, the later: strong entries by index; others (`commit-first`) by epoch, then seq. */
function later(a: Entry, b: Entry): boolean {
  if (a.dot.member === STRONG_ORIGIN && b.dot.member === STRONG_ORIGIN) return a.dot.seq > b.dot.seq;
  return a.epoch > b.epoch || (a.epoch === b.epoch && a.dot.seq > b.dot.seq);
}
