/**
 * One member of one shard: the Durable Object `replica:<shard>:<region>`. A thin shell in
 * the manner of partyserver: the entry points adapt, the core decides. It rebuilds its
 * replica from SQLite under `blockConcurrencyWhile`, answers client requests routed to it by
 * the Worker, talks to its peers through {@link Peers}, and gossips on an alarm until every
 * peer it knows of has what it has.
 */
import { DurableObject } from 'cloudflare:workers';
import { gossipRound, pickPeers } from '../core/anti-entropy.js';
import { EagerPusher } from '../core/eager-push.js';
import { readAtLeader, writeAtLeader, writeNeedsMajority } from '../core/consistency.js';
import { AssertionFailure, ConcordError, EngineFaultError, IdempotencyKeyInUseError, MissingDependenciesError, StaleEpochError, UnavailableError } from '../core/errors.js';
import { type Durable, Election, type ElectionMessage, type Local, type Step } from '../core/election.js';
import { EngineFaults } from '../core/engines/fault-injection.js';
import { Quarantine } from '../core/quarantine.js';
import { regionsChange } from '../core/regions-change.js';
import { isLive } from '../core/doc-meta.js';
import { indexFrom } from '../core/doc-store.js';
import { type DocKey, docKey, type MemberId, memberId, type ShardId, splitDocKey } from '../core/ids.js';
import type { LogEntry } from '../core/log.js';
import { Replica } from '../core/replica.js';
import { memberName, parseMemberName } from '../core/routing.js';
import { type Acceptor, accept, committedBelow, freshAcceptor, type Proposal, type Rank, unsettled } from '../core/proposals.js';
import type { StoredOutcome } from '../core/storage.js';
import { ensureOnMajority, gatherMajority, type ProposalPort, proposeToMajority, replicateToMajority, StrongQueue } from '../core/strong.js';
import { type Dot, emptyVV, equals, get, leq, members, type VersionVector } from '../core/version-vector.js';
import { type Config, type Env, readConfig } from './config.js';
import { etagOf, execute, isRead, type RecordOutcome } from './execute.js';
import { readRecord, type Recorded, RecordedProblem, recorder, refusal } from './outcomes.js';
import { sleep } from './faults.js';
import { Peers } from './peers.js';
import type { DocRequest, DocResponse, DocResult, ElectionSeen, FaultConfig, ListRequest, MemberStats, Problem, ProposeResult, ReplicateResult, RequestIdentity, SyncResult } from './protocol.js';
import { SqliteStorage } from './sqlite-storage.js';
import { breakAutomergeWasm, recoverEngines } from './engine-recovery.js';
import { type SocketHost, type SocketRequest, DocSockets } from './sockets.js';
import { ChangeFeeds, type FeedEvent } from './feeds.js';
import { type AutomergeEngine, loadAutomerge } from '../core/engines/automerge.js';
import { emptyToken, withShard } from '../core/shard-token.js';
import { issueCausalToken, tokenSecret } from '../api/causal-token.js';

const random = { next: () => Math.random() };
/** The durable alarm is set this many gossip intervals ahead (see `arm`). */
const ALARM_ROUNDS = 10;
/** Pause between the shared pulls of waiting session requests. */
const SESSION_POLL_PAUSE_MS = 25;
/** A strong operation or quorum read is forwarded at most this many times (a leader that stepped down forwards once more). */
const MAX_HOPS = 2;
/** The durable alarm stays at most this many leases ahead while the election runs (the backstop of its timer). */
const BACKSTOP_LEASES = 4;

