/**
 * Leader election for one shard: Raft's rules for terms and votes, with the leader epoch as
 * the term, pre-vote, majority leases for reads, and a clean handover to the preferred member
 * (`PRIMARY_REGION`). Pure: time and randomness come in as arguments, and every call returns
 * a {@link Step}: what to persist, then what to send. The caller must make `persist` durable
 * before any message of that step leaves (a vote granted and then forgotten in a crash could
 * be granted again to another candidate of the same epoch).
 *
 * The conversation (every message carries the sender's epoch):
 * - `heartbeat` (leader → all, every `heartbeatMs`, numbered by `round`) → `heartbeat-reply`
 *   (`ok` and the follower's applied vector). A follower that acknowledges a heartbeat grants
 *   the leader a lease: it promises to vote for nobody for `leaseMs` of its own clock.
 * - `pre-vote` at `epoch + 1` (a member that has not heard from a leader for its randomised
 *   election timeout) → `pre-vote-reply`. Nothing changes at either side; a peer grants it only
 *   when it has not heard from a leader for a lease itself and the candidate's applied vector
 *   covers its own. Only with a majority does the candidate raise its epoch.
 * - `vote` (the candidate, having voted for itself) → `vote-reply`. One vote per epoch per
 *   member, only for a candidate whose applied vector covers the voter's and whose highest
 *   accepted strong write proposal ranks at least as high (src/core/proposals.ts), never while the
 *   voter's lease promise holds.
 * - `timeout-now` (leader → the preferred member): stand now. The leader has stopped taking
 *   operations and dropped its lease, so the votes of this one election (`transfer`) may
 *   disregard the lease granted to it.
 *
 * @remarks Why a new leader never acts while the old one may still answer from its lease:
 * the old lease is held from a majority of acknowledgements of one round, each promising no
 * vote until `leaseMs` after it arrived; the leader counts the lease from when it *sent* the
 * round, for `leaseMs - maxClockDriftMs` of its own clock. Any electing majority contains one
 * of those members, whose vote comes only after its promise, hence after the old lease ended
 * as long as two clocks disagree by at most `maxClockDriftMs` over one lease. A restarted
 * member forgets its promises, so it grants no vote (nor pre-vote) for one lease after it
 * starts.
 */
import type { MemberId } from './ids.js';
import type { Random } from './ports.js';
import { majority } from './routing.js';
import { type Rank, rankBefore, STRONG_ORIGIN } from './proposals.js';
import { get, leq, type VersionVector } from './version-vector.js';

export interface ElectionConfig {
  readonly self: MemberId;
  /** Every member of the shard, `self` included. */
  readonly members: readonly MemberId[];
  /** The member leadership returns to when it is healthy and caught up (none: no handover). */
  readonly preferred?: MemberId | undefined;
  /** How long a majority's acknowledgement lets the leader answer from its own state. */
  readonly leaseMs: number;
  /** The most two members' clocks may disagree about the length of one lease. */
  readonly maxClockDriftMs: number;
  /** Interval between heartbeat rounds; a quarter of the lease unless set. */
  readonly heartbeatMs?: number;
  /**
   * False: only the preferred member ever stands, so the leader is the preferred member or
   * nobody, and an idle shard costs nothing: the leader sends one heartbeat round when elected
   * (its followers learn of it) and none after, never steps down for want of a majority, and
   * followers forward to the preferred member while they know no leader. Still elected by
   * votes, so that a change of the preferred member during a rolling deploy makes no two
   * leaders of one epoch. Default true.
   */
  readonly failover?: boolean;
  /**
   * A leader with no operation for this long quiesces the shard: a last heartbeat round tells
   * the followers, then nobody sends anything or runs a timer, so that idle members can
   * hibernate. The leader wakes on its next operation ({@link Election.activity}); a follower
   * when it cannot reach the leader it knows ({@link Election.suspect}), or on any election
   * message but a quiescing heartbeat. 0 or absent: never.
   */
  readonly quiesceAfterMs?: number;
}

/** What a member must keep across restarts, written before any message that depends on it. */
export interface Durable {
  readonly epoch: number;
  readonly votedFor: MemberId | null;
  /**
   * The leader this member knew at `epoch` (itself, once elected): every lease it granted at
   * this epoch was that leader's. After a restart that leader may stand, and be voted for, at
   * once: a candidate is not a leader, so no lease of its own is left to protect.
   */
  readonly leader?: MemberId;
}

