/**
 * The deterministic simulator: N members of one shard on a seeded, faulty, virtual-time
 * network, with crash-restarts that keep only what storage committed. One seed fixes every
 * choice, so a failing seed replays exactly (`npm run sim -- --seed N`).
 *
 * A run: set-up (documents created and replicated), chaos (random client requests, eager
 * pushes, gossip rounds, drops, duplicates, delays, partitions and one-way links that change,
 * crashes and restarts, commits that fail or crash, skewed clocks, lost answers and client
 * retries), heal (all members up, network whole, storage sound), then bounded gossip rounds
 * and the checks in `check.ts`. See README.md beside this file.
 */
import { ConcordError, EngineFaultError } from '../../../src/core/errors.js';
import { EngineFaults } from '../../../src/core/engines/fault-injection.js';
import { type DocKey, type MemberId } from '../../../src/core/ids.js';
import type { EngineName } from '../../../src/core/engines/engine.js';
import type { LogEntry } from '../../../src/core/log.js';
import type { TransferProgress } from '../../../src/core/storage.js';
import { type Clock, seededRandom, type Random } from '../../../src/core/ports.js';
import { Replica, type ReplicaConfig, type ReplicaEnv, type WriteResult } from '../../../src/core/replica.js';
import { emptyVV, equals, leq, meet, type VersionVector } from '../../../src/core/version-vector.js';
import { decodeMessage } from '../../../src/core/wire/codec.js';
import { checkConverged, checkMemberView, checkMemoryMatchesStorage, converged } from './check.js';
import { Model, type Write } from './model.js';
import { NO_FAULTS, SimNetwork } from './network.js';
import { CommitFailure, SimCrash, SimStorage } from './storage.js';
import { Incarnation, StrongPaths, type StrongMutant } from './strong.js';
import { bulkRequest, memberIds, pick, randomRequest, type Request, setupRequests } from './workload.js';

export interface SimOptions {
  readonly seed: number;
  /** Members (3–5); by default drawn from the seed. */
  readonly members?: number;
  /** Chaos steps. */
  readonly steps?: number;
  readonly logMaxBytes?: number;
  readonly maxBatchBytes?: number;
  /** A member kept down from the first tenth of the run until the heal. */
  readonly longOutage?: boolean;
  /**
   * A state transfer of many chunks across rounds and restarts: {@link BULK_DOCS} more
   * documents, a small log bound (2 KiB) and batch size (384 bytes), and the long-outage member
   * (the receiver) back after the chaos, in a transfer phase: no writes, lossy links, gossip
   * rounds, and the receiver or the sender of its last chunk crashing in the middle of the
   * transfer (both come back). Checked: the transfer takes several chunks and finishes within
   * {@link TRANSFER_STEPS} steps, and the documents sent again (in chunks of the transfer under
   * way, at or before the key it had reached) stay within {@link TRANSFER_RESENT}.
   */
  readonly transferScenario?: boolean;
  /** Called after every chaos step (for extra invariants in tests). */
  readonly onStep?: (sim: Simulation) => void;
  /**
   * Builds each member's replica (at start and at every restart). Tests pass deliberately
   * broken replicas here to prove that the checks catch them.
   */
  readonly replica?: (config: ReplicaConfig, env: ReplicaEnv) => Replica;
  /** Bound of each member's clock offset (ms); by default drawn from the seed. */
  readonly clockSkew?: number;
  /**
   * Engines that throw (a plain `Error`, as a broken wasm module would): once, at a drawn rate,
   * and now and then member-wide until the member is rebuilt. By default drawn from the seed.
   */
  readonly engineFaults?: boolean;
  /** Strong, quorum and session clients (`strong.ts`); on by default. */
  readonly strong?: boolean;
  /** A deliberately broken strong path, for the mutant tests. */
  readonly strongMutant?: StrongMutant;
}

/** A request a member refused with a typed error, and the document vector it decided on. */
export interface Refusal {
  readonly member: MemberId;
  readonly doc: DocKey;
  readonly engine: EngineName | undefined;
  readonly reason: 'path-not-found' | 'engine-mismatch' | 'nothing-to-delete' | 'missing-dependencies';
  readonly ctx: VersionVector;
  /** For a Yjs client's update: the document vector it was made at (see {@link Request.basis}). */
  readonly basis?: VersionVector | undefined;
}

