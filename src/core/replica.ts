/**
 * The replica state machine of one shard member: local writes, remote entries, reads, and
 * the anti-entropy conversation. Synchronous and deterministic given its ports; the Durable
 * Object and the simulator only move bytes and call it.
 *
 * Invariants (checked by the simulator after every step):
 * - `vv[o]` = n means every entry `(o, 1..n)` is applied to the documents and committed.
 * - The log holds exactly the applied entries above `horizon`.
 * - Everything in memory (vector, metadata) is what storage holds after the last commit.
 */
import { CausalBuffer } from './causal-buffer.js';
import { applyEntryMeta, isLive, mergeDocMeta, newDocMeta, visibleEngine } from './doc-meta.js';
import { DocStore } from './doc-store.js';
import type { Engine, EngineName } from './engines/engine.js';
import { ConcordError, EngineFaultError, EngineMismatchError } from './errors.js';
import type { EngineLoader } from './engines/fault-injection.js';
import { enginesHealthy } from './engines/health.js';
import { restoreEngine } from './engines/index.js';
import type { EngineOptions } from './engines/engine.js';
import { Quarantine, type QuarantinedEntry } from './quarantine.js';
import { HybridClock } from './hlc.js';
import type { DocKey, MemberId } from './ids.js';
import type { JsonObject } from './json.js';
import { entrySize, type LogEntry } from './log.js';
import { planCompaction } from './compaction.js';
import { fnv1a64 } from './routing.js';
import { type Clock, type Random, randomBytes } from './ports.js';
import type { DocMeta, ReplicaMeta, StateWrite, Storage, StoredOutcome, TransferProgress } from './storage.js';
import { STRONG_ORIGIN } from './proposals.js';
import { covers, emptyVV, get, leq, merge, type VersionVector, withDot } from './version-vector.js';
import { decodeMessage, encodeMessage } from './wire/codec.js';
import type { Resume, Transfer } from './wire/messages.js';
import { answer } from './anti-entropy.js';
import { afterChunk, resumeOf } from './transfer.js';

export interface ReplicaConfig {
  readonly self: MemberId;
  /** Every member of the shard, `self` included. Compaction waits only for these. */
  readonly members: readonly MemberId[];
  /** Upper bound of one anti-entropy message's payload. */
  readonly maxBatchBytes?: number;
  /** Past this many bytes of log, entries are compacted even if a peer still lacks them. */
  readonly logMaxBytes?: number;
  /** Document engines kept in memory. */
  readonly docCache?: number;
  /** Stored bytes of document engines kept in memory (default 8 MiB). */
  readonly docCacheBytes?: number;
  /** Out-of-order remote entries held in memory. */
  readonly pendingCapacity?: number;
  /** Deepest nesting a local write may create (`MAX_DEPTH`). */
  readonly maxDepth?: number;
}

export interface ReplicaEnv {
  readonly storage: Storage;
  readonly clock: Clock;
  readonly random: Random;
  /** How engines are loaded from stored chunks (the simulator and tests inject faults here). */
  readonly engines?: EngineLoader;
  /**
   * Remote entries the engines keep failing on. Owned by whoever rebuilds the replica after
   * an engine fault, so that what it learnt survives the rebuild.
   */
  readonly quarantine?: Quarantine;
  /**
   * Told after every commit what it made durable: the entries applied (local writes and
   * peers' alike) and every document whose state changed, including by a state transfer.
   * Real-time sockets learn of changes here; it must not throw or call back into the replica.
   */
  readonly committed?: (entries: readonly LogEntry[], docs: readonly DocKey[]) => void;
}

export interface WriteOptions {
  /** Render the document's JSON after the change, before it is committed (see {@link WriteResult.json}). */
  readonly render?: boolean;
  /**
   * The outcome to record with the write, in the same commit, made from the write's result
   * as it will be once committed: a retry of the request is then answered from the record.
   */
  readonly outcome?: (w: WriteResult) => StoredOutcome;
}