/** Why a vote or pre-vote was refused. */
export type Refusal = 'stale-epoch' | 'voted' | 'behind' | 'leader-lease' | 'restarting';

export type ElectionMessage =
  | { readonly type: 'pre-vote'; readonly epoch: number; readonly vv: VersionVector; readonly accepted?: Rank }
  | { readonly type: 'pre-vote-reply'; readonly epoch: number; readonly granted: boolean; readonly reason?: Refusal; readonly current: number }
  | { readonly type: 'vote'; readonly epoch: number; readonly vv: VersionVector; readonly accepted?: Rank; readonly transfer: boolean }
  | { readonly type: 'vote-reply'; readonly epoch: number; readonly granted: boolean; readonly reason?: Refusal }
  | { readonly type: 'heartbeat'; readonly epoch: number; readonly round: number; readonly quiesce?: boolean }
  | { readonly type: 'heartbeat-reply'; readonly epoch: number; readonly round: number; readonly ok: boolean; readonly vv: VersionVector }
  | { readonly type: 'timeout-now'; readonly epoch: number };

export interface Outbound {
  readonly to: MemberId;
  readonly message: ElectionMessage;
}

export type ElectionEvent =
  | { readonly kind: 'elected'; readonly epoch: number }
  | { readonly kind: 'stepped-down'; readonly epoch: number; readonly reason: 'higher-epoch' | 'lost-majority' }
  | { readonly kind: 'voted'; readonly epoch: number; readonly for: MemberId }
  | { readonly kind: 'handover'; readonly to: MemberId; readonly epoch: number };

/** Persist `persist` (when present), then send `send`. `events` are for logs and stats. */
export interface Step {
  persist?: Durable;
  send: Outbound[];
  events: ElectionEvent[];
}

/** What the member is doing now, as the election sees it. */
export interface Local {
  /** The member's applied version vector. */
  readonly vv: VersionVector;
  /** The highest rank of a strong write proposal this member accepted (src/core/proposals.ts); none when absent. */
  readonly accepted?: Rank;
  /** A strong operation is under way (the leader neither hands over nor quiesces meanwhile). */
  readonly busy?: boolean;
}

export type ElectionState = 'follower' | 'pre-candidate' | 'candidate' | 'leader';

export class Election {
  state: ElectionState = 'follower';
  leader: MemberId | undefined;
  /** The leader's lease ends here (its own clock); -Infinity when it holds none. */
  leaseExpiry = -Infinity;
  private current: Durable;
  private readonly heartbeatMs: number;
  /** Votes or pre-votes gathered in the election under way. */
  private granted = new Set<MemberId>();
  /** Before this, a restarted member grants nothing. */
  private readonly quietUntil: number;
  private lastLeaderContact: number;
  private timeoutAt: number;
  /** The lease this member granted as a follower. */
  private promise: { readonly epoch: number; readonly until: number; readonly to: MemberId } | undefined;
  // As leader:
  private round = 0;
  private readonly rounds = new Map<number, { readonly sentAt: number; readonly acks: Set<MemberId>; readonly quiesce: boolean }>();
  private leaseFromRound = 0;
  private nextHeartbeat = 0;
  private lastMajority = -Infinity;
  private transferUntil: number | undefined;
  private preferredSince: number | undefined;
  private preferredLastAck = -Infinity;
  private preferredVV: VersionVector | undefined;
  /** Quiesced: no heartbeats, no timeouts (see {@link ElectionConfig.quiesceAfterMs}). */
  private quiet = false;
  private lastActivity: number;

  constructor(
    private readonly config: ElectionConfig,
    durable: Durable | undefined,
    now: number,
    private readonly random: Random,
  ) {
    if (!config.members.includes(config.self)) throw new Error(`${config.self} is not a member of its shard`);
    if (!(config.maxClockDriftMs >= 0 && config.maxClockDriftMs < config.leaseMs)) throw new Error('maxClockDriftMs must be in [0, leaseMs)');
    this.current = durable ?? { epoch: 0, votedFor: null };
    this.heartbeatMs = config.heartbeatMs ?? config.leaseMs / 4;
    // A member with no durable state never acknowledged a heartbeat (that would have persisted
    // an epoch); one that led its epoch granted no lease in it.
    const led = durable?.leader === config.self;
    this.quietUntil = durable && !led ? now + config.leaseMs : now;
    this.lastLeaderContact = now;
    this.lastActivity = now;
    this.leader = this.fallbackLeader();
    // A follower that knew its leader starts quiet, as its shard most likely is (an idle member
    // is what gets evicted): the leader's next heartbeat wakes it, or a forward that fails.
    if (config.quiesceAfterMs && durable?.leader !== undefined && durable.leader !== config.self) {
      this.quiet = true;
      this.leader = durable.leader;
    }
    // A restarted leader stands again at once (its followers' promises were to itself).
    this.timeoutAt = led ? now : now + this.electionTimeout();
  }