export interface SimReport {
  readonly seed: number;
  readonly members: number;
  readonly writes: number;
  readonly crashes: number;
  /** Commits that storage refused (nothing applied), and crashes inside a commit (counted in `crashes` too). */
  readonly commitFailures: number;
  readonly commitCrashes: number;
  /** Writes that were committed but whose clients were not told (a crash or failure after the commit). */
  readonly unacknowledged: number;
  /** Engine faults met by requests and messages (each counted by the member's stats), and member-wide breaks. */
  readonly engineFaults: number;
  readonly engineBreaks: number;
  /**
   * The transfer scenario: chunks and documents its receiver was sent, the most documents one
   * of its transfers took (start to finish), documents of the shard, crashes in the middle.
   */
  readonly transferChunks: number;
  readonly transferDocs: number;
  readonly restartedTransfers: number;
  readonly resentDocs: number;
  readonly shardDocs: number;
  readonly crashesMidTransfer: number;
  /** Steps the transfer phase took. */
  readonly transferSteps: number;
  /** Strong and quorum writes acknowledged, strong and quorum reads answered, guarded decrements refused at the floor. */
  readonly strongWrites: number;
  readonly quorumWrites: number;
  readonly strongReads: number;
  readonly floorRefusals: number;
  /** Strong requests sent twice by their forwarding member, and answers given from a recorded outcome. */
  readonly duplicates: number;
  readonly replays: number;
  /** Session reads that covered their client's token and were checked. */
  readonly sessionReads: number;
  /** Yjs updates refused where the member lacked what their client had seen (missing-dependencies). */
  readonly missingDependencies: number;
  /** Anti-entropy replies lost after the receiver applied the request. */
  readonly repliesLost: number;
  /** Answers to client requests lost after the member carried them out, and requests sent again. */
  readonly acksLost: number;
  readonly retries: number;
  /** Bound of the members' clock offsets in this run (ms). */
  readonly maxSkew: number;
  readonly healRounds: number;
  readonly messages: number;
  readonly dropped: number;
  readonly transfers: number;
  readonly maxLogBytes: number;
}

/** Extra documents of the transfer scenario. */
export const BULK_DOCS = 48;
/** Steps (of gossip and faults) the transfer phase may take. */
export const TRANSFER_STEPS = 400;
/** Documents the transfer phase's receiver may be sent again, as a share of the shard's documents. */
export const TRANSFER_RESENT = 3;

export class SimFailure extends Error {
  constructor(readonly seed: number, message: string) {
    super(`seed ${seed}: ${message}\n  replay: npm run sim -- --seed ${seed}`);
  }
}

const GOSSIP_INTERVAL = 40;
const MAX_STEPS = 16;
const MAX_HEAL_ROUNDS = 40;
/** Sends of one client request, the first included. */
const MAX_ATTEMPTS = 3;
/** Bound of the clock offsets drawn from the seed (ms), well beyond message delays and gossip intervals. */
const MAX_SKEW = 500;

/** Wall-clock time at virtual time 0, so that skewed clocks stay positive. */
const EPOCH = 1_000_000;

export class Node {
  replica: Replica | undefined;
  readonly storage: SimStorage;
  /** This member's engine loader's faults (kept across restarts, armed only around the member's own work). */
  readonly faults = new EngineFaults();
  /** Probability that an engine throws once during one request or message. */
  engineFaultRate = 0;
  /** Every engine of the member throws until it is rebuilt (a broken wasm module). */
  broken = false;
  /** State-transfer chunks and the documents in them this member received. */
  chunks = 0;
  chunkDocs = 0;
  /** Chunks from the first key that came while a transfer they belong to was under way. */
  restartedTransfers = 0;
  /** Documents of such chunks at or before the key the transfer had reached: sent again. */
  resentDocs = 0;
  /** The transfer progress this member last committed (kept by the checker across restarts). */
  progress: TransferProgress | undefined;
  /** Its strong-path state (queue, requests in flight), lost at a crash. */
  strong!: Incarnation;
  /** This member's wall clock: virtual time plus its own offset. */
  readonly clock: Clock;
  /** Milliseconds this member's clock is ahead of virtual time (negative: behind). */
  skew = 0;
  constructor(readonly id: MemberId, readonly random: Random, faults: Random, net: SimNetwork) {
    this.storage = new SimStorage(id, faults);
    this.clock = { now: () => EPOCH + net.now + this.skew };
  }