export interface WriteResult {
  /** The new log entry, or undefined when the write changed nothing. */
  readonly entry: LogEntry | undefined;
  /** The replica's vector after the write: the causal token of the response. */
  readonly vv: VersionVector;
  readonly doc: DocMeta;
  /**
   * The JSON after the write, when asked for: rendered before the commit, so that a write is
   * never stored when its answer could not be made.
   */
  readonly json?: JsonObject;
}

export interface DocRead {
  readonly meta: DocMeta;
  readonly engine: EngineName;
  readonly live: boolean;
  readonly state: Engine;
}

export interface ReplicaStats {
  readonly vv: VersionVector;
  readonly horizon: VersionVector;
  readonly docs: number;
  readonly logEntries: number;
  readonly logBytes: number;
  readonly pending: number;
  /** Engine failures that were not validation errors (each dropped the engines; see {@link EngineFaultError}). */
  readonly engineFaults: number;
  /** What the last of them was, for operators. */
  readonly lastEngineFault: string | null;
  /** A state transfer being received: from whom the latest chunk came, and documents so far. */
  readonly transfer: { readonly from: MemberId; readonly docs: number } | null;
  /** Remote entries the engines failed on though they work otherwise (see {@link Quarantine}). */
  readonly quarantined: readonly QuarantinedEntry[];
}

/** What a write run by {@link Replica.propose} would have committed: its entry and the record of its request. */
interface HeldBack {
  entry?: LogEntry;
  outcome?: StoredOutcome;
}

/** Entries, metadata and states changed by one step, committed together. */
interface Stage {
  vv: VersionVector;
  horizon: VersionVector;
  append: LogEntry[];
  docs: Map<DocKey, DocMeta>;
  states: { doc: DocKey; write: StateWrite }[];
  truncate?: VersionVector;
  transfer: TransferProgress | undefined;
  outcomes?: StoredOutcome[];
}

export class Replica {
  readonly self: MemberId;
  private members: readonly MemberId[];
  readonly maxBatchBytes: number;
  private readonly logMaxBytes: number;
  private readonly storage: Storage;
  private readonly clock: Clock;
  private readonly hlc: HybridClock;
  readonly docs: DocStore;
  private readonly pending: CausalBuffer;
  private meta: ReplicaMeta;
  private logBytes: number;
  /** Engine failures that were not validation errors, since this replica was built. */
  private engineFaults = 0;
  private lastEngineFault: string | null = null;
  private outcomesSincePurge = 0;
  private readonly quarantine: Quarantine;
  private readonly load: EngineLoader;
  private readonly engineOptions: () => EngineOptions;
  private readonly committed: ReplicaEnv['committed'];
  /** Set while {@link propose} runs a write: what it would commit, held back. */
  private proposing: HeldBack | undefined;

  constructor(config: ReplicaConfig, env: ReplicaEnv) {
    this.committed = env.committed;
    this.self = config.self;
    this.members = config.members;
    this.maxBatchBytes = config.maxBatchBytes ?? 512 * 1024;
    this.logMaxBytes = config.logMaxBytes ?? 8 * 1024 * 1024;
    this.storage = env.storage;
    this.clock = env.clock;
    const random = env.random;
    const maxDepth = config.maxDepth;
    this.engineOptions = () => ({ actor: actorId(this.self, random), ...(maxDepth !== undefined && { maxDepth }) });
    this.load = env.engines ?? restoreEngine;
    this.quarantine = env.quarantine ?? new Quarantine();
    this.docs = new DocStore(env.storage, this.engineOptions, config.docCache ?? 512, this.load, config.docCacheBytes);
    this.pending = new CausalBuffer(config.pendingCapacity ?? 10_000);
    this.meta = env.storage.loadMeta() ?? { vv: emptyVV, horizon: emptyVV, peers: {}, hlc: 0 };
    this.hlc = new HybridClock(this.meta.hlc);
    this.logBytes = env.storage.logSize().bytes;
  }