  get epoch(): number {
    return this.current.epoch;
  }

  get votedFor(): MemberId | null {
    return this.current.votedFor;
  }

  durable(): Durable {
    return this.current;
  }

  /** True for the leader, unless it is handing over. */
  acceptsOperations(): boolean {
    return this.state === 'leader' && this.transferUntil === undefined;
  }

  /** The leader may answer reads from its own state (else it runs a majority round first). */
  leaseValid(now: number): boolean {
    return this.acceptsOperations() && now < this.leaseExpiry;
  }

  /** Quiesced: nothing to send and no timer to run until {@link activity}, {@link suspect} or a message wakes it. */
  get quiesced(): boolean {
    return this.quiet;
  }

  /** A strong operation or quorum read at this member: a quiesced leader heartbeats again at once. */
  activity(now: number): void {
    this.lastActivity = now;
    if (this.state !== 'leader' || !this.quiet) return;
    this.quiet = false;
    // Nobody answered while nothing was sent: that is no lost majority.
    this.lastMajority = now;
    this.nextHeartbeat = now;
  }

  /** This member could not reach the leader it knows: a quiesced follower runs its election timeout again. */
  suspect(now: number): void {
    if (this.state !== 'leader') this.wake(now);
  }

  /** Timers: heartbeats, election timeouts, losing the majority, handover. Call often (every few ms of `heartbeatMs`). */
  tick(now: number, local: Local): Step {
    const step = emptyStep();
    if (this.quiet) return step;
    if (this.state === 'leader') this.leaderTick(now, local, step);
    else if (now >= this.timeoutAt && this.free(now) && this.mayStand()) this.startPreVote(now, local, step);
    return step;
  }

  /**
   * Bootstrap of a fresh shard: the preferred member, with no durable state (epoch 0: it never
   * voted nor heard of a leader), stands for epoch 1 at once, without pre-vote, so that a new
   * cluster has its leader within one round trip instead of after an election timeout. Safe as
   * any election: votes are still one per epoch, and a member that knows epoch 1 or later (or is
   * bound by a lease) refuses. Anywhere else it does nothing.
   */
  bootstrap(now: number, local: Local): Step {
    const step = emptyStep();
    if (this.config.self === this.config.preferred && this.current.epoch === 0 && this.current.votedFor === null && this.state === 'follower') {
      this.startElection(now, local, false, step);
    }
    return step;
  }

  /** A message from `from`. */
  receive(from: MemberId, msg: ElectionMessage, now: number, local: Local): Step {
    const step = emptyStep();
    // An election under way elsewhere (or a leader handing over): take part in it.
    if (msg.type !== 'heartbeat' && msg.type !== 'heartbeat-reply' && this.state !== 'leader') this.wake(now);
    switch (msg.type) {
      case 'pre-vote':
        this.onPreVote(from, msg, now, local, step);
        break;
      case 'pre-vote-reply':
        this.onPreVoteReply(from, msg, now, local, step);
        break;
      case 'vote':
        this.onVote(from, msg, now, local, step);
        break;
      case 'vote-reply':
        this.onVoteReply(from, msg, now, step);
        break;
      case 'heartbeat':
        this.onHeartbeat(from, msg, now, local, step);
        break;
      case 'heartbeat-reply':
        this.onHeartbeatReply(from, msg, now, step);
        break;
      case 'timeout-now':
        if (msg.epoch === this.epoch && from === this.leader && this.state === 'follower') this.startElection(now, local, true, step);
        break;
    }
    return step;
  }

  /** An epoch seen in other traffic (replication): a higher one is adopted, and a leader steps down. */
  observe(epoch: number, now: number): Step {
    const step = emptyStep();
    this.adopt(epoch, now, step);
    return step;
  }

  // ---- as leader ----

  private leaderTick(now: number, local: Local, step: Step): void {
    // Without failover nobody else may lead: nothing to keep up, nobody to hand over to.
    if (this.config.failover === false) return;
    if (now - this.lastMajority > 2 * this.config.leaseMs) {
      this.stepDown('lost-majority', now, step);
      return;
    }
    if (this.transferUntil !== undefined && now >= this.transferUntil) this.transferUntil = undefined;
    if (now - this.preferredLastAck > 2 * this.heartbeatMs) this.preferredSince = undefined;
    if (now >= this.nextHeartbeat) this.heartbeat(now, step, this.mayQuiesce(now, local));
    this.maybeHandOver(now, local, step);
  }