  /** Runs the member's own work with its engine faults armed: member-wide when broken, else once at the drawn rate. */
  faulty<T>(rng: Random, f: () => T): T {
    if (this.broken) return f();
    if (this.engineFaultRate > 0 && rng.next() < this.engineFaultRate) this.faults.failNext('any', 1, Math.floor(rng.next() * 4));
    try {
      return f();
    } finally {
      this.faults.clear();
    }
  }

  /** Runs the checker's own reads with no fault armed. */
  quiet<T>(f: () => T): T {
    this.faults.clear();
    try {
      return f();
    } finally {
      if (this.broken) this.faults.failNext('any', Infinity);
    }
  }

  /** A member-wide engine break, until {@link mend}. */
  break(): void {
    this.broken = true;
    this.faults.failNext('any', Infinity);
  }

  mend(): void {
    this.broken = false;
    this.faults.clear();
  }
}

export class Simulation {
  readonly rng: Random;
  readonly net: SimNetwork;
  readonly nodes: Node[];
  /** Every entry committed at its origin, with what its client meant and whether it was told. */
  readonly model = new Model();
  readonly refusals: Refusal[] = [];
  readonly maxSkew: number;
  /** Fields are named by this counter, so every request writes its own. */
  private requests = 0;
  /** Requests that reached a member, retries included. */
  private served = 0;
  crashes = 0;
  /** Probability that a client does not get the answer to a request its member carried out. */
  ackLossRate = 0;
  acksLost = 0;
  retries = 0;
  /** Anti-entropy replies lost after their request was applied (dropped or one-way links). */
  repliesLost = 0;
  /** Engine faults met by requests and messages, and member-wide breaks. */
  engineFaults = 0;
  engineBreaks = 0;
  crashesMidTransfer = 0;
  transferSteps = 0;
  /** Whether this run injects engine faults. */
  readonly engineFaulting: boolean;
  transfers = 0;
  maxLogBytes = 0;
  private nextGossip = new Map<MemberId, number>();
  readonly strong: StrongPaths;
  private readonly strongOn: boolean;

  constructor(readonly opts: SimOptions) {
    this.rng = seededRandom(opts.seed);
    this.net = new SimNetwork(this.rng);
    const n = opts.members ?? 3 + Math.floor(this.rng.next() * 3);
    this.nodes = memberIds(n).map(
      (id, i) => new Node(id, seededRandom(opts.seed * 7919 + i + 1), seededRandom(opts.seed * 104_729 + i + 1), this.net),
    );
    this.maxSkew = opts.clockSkew ?? (this.rng.next() < 0.25 ? 0 : Math.floor(this.rng.next() * MAX_SKEW));
    this.engineFaulting = opts.engineFaults ?? this.rng.next() < 0.5;
    this.strong = new StrongPaths(this, opts.strongMutant);
    this.strongOn = opts.strong ?? true;
    for (const node of this.nodes) {
      node.skew = this.drawSkew();
      this.start(node);
    }
  }

  /** Clocks disagree by up to `maxSkew` either way: hybrid clocks must keep each member's times increasing and engine conflicts decided alike. */
  private drawSkew(): number {
    return Math.round((this.rng.next() * 2 - 1) * this.maxSkew);
  }

  get members(): MemberId[] {
    return this.nodes.map((n) => n.id);
  }

  config(id: MemberId): ReplicaConfig {
    const t = this.opts.transferScenario;
    const logMaxBytes = this.opts.logMaxBytes ?? (t ? 2048 : undefined);
    return {
      self: id,
      members: this.members,
      ...(logMaxBytes !== undefined && { logMaxBytes }),
      maxBatchBytes: this.opts.maxBatchBytes ?? (t ? 384 : 4096),
      docCache: 6,
    };
  }

  start(node: Node): void {
    const env: ReplicaEnv = { storage: node.storage, clock: node.clock, random: node.random, engines: node.faults.loader() };
    node.replica = this.opts.replica ? this.opts.replica(this.config(node.id), env) : new Replica(this.config(node.id), env);
    node.strong = new Incarnation(node);
  }

  get acked(): Write[] {
    return this.model.writes().filter((w) => w.acked);
  }