  get vv(): VersionVector {
    return this.meta.vv;
  }

  get horizon(): VersionVector {
    return this.meta.horizon;
  }

  get peers(): Readonly<Record<MemberId, VersionVector>> {
    return this.meta.peers;
  }

  get memberList(): readonly MemberId[] {
    return this.members;
  }

  /** The newest hybrid timestamp this replica has written or seen. */
  get lastHlc(): number {
    return this.hlc.current;
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  /** The state transfer this replica is receiving, if one is under way. */
  get transfer(): TransferProgress | undefined {
    return this.meta.transfer;
  }

  /** Asks a peer to go on with the transfer under way, if any. */
  transferResume(): Resume | undefined {
    return resumeOf(this.meta.transfer);
  }

  /** Releases the memory of every cached engine; the replica must not be used afterwards. */
  close(): void {
    this.docs.evict();
  }

  /** Membership change: a removed member no longer holds back compaction. */
  setMembers(members: readonly MemberId[]): void {
    this.members = members;
  }

  /** True when this replica has applied everything `token` reflects (session reads). */
  covers(token: VersionVector): boolean {
    return leq(token, this.meta.vv);
  }

  // ---- local writes ----

  /**
   * Runs `change` on the document's engine and, if it changed anything, logs and commits
   * the write as one entry. Typed errors from `change` propagate with nothing changed.
   * @throws EngineMismatchError when the document exists with another engine.
   */
  write(doc: DocKey, engine: EngineName, change: (state: Engine) => Uint8Array | null, opts: WriteOptions = {}): WriteResult {
    const meta = this.metaFor(doc, engine);
    const { data, json } = this.guard(doc, 'a write', () => {
      const state = this.docs.engine(doc, engine);
      const data = change(state);
      return { data, json: data && opts.render ? state.toJSON() : undefined };
    });
    if (!data) return { entry: undefined, vv: this.meta.vv, doc: meta };
    return this.commitLocal(meta, { engine, kind: 'update', data }, json, opts.outcome);
  }

  /**
   * Makes the document exist (live) even though the write that asked for it changed no
   * content, e.g. `PUT {}` on a new key: an entry with no engine bytes.
   * @throws EngineMismatchError when the document exists with another engine.
   */
  create(doc: DocKey, engine: EngineName, opts: WriteOptions = {}): WriteResult {
    const meta = this.metaFor(doc, engine);
    if (isLive(meta)) return { entry: undefined, vv: this.meta.vv, doc: meta };
    const json = opts.render ? {} : undefined;
    return this.commitLocal(meta, { engine, kind: 'update', data: new Uint8Array(0) }, json, opts.outcome);
  }

  /**
   * Observed-remove delete: clears what this replica has seen of the document; a write
   * that no member had seen when the delete was accepted keeps the document alive.
   * @returns undefined when there is no live document to delete.
   */
  remove(doc: DocKey, opts: WriteOptions = {}): WriteResult | undefined {
    const meta = this.docs.meta(doc);
    const engine = meta && visibleEngine(meta);
    if (!meta || !engine || !isLive(meta)) return undefined;
    const data = this.guard(doc, 'a delete', () => this.docs.engine(doc, engine).clear()) ?? new Uint8Array(0);
    return this.commitLocal(meta, { engine, kind: 'delete', data }, undefined, opts.outcome);
  }

  /** The recorded outcome of request `id` on `doc`, unless it has expired. */
  outcome(doc: DocKey, id: string): StoredOutcome | undefined {
    const o = this.storage.loadOutcome(doc, id);
    return o && o.expires >= this.clock.now() ? o : undefined;
  }

  /** Records the outcome of a request that wrote nothing (refused, or no change). */
  recordOutcome(o: StoredOutcome): void {
    const stage = this.stage();
    stage.outcomes = [o];
    this.commit(stage);
  }

  /** The document's metadata for a write with `engine` (new if absent). */
  private metaFor(doc: DocKey, engine: EngineName): DocMeta {
    const meta = this.docs.meta(doc) ?? newDocMeta(doc);
    const visible = visibleEngine(meta);
    if (visible && visible !== engine) throw new EngineMismatchError(engine, visible);
    return meta;
  }

  private commitLocal(
    meta: DocMeta,
    w: Pick<LogEntry, 'engine' | 'kind' | 'data'>,
    json?: JsonObject,
    outcome?: (w: WriteResult) => StoredOutcome,
  ): WriteResult {
    if (this.proposing) return this.holdBack(this.proposing, meta, w, json, outcome);
    const entry: LogEntry = {
      origin: this.self,
      seq: get(this.meta.vv, this.self) + 1,
      doc: meta.doc,
      hlc: this.hlc.tick(this.clock.now()),
      deps: meta.vv,
      ...w,
    };
    const stage = this.stage();
    this.record(stage, entry, w.data.length > 0 ? w.data : null);
    let result: WriteResult = { entry, vv: stage.vv, doc: stage.docs.get(meta.doc)!, ...(json && { json }) };
    if (outcome) {
      const o = outcome(result);
      stage.outcomes = [o];
      if (o.status !== undefined) {
        // The entry carries the request, so that members it reaches know it was carried out.
        const carried: LogEntry = { ...entry, request: { id: o.id, fingerprint: o.fingerprint, status: o.status, expires: o.expires } };
        stage.append[stage.append.length - 1] = carried;
        this.logBytes += entrySize(carried) - entrySize(entry);
        result = { ...result, entry: carried };
      }
    }
    this.commit(stage);
    if (this.logBytes > this.logMaxBytes) this.compact();
    return result;
  }

  /**
   * Runs a local write (`run` calls {@link write}, {@link create} or {@link remove}) as a strong
   * write proposal (src/core/proposals.ts): its entry is of {@link STRONG_ORIGIN}, at the index
   * after the strong entries applied here, and nothing of it is committed. The engine the
   * change ran on is dropped (the next use reloads it from storage), so the proposal stays
   * unseen, and no later change of this member's engines depends on it, until
   * {@link commitProposal}. A write that changed nothing gives no entry (its outcome, if any,
   * is recorded as usual).
   */
  propose<T>(run: () => T): { value: T; entry: LogEntry | undefined; outcome: StoredOutcome | undefined } {
    const held: HeldBack = {};
    this.proposing = held;
    try {
      const value = run();
      return { value, entry: held.entry, outcome: held.outcome };
    } finally {
      this.proposing = undefined;
    }
  }

  /** The write of {@link commitLocal}, made into a proposal's entry and held back (see {@link propose}). */
  private holdBack(
    held: HeldBack,
    meta: DocMeta,
    w: Pick<LogEntry, 'engine' | 'kind' | 'data'>,
    json: JsonObject | undefined,
    outcome: ((w: WriteResult) => StoredOutcome) | undefined,
  ): WriteResult {
    if (held.entry) throw new Error('a proposal holds one write');
    const seq = get(this.meta.vv, STRONG_ORIGIN) + 1;
    const entry: LogEntry = { origin: STRONG_ORIGIN, seq, doc: meta.doc, hlc: this.hlc.tick(this.clock.now()), deps: meta.vv, ...w };
    let result: WriteResult = { entry, vv: withDot(this.meta.vv, STRONG_ORIGIN, seq), doc: applyEntryMeta(meta, entry), ...(json && { json }) };
    const o = outcome?.(result);
    if (o?.status !== undefined) {
      result = { ...result, entry: { ...entry, request: { id: o.id, fingerprint: o.fingerprint, status: o.status, expires: o.expires } } };
    }
    this.docs.evict(meta.doc);
    held.entry = result.entry;
    if (o) held.outcome = o;
    return result;
  }

  /**
   * Applies a strong write proposal that a majority holds, as an entry from a peer would be;
   * with `outcome` (the leader's full record of the request), in the same commit.
   * @returns false when it could not be applied (this member lacks what it depends on).
   */
  commitProposal(entry: LogEntry, outcome?: StoredOutcome): boolean {
    const stage = this.stage();
    this.hlc.observe(entry.hlc);
    this.pending.add(entry, stage.vv);
    this.applyReady(stage);
    const applied = covers(stage.vv, { member: entry.origin, seq: entry.seq });
    // After the record the entry carries (kept if present), so that this fuller one replaces it.
    if (applied && outcome) (stage.outcomes ??= []).push(outcome);
    this.planCompactionInto(stage);
    this.commit(stage);
    return applied;
  }

  // ---- reads ----

  read(doc: DocKey): DocRead | undefined {
    const meta = this.docs.meta(doc);
    const engine = meta && visibleEngine(meta);
    if (!meta || !engine) return undefined;
    return { meta, engine, live: isLive(meta), state: this.guard(doc, 'a load', () => this.docs.engine(doc, engine)) };
  }

  /**
   * Runs `f` on a document's engine for a read (rendering JSON, saving bytes); an engine
   * failure drops the engines as for a write. @throws EngineFaultError
   */
  view<T>(doc: DocKey, f: (state: Engine) => T): T | undefined {
    const r = this.read(doc);
    return r && this.guard(doc, 'a read', () => f(r.state));
  }

  /** The JSON of a live document, or undefined. */
  json(doc: DocKey): JsonObject | undefined {
    const r = this.read(doc);
    return r?.live ? this.guard(doc, 'a read', () => r.state.toJSON()) : undefined;
  }

  // ---- replication ----

  /** Opens a gossip round: "here is my vector, send me what I lack". */
  digest(): Uint8Array {
    const resume = this.transferResume();
    return encodeMessage({ kind: 'digest', from: this.self, vv: this.meta.vv, more: false, reply: true, entries: [], ...(resume && { resume }) });
  }

  /** An eager push of freshly accepted entries; the receiver answers nothing. */
  push(entries: readonly LogEntry[]): Uint8Array {
    return encodeMessage({ kind: 'delta', from: this.self, vv: this.meta.vv, more: false, reply: false, entries });
  }

  /**
   * Handles one message from a peer and returns the answer to send back, if any.
   * @throws WireDecodeError when `bytes` is not a message.
   */
  receive(bytes: Uint8Array): Uint8Array | undefined {
    const msg = decodeMessage(bytes);
    const stage = this.stage();
    this.learn(msg.from, msg.vv);
    const loaded: DocKey[] = [];
    const resume = msg.transfer && this.applyTransfer(stage, msg.from, msg.transfer, loaded);
    for (const e of msg.entries) {
      this.hlc.observe(e.hlc);
      this.pending.add(e, stage.vv);
    }
    this.applyReady(stage);
    // Entries from elsewhere may have covered the transfer's target before its last chunk.
    if (stage.transfer && leq(stage.transfer.target, stage.vv)) stage.transfer = undefined;
    // Compaction rides in the same commit: a second transaction per message was a fifth of a member's time.
    this.planCompactionInto(stage);
    this.commit(stage);
    for (const doc of loaded) this.docs.evict(doc);
    // A transfer chunk in the answer loads engines to save documents: a failure there is a fault too.
    const reply = this.guard(undefined, 'building an answer', () => answer(this, msg, resume));
    return reply && encodeMessage(reply);
  }

  /**
   * Drops log entries every member is known to have and, past the log bound, the oldest
   * entries anyway (peers behind them then get a state transfer).
   */
  compact(): void {
    const stage = this.stage();
    if (this.planCompactionInto(stage)) this.commit(stage);
  }

  /** Adds what compaction may drop to `stage` (as of its vector); false when nothing. */
  private planCompactionInto(stage: Stage): boolean {
    const known = this.members.map((m) => (m === this.self ? stage.vv : (this.meta.peers[m] ?? emptyVV)));
    const plan = planCompaction({
      known,
      vv: stage.vv,
      horizon: stage.horizon,
      logBytes: this.logBytes,
      logMaxBytes: this.logMaxBytes,
      oldest: (bytes) => this.storage.scanLog(stage.horizon, bytes).entries,
    });
    if (!plan) return false;
    stage.horizon = plan;
    stage.truncate = plan;
    return true;
  }

  /** Log entries the holder of `vv` lacks, oldest first, bounded by `maxBatchBytes`. */
  entriesFor(vv: VersionVector): { entries: LogEntry[]; more: boolean } {
    return this.storage.scanLog(vv, this.maxBatchBytes);
  }

  stats(): ReplicaStats {
    const log = this.storage.logSize();
    return {
      engineFaults: this.engineFaults,
      lastEngineFault: this.lastEngineFault,
      vv: this.meta.vv,
      horizon: this.meta.horizon,
      docs: this.docs.size,
      logEntries: log.entries,
      logBytes: log.bytes,
      pending: this.pending.size,
      transfer: this.meta.transfer ? { from: this.meta.transfer.from, docs: this.meta.transfer.docs } : null,
      quarantined: this.quarantine.list(),
    };
  }

  // ---- internals ----

  private stage(): Stage {
    return { vv: this.meta.vv, horizon: this.meta.horizon, append: [], docs: new Map(), states: [], transfer: this.meta.transfer };
  }

  private docMeta(stage: Stage, doc: DocKey): DocMeta {
    return stage.docs.get(doc) ?? this.docs.meta(doc) ?? newDocMeta(doc);
  }

  /**
   * Records an applied entry in the stage; `written` is what was new to its engine (the
   * local change itself, or what a remote update added), stored as the state increment.
   */
  private record(stage: Stage, e: LogEntry, written: Uint8Array | null): void {
    if (written) stage.states.push({ doc: e.doc, write: this.docs.stateWrite(e.doc, e.engine, written) });
    stage.docs.set(e.doc, applyEntryMeta(this.docMeta(stage, e.doc), e));
    stage.vv = withDot(stage.vv, e.origin, e.seq);
    stage.append.push(e);
    this.logBytes += entrySize(e);
  }

  /**
   * Applies every buffered entry that has become ready, except those set aside
   * ({@link Quarantine}). A storage failure propagates as it is (see {@link commit}).
   */
  private applyReady(stage: Stage): void {
    const now = this.clock.now();
    const held = (e: LogEntry): boolean => this.quarantine.holds(e, now);
    for (let e = this.pending.takeReady(stage.vv, held); e; e = this.pending.takeReady(stage.vv, held)) {
      if (e.data.length > 0) this.mergeRemote(e, now);
      this.record(stage, e, e.data.length > 0 ? e.data : null);
      this.quarantine.applied(e);
      if (e.request) (stage.outcomes ??= []).push(replicatedOutcome(e));
      // A batch that touches more documents than memory holds commits in parts, each whole.
      if (this.docs.overBudget) this.flush(stage);
    }
  }

  /**
   * Merges a remote entry into its engine. Its origin validated the bytes, so a failure is the
   * member's fault: nothing of the batch is committed and nothing counted as applied (engines
   * dropped, the entries sent again by gossip). When the engines pass a probe all the same,
   * the entry is charged with the failure, and set aside after a few.
   */
  private mergeRemote(e: LogEntry, now: number): void {
    try {
      this.docs.engine(e.doc, e.engine).merge(e.data);
    } catch (err) {
      const fault = this.fault('applying a peer\'s entries', err);
      if (this.enginesWork(e.engine)) this.quarantine.failed(e, this.lastEngineFault ?? fault.message, now);
      throw fault;
    }
  }

  /** A fresh engine of `name`, loaded as documents are, works; and so do the modules themselves. */
  private enginesWork(name: EngineName): boolean {
    if (!enginesHealthy()) return false;
    try {
      const probe = this.load(name, [], this.engineOptions());
      try {
        probe.toJSON();
        probe.save();
      } finally {
        probe.free();
      }
      return true;
    } catch {
      return false;
    }
  }

  /** Commits what `stage` holds so far and empties it, so that the engines it loaded can go. */
  private flush(stage: Stage): void {
    this.commit(stage);
    // Fresh containers: storage may keep what a commit handed it.
    stage.append = [];
    stage.docs = new Map();
    stage.states = [];
    stage.truncate = undefined;
    stage.outcomes = undefined;
  }

  /** Records what a peer is known to have (from a reply outside the sync conversation). */
  learnPeer(from: MemberId, vv: VersionVector): void {
    this.learn(from, vv);
  }

  private learn(from: MemberId, vv: VersionVector): void {
    if (from === this.self) return;
    const before = this.meta.peers[from] ?? emptyVV;
    if (leq(vv, before)) return;
    this.meta = { ...this.meta, peers: { ...this.meta.peers, [from]: merge(before, vv) } };
  }

  /**
   * Applies a transfer chunk's documents (readable once committed, before the transfer
   * ends) and records how far the transfer has come; after the last chunk, claims its
   * target. Engines loaded only for this chunk go into `loaded`, for the caller to free once
   * they are committed.
   * @returns where this conversation should resume the transfer, if it should.
   */
  private applyTransfer(stage: Stage, from: MemberId, t: Transfer, loaded: DocKey[]): Resume | undefined {
    const touched: DocKey[] = [];
    // The chunk's documents may reflect entries later than anything this clock has seen.
    this.hlc.observe(t.hlc);
    try {
      for (const snap of t.docs) {
        const meta = mergeDocMeta(this.docMeta(stage, snap.meta.doc), snap.meta);
        touched.push(meta.doc);
        for (const { engine, bytes } of snap.states) {
          if (!this.docs.isCached(meta.doc, engine)) loaded.push(meta.doc);
          this.docs.engine(meta.doc, engine).merge(bytes);
          stage.states.push({ doc: meta.doc, write: this.docs.stateWrite(meta.doc, engine, bytes, true) });
        }
        stage.docs.set(meta.doc, meta);
      }
    } catch (err) {
      if (!(err instanceof ConcordError)) throw this.fault('applying a state transfer', err);
      for (const doc of touched) this.docs.evict(doc);
      throw err;
    }
    const step = afterChunk(stage.transfer, from, t, stage.vv);
    stage.transfer = step.progress;
    if (step.adopt) this.adopt(stage, step.adopt);
    return step.resume;
  }

  /**
   * After the last chunk every document the target covers is here, so the target's entries
   * count as applied. Those this replica never logged are below its new horizon.
   */
  private adopt(stage: Stage, target: VersionVector): void {
    let horizon = stage.horizon;
    for (const [m, seq] of Object.entries(target) as [MemberId, number][]) {
      if (seq > get(stage.vv, m)) horizon = withDot(horizon, m, seq);
    }
    stage.vv = merge(stage.vv, target);
    stage.horizon = horizon;
    stage.truncate = horizon;
    this.pending.prune(stage.vv);
  }

  private commit(stage: Stage): void {
    if (this.unchanged(stage)) return;
    const meta: ReplicaMeta = { ...this.meta, vv: stage.vv, horizon: stage.horizon, hlc: this.hlc.current, transfer: stage.transfer };
    try {
      this.storage.commit({
        meta,
        append: stage.append,
        docs: [...stage.docs.values()],
        states: stage.states,
        ...(stage.truncate && { truncate: stage.truncate }),
        ...(stage.outcomes && { outcomes: stage.outcomes, ...this.expiry() }),
      });
    } catch (err) {
      // Engines may be ahead of storage now; reload them from what was committed.
      this.docs.evict();
      throw err;
    }
    this.meta = meta;
    for (const m of stage.docs.values()) this.docs.setMeta(m);
    if (stage.truncate) this.logBytes = this.storage.logSize().bytes;
    // Before `trim`, so that a listener reading a changed document finds its engine cached.
    if (this.committed && stage.docs.size > 0) {
      try {
        this.committed(stage.append, [...stage.docs.keys()]);
      } catch {
        // What is committed stays committed: a listener's failure must not turn it into an error.
      }
    }
    this.docs.trim();
  }

  /**
   * A message that brought nothing new (a digest, duplicates) commits nothing: a row written
   * per message was most of the cost of an idle gossip round. What peers are known to have is
   * then kept in memory until the next commit; it is re-learned by gossip after a restart.
   */
  private unchanged(stage: Stage): boolean {
    return (
      stage.append.length === 0 &&
      stage.docs.size === 0 &&
      stage.states.length === 0 &&
      !stage.truncate &&
      !stage.outcomes &&
      stage.vv === this.meta.vv &&
      stage.horizon === this.meta.horizon &&
      stage.transfer === this.meta.transfer &&
      this.hlc.current === this.meta.hlc
    );
  }

  /** Every so often, a commit that records outcomes also drops the expired ones. */
  private expiry(): { expireOutcomes?: number } {
    if (++this.outcomesSincePurge < 64) return {};
    this.outcomesSincePurge = 0;
    return { expireOutcomes: this.clock.now() };
  }

  /**
   * Runs engine work on `doc`. A typed validation error drops that document's engine (the
   * next use reloads it from storage, whatever the error left behind) and propagates; any
   * other error is an engine fault of the member ({@link fault}).
   */
  private guard<T>(doc: DocKey | undefined, during: string, f: () => T): T {
    try {
      return f();
    } catch (err) {
      if (err instanceof ConcordError) {
        if (doc !== undefined) this.docs.evict(doc);
        throw err;
      }
      throw this.fault(during, err);
    }
  }

  /**
   * An engine failed for no reason of the input's: drop every cached engine, so that each is
   * rebuilt from what storage committed by a fresh instance, and report the fault.
   */
  private fault(during: string, err: unknown): EngineFaultError {
    if (err instanceof EngineFaultError) return err;
    this.engineFaults++;
    this.lastEngineFault = `${during}: ${err instanceof Error ? err.message : String(err)}`;
    this.logBytes = this.storage.logSize().bytes;
    try {
      this.docs.evict();
    } catch {
      // Freeing engines of a broken wasm module may fail too; dropping them is what matters.
      this.docs.forget();
    }
    return new EngineFaultError(during, err);
  }
}


/** What a member learns of a client request from a peer's entry that carried it out. */
function replicatedOutcome(e: LogEntry): StoredOutcome {
  const r = e.request!;
  return { doc: e.doc, id: r.id, fingerprint: r.fingerprint, expires: r.expires, response: '', status: r.status, replicated: true };
}

/**
 * A fresh engine actor: 12 random bytes, then 4 bytes derived from the member name, so that
 * two members never share an actor even if their random sources repeat. (Yjs takes its client
 * id from the first 4 bytes, which stay random.)
 */
function actorId(self: MemberId, random: Random): Uint8Array {
  const out = new Uint8Array(16);
  out.set(randomBytes(random, 12));
  const h = Number(fnv1a64(new TextEncoder().encode(self)) & 0xffffffffn);
  out[12] = h >>> 24;
  out[13] = (h >>> 16) & 0xff;
  out[14] = (h >>> 8) & 0xff;
  out[15] = h & 0xff;
  return out;
}