  /**
   * Idle for `quiesceAfterMs`, not busy nor handing over, and the preferred member (else the
   * handover comes first): its heartbeats say so until every follower has acknowledged one.
   */
  private mayQuiesce(now: number, local: Local): boolean {
    const { quiesceAfterMs, preferred, self } = this.config;
    if (!quiesceAfterMs || local.busy || now - this.lastActivity < quiesceAfterMs || this.transferUntil !== undefined) return false;
    return preferred === undefined || preferred === self;
  }

  private heartbeat(now: number, step: Step, quiesce = false): void {
    const round = ++this.round;
    this.rounds.set(round, { sentAt: now, acks: new Set([this.config.self]), quiesce });
    this.rounds.delete(round - 64);
    this.nextHeartbeat = now + this.heartbeatMs;
    const message: ElectionMessage = { type: 'heartbeat', epoch: this.epoch, round, ...(quiesce && { quiesce }) };
    for (const to of this.peers()) step.send.push({ to, message });
  }

  private onHeartbeatReply(from: MemberId, msg: ElectionMessage & { type: 'heartbeat-reply' }, now: number, step: Step): void {
    if (this.adopt(msg.epoch, now, step) || this.state !== 'leader' || msg.epoch !== this.epoch || !msg.ok) return;
    const r = this.rounds.get(msg.round);
    if (!r) return;
    r.acks.add(from);
    if (from === this.config.preferred) {
      this.preferredSince ??= r.sentAt;
      this.preferredLastAck = now;
      this.preferredVV = msg.vv;
    }
    // Every follower knows: nothing more to send until the next operation.
    if (r.quiesce && r.acks.size === this.config.members.length && now - this.lastActivity >= (this.config.quiesceAfterMs ?? Infinity)) this.quiet = true;
    if (r.acks.size >= this.majority()) {
      this.lastMajority = Math.max(this.lastMajority, r.sentAt);
      if (msg.round >= this.leaseFromRound) {
        this.leaseExpiry = Math.max(this.leaseExpiry, r.sentAt + this.config.leaseMs - this.config.maxClockDriftMs);
      }
    }
  }

  /** Hands over to the preferred member once it has answered for a lease and holds all this leader has applied. */
  private maybeHandOver(now: number, local: Local, step: Step): void {
    const to = this.config.preferred;
    if (to === undefined || to === this.config.self || this.transferUntil !== undefined || local.busy) return;
    if (this.preferredSince === undefined || now - this.preferredSince < this.config.leaseMs) return;
    if (!this.preferredVV || !leq(local.vv, this.preferredVV)) return;
    this.transferUntil = now + 2 * this.config.leaseMs;
    this.leaseExpiry = -Infinity;
    // Never again a lease in this epoch: the preferred member's vote requests (transfer) may
    // disregard the promises of any later round, however late they arrive. If it is not
    // elected, this leader goes on at this epoch, reading through majority rounds.
    this.leaseFromRound = Infinity;
    step.send.push({ to, message: { type: 'timeout-now', epoch: this.epoch } });
    step.events.push({ kind: 'handover', to, epoch: this.epoch });
  }

  // ---- elections ----

  private startPreVote(now: number, local: Local, step: Step): void {
    this.state = 'pre-candidate';
    this.leader = undefined;
    this.granted = new Set([this.config.self]);
    this.timeoutAt = now + this.electionTimeout();
    for (const to of this.peers()) step.send.push({ to, message: { type: 'pre-vote', epoch: this.epoch + 1, vv: local.vv, ...withRank(local) } });
    if (this.granted.size >= this.majority()) this.startElection(now, local, false, step);
  }

  private startElection(now: number, local: Local, transfer: boolean, step: Step): void {
    this.state = 'candidate';
    this.leader = undefined;
    this.setDurable({ epoch: this.epoch + 1, votedFor: this.config.self }, step);
    this.granted = new Set([this.config.self]);
    this.timeoutAt = now + this.electionTimeout();
    for (const to of this.peers()) step.send.push({ to, message: { type: 'vote', epoch: this.epoch, vv: local.vv, ...withRank(local), transfer } });
    if (this.granted.size >= this.majority()) this.becomeLeader(now, step);
  }