  /** A member restarts, possibly on a machine whose clock is set differently, even behind the one before. */
  restart(node: Node): void {
    if (this.rng.next() < 0.5) node.skew = this.drawSkew();
    node.mend();
    this.start(node);
  }

  crash(node: Node): void {
    // What was in memory is gone; close() only returns the engines' wasm memory to the process.
    node.replica?.close();
    node.replica = undefined;
    this.crashes++;
  }

  up(): Node[] {
    return this.nodes.filter((n) => n.replica);
  }

  /**
   * `to` (up) receives `bytes`, with its faults: undefined when it failed (a storage or
   * engine fault, handled here), else its answer.
   */
  receiveAt(to: Node, bytes: Uint8Array): { reply: Uint8Array | undefined } | undefined {
    const r = to.replica!;
    const transfer = decodeMessage(bytes).transfer;
    if (transfer) this.transfers++;
    // Where the transfer under way had come, as the receiver last committed it (the checker's
    // own record, which a receiver that forgets its progress at a restart cannot erase).
    const under = to.progress;
    const commits = to.storage.commits;
    const faults = r.stats().engineFaults;
    let reply: Uint8Array | undefined;
    try {
      reply = to.faulty(this.rng, () => r.receive(bytes));
    } catch (err) {
      if (!this.storageFault(to, err) && !this.engineFault(to, err, faults)) throw err;
      return undefined;
    }
    this.noteLogSize(to, commits);
    if (transfer) {
      to.chunks++;
      to.chunkDocs += transfer.docs.length;
      // A chunk from the first key while a transfer is under way that it does not finish: the
      // sender ignored where the receiver was (a resume); the same documents come again.
      if (under && !leq(meet([under.target, transfer.target]), r.vv)) {
        if (transfer.after === undefined) to.restartedTransfers++;
        to.resentDocs += transfer.docs.filter((d) => d.meta.doc <= under.after).length;
      }
      to.progress = r.transfer;
    }
    return { reply };
  }

  /** Delivers `bytes` from `from` at `to` and continues the conversation while it has answers. */
  deliver(to: Node, from: Node, bytes: Uint8Array, step: number): void {
    if (!to.replica) return;
    const reply = this.receiveAt(to, bytes)?.reply;
    if (reply && step < MAX_STEPS) {
      this.net.send(to.id, from.id, () => this.deliver(from, to, reply, step + 1), () => this.repliesLost++);
    }
  }

  gossip(node: Node, peer: Node): void {
    const r = node.replica;
    if (!r || peer === node) return;
    const digest = r.digest();
    this.net.send(node.id, peer.id, () => this.deliver(peer, node, digest, 1));
  }

  clientWrite(node: Node): void {
    if (this.opts.transferScenario && this.rng.next() < 0.4) return this.request(node, bulkRequest(this.rng, ++this.requests, BULK_DOCS));
    this.request(node, randomRequest(this.rng, ++this.requests));
  }

  /**
   * Sends `req` to `node` as a client would and records what came of it: the entry it
   * committed (found in storage, whatever the replica answered), an acknowledgement, or a
   * refusal with the document vector the member decided on.
   */
  request(node: Node, req: Request, attempt = 1, onTold?: (res: WriteResult) => void): void {
    const r = node.replica!;
    const ctx = r.docs.meta(req.doc)?.vv ?? emptyVV;
    // Every request checks what the member holds against the model, one in eight its content
    // too (rendering costs; the end checks see all content anyway).
    node.quiet(() => checkMemberView(this, node, req.doc, ++this.served % 8 === 0));
    const before = node.storage.own.length;
    const commits = node.storage.commits;
    let res: WriteResult | undefined;
    let error: unknown;
    const faults = r.stats().engineFaults;
    try {
      res = node.faulty(this.rng, () => req.send(r));
    } catch (err) {
      error = err;
    }
    const landed = node.storage.own.slice(before);
    if (landed.length > 1) throw new Error(`${node.id}: one request committed ${landed.length} entries`);
    const entry = landed[0];
    const refusal = refusalOf(error, res);
    if (error === undefined && res?.entry && !(entry && sameEntry(entry, res.entry))) {
      throw new Error(`${node.id} acknowledged ${res.entry.origin}:${res.entry.seq} but storage does not hold it`);
    }
    if (error === undefined && !res?.entry && entry) throw new Error(`${node.id} stored an entry for a request it answered as a no-op`);
    if (refusal) {
      if (entry) throw new Error(`${node.id} refused a request (${refusal}) but stored its entry`);
      this.refusals.push({ member: node.id, doc: req.doc, engine: req.engine, reason: refusal, ctx, basis: req.basis?.() });
    } else if (error instanceof EngineFaultError && !isStorageFault(error.cause)) {
      if (entry) throw new Error(`${node.id} stored ${entry.origin}:${entry.seq} for a request that failed with an engine fault`);
      this.engineFault(node, error, faults);
    } else if (error !== undefined && !this.storageFault(node, error)) {
      throw error;
    }
    // The member did its part; the answer may still be lost on the way to the client.
    const answered = error === undefined && !refusal;
    const told = answered && !(this.rng.next() < this.ackLossRate);
    if (answered && !told) this.acksLost++;
    if (entry) {
      if (entry.hlc < node.clock.now()) throw new Error(`${node.id}: entry ${entry.seq} has hlc ${entry.hlc}, behind the clock`);
      this.model.add({ entry, effect: req.effect, acked: told });
    }
    if (answered) this.noteLogSize(node, commits);
    if (answered && res?.entry) this.push(node, [res.entry]);
    if (told && res?.entry) onTold?.(res);
    if (!told && !refusal && attempt < MAX_ATTEMPTS && this.rng.next() < 0.7) this.retry(node, req, attempt);
  }