export class ReplicaObject extends DurableObject<Env> {
  private readonly config: Config;
  private readonly queue = new StrongQueue({ now: () => Date.now() });
  /** Writes being carried out, by document and request id (see {@link once}). */
  private readonly inflight = new Map<string, Promise<DocResult>>();
  /** The pull that waiting session requests share, and how many such pulls ran. */
  private sharedPull: { pulled: Promise<unknown>; cycle: Promise<unknown> } | undefined;
  private sessionPulls = 0;
  /** Engine faults since this object started (its replica is rebuilt after each). */
  private faultsSeen = 0;
  /** When this instance was constructed: a later value than before means the object was evicted or restarted meanwhile. */
  private readonly startedAt = Date.now();
  private lastFault: string | null = null;
  private shard!: ShardId;
  private region!: MemberId;
  private name!: string;
  /** This member's part in its shard's leader election (src/core/election.ts). */
  private election!: Election;
  /** The last write of the election's durable state: every election message waits for it. */
  private electionWrite: Promise<void> = Promise.resolve();
  private electionTimer: ReturnType<typeof setTimeout> | undefined;
  /** Requests waiting for a leader, a lease or a change of either. */
  private readonly electionWaiters = new Set<() => void>();
  private lastElection: ElectionSeen | null = null;
  /** Why this member takes no part in elections: REGIONS changed by more than one region since it last ran (see {@link init}). */
  private regionsRefused: string | null = null;
  /** The strong write proposal this member holds and the highest rank it accepted (src/core/proposals.ts); durable. */
  private acceptor: Acceptor = freshAcceptor;
  /** The last write of {@link acceptor}: an answer that depends on it waits for it. */
  private acceptorWrite: Promise<void> = Promise.resolve();
  /** The rank at which this member, as leader, last committed a strong write (see {@link Proposal.prev}). */
  private lastCommit: Rank | undefined;
  /** A settle started by {@link settleSoon} is under way; after one failed, none before `settleRetryAt`. */
  private settling = false;
  private settleRetryAt = 0;
  /** When peers were last woken for an election (see {@link wakePeers}). */
  private wokenAt = -Infinity;
  /** When the durable alarm is set for (see {@link backstop}). */
  private alarmAt = 0;
  private peers!: Peers;
  private replica!: Replica;
  private pusher!: EagerPusher;
  /** Entries of answered writes whose eager push has not started yet (see {@link afterWrite}). */
  private toPush: LogEntry[] = [];
  private faults: FaultConfig | null = null;
  private alarmArmed = false;
  /** The timer of the next gossip round (see {@link arm}). */
  private roundTimer: ReturnType<typeof setTimeout> | undefined;
  /** This member's vector at its previous gossip round (see {@link alarm}). */
  private gossipMark: VersionVector | undefined;
  /** Test environment only: engine faults armed by {@link injectEngineFault}. */
  private readonly engineFaults = new EngineFaults();
  /** Remote entries the engines keep failing on; outlives the rebuilds that faults cause. */
  private readonly quarantine: Quarantine;
  /** Clients' WebSockets (real-time sync); they outlive hibernation, this object does not. */
  private sockets!: DocSockets;
  /** Server-Sent Events listeners (their streams keep this object in memory while open). */
  private feeds!: ChangeFeeds;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.config = readConfig(env);
    this.quarantine = new Quarantine({ retryMs: this.config.quarantineRetryMs });
    void ctx.blockConcurrencyWhile(() => this.init());
  }

  /**
   * Learns which member this is and rebuilds the replica from storage. The name is kept in
   * storage too, because an alarm that wakes a restarted object carries no name.
   */
  private async init(): Promise<void> {
    const storage = this.ctx.storage;
    // One read for everything kept outside the replica's tables.
    const stored = await storage.get(['name', 'faults', 'acceptor', 'epoch', 'election', 'regions']);
    const name = this.ctx.id.name ?? (stored.get('name') as string | undefined);
    const parsed = parseMemberName(name ?? '');
    if (!parsed || !this.config.regions.includes(parsed.region) || parsed.shard >= this.config.shards) {
      throw new Error(`ReplicaObject: ${name ?? 'an unnamed object'} is not a member of this deployment`);
    }
    if (this.ctx.id.name && stored.get('name') !== name) await storage.put('name', name);
    this.shard = parsed.shard;
    this.region = parsed.region;
    this.name = memberName(this.shard, this.region);
    this.peers = new Peers(this.env, this.config, this.shard, this.region, () => this.replica, () => this.faults, (epoch) => this.observeEpoch(epoch));
    this.faults = (stored.get('faults') as FaultConfig | undefined) ?? null;
    this.feeds = new ChangeFeeds((doc) => this.feedEvent(doc));
    this.sockets = new DocSockets(this.ctx, this.socketHost(), { maxMessageBytes: this.config.maxWsMessageBytes });
    this.build();
    this.acceptor = (stored.get('acceptor') as Acceptor | undefined) ?? freshAcceptor;
    // Entries committed before a restart may not have reached every peer yet.
    if (!this.converged()) this.arm();
    // The election's durable state; before it existed, members kept only the highest epoch seen.
    const legacy = stored.get('epoch') as number | undefined;
    const durable = (stored.get('election') as Durable | undefined) ?? (legacy ? { epoch: legacy, votedFor: null } : undefined);
    await this.checkRegions(stored.get('regions') as string[] | undefined);
    this.election = new Election(
      {
        self: this.region,
        members: this.config.regions,
        preferred: this.config.primary,
        leaseMs: this.config.leaseMs,
        maxClockDriftMs: this.config.maxClockDriftMs,
        // Off: only PRIMARY_REGION's member stands, and an idle shard sends nothing (README, Failover).
        failover: this.config.failover,
        quiesceAfterMs: this.config.quiesceMs,
      },
      durable,
      Date.now(),
      random,
    );
    if (this.regionsRefused) return;
    // A fresh shard: the preferred member stands at once, and this start waits for the votes
    // (one round trip; none of its peers calls back while it starts), so that the first
    // strong operation finds a leader. It first pulls what its peers hold: a voter refuses a
    // candidate that lacks what it applied (an eventual write that woke this member, say).
    if (!durable && this.region === this.config.primary) {
      await Promise.allSettled(this.config.regions.filter((p) => p !== this.region).map((p) => this.peers.pull(p)));
    }
    const boot = this.election.bootstrap(Date.now(), this.local());
    if (boot.persist) await this.persistElection(boot);
    this.noteElection(boot);
    await Promise.all(boot.send.map((o) => this.sendElection(o.to, o.message)));
    this.tickSoon();
    // A restarted member grants no vote for a lease: its peers start their timers (and that
    // quiet lease) now rather than when an election message first reaches them.
    if (durable) this.wakePeers();
  }

  /**
   * REGIONS may change by one region per deploy (README, Failover): a member that finds a
   * larger change since it last ran takes no part in elections (no vote, never stands), since
   * its majorities and its peers' could then be disjoint. Otherwise the list is kept for the next start.
   * @param ran the list this member last ran with (undefined for a new member)
   */
  private async checkRegions(ran: readonly string[] | undefined): Promise<void> {
    const change = regionsChange(ran, this.config.regions);
    if (!change.safe) {
      this.regionsRefused =
        `REGIONS changed from ${ran!.join(',')} to ${this.config.regions.join(',')} (added: ${change.added.join(',') || 'none'}; ` +
        `removed: ${change.removed.join(',') || 'none'}): more than one region at once, so ${this.name} takes no part in elections; ` +
        'deploy a list at most one region away from the one it ran (README, Failover)';
      console.error(this.regionsRefused);
    } else if (!ran || change.added.length + change.removed.length > 0) {
      await this.ctx.storage.put('regions', [...this.config.regions]);
    }
  }

  /** A replica rebuilt from what storage committed: fresh engines, nothing held in memory. */
  private build(): void {
    this.replica = new Replica(
      { self: this.region, members: this.config.regions, logMaxBytes: this.config.logMaxBytes, maxDepth: this.config.maxDepth },
      {
        storage: new SqliteStorage(this.ctx.storage),
        clock: { now: () => Date.now() },
        random,
        ...(this.config.testFaults && { engines: this.engineFaults.loader() }),
        quarantine: this.quarantine,
        committed: (entries, docs) => {
          this.sockets.changed(entries, docs);
          this.feeds.changed(docs);
        },
      },
    );
    this.pusher = new EagerPusher(this.replica, this.peers.transport);
  }

  /**
   * After a failure that was not the input's: drop the replica's memory and rebuild it from
   * storage, and make sure the engines work, with a spare wasm instance if the module broke.
   * Runs with input gates closed, so no request sees a half-rebuilt member.
   */
  private async recover(method: string, err: unknown): Promise<void> {
    console.error(`ReplicaObject:${method} ${this.name} rebuilds from storage after`, err);
    this.faultsSeen++;
    this.lastFault = `${method}: ${err instanceof Error ? err.message : String(err)}`;
    await this.ctx.blockConcurrencyWhile(async () => {
      try {
        this.replica.close();
      } catch {
        // A broken engine may fail to free; the replica is replaced either way.
      }
      if (!(await recoverEngines())) {
        // Nothing left in this isolate can run an engine: let the runtime reset the object.
        this.ctx.abort('the document engines cannot run in this isolate');
      }
      this.build();
      this.arm();
    });
  }

  // ---- client requests (from the Worker) ----

  /** A client request routed here by the Worker (the member nearest the caller). */
  async handle(req: DocRequest): Promise<DocResponse> {
    if (isRead(req) ? readAtLeader(req.level) : writeAtLeader(req.level)) return this.viaLeader(req);
    return this.answer('handle', async () => {
      // A session write waits for the token too, so that a delete removes what the client saw.
      if (req.level === 'session') await this.awaitToken(req.token ?? emptyVV);
      if (isRead(req)) return execute(this.replica, req, this.name).result;
      const majority = writeNeedsMajority(req.level);
      return this.once(req, (req as { readonly request?: RequestIdentity }).request?.client === true, async (record) => {
        const done = execute(this.replica, req, this.name, record);
        // Armed before the majority round: if that fails, gossip still carries the committed entry.
        this.afterWrite(done.entries, !majority);
        if (majority) await this.quorumReplicate(done.entries);
        return done.result;
      });
    });
  }

  /**
   * A quorum read or strong operation forwarded here as to the shard's leader (`hops` forwards
   * so far). A member that is not the leader (any more) forwards it to the leader it knows.
   */
  async lead(req: DocRequest, hops = 1): Promise<DocResponse> {
    return this.viaLeader(req, hops);
  }

  /**
   * Runs a quorum read or strong operation as the leader of epoch `epoch`. First of all it
   * settles the strong write proposal this member may hold (see {@link settle}). Reads are
   * answered from this member's state while its lease holds, else after a majority round;
   * strong writes pull from a majority, wait a little for the lease, and are proposed (see
   * {@link proposeWrite}), every round fenced by the epoch. An operation whose turn comes after
   * this member stepped down fails with a retryable 503.
   */
  private leadHere(req: DocRequest, deadline: number): Promise<DocResponse> {
    // A quiesced shard wakes: heartbeats again at once (the lease follows in one round trip).
    this.election.activity(Date.now());
    this.tickSoon();
    const epoch = this.election.epoch;
    const port = this.peers.at(epoch);
    const stillLeader = (): void => {
      if (!this.election.acceptsOperations() || this.election.epoch !== epoch) {
        throw new UnavailableError(`${this.name} is no longer the leader of shard ${this.shard} (epoch ${this.election.epoch}); retry`, 1);
      }
    };
    const current = async (): Promise<void> => {
      if (!this.election.leaseValid(Date.now())) await gatherMajority(this.replica, port);
    };
    return this.answer('lead', async () => {
      if (isRead(req) && req.level !== 'strong') {
        if (unsettled(this.acceptor, this.replica.vv)) {
          await this.queue.run(async () => {
            stillLeader();
            await this.settle(epoch, port);
          }, deadline);
        }
        await current();
        return execute(this.replica, req, this.name).result;
      }
      if (isRead(req)) {
        return this.queue.run(async () => {
          stillLeader();
          await this.settle(epoch, port);
          await current();
          return execute(this.replica, req, this.name).result;
        }, deadline);
      }
      return this.queue.run(async () => {
        stillLeader();
        // A pull from a majority even under the lease: the lease alone covers acknowledged
        // (strong and quorum) writes, but a write's preconditions and guards should also see
        // what other regions took at weaker levels (an ETag a client got from an eventual
        // write elsewhere), as they did before proposals.
        await gatherMajority(this.replica, port);
        await this.settle(epoch, port);
        // Every strong write is recorded: the forwarding member's transport may deliver it twice.
        return this.once(req, true, async (record) => {
          await this.awaitLease(deadline);
          stillLeader();
          return this.proposeWrite(req, epoch, port, record);
        });
      }, deadline);
    });
  }

  /**
   * A strong write, as a proposal (src/core/proposals.ts): made from this member's state but
   * not committed, kept here, then held by a majority; only then applied here (with the full
   * record of the request) and pushed to every peer. Until a majority holds it nobody sees it,
   * and if none ever does it never surfaces: a 503 here leaves it to whoever settles it next.
   */
  private async proposeWrite(req: DocRequest, epoch: number, port: ProposalPort, record: RecordOutcome | undefined): Promise<DocResult> {
    const made = this.replica.propose(() => execute(this.replica, req, this.name, record));
    if (!made.entry) return made.value.result;
    const prev = this.lastCommit?.index === made.entry.seq - 1 ? { prev: this.lastCommit } : {};
    await this.commitAt({ epoch, entry: made.entry, ...prev }, port, made.outcome);
    return made.value.result;
  }

  /**
   * Settles the proposal this member holds and has not applied: the previous leader may have
   * acknowledged it, so a new leader answers nothing before it has proposed it again at its own
   * epoch and applied it. (If it was never acknowledged, settling it is allowed too: its client
   * was told to retry, and the retry finds it carried out.)
   */
  private async settle(epoch: number, port: ProposalPort): Promise<void> {
    const held = unsettled(this.acceptor, this.replica.vv);
    if (held) await this.commitAt({ epoch, entry: held.entry }, port);
  }

  /**
   * A leader settles the proposal it holds as soon as it can, not only before its next
   * operation: until it does, the members that accepted the proposal outrank every member that
   * did not, so a handover to one of those fails (its votes are refused) and elections repeat
   * (found by the election simulator). Called when elected and on the leader's ticks.
   */
  private settleSoon(): void {
    if (this.settling || Date.now() < this.settleRetryAt || !this.election.acceptsOperations() || !unsettled(this.acceptor, this.replica.vv)) return;
    this.settling = true;
    const epoch = this.election.epoch;
    const done = this.queue
      .run(() => (this.election.acceptsOperations() && this.election.epoch === epoch ? this.settle(epoch, this.peers.at(epoch)) : Promise.resolve()))
      .catch((err: unknown) => {
        // Tried again a heartbeat later (or by the next strong operation, which settles first).
        this.settleRetryAt = Date.now() + this.config.leaseMs / 4;
        console.log(`${this.name} could not settle its strong write proposal yet: ${err instanceof Error ? err.message : String(err)}`);
      })
      .finally(() => {
        this.settling = false;
      });
    this.ctx.waitUntil(done);
  }

  /** Keeps `p` here, has a majority hold it, then applies it here and pushes it to every peer. */
  private async commitAt(p: Proposal, port: ProposalPort, outcome?: StoredOutcome): Promise<void> {
    const mine = accept(this.acceptor, p, this.replica.vv);
    if (!mine.ok) throw new UnavailableError(`${this.name} cannot propose a strong write (${mine.reason}); retry`, 1);
    await this.saveAcceptor(mine.state);
    await proposeToMajority(this.replica, port, p);
    if (!this.replica.commitProposal(p.entry, outcome)) {
      throw new UnavailableError(`${this.name} holds the strong write but cannot apply it yet; retry`, 1);
    }
    this.lastCommit = { epoch: p.epoch, index: p.entry.seq };
    this.afterWrite([p.entry], true);
  }

  private saveAcceptor(state: Acceptor): Promise<void> {
    this.acceptor = state;
    const put = (): Promise<void> => this.ctx.storage.put('acceptor', state);
    this.acceptorWrite = this.acceptorWrite.then(put, put);
    return this.acceptorWrite;
  }

  /**
   * Carries out a write once per request id: a retry finds the outcome recorded with the
   * write and is answered from it (after making sure what it wrote is as durable as its level
   * promises); a duplicate of a request still running waits for it, or answers 409 for a
   * client's Idempotency-Key. Without an id, or with `recordIt` false, it just runs.
   */
  private async once(req: DocRequest, recordIt: boolean, run: (record?: RecordOutcome) => Promise<DocResult>): Promise<DocResult> {
    const rid = (req as { readonly request?: RequestIdentity }).request;
    if (!rid || !recordIt) return run(undefined);
    const doc = docKey(req.ns, req.key);
    const key = `${doc}\u0001${rid.id}`;
    const running = this.inflight.get(key);
    if (running) {
      if (rid.client) throw new IdempotencyKeyInUseError('a request with this Idempotency-Key is still being carried out; retry shortly');
      return running;
    }
    const attempt = (async (): Promise<DocResult> => {
      const stored = this.replica.outcome(doc, rid.id);
      if (stored) return this.replay(readRecord(stored, rid), req);
      try {
        return await run(recorder(doc, rid, Date.now(), this.config.idempotencyTtlMs));
      } catch (err) {
        // A refusal (4xx) is an outcome too; an answer that says "retry" is not: the retry runs again.
        if (rid.client && err instanceof ConcordError && !retryLater(err)) {
          this.replica.recordOutcome(refusal(doc, rid, { code: err.code, detail: err.message }, Date.now(), this.config.idempotencyTtlMs));
        }
        throw err;
      }
    })();
    this.inflight.set(key, attempt);
    try {
      return await attempt;
    } finally {
      this.inflight.delete(key);
    }
  }

  /**
   * A retry of a write another member carried out and this one has applied: answered with
   * the status the origin gave, and this member's current view of the document (the
   * origin's body and headers stay at the origin).
   */
  private replayReplicated(status: number, req: DocRequest): DocResult {
    const doc = docKey(req.ns, req.key);
    const found = this.replica.read(doc);
    const base = { status: status as DocResult['status'], vv: this.replica.vv, member: this.name };
    if (status === 204 || !found) return base;
    const json = (req as { minimal?: boolean }).minimal ? undefined : this.replica.view(doc, (s) => s.toJSON());
    return { ...base, ...(json && { json }), engine: found.engine, etag: etagOf(found.meta) };
  }

  /** A recorded outcome answered again; a majority write first makes sure its entries reached a majority. */
  private async replay(recorded: Recorded, req: DocRequest): Promise<DocResult> {
    if ('problem' in recorded) throw new RecordedProblem(recorded.problem.code, recorded.problem.detail);
    if ('replicated' in recorded) return this.replayReplicated(recorded.replicated.status, req);
    if (writeNeedsMajority(req.level)) {
      const gone: Dot[] = [];
      for (const dot of recorded.dots) {
        const entry = this.replica.entriesFor({ ...this.replica.vv, [dot.member]: dot.seq - 1 }).entries.find((e) => e.origin === dot.member && e.seq === dot.seq);
        if (entry) await replicateToMajority(this.replica, this.peers.at(this.election.epoch), [entry], this.election.leader);
        else gone.push(dot);
      }
      // Compacted past the log bound, perhaps before any peer had it: rounds carry it (a state transfer).
      if (gone.length > 0) await ensureOnMajority(this.replica, this.peers.at(this.election.epoch), gone);
    }
    return recorded.result;
  }

  /** Keys of namespace `ns` with `prefix`, after `after`, ascending, at most `limit` (live documents only). */
  async list(req: ListRequest): Promise<string[]> {
    const keys = this.replica.docs.sortedKeys();
    const from = docKey(req.ns, req.after !== undefined && req.after >= req.prefix ? req.after : req.prefix);
    const out: string[] = [];
    for (let i = indexFrom(keys, from); i < keys.length && out.length < req.limit; i++) {
      const k = keys[i]!;
      const { ns, key } = splitDocKey(k);
      if (ns !== req.ns || !key.startsWith(req.prefix)) break;
      if (req.after !== undefined && key <= req.after) continue;
      const meta = this.replica.docs.meta(k);
      if (meta && isLive(meta)) out.push(key);
    }
    return out;
  }

  async stats(): Promise<MemberStats> {
    const s = this.replica.stats();
    const known = Object.values(this.replica.peers);
    let behind = 0;
    for (const vv of known) {
      for (const m of members(vv)) behind = Math.max(behind, vv[m]! - get(s.vv, m));
    }
    return {
      ...s,
      member: this.name,
      shard: this.shard,
      region: this.region,
      leader: this.election.acceptsOperations(),
      epoch: this.election.epoch,
      electionState: this.election.state,
      quiesced: this.election.quiesced,
      leaderRegion: this.election.leader ?? null,
      leaseExpiresAt: Number.isFinite(this.election.leaseExpiry) ? this.election.leaseExpiry : null,
      lastElection: this.lastElection,
      regions: this.config.regions,
      regionsRefused: this.regionsRefused,
      behind,
      lastAppliedAgeMs: this.replica.lastHlc > 0 ? Math.max(0, Date.now() - this.replica.lastHlc) : null,
      sessionPulls: this.sessionPulls,
      strongQueue: { waiting: this.queue.size, running: this.queue.active },
      engineFaults: this.faultsSeen,
      lastEngineFault: this.lastFault,
      startedAt: this.startedAt,
      sockets: this.ctx.getWebSockets().length,
    };
  }

  /**
   * Test environment only: the next `times` calls of an engine method throw as a broken
   * engine would (`method: 'any'` for any), after `skip` calls; or, with `breakWasm`,
   * Automerge's wasm module stops working for this whole isolate.
   */
  async injectEngineFault(spec: { method?: string; times?: number; skip?: number; doc?: { ns: string; key: string }; breakWasm?: boolean }): Promise<void> {
    if (!this.config.testFaults) throw new Error('faults exist only in the test environment');
    if (spec.breakWasm) breakAutomergeWasm();
    else {
      const method = (spec.method ?? 'any') as Parameters<EngineFaults['failNext']>[0];
      this.engineFaults.failNext(method, spec.times ?? 1, spec.skip ?? 0, spec.doc && docKey(spec.doc.ns, spec.doc.key));
    }
  }

  /** Test environment only: the faults of member-to-member traffic (null heals). */
  async setFaults(cfg: FaultConfig | null): Promise<void> {
    if (!this.config.testFaults) throw new Error('faults exist only in the test environment');
    this.faults = cfg;
    await this.ctx.storage.put('faults', cfg);
    if (!cfg) this.arm();
  }

  // ---- real-time sync (WebSockets) ----

  /**
   * A WebSocket upgrade the edge forwarded (it authenticated the caller and names what the
   * socket may do in `Concord-Socket`). Answers 101, or a problem before any socket exists.
   */
  override async fetch(request: Request): Promise<Response> {
    const feed = request.headers.get('Concord-Events');
    if (feed) return this.openFeed(JSON.parse(feed) as FeedRequest);
    const header = request.headers.get('Concord-Socket');
    if (request.headers.get('Upgrade')?.toLowerCase() !== 'websocket' || !header) {
      return refuseUpgrade('route-not-found', 'members answer WebSocket upgrades forwarded by the edge only');
    }
    const req = JSON.parse(header) as SocketRequest;
    const found = this.replica.read(docKey(req.ns, req.key));
    if (found && req.engine && found.engine !== req.engine) {
      return refuseUpgrade('engine-mismatch', `${req.key} is a ${found.engine} document, not ${req.engine}`);
    }
    if (this.atCapacity()) return refuseUpgrade('unavailable', `${this.name} holds MAX_SOCKETS (${this.config.maxSockets}) sockets`, 1);
    const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    this.sockets.accept(server, req, found?.engine ?? req.engine ?? 'yjs');
    const protocol = request.headers.get('Concord-Socket-Protocol');
    return new Response(null, { status: 101, webSocket: client, ...(protocol && { headers: { 'Sec-WebSocket-Protocol': protocol } }) });
  }

  /**
   * A change feed of one document for a listener whose token covers `token` (the edge turns it
   * into Server-Sent Events). Like a session read, it first waits until this member has what
   * the token names, so that a feed resumed in another region never goes back in time.
   */
  private async openFeed(req: FeedRequest): Promise<Response> {
    if (this.atCapacity()) return refuseUpgrade('unavailable', `${this.name} holds MAX_SOCKETS (${this.config.maxSockets}) sockets and feeds`, 1);
    try {
      await this.awaitToken(req.token);
    } catch (err) {
      if (err instanceof UnavailableError) return refuseUpgrade(err.code, err.message, err.retryAfterSeconds);
      throw err;
    }
    const stream = this.feeds.open(docKey(req.ns, req.key), req.token);
    return new Response(stream, { headers: { 'Content-Type': 'application/x-ndjson' } });
  }

  /** Sockets and feeds share MAX_SOCKETS. */
  private atCapacity(): boolean {
    return this.ctx.getWebSockets().length + this.feeds.size >= this.config.maxSockets;
  }

  /** A document as a feed event; undefined when it never existed here (or cannot be read now). */
  private feedEvent(doc: DocKey): FeedEvent | undefined {
    try {
      const found = this.replica.read(doc);
      if (!found) return undefined;
      const base = { vv: this.replica.vv, docVv: found.meta.vv, deleted: !found.live };
      if (!found.live) return base;
      return { ...base, json: this.replica.view(doc, (s) => s.toJSON())!, etag: etagOf(found.meta) };
    } catch (err) {
      // A failing engine is the write path's to report; listeners get the next change.
      console.error(`ReplicaObject:feed ${this.name}`, err);
      return undefined;
    }
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    await this.sockets.message(ws, message);
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    this.sockets.closed(ws, code);
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    this.sockets.closed(ws, 1006);
  }

  /** Awareness of `doc` relayed by another region's member: for this member's sockets only. */
  async presence(doc: string, frame: Uint8Array): Promise<void> {
    this.sockets.presenceFromPeer(doc as DocKey, frame);
  }

  private socketHost(): SocketHost {
    const yjsState = (doc: DocKey) => {
      const found = this.replica.read(doc);
      return found?.engine === 'yjs' ? found : undefined;
    };
    return {
      stateVector: (doc) => (yjsState(doc) ? this.replica.view(doc, (s) => s.version())! : new Uint8Array([0])),
      diff: (doc, sv) => (yjsState(doc) ? this.replica.view(doc, (s) => s.deltaSince(sv))! : new Uint8Array([0, 0])),
      write: (req, engine, update) => {
        const done = execute(this.replica, { op: 'postCrdt', ns: req.ns, key: req.key, level: 'eventual', engine, bytes: update, minimal: true }, this.name);
        this.afterWrite(done.entries, true);
      },
      automerge: (doc, f) => {
        const found = this.replica.read(doc);
        if (found?.engine === 'automerge') return this.replica.view(doc, (s) => f(s as AutomergeEngine))!;
        // No document yet: an empty one, so that the protocol can start.
        const empty = loadAutomerge([], { actor: new Uint8Array([0]) });
        try {
          return f(empty);
        } finally {
          empty.free();
        }
      },
      forwardPresence: (doc, frame) => {
        for (const region of this.config.regions) {
          if (region !== this.region) this.ctx.waitUntil(this.peers.presence(region, doc, frame).catch(() => undefined));
        }
      },
      recover: (err) => this.recover('webSocketMessage', err),
      ackToken: async () => issueCausalToken(withShard(emptyToken, this.shard, this.replica.vv), tokenSecret(this.env)),
    };
  }

  // ---- member-to-member ----

  /** Anti-entropy from a peer: applies its message and returns the answer. */
  async sync(bytes: Uint8Array): Promise<Uint8Array | undefined> {
    const before = this.replica.vv;
    let reply: Uint8Array | undefined;
    try {
      reply = this.replica.receive(bytes);
    } catch (err) {
      // Nothing of the message was counted: the peer sees a lost message and gossip resends it.
      if (err instanceof EngineFaultError) await this.recover('sync', err);
      throw err;
    }
    // A transfer under way changes no vector until its last chunk, but must go on.
    if (!equals(before, this.replica.vv) || this.replica.transfer) this.arm();
    return reply;
  }

  /**
   * Entries a quorum or strong write needs durable here; answers this member's vector after
   * applying them, or refuses a leader whose epoch is older than one already seen.
   */
  async replicate(bytes: Uint8Array, epoch: number): Promise<ReplicateResult> {
    const refused = await this.fence(epoch);
    if (refused) return { ok: false, code: 'stale-epoch', detail: refused, epoch: this.election.epoch };
    await this.sync(bytes);
    return { ok: true, vv: this.replica.vv };
  }

  /**
   * A strong write proposal of the leader of `proposal.epoch`: kept durably before the answer
   * leaves, or refused (src/core/proposals.ts); refused for a later epoch, so that a deposed
   * leader learns of it.
   */
  async propose(proposal: Proposal): Promise<ProposeResult> {
    const refused = await this.fence(proposal.epoch);
    if (refused) return { ok: false, reason: 'stale-epoch', detail: refused, epoch: this.election.epoch };
    // The leader's push of the entry below may not be here yet: the copy held is the same entry.
    const below = committedBelow(this.acceptor, proposal, this.replica.vv);
    if (below) {
      try {
        this.replica.commitProposal(below.entry);
      } catch (err) {
        // As in `sync`: nothing was counted; the leader sees this member refuse, and retries.
        if (err instanceof EngineFaultError) await this.recover('propose', err);
        throw err;
      }
    }
    const a = accept(this.acceptor, proposal, this.replica.vv);
    if (!a.ok) return { ok: false, reason: a.reason, vv: this.replica.vv };
    await this.saveAcceptor(a.state);
    return { ok: true, vv: this.replica.vv };
  }

  /** A leader's pull (anti-entropy) at epoch `epoch`: refused when this member knows a later epoch, so that a deposed leader learns of it. */
  async syncAt(bytes: Uint8Array, epoch: number): Promise<SyncResult> {
    const refused = await this.fence(epoch);
    if (refused) return { ok: false, detail: refused, epoch: this.election.epoch };
    return { ok: true, reply: await this.sync(bytes) };
  }

  /**
   * The epoch fence of a leader's replication or pull: why it is refused when `epoch` is older
   * than this member knows; otherwise undefined, once a later epoch has been adopted.
   */
  private async fence(epoch: number): Promise<string | undefined> {
    if (epoch < this.election.epoch) return `leader epoch ${epoch} is older than ${this.election.epoch}`;
    if (epoch > this.election.epoch) await this.electionStep(this.election.observe(epoch, Date.now()));
    return undefined;
  }

  /** An election message from the member of region `from`; answers this member's replies to it. */
  async elect(from: string, message: ElectionMessage): Promise<ElectionMessage[]> {
    const peer = memberId(from);
    if (!this.config.regions.includes(peer) || peer === this.region) throw new Error(`${from} is not a peer of ${this.name}`);
    if (this.regionsRefused) return [];
    const replies = await this.electionStep(this.election.receive(peer, message, Date.now(), this.local()), peer);
    // The message may have woken this member, or started an election it takes part in.
    this.tickSoon();
    return replies;
  }

  /** Wakes this member (a peer waiting for a leader calls it): its election timers run from now on. */
  async ping(): Promise<void> {
    this.tickSoon();
  }

  /** The durable alarm: a gossip round, in case the timer of {@link arm} died with an evicted or restarted object. */
  override async alarm(): Promise<void> {
    this.alarmArmed = false;
    this.alarmAt = 0;
    this.tickSoon();
    await this.gossip();
  }

  /** Gossip: a push-pull round with FANOUT random peers; re-armed until every peer is known to have caught up. */
  private async gossip(): Promise<void> {
    if (this.converged()) return;
    // Peers known to have all this member has (their push answers say so) need no round;
    // a member they lack something from gossips with them itself.
    const vv = this.replica.vv;
    const all = pickPeers(this.replica, this.config.regions.length, random);
    const known = (p: MemberId): VersionVector => this.replica.peers[p] ?? emptyVV;
    const lagging = all.filter((p) => !equals(known(p), vv));
    // Nor does a peer that has caught up with what this member had at its previous round: eager
    // pushes are keeping it current, and what it lacks is under way. A round would duplicate
    // them. A peer that lost a push stays behind that mark and gets a round the next time.
    const mark = this.gossipMark;
    this.gossipMark = vv;
    const steady = mark !== undefined && this.replica.pendingCount === 0 && !this.replica.transfer;
    const behind = steady ? lagging.filter((p) => !leq(mark, known(p))) : lagging;
    const peers = (lagging.length > 0 ? behind : all).slice(0, this.config.fanout);
    await Promise.allSettled(peers.map((p) => gossipRound(this.replica, p, this.peers.transport)));
    if (!this.converged()) this.arm();
  }

  // ---- internals ----

  private converged(): boolean {
    const vv = this.replica.vv;
    return (
      this.replica.pendingCount === 0 &&
      !this.replica.transfer &&
      this.config.regions.every((m) => m === this.region || equals(this.replica.peers[m] ?? emptyVV, vv))
    );
  }

  /**
   * Schedules the next gossip round: on a timer, since setting the durable alarm for every
   * round was the largest single cost of gossip (a storage write each time). The alarm is set
   * {@link ALARM_ROUNDS} rounds ahead and only wakes a member whose timer is gone with its
   * memory (evicted, restarted); the first round that finds the member converged stops both.
   */
  private arm(): void {
    if (this.roundTimer === undefined) {
      this.roundTimer = setTimeout(() => {
        this.roundTimer = undefined;
        this.gossip().catch((err: unknown) => console.error(`ReplicaObject:gossip ${this.name}`, err));
      }, this.config.gossipIntervalMs);
    }
    if (this.alarmArmed) return;
    this.setAlarm(Date.now() + this.config.gossipIntervalMs * ALARM_ROUNDS);
  }

  private setAlarm(at: number): void {
    this.alarmArmed = true;
    this.alarmAt = at;
    this.ctx.storage.setAlarm(at).catch(() => {
      this.alarmArmed = false;
      this.alarmAt = 0;
    });
  }

  // ---- leader election ----

  /** What the election needs to know of this member now. */
  private local(): Local {
    // Busy too while a proposal waits to be settled: a leader neither hands over nor quiesces before.
    const busy = this.queue.active > 0 || this.queue.size > 0 || unsettled(this.acceptor, this.replica.vv) !== undefined;
    return { vv: this.replica.vv, accepted: this.acceptor.accepted, busy };
  }

  private persistElection(step: Step): Promise<void> {
    const d = step.persist!;
    this.electionWrite = this.electionWrite.then(
      () => this.ctx.storage.put('election', d),
      () => this.ctx.storage.put('election', d),
    );
    return this.electionWrite;
  }

  /**
   * Carries out a step of the election: its durable state is written before any of its messages
   * leaves (a vote granted then forgotten in a crash could be granted twice). Messages to
   * `replyTo` are returned (they travel back as the answer of its call), the others are sent.
   */
  private async electionStep(step: Step, replyTo?: MemberId): Promise<ElectionMessage[]> {
    // A failed write fails this step's messages (below) and every later one's, never silently.
    if (step.persist) this.persistElection(step).catch(() => undefined);
    this.noteElection(step);
    if (step.send.length === 0) return [];
    await this.electionWrite;
    const replies: ElectionMessage[] = [];
    for (const o of step.send) {
      if (o.to === replyTo) replies.push(o.message);
      else this.ctx.waitUntil(this.sendElection(o.to, o.message));
    }
    return replies;
  }

  /** Sends one election message and takes in the answers; an unreachable peer is the election's timers' business. */
  private async sendElection(to: MemberId, message: ElectionMessage): Promise<void> {
    let answers: ElectionMessage[];
    try {
      answers = await this.peers.elect(to, message);
    } catch {
      return;
    }
    for (const m of answers) await this.electionStep(this.election.receive(to, m, Date.now(), this.local()));
  }

  /** A later epoch heard in other traffic (a refused replication or pull): adopted; a leader steps down. */
  private observeEpoch(epoch: number): void {
    if (epoch > this.election.epoch) void this.electionStep(this.election.observe(epoch, Date.now())).catch(() => undefined);
  }

  /** Records who leads at which epoch, and wakes the requests waiting for a leader or a lease. */
  private noteElection(step: Step): void {
    for (const e of step.events) {
      if (e.kind === 'stepped-down') console.log(`${this.name} stepped down at epoch ${e.epoch} (${e.reason})`);
      else if (e.kind === 'elected') console.log(`${this.name} elected leader at epoch ${e.epoch}`);
      else if (e.kind === 'handover') console.log(`${this.name} hands over to ${e.to} at epoch ${e.epoch}`);
    }
    if (step.events.some((e) => e.kind === 'elected')) this.settleSoon();
    const leader = this.election.leader;
    const epoch = this.election.epoch;
    if (leader !== undefined && (this.lastElection?.epoch !== epoch || this.lastElection.leader !== leader)) {
      this.lastElection = { epoch, leader, at: Date.now() };
    }
    const waiting = [...this.electionWaiters];
    this.electionWaiters.clear();
    for (const wake of waiting) wake();
  }

  /** Waits for the election to change (a leader, a lease), or a short while: callers check again. */
  private electionChange(until: number): Promise<void> {
    return new Promise((resolve) => {
      this.electionWaiters.add(resolve);
      setTimeout(resolve, Math.max(1, Math.min(50, until - Date.now())));
    });
  }

  /**
   * The election ticks on a timer, every {@link tickMs}, for as long as the object lives (see
   * README, Failover): a pure call that usually does nothing. Fine-grained, because two members
   * whose timeouts fall into one tick stand together and split the vote.
   */
  private tickSoon(): void {
    if (this.electionTimer !== undefined || !this.ticking()) return;
    this.electionTimer = setTimeout(() => {
      this.electionTimer = undefined;
      this.electionStep(this.election.tick(Date.now(), this.local())).catch((err: unknown) => console.error(`ReplicaObject:election ${this.name}`, err));
      this.settleSoon();
      // While a leader is known its heartbeats keep every member running; an election under way needs the alarm.
      if (this.election.leader === undefined) this.backstop();
      this.tickSoon();
    }, this.tickMs());
  }

  /**
   * The election needs its timer: always with failover; without it only PRIMARY_REGION's member
   * does, until it leads (it then sends nothing more, and the others never stand), so that an
   * idle shard's members hibernate.
   */
  private ticking(): boolean {
    if (this.regionsRefused) return false;
    if (this.config.failover) return !this.election.quiesced;
    return this.region === this.config.primary && !this.election.acceptsOperations();
  }

  private tickMs(): number {
    return Math.max(10, Math.min(50, this.config.leaseMs / 150));
  }

  /**
   * Keeps the durable alarm at most {@link BACKSTOP_LEASES} leases ahead while no leader is
   * known, so that a member evicted or restarted mid-election takes part again; set again only
   * once half of that has passed (a storage write every two leases, not every tick). An idle
   * shard with a leader sets no alarm: the heartbeats wake and keep its members.
   */
  private backstop(): void {
    const now = Date.now();
    const span = BACKSTOP_LEASES * this.config.leaseMs;
    if (this.alarmArmed && this.alarmAt - now > span / 2) return;
    this.setAlarm(now + span);
  }

  /** Wakes every peer (at most once a lease): a member waiting for a leader needs the others running their election. */
  private wakePeers(): void {
    if (!this.config.failover) return;
    const now = Date.now();
    if (now - this.wokenAt < this.config.leaseMs) return;
    this.wokenAt = now;
    for (const p of this.config.regions) if (p !== this.region) this.ctx.waitUntil(this.peers.wake(p).catch(() => undefined));
  }

  /** The leader this member knows, waiting (until `until`) while none is. @throws UnavailableError */
  private async awaitLeader(until: number): Promise<MemberId> {
    for (;;) {
      const leader = this.election.leader;
      if (leader !== undefined) return leader;
      if (Date.now() >= until) throw new UnavailableError(`no leader of shard ${this.shard} is known yet (an election is under way); retry`, 1);
      this.wakePeers();
      await this.electionChange(until);
    }
  }

  /** A new leader holds its lease after its first heartbeat round: a strong write waits that long for it at most. */
  private async awaitLease(deadline: number): Promise<void> {
    if (!this.config.failover) return;
    const until = Math.min(deadline, Date.now() + this.config.leaseMs / 2);
    while (!this.election.leaseValid(Date.now()) && Date.now() < until && this.election.acceptsOperations()) await this.electionChange(until);
  }

  /**
   * A quorum write's majority round: fenced by this member's epoch, and the leader it knows must
   * be in the majority, so that the leader's lease reads see every acknowledged quorum write.
   */
  private async quorumReplicate(entries: readonly LogEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const leader = await this.awaitLeader(Date.now() + 2 * this.config.leaseMs);
    // Without failover the leader reads through majority rounds only (no lease): any majority will do.
    await replicateToMajority(this.replica, this.peers.at(this.election.epoch), entries, this.config.failover ? leader : undefined);
  }

  /**
   * After an acknowledged write: gossip until peers have it, and push it eagerly unless it was
   * just replicated. The push starts after the answer has gone (on a timer's turn: a microtask
   * would still run before it), since encoding it and starting its RPCs in the write's own
   * turn delayed every answer. Writes answered in the same turn leave in one push.
   */
  private afterWrite(entries: readonly LogEntry[], push: boolean): void {
    if (entries.length === 0) return;
    this.arm();
    if (!push) return;
    const first = this.toPush.length === 0;
    for (const e of entries) this.toPush.push(e);
    if (!first) return;
    this.ctx.waitUntil(
      sleep(0).then(() => {
        const batch = this.toPush;
        this.toPush = [];
        return this.pusher.push(batch);
      }),
    );
  }

  /**
   * Quorum reads and strong operations: carried out here when this member is the leader, else
   * forwarded to the leader it knows; while none is known (an election, a handover), the
   * request waits for one, up to twice the lease (or the caller's budget). 503 with
   * `Retry-After` when the leader cannot be reached or none is elected in time.
   */
  private async viaLeader(req: DocRequest, hops = 0): Promise<DocResponse> {
    const start = Date.now();
    const given = req.budgetMs;
    const waitUntil = start + (given ?? 2 * this.config.leaseMs);
    const budget = (): number => (given !== undefined ? Math.max(1, start + given - Date.now()) : this.config.quorumTimeoutMs * 2);
    const unavailable = (detail: string): DocResponse => ({ ok: false, problem: { code: 'unavailable', detail, retryAfterSeconds: 1 } });
    if (this.regionsRefused) return unavailable(this.regionsRefused);
    for (;;) {
      if (this.election.acceptsOperations()) return this.leadHere(req, Date.now() + budget());
      const leader = this.election.leader;
      if (leader !== undefined && leader !== this.region) {
        if (hops >= MAX_HOPS) return unavailable(`${this.name} is not the leader of shard ${this.shard}; the leader at epoch ${this.election.epoch} is ${leader}`);
        try {
          return await this.peers.lead(leader, req, budget(), hops + 1);
        } catch (err) {
          // In a quiesced shard nobody else may be watching the leader: this member's election timeout runs again.
          this.election.suspect(Date.now());
          this.tickSoon();
          return unavailable(`the leader of shard ${this.shard} (${leader}) cannot be reached: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
      if (Date.now() >= waitUntil) return unavailable(`no leader of shard ${this.shard} was elected within ${waitUntil - start} ms; retry`);
      this.wakePeers();
      await this.electionChange(waitUntil);
    }
  }

  /** Session reads: pull from every peer until this member covers the caller's token, or give up with 503. */
  private async awaitToken(token: VersionVector): Promise<void> {
    const deadline = Date.now() + this.config.sessionWaitMs;
    while (!this.replica.covers(token)) {
      const left = deadline - Date.now();
      if (left <= 0) throw new UnavailableError(`this region has not yet received the writes of your session token (waited ${this.config.sessionWaitMs} ms)`, 1);
      const { pulled, cycle } = this.pullFromAll();
      await Promise.race([pulled, sleep(left)]);
      if (!this.replica.covers(token)) await Promise.race([cycle, sleep(Math.max(0, deadline - Date.now()))]);
    }
  }

  /**
   * One pull from every peer, shared by every session request waiting meanwhile (a thousand
   * waiting readers cost one round per peer, not a thousand), then a short pause before the
   * next, so that unreachable peers are not asked in a tight loop.
   */
  private pullFromAll(): { pulled: Promise<unknown>; cycle: Promise<unknown> } {
    if (!this.sharedPull) {
      this.sessionPulls++;
      const rounds = this.config.regions.filter((m) => m !== this.region).map((p) => this.peers.pull(p));
      const pulled = Promise.allSettled(rounds);
      const cycle = pulled.then(() => sleep(SESSION_POLL_PAUSE_MS)).finally(() => {
        this.sharedPull = undefined;
      });
      this.sharedPull = { pulled, cycle };
    }
    return this.sharedPull;
  }

  /**
   * Runs a request, turning typed errors into problems (exceptions do not cross RPC intact).
   * Anything else is the member's fault, not the request's: it rebuilds from storage and the
   * caller may retry (nothing was stored: writes commit last).
   */
  private async answer(method: string, f: () => Promise<DocResult>): Promise<DocResponse> {
    try {
      return { ok: true, result: await f() };
    } catch (err) {
      if (err instanceof StaleEpochError) return { ok: false, problem: { code: err.code, detail: err.message, retryAfterSeconds: 1 } };
      if (err instanceof UnavailableError || err instanceof EngineFaultError) {
        if (err instanceof EngineFaultError) await this.recover(method, err);
        return { ok: false, problem: { code: err.code, detail: err.message, retryAfterSeconds: err.retryAfterSeconds } };
      }
      if (err instanceof ConcordError) return { ok: false, problem: { code: err.code, detail: err.message } };
      // Not an engine's failure (those arrive as EngineFaultError): a broken invariant, or
      // the runtime resetting the object. Logged; the object is not rebuilt from here, since
      // an object being reset must not wait on its own input gate.
      console.error(`ReplicaObject:${method}`, err instanceof AssertionFailure ? 'assertion failed:' : 'unexpected error:', err);
      return { ok: false, problem: { code: 'internal', detail: 'internal error' } };
    }
  }
}

/** What the edge asks for when it opens a change feed (header `Concord-Events`). */
export interface FeedRequest {
  readonly ns: string;
  readonly key: string;
  /** The listener's vector of this shard (from its last event id, or its Concord-Token). */
  readonly token: VersionVector;
}

/** A refused upgrade: the {@link Problem} for the edge to answer (the status is the edge's to choose). */
const refuseUpgrade = (code: string, detail: string, retryAfterSeconds?: number): Response =>
  Response.json({ code, detail, ...(retryAfterSeconds !== undefined && { retryAfterSeconds }) } satisfies Problem, { status: 400 });

/** Errors that tell the client to retry later: not outcomes of its request, so never recorded. */
function retryLater(err: ConcordError): boolean {
  return err instanceof UnavailableError || err instanceof EngineFaultError || err instanceof MissingDependenciesError || err instanceof StaleEpochError;
}