  private becomeLeader(now: number, step: Step): void {
    this.state = 'leader';
    this.leader = this.config.self;
    this.leaseExpiry = -Infinity;
    this.leaseFromRound = this.round + 1;
    this.lastMajority = now;
    this.transferUntil = undefined;
    this.preferredSince = undefined;
    this.preferredLastAck = -Infinity;
    this.preferredVV = undefined;
    // A promise to the leader before this one ended (or that leader handed over): it binds no more.
    this.promise = undefined;
    this.quiet = false;
    this.lastActivity = now;
    this.setDurable({ ...this.current, leader: this.config.self }, step);
    step.events.push({ kind: 'elected', epoch: this.epoch });
    this.heartbeat(now, step);
  }

  private onPreVote(from: MemberId, msg: ElectionMessage & { type: 'pre-vote' }, now: number, local: Local, step: Step): void {
    const reason = this.preVoteRefusal(from, msg, now, local);
    const reply: ElectionMessage = reason
      ? { type: 'pre-vote-reply', epoch: msg.epoch, granted: false, reason, current: this.epoch }
      : { type: 'pre-vote-reply', epoch: msg.epoch, granted: true, current: this.epoch };
    step.send.push({ to: from, message: reply });
  }

  private preVoteRefusal(from: MemberId, msg: { epoch: number; vv: VersionVector; accepted?: Rank }, now: number, local: Local): Refusal | undefined {
    if (msg.epoch <= this.epoch) return 'stale-epoch';
    const ownLeader = this.isOwnLeader(from);
    if (now < this.quietUntil && !ownLeader) return 'restarting';
    if (this.state === 'leader' || (now < this.lastLeaderContact + this.config.leaseMs && !ownLeader)) return 'leader-lease';
    if (behind(msg, local)) return 'behind';
    return undefined;
  }

  private onPreVoteReply(from: MemberId, msg: ElectionMessage & { type: 'pre-vote-reply' }, now: number, local: Local, step: Step): void {
    if (this.adopt(msg.current, now, step)) return;
    if (this.state !== 'pre-candidate' || msg.epoch !== this.epoch + 1 || !msg.granted) return;
    this.granted.add(from);
    if (this.granted.size >= this.majority()) this.startElection(now, local, false, step);
  }

  private onVote(from: MemberId, msg: ElectionMessage & { type: 'vote' }, now: number, local: Local, step: Step): void {
    const refuse = (reason: Refusal): void => {
      step.send.push({ to: from, message: { type: 'vote-reply', epoch: Math.max(this.epoch, msg.epoch), granted: false, reason } });
    };
    if (msg.epoch < this.epoch) return refuse('stale-epoch');
    if (now < this.quietUntil && !this.isOwnLeader(from)) return refuse('restarting');
    // Bound by a lease (granted as a follower, or held as leader): neither vote nor adopt the epoch,
    // except in the handover of the leader of the epoch just before.
    const handover = msg.transfer && msg.epoch === this.epoch + 1;
    if (this.state === 'leader' && this.transferUntil === undefined && msg.epoch > this.epoch) return refuse('leader-lease');
    if (this.promise && now < this.promise.until && msg.epoch > this.epoch && !(handover && this.promise.epoch === this.epoch) && from !== this.promise.to) {
      return refuse('leader-lease');
    }
    this.adopt(msg.epoch, now, step);
    if (this.current.votedFor !== null && this.current.votedFor !== from) return refuse('voted');
    if (behind(msg, local)) return refuse('behind');
    if (this.current.votedFor !== from) this.setDurable({ epoch: this.epoch, votedFor: from }, step);
    this.lastLeaderContact = now;
    this.timeoutAt = now + this.electionTimeout();
    step.events.push({ kind: 'voted', epoch: this.epoch, for: from });
    step.send.push({ to: from, message: { type: 'vote-reply', epoch: this.epoch, granted: true } });
  }

  private onVoteReply(from: MemberId, msg: ElectionMessage & { type: 'vote-reply' }, now: number, step: Step): void {
    if (this.adopt(msg.epoch, now, step)) return;
    if (this.state !== 'candidate' || msg.epoch !== this.epoch || !msg.granted) return;
    this.granted.add(from);
    if (this.granted.size >= this.majority()) this.becomeLeader(now, step);
  }