  /**
   * A client that got no answer sends the same request again a little later, to the same
   * member or to another. Whether the first attempt applied or not, the
   * documents must end up as the model says: a Yjs update applies once however often it is
   * sent; JSON operations sent again are a new change, as over HTTP at these levels.
   */
  private retry(node: Node, req: Request, attempt: number): void {
    // A Yjs insert at a member that lacks the characters around it is refused there
    // (missing-dependencies, since b427aa7; before, it was held back unseen though its entry
    // counted as applied), so a Yjs client may retry anywhere.
    const sameMember = this.rng.next() < 0.5;
    const target = sameMember ? node : pick(this.rng, this.nodes);
    this.retries++;
    this.net.schedule(1 + Math.floor(this.rng.next() * 60), () => {
      if (target.replica) this.request(target, req, attempt + 1);
    });
  }

  /**
   * The log bound holds after an operation that committed and returned; one that failed or
   * crashed between its commits (before its compaction, say) leaves the log over the bound
   * until the member's next commit.
   */
  private noteLogSize(node: Node, commitsBefore: number): void {
    if (node.storage.commits > commitsBefore) this.maxLogBytes = Math.max(this.maxLogBytes, node.replica!.stats().logBytes);
  }

  /** An eager push; the receiver's answer (its vector) comes back once, as over RPC, or is lost. */
  private push(node: Node, entries: LogEntry[]): void {
    const push = node.replica!.push(entries);
    for (const peer of this.nodes) {
      if (peer !== node) this.net.send(node.id, peer.id, () => this.deliver(peer, node, push, MAX_STEPS - 1));
    }
  }

  /**
   * Handles a fault injected by storage that surfaced through the replica: a crash inside a
   * commit takes the member down; a failed commit leaves it up, and its memory must then
   * match storage. False when `err` is no injected fault.
   */
  storageFault(node: Node, err: unknown): boolean {
    // A storage fault is never an engine fault (a batch committed in parts once reported one
    // as such; fixed in 5ec86ce).
    if (err instanceof EngineFaultError && isStorageFault(err.cause)) {
      throw new Error(`${node.id}: a storage fault (${(err.cause as Error).message}) was reported as an engine fault`);
    }
    if (err instanceof SimCrash) {
      this.crash(node);
      return true;
    }
    if (!(err instanceof CommitFailure)) return false;
    node.quiet(() => checkMemoryMatchesStorage(node, true));
    return true;
  }

  /**
   * Handles an engine fault that surfaced through the replica: nothing of the operation is
   * committed (memory, engines included, equals storage), and the member's stats count it
   * once. False when `err` is no engine fault.
   */
  engineFault(node: Node, err: unknown, faultsBefore: number): boolean {
    if (!(err instanceof EngineFaultError) || isStorageFault(err.cause)) return false;
    const counted = node.replica!.stats().engineFaults - faultsBefore;
    if (counted !== 1) throw new Error(`${node.id}: an engine fault (${err.message}) counted ${counted} times in stats().engineFaults`);
    node.quiet(() => checkMemoryMatchesStorage(node, true));
    this.engineFaults++;
    return true;
  }

