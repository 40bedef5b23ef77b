/**
 * Member-to-member calls over Durable Object RPC, behind the core's ports: the anti-entropy
 * {@link Transport} and the {@link MajorityPort} of the strong path. Every call goes through
 * the fault injector (test environment only), has a timeout, and is retried with backoff when
 * the runtime marks the failure retryable, except when the peer is overloaded: then the call
 * fails at once, shedding load instead of adding to it.
 */
import { gossipRound } from '../core/anti-entropy.js';
import type { ElectionMessage } from '../core/election.js';
import { StaleEpochError } from '../core/errors.js';
import type { DocKey, MemberId, ShardId } from '../core/ids.js';
import type { Transport } from '../core/ports.js';
import type { Proposal } from '../core/proposals.js';
import type { Replica } from '../core/replica.js';
import { memberName } from '../core/routing.js';
import type { ProposalPort } from '../core/strong.js';
import type { VersionVector } from '../core/version-vector.js';
import type { Config, Env } from './config.js';
import { injectFaults, sleep, UnreachableError } from './faults.js';
import type { DocRequest, DocResponse, FaultConfig, ProposeResult, ReplicateResult, SyncResult } from './protocol.js';
import type { ReplicaObject } from './replica-object.js';

const RETRIES = 3;
const BACKOFF_MS = 25;

/**
 * The member-to-member methods of {@link ReplicaObject}, as plain signatures: the generated
 * RPC types of its union results are too deep for the checker. The `satisfies` check below
 * keeps them in step with the class.
 */
interface PeerRpc {
  sync(bytes: Uint8Array): Promise<Uint8Array | undefined>;
  syncAt(bytes: Uint8Array, epoch: number): Promise<SyncResult>;
  replicate(bytes: Uint8Array, epoch: number): Promise<ReplicateResult>;
  propose(proposal: Proposal): Promise<ProposeResult>;
  lead(req: DocRequest, hops?: number): Promise<DocResponse>;
  presence(doc: string, frame: Uint8Array): Promise<void>;
  elect(from: string, message: ElectionMessage): Promise<ElectionMessage[]>;
  ping(): Promise<void>;
}
type Stub = PeerRpc;
const _matches = null as unknown as ReplicaObject satisfies PeerRpc;
void _matches;

export class Peers {
  readonly transport: Transport;
  private readonly stubs = new Map<MemberId, Stub>();
  private readonly deadlines = new Deadlines();

  constructor(
    private readonly env: Env,
    private readonly config: Config,
    private readonly shard: ShardId,
    private readonly self: MemberId,
    private readonly replica: () => Replica,
    private readonly faults: () => FaultConfig | null,
    /** A peer answered with a higher leader epoch than this member's (a refusal): the election adopts it. */
    private readonly observed: (epoch: number) => void = () => undefined,
  ) {
    this.transport = { request: (to, bytes) => this.call(to, (s) => s.sync(bytes)) };
  }

  /**
   * The majority port of a member at leader epoch `epoch`: peers that know a later epoch refuse
   * its replication and its pulls (a deposed leader learns of it before it applies anything),
   * and `observed` hears of that epoch.
   */
  at(epoch: number): ProposalPort {
    const fenced: Transport = {
      request: async (to, bytes) => {
        const res = await this.call(to, (s) => s.syncAt(bytes, epoch));
        if (res.ok) return res.reply;
        this.observed(res.epoch);
        throw new StaleEpochError(res.detail);
      },
    };
    return {
      replicate: async (to, message) => {
        const res = await this.call(to, (s) => s.replicate(message, epoch));
        if (res.ok) return res.vv;
        if (res.epoch !== undefined) this.observed(res.epoch);
        throw new StaleEpochError(res.detail);
      },
      pull: (to) => gossipRound(this.replica(), to, fenced),
      propose: async (to, proposal) => {
        const res = await this.call(to, (s) => s.propose(proposal));
        if (res.ok || res.reason !== 'stale-epoch') return res;
        this.observed(res.epoch);
        throw new StaleEpochError(res.detail);
      },
    };
  }