  private onHeartbeat(from: MemberId, msg: ElectionMessage & { type: 'heartbeat' }, now: number, local: Local, step: Step): void {
    if (msg.epoch < this.epoch) {
      step.send.push({ to: from, message: { type: 'heartbeat-reply', epoch: this.epoch, round: msg.round, ok: false, vv: local.vv } });
      return;
    }
    this.adopt(msg.epoch, now, step);
    if (this.state === 'leader') throw new Error(`two leaders in epoch ${this.epoch}: ${this.config.self} and ${from}`);
    this.state = 'follower';
    this.leader = from;
    this.lastLeaderContact = now;
    this.timeoutAt = now + this.electionTimeout();
    this.quiet = msg.quiesce === true;
    this.promise = { epoch: this.epoch, until: now + this.config.leaseMs, to: from };
    // Before the reply (the lease) leaves: after a restart, only this leader may be voted for at once.
    if (this.current.leader !== from) this.setDurable({ ...this.current, leader: from }, step);
    step.send.push({ to: from, message: { type: 'heartbeat-reply', epoch: this.epoch, round: msg.round, ok: true, vv: local.vv } });
  }

  // ---- terms ----

  /** Adopts a higher epoch (no vote in it yet); a leader or candidate becomes a follower. True when it did. */
  private adopt(epoch: number, now: number, step: Step): boolean {
    if (epoch <= this.epoch) return false;
    if (this.state === 'leader') step.events.push({ kind: 'stepped-down', epoch: this.epoch, reason: 'higher-epoch' });
    this.setDurable({ epoch, votedFor: null }, step);
    this.toFollower(now);
    return true;
  }

  private stepDown(reason: 'lost-majority', now: number, step: Step): void {
    step.events.push({ kind: 'stepped-down', epoch: this.epoch, reason });
    this.toFollower(now);
  }

  private toFollower(now: number): void {
    if (this.state !== 'follower') this.timeoutAt = now + this.electionTimeout();
    this.quiet = false;
    this.state = 'follower';
    this.leader = this.fallbackLeader();
    this.leaseExpiry = -Infinity;
    this.transferUntil = undefined;
    this.rounds.clear();
  }

  private setDurable(d: Durable, step: Step): void {
    this.current = d;
    step.persist = d;
  }

  // ---- helpers ----

  /** Out of quiescence: the election timeout runs from now. */
  private wake(now: number): void {
    if (!this.quiet) return;
    this.quiet = false;
    this.timeoutAt = now + this.electionTimeout();
  }

  /** Whom a follower that heard of no leader forwards to: without failover, the only member that may lead. */
  private fallbackLeader(): MemberId | undefined {
    const { failover, preferred, self } = this.config;
    return failover === false && preferred !== self ? preferred : undefined;
  }

  /**
   * `from` is the leader this member follows, or followed at its epoch before it restarted:
   * standing, it is no leader, so the leases this member granted (all its) bind no more.
   */
  private isOwnLeader(from: MemberId): boolean {
    return from === this.current.leader || from === this.promise?.to;
  }

  /** Free to vote for a new leader (itself included): not restarting, and no lease promise holding. */
  private mayStand(): boolean {
    return this.config.failover !== false || this.config.self === this.config.preferred;
  }

  private free(now: number): boolean {
    return now >= this.quietUntil && !(this.promise && now < this.promise.until);
  }

  /** One to two leases, drawn afresh each time; the preferred member draws from half a lease to one, so it usually stands first. */
  private electionTimeout(): number {
    const { leaseMs, preferred, self } = this.config;
    return preferred === self ? leaseMs * (0.5 + 0.5 * this.random.next()) : leaseMs * (1 + this.random.next());
  }

  private peers(): MemberId[] {
    return this.config.members.filter((m) => m !== this.config.self);
  }

  private majority(): number {
    return majority(this.config.members.length);
  }
}

const emptyStep = (): Step => ({ send: [], events: [] });

const withRank = (local: Local): { accepted?: Rank } => (local.accepted ? { accepted: local.accepted } : {});

/**
 * A candidate is behind a voter that has applied what it lacks, or that accepted a later strong
 * write proposal than the candidate at an index the candidate has not applied (Raft's "at least
 * as up to date" rule; see src/core/proposals.ts). A candidate that applied the voter's index
 * holds the entry committed there, whatever rank it was committed at: a member that was cut
 * off learns later entries by gossip, not by accepting them, and may lead again.
 */
const behind = (candidate: { vv: VersionVector; accepted?: Rank }, voter: Local): boolean =>
  !leq(voter.vv, candidate.vv) ||
  (rankBefore(candidate.accepted, voter.accepted) && get(candidate.vv, STRONG_ORIGIN) < (voter.accepted?.index ?? 0));