  /** Engine faults drawn per chaos step: a member-wide break now and then, and a broken member rebuilt from storage. */
  private engineChaos(): void {
    if (!this.engineFaulting) return;
    for (const node of this.up()) {
      if (node.broken && this.rng.next() < 0.15) {
        // The object rebuilds its replica after engine faults; it must serve again.
        node.replica!.close();
        node.mend();
        this.start(node);
      } else if (!node.broken && this.rng.next() < 0.004) {
        node.break();
        this.engineBreaks++;
      }
    }
  }

  /** Gossip timers: each member starts a round with a random peer every interval. */
  private tickGossip(): void {
    for (const node of this.up()) {
      const due = this.nextGossip.get(node.id) ?? 0;
      if (this.net.now < due) continue;
      this.gossip(node, pick(this.rng, this.nodes.filter((n) => n !== node)));
      this.nextGossip.set(node.id, this.net.now + GOSSIP_INTERVAL + Math.floor(this.rng.next() * GOSSIP_INTERVAL));
    }
  }

  private async chaosStep(i: number, steps: number): Promise<void> {
    const roll = this.rng.next();
    const down = this.nodes.filter((n) => !n.replica);
    const outage = this.opts.longOutage || this.opts.transferScenario ? this.nodes[this.nodes.length - 1]! : undefined;
    if (outage && i === Math.floor(steps / 10) && outage.replica) this.crash(outage);
    const up = this.up();
    if (roll < 0.55 && up.length > 0) {
      const kind = this.strongOn ? this.rng.next() : 1;
      const node = pick(this.rng, up);
      if (kind < 0.1) this.strong.clientStrong(node);
      else if (kind < 0.16) this.strong.quorumWrite(node);
      else if (kind < 0.21) this.strong.sessionWrite(node);
      else this.clientWrite(node);
    } else if (roll < 0.62 && up.length > 1) {
      this.crash(pick(this.rng, up));
    } else if (roll < 0.7 && down.length > 0) {
      const node = pick(this.rng, down);
      if (node !== outage) this.restart(node);
    } else if (roll < 0.78) {
      this.changePartition();
    } else if (roll < 0.83) {
      this.net.faults = {
        dropRate: this.rng.next() * 0.3,
        duplicateRate: this.rng.next() * 0.2,
        minDelay: 1,
        maxDelay: 1 + Math.floor(this.rng.next() * 60),
      };
      this.drawCommitFaults();
      this.drawEngineFaults();
      this.ackLossRate = this.rng.next() < 0.5 ? 0 : this.rng.next() * 0.3;
    }
    this.engineChaos();
    this.tickGossip();
    await this.runNet(this.net.now + Math.floor(this.rng.next() * 15));
    this.checkStep();
  }

  /**
   * The transfer scenario's phase: every member but the receiver back, storage sound, engines
   * failing once at 2% in half the runs, no writes, lossy links; the receiver comes back and catches up by gossip while it, or the member its
   * last chunk came from, crashes now and then in the middle (coming back a little later).
   */
  private async transferPhase(receiver: Node): Promise<void> {
    for (const n of this.nodes) {
      n.storage.faultRate = 0;
      // Engines may still fail once now and then (building and applying chunks included).
      n.engineFaultRate = this.engineFaulting ? 0.02 : 0;
      if (n.broken) this.crash(n);
      if (!n.replica && n !== receiver) this.restart(n);
    }
    this.net.heal();
    this.net.faults = { dropRate: 0.1, duplicateRate: 0.1, minDelay: 1, maxDelay: 30 };
    this.ackLossRate = 0;
    await this.runNet(Infinity);
    if (receiver.replica) this.crash(receiver);
    this.restart(receiver);
    receiver.chunks = 0;
    receiver.resentDocs = 0;
    receiver.progress = undefined;
    for (let step = 0; step < TRANSFER_STEPS; step++) {
      const r = receiver.replica;
      if (r && !r.transfer && this.up().every((n) => leq(n.replica!.vv, r.vv))) {
        this.transferSteps = step;
        return;
      }
      const progress = r?.transfer;
      if (progress && this.rng.next() < 0.08) {
        const victim = this.rng.next() < 0.5 ? receiver : this.nodes.find((n) => n.id === progress.from)!;
        if (victim.replica) {
          this.crash(victim);
          this.crashesMidTransfer++;
          this.net.schedule(5 + Math.floor(this.rng.next() * 40), () => {
            if (!victim.replica) this.restart(victim);
          });
        }
      }
      this.tickGossip();
      await this.runNet(this.net.now + 10);
      this.checkStep();
    }
    throw new Error(`${receiver.id} did not finish catching up within ${TRANSFER_STEPS} steps of the transfer phase (${receiver.chunks} chunks, transfer ${canonicalProgress(receiver.replica?.transfer)})`);
  }