  /** An unfenced pull (session reads). */
  pull(to: MemberId): Promise<VersionVector | undefined> {
    return gossipRound(this.replica(), to, this.transport);
  }

  /** Forwards a strong operation or quorum read to `leader`; `hops` counts the forwards so far. */
  lead(leader: MemberId, req: DocRequest, budgetMs: number, hops: number): Promise<DocResponse> {
    // The leader drops the operation if it cannot start before this caller stops waiting.
    return this.call(leader, (s) => s.lead({ ...req, budgetMs }, hops), budgetMs);
  }

  /** An election message to `to`; resolves with `to`'s answers to this member. */
  elect(to: MemberId, message: ElectionMessage): Promise<ElectionMessage[]> {
    return this.call(to, (s) => s.elect(this.self, message));
  }

  /** Wakes `to` (constructs its object, which then takes part in its shard's election). */
  wake(to: MemberId): Promise<void> {
    return this.call(to, (s) => s.ping());
  }

  /** Relays an awareness frame (never stored, so never retried beyond the transport's own retries). */
  presence(to: MemberId, doc: DocKey, frame: Uint8Array): Promise<void> {
    return this.call(to, (s) => s.presence(doc, frame));
  }

  /**
   * One stub per peer, kept while calls through it succeed: an `idFromName` and `get` per call
   * were paid on every push. A failed call drops it, since some failures break a stub for good.
   */
  private stub(to: MemberId): Stub {
    let s = this.stubs.get(to);
    if (!s) {
      const ns = this.env.REPLICA;
      s = ns.get(ns.idFromName(memberName(this.shard, to))) as unknown as PeerRpc;
      this.stubs.set(to, s);
    }
    return s;
  }

  private async call<T>(to: MemberId, f: (s: Stub) => Promise<T>, timeoutMs = this.config.quorumTimeoutMs): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        if (this.config.testFaults) await injectFaults(this.faults(), this.self, to);
        return await this.deadlines.race(f(this.stub(to)), timeoutMs, () => new UnreachableError(`${to} did not answer within ${timeoutMs} ms`));
      } catch (err) {
        this.stubs.delete(to);
        const e = err as { retryable?: boolean; overloaded?: boolean };
        if (err instanceof UnreachableError || e.overloaded || !e.retryable || attempt + 1 >= RETRIES) throw err;
        await sleep(BACKOFF_MS * 2 ** attempt * (1 + Math.random()));
      }
    }
  }
}

/**
 * The timeouts of a member's calls under way, on one timer: a `setTimeout` and a
 * `clearTimeout` per call were a visible share of every push. The timer is set for the
 * earliest deadline; when it fires it fails the calls that are due and is set again for the
 * next, so under a steady load it runs about once per timeout, whatever the number of calls.
 */
export class Deadlines {
  private readonly waiting = new Set<{ readonly at: number; readonly fail: () => void }>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private timerAt = Infinity;

  constructor(private readonly now: () => number = Date.now) {}

  /** Settles as `p` does, or rejects with `error()` if `p` has not settled within `ms`. */
  race<T>(p: Promise<T>, ms: number, error: () => Error): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const w = { at: this.now() + ms, fail: () => reject(error()) };
      this.waiting.add(w);
      this.schedule(w.at);
      p.then(
        (v) => {
          this.waiting.delete(w);
          resolve(v);
        },
        (e: unknown) => {
          this.waiting.delete(w);
          reject(e);
        },
      );
    });
  }

  /** Calls waiting for their answer (for tests). */
  get size(): number {
    return this.waiting.size;
  }

  private schedule(at: number): void {
    if (at >= this.timerAt) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => this.fire(), Math.max(0, at - this.now()));
  }

  private fire(): void {
    this.timer = undefined;
    this.timerAt = Infinity;
    const now = this.now();
    let next = Infinity;
    for (const w of this.waiting) {
      if (w.at <= now) {
        this.waiting.delete(w);
        w.fail();
      } else next = Math.min(next, w.at);
    }
    if (next < Infinity) this.schedule(next);
  }
}