  /** Half the time storage is sound; otherwise each commit fails or crashes at one rate for all members. */
  private drawCommitFaults(): void {
    const rate = this.rng.next() < 0.5 ? 0 : this.rng.next() * 0.08;
    for (const n of this.nodes) n.storage.faultRate = rate;
  }

  /** Half the time engines are sound; otherwise each request or message meets a fault at one rate for all members. */
  private drawEngineFaults(): void {
    const rate = !this.engineFaulting || this.rng.next() < 0.5 ? 0 : this.rng.next() * 0.05;
    for (const n of this.nodes) n.engineFaultRate = rate;
  }

  /** Heals, splits into two random groups, or cuts or restores one link ("swizzle"), or one direction of one. */
  private changePartition(): void {
    const r = this.rng.next();
    if (r < 0.3) return this.net.heal();
    if (r < 0.55) {
      const a: MemberId[] = [];
      const b: MemberId[] = [];
      for (const m of this.members) (this.rng.next() < 0.5 ? a : b).push(m);
      return this.net.partition([a, b]);
    }
    const x = pick(this.rng, this.members);
    const y = pick(this.rng, this.members);
    if (x === y) return;
    // One direction only: y applies what x sends, and x never hears back.
    if (r < 0.8) this.net.setCut(x, y, this.net.connected(x, y));
    else this.net.setOneWay(y, x, this.net.connected(y, x));
  }

  /** Invariants after every step: memory equals what is committed; nobody claims unwritten entries. */
  private checkStep(): void {
    for (const node of this.up()) {
      const r = node.replica!;
      checkMemoryMatchesStorage(node, false);
      for (const other of this.nodes) {
        const written = other.storage.loadMeta()?.vv[other.id] ?? 0;
        if ((r.vv[other.id] ?? 0) > written) throw new Error(`${node.id} claims entries of ${other.id} that were never written`);
      }
    }
    this.strong.checkStep();
    this.opts.onStep?.(this);
  }

  /**
   * Runs the network's events up to `until`. While an operation of the majority paths is
   * under way, its continuations (promises) run after each event, before the next one.
   */
  private async runNet(until: number): Promise<void> {
    for (;;) {
      if (this.strong.busy) await drain();
      if (this.strong.fatal) throw this.strong.fatal;
      if (!this.net.step(until)) break;
    }
    if (Number.isFinite(until)) this.net.now = Math.max(this.net.now, until);
  }

  /** Heal everything, then full-mesh gossip rounds until converged (bounded). */
  async heal(): Promise<number> {
    for (const n of this.nodes) {
      n.storage.faultRate = 0;
      n.engineFaultRate = 0;
      if (n.broken) this.crash(n);
      if (!n.replica) this.restart(n);
    }
    this.net.heal();
    this.net.faults = NO_FAULTS;
    this.ackLossRate = 0;
    await this.runNet(Infinity);
    for (let round = 1; round <= MAX_HEAL_ROUNDS; round++) {
      for (const a of this.nodes) for (const b of this.nodes) this.gossip(a, b);
      await this.runNet(Infinity);
      if (converged(this)) return round;
    }
    return MAX_HEAL_ROUNDS + 1;
  }

  /**
   * The transfer scenario's receiver: its transfer finished (no member has one under way),
   * and it was not sent the same documents round after round: a transfer resumes after the
   * last key received, across rounds and restarts of either side.
   */
  private checkTransfer(receiver: Node, shardDocs: number): void {
    for (const n of this.nodes) {
      const t = n.replica!.transfer;
      if (t) throw new Error(`${n.id} still has a transfer from ${t.from} under way after the heal (${t.docs} documents so far)`);
    }
    if (receiver.chunks < 4) throw new Error(`${receiver.id} caught up in ${receiver.chunks} chunks: the scenario needs a transfer of many`);
    if (receiver.resentDocs > TRANSFER_RESENT * shardDocs) {
      throw new Error(`${receiver.id} was sent ${receiver.resentDocs} documents again (${receiver.restartedTransfers} chunks from the first key) in ${receiver.chunks} chunks, for a shard of ${shardDocs} documents`);
    }
  }

  /** Releases every member's engines (wasm memory) once the run is checked. */
  close(): void {
    for (const n of this.nodes) n.replica?.close();
  }

  async run(): Promise<SimReport> {
    const steps = this.opts.steps ?? 60;
    for (const req of setupRequests()) this.request(this.nodes[0]!, req);
    await this.heal();
    this.drawCommitFaults();
    this.drawEngineFaults();
    for (let i = 0; i < steps; i++) await this.chaosStep(i, steps);
    const receiver = this.nodes[this.nodes.length - 1]!;
    if (this.opts.transferScenario) await this.transferPhase(receiver);
    const healRounds = await this.heal();
    checkConverged(this);
    this.strong.checkEnd();
    const shardDocs = this.nodes[0]!.replica!.docs.size;
    if (this.opts.transferScenario) this.checkTransfer(receiver, shardDocs);
    return {
      seed: this.opts.seed,
      members: this.nodes.length,
      writes: this.acked.length,
      crashes: this.crashes,
      commitFailures: this.nodes.reduce((n, x) => n + x.storage.failures, 0),
      commitCrashes: this.nodes.reduce((n, x) => n + x.storage.crashes, 0),
      unacknowledged: this.model.writes().filter((w) => !w.acked).length,
      engineFaults: this.engineFaults,
      engineBreaks: this.engineBreaks,
      transferChunks: receiver.chunks,
      transferDocs: receiver.chunkDocs,
      restartedTransfers: receiver.restartedTransfers,
      resentDocs: receiver.resentDocs,
      shardDocs,
      crashesMidTransfer: this.crashesMidTransfer,
      transferSteps: this.transferSteps,
      strongWrites: this.strong.strongWrites,
      quorumWrites: this.strong.quorumWrites,
      strongReads: this.strong.strongReads,
      floorRefusals: this.strong.floorRefusals,
      duplicates: this.strong.duplicates,
      replays: this.strong.replays,
      sessionReads: this.strong.sessionReads,
      missingDependencies: this.refusals.filter((f) => f.reason === 'missing-dependencies').length,
      repliesLost: this.repliesLost,
      acksLost: this.acksLost,
      retries: this.retries,
      maxSkew: this.maxSkew,
      healRounds,
      messages: this.net.sent,
      dropped: this.net.dropped,
      transfers: this.transfers,
      maxLogBytes: this.maxLogBytes,
    };
  }
}

/** Lets every promise continuation queued so far run (virtual time stands still meanwhile). */
const drain = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

const isStorageFault = (cause: unknown): boolean => cause instanceof SimCrash || cause instanceof CommitFailure;

const canonicalProgress = (p: TransferProgress | undefined): string => (p ? `from ${p.from} after ${JSON.stringify(p.after)}, ${p.docs} documents` : 'none');

function refusalOf(err: unknown, res: WriteResult | undefined): Refusal['reason'] | undefined {
  if (err === undefined) return res ? undefined : 'nothing-to-delete';
  if (err instanceof ConcordError && (err.code === 'path-not-found' || err.code === 'engine-mismatch' || err.code === 'missing-dependencies')) return err.code;
  return undefined;
}

function sameEntry(a: LogEntry, b: LogEntry): boolean {
  return (
    a.origin === b.origin && a.seq === b.seq && a.doc === b.doc && a.kind === b.kind && a.engine === b.engine &&
    a.hlc === b.hlc && equals(a.deps, b.deps) && a.data.length === b.data.length && a.data.every((x, i) => x === b.data[i])
  );
}

/** Runs one seed; any failure is rethrown as a {@link SimFailure} naming the seed. */
export async function simulate(opts: SimOptions): Promise<SimReport> {
  const sim = new Simulation(opts);
  try {
    return await sim.run();
  } catch (err) {
    if (err instanceof SimFailure) throw err;
    throw new SimFailure(opts.seed, err instanceof Error ? (err.stack ?? err.message) : String(err));
  } finally {
    sim.close();
  }
}
