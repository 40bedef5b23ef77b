/**
 * Elections under faults: `simulateElection({ seed })` runs 3–5 members of one shard, each
 * with the real {@link Election} of `src/core/election.ts`, on the simulated network of
 * `network.ts` (drops, duplicates, delays, partitions that isolate the leader and heal), with
 * crash-restarts (the election's durable state and applied entries survive, nothing else) and
 * clocks that run fast or slow within the configured drift bound. Clients send strong
 * operations on two objects through any member, which forwards them to the leader it knows:
 * writes of a register `r`, increments and guarded decrements (floor 0) of a counter `c`, and
 * strong reads of both. The leader runs them one at a time; a read is answered from its state
 * while its lease holds, else after a majority round that also pulls what peers hold.
 *
 * The write path is modelled, not the replica: entries are dots with the epoch they were
 * written in, and a member's applied vector counts each origin's entries without gaps.
 * - `staged` (default): a strong write is applied on the leader and a majority at once, when
 *   the leader can reach a majority of members not at a higher epoch, or nowhere. This is the
 *   write path issue 9 still needs (see the README beside this file): a proposal is not
 *   visible until a majority holds it, and an unacknowledged one of a deposed leader never
 *   surfaces.
 * - `commit-first`: today's order (`src/core/strong.ts` as the leader uses it): commit at the
 *   leader, then push to peers, acknowledge on a majority; entries also spread by gossip.
 *
 * Checked after every event: at most one leader per epoch; at most one vote per member per
 * epoch, across its restarts, each on disk before it leaves; each newly elected leader, and
 * any member holding a valid lease, covers every acknowledged write; at most one member
 * holds a valid lease, and nobody is elected while another member holds one. At the end: the strong history of `r` and of `c` is linearizable.
 */
import { Election, type ElectionConfig, type ElectionMessage, type Step } from '../../../src/core/election.js';
import { type MemberId } from '../../../src/core/ids.js';
import { seededRandom, type Random } from '../../../src/core/ports.js';
import { majority } from '../../../src/core/routing.js';
import { covers, type Dot, get, type VersionVector } from '../../../src/core/version-vector.js';
import { checkLinearizable, type HistoryOp } from './linearizability.js';
import { SimNetwork } from './network.js';
import { memberIds, pick } from './workload.js';

export type WritePath = 'staged' | 'commit-first';
/** Broken variants that the checks must catch. */
export type ElectionMutant =
  /** Voters compare the candidate's vector with an empty one: any candidate covers it. */
  | 'blind-votes'
  /** Clocks run up to 70% fast or slow, far past what `maxClockDriftMs` allows for. */
  | 'drift-beyond-bound';

export interface ElectionSimOptions {
  readonly seed: number;
  readonly members?: number;
  /** Virtual milliseconds of chaos before the final heal. */
  readonly duration?: number;
  readonly writePath?: WritePath;
  readonly mutant?: ElectionMutant;
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
  readonly indeterminate: number;
  readonly historyOps: number;
  /** Leader at the end is the preferred member (after the heal). */
  readonly preferredLeadsAtEnd: boolean;
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
  readonly epoch: number;
  /** The client request it carries out (a leader answers a duplicate from it, as the object's `once`/`replay` do). */
  readonly req: number;
  readonly op: { readonly obj: 'r'; readonly value: number } | { readonly obj: 'c'; readonly by: number };
}

interface Disk {
  durable: ReturnType<Election['durable']> | undefined;
  readonly entries: Map<string, Entry>;
  /** Requests this member refused as leader (the object's recorded outcomes: kept where they were decided). */
  readonly refused: Set<number>;
  vv: VersionVector;
}

type ClientOp =
  | { readonly obj: 'r'; readonly kind: 'write'; readonly value: number }
  | { readonly obj: 'c'; readonly kind: 'inc' | 'dec' }
  | { readonly obj: 'r' | 'c'; readonly kind: 'read' };

/** `failed`: refused before any effect (no leader, no majority to write to); `unavailable`: it may or may not have taken effect. */
type Outcome = { readonly kind: 'ok'; readonly value?: number | null } | { readonly kind: 'refused' } | { readonly kind: 'failed' } | { readonly kind: 'unavailable' };

interface Recorded {
  readonly req: number;
  readonly op: ClientOp;
  readonly invoke: number;
  complete?: number;
  outcome?: Outcome;
}

export class ElectionSimFailure extends Error {
  constructor(readonly seed: number, message: string) {
    super(`seed ${seed}: ${message}\n  replay: simulateElection({ seed: ${seed} })`);
  }
}

class Member {
  election: Election | undefined;
  incarnation = 0;
  readonly disk: Disk = { durable: undefined, entries: new Map(), refused: new Set(), vv: {} };
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
  private readonly leaders = new Map<number, MemberId>();
  /** Every vote granted, by voter and epoch (kept across the voter's restarts). */
  private readonly votes = new Map<string, MemberId>();
  private readonly acked: Dot[] = [];
  private readonly history: Recorded[] = [];
  private nextValue = 1;
  /** Anti-entropy interval, drawn per run: slow repair leaves members behind when elections come. */
  private readonly gossipMs: number;
  private failure: Error | undefined;
  private counts = { elections: 0, handovers: 0, crashes: 0, partitions: 0, writes: 0, refusals: 0, leaseReads: 0, roundReads: 0 };

  constructor(private readonly opts: ElectionSimOptions) {
    this.rng = seededRandom(opts.seed);
    this.net = new SimNetwork(seededRandom(opts.seed * 7919 + 1));
    const n = opts.members ?? 3 + Math.floor(this.rng.next() * 3);
    this.ids = memberIds(n);
    this.preferred = this.ids[0]!;
    this.writePath = opts.writePath ?? 'staged';
    this.gossipMs = 60 + Math.floor(this.rng.next() * 1500);
    this.members = this.ids.map((id) => new Member(id, this.net));
    for (const m of this.members) this.start(m);
  }

  // ---- members ----

  private config(self: MemberId): ElectionConfig {
    return { self, members: this.ids, preferred: this.preferred, leaseMs: LEASE_MS, maxClockDriftMs: MAX_DRIFT_MS };
  }

  private start(m: Member): void {
    const bound = this.opts.mutant === 'drift-beyond-bound' ? 0.7 : MAX_RATE;
    m.rate = (this.rng.next() * 2 - 1) * bound;
    m.offset = 1_000_000 + Math.floor(this.rng.next() * 1000);
    m.incarnation++;
    m.queue = [];
    m.busy = false;
    m.election = new Election(this.config(m.id), m.disk.durable, m.now(), this.rng);
    const inc = m.incarnation;
    const tick = () => {
      if (m.incarnation !== inc || !m.election) return;
      this.apply(m, m.election.tick(m.now(), { vv: m.disk.vv, busy: m.busy || m.queue.length > 0 }));
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
    // The blind-votes mutant: voters compare against an empty vector (any candidate covers it).
    const vv = this.opts.mutant === 'blind-votes' && (msg.type === 'vote' || msg.type === 'pre-vote') ? {} : to.disk.vv;
    this.apply(to, to.election.receive(from.id, msg, to.now(), { vv, busy: to.busy }));
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
    for (const d of this.acked) {
      if (!covers(m.disk.vv, d)) throw new Error(`${m.id}, elected in epoch ${epoch}, lacks acknowledged write ${key(d)}`);
    }
    // No new leader may act before the old lease has expired.
    for (const o of this.members) {
      if (o !== m && o.election?.leaseValid(o.now())) throw new Error(`${m.id} was elected in epoch ${epoch} while ${o.id} holds a lease of epoch ${o.election.epoch}`);
    }
  }

  private member(id: MemberId): Member {
    return this.members.find((m) => m.id === id)!;
  }

  // ---- entries ----

  private merge(m: Member, entries: readonly Entry[]): void {
    for (const e of entries) if (!m.disk.entries.has(key(e.dot))) m.disk.entries.set(key(e.dot), e);
    const vv: Record<string, number> = { ...m.disk.vv };
    for (const id of this.ids) {
      let s = get(m.disk.vv, id);
      while (m.disk.entries.has(`${id}:${s + 1}`)) s++;
      if (s > 0) vv[id] = s;
    }
    m.disk.vv = vv as VersionVector;
  }

  private state(m: Member): { r: number | null; c: number } {
    let r: Entry | undefined;
    let c = 0;
    for (const e of m.disk.entries.values()) {
      if (!covers(m.disk.vv, e.dot)) continue;
      if (e.op.obj === 'c') c += e.op.by;
      else if (!r || e.epoch > r.epoch || (e.epoch === r.epoch && e.dot.seq > r.dot.seq)) r = e;
    }
    return { r: r && r.op.obj === 'r' ? r.op.value : null, c };
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
      leader.queue.push(() => this.lead(leader, inc, rec.req, op, (o) => {
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

  /** The leader's side of one operation. */
  private lead(m: Member, inc: number, req: number, op: ClientOp, done: (o: Outcome) => void): void {
    const e = m.election;
    if (!e || !e.acceptsOperations()) return done({ kind: 'failed' });
    const epoch = e.epoch;
    if (op.kind === 'read') {
      if (e.leaseValid(m.now())) {
        this.counts.leaseReads++;
        const s = this.state(m);
        return done({ kind: 'ok', value: op.obj === 'r' ? s.r : s.c });
      }
      return this.round(m, inc, epoch, (ok) => {
        if (!ok) return done({ kind: 'unavailable' });
        this.counts.roundReads++;
        const s = this.state(m);
        done({ kind: 'ok', value: op.obj === 'r' ? s.r : s.c });
      });
    }
    // Carried out already (a duplicate, or a retry): answered from the entry, not applied again.
    if ([...m.disk.entries.values()].some((x) => x.req === req && covers(m.disk.vv, x.dot))) return done({ kind: 'ok' });
    if (m.disk.refused.has(req)) return done({ kind: 'refused' });
    if (op.kind === 'dec' && this.state(m).c - 1 < FLOOR) {
      m.disk.refused.add(req);
      this.counts.refusals++;
      return done({ kind: 'refused' });
    }
    const entryOp: Entry['op'] = op.obj === 'r' ? { obj: 'r', value: op.value } : { obj: 'c', by: op.kind === 'inc' ? 1 : -1 };
    if (this.writePath === 'staged') this.stagedWrite(m, inc, epoch, req, entryOp, done);
    else this.commitFirstWrite(m, inc, epoch, req, entryOp, done);
  }

  /** Peers that a message would reach and that are not past `epoch`; a peer past it deposes the leader. */
  private reachable(m: Member, epoch: number): Member[] | undefined {
    const out: Member[] = [];
    for (const p of this.members) {
      if (p === m || !p.election || !this.net.connected(m.id, p.id) || !this.net.connected(p.id, m.id)) continue;
      if (p.election.epoch > epoch) {
        this.apply(m, m.election!.observe(p.election.epoch, m.now()));
        return undefined;
      }
      out.push(p);
    }
    return out;
  }

  /** The staged write path, idealised: on the leader and a majority at once, or nowhere. */
  private stagedWrite(m: Member, inc: number, epoch: number, req: number, op: Entry['op'], done: (o: Outcome) => void): void {
    this.net.schedule(2 + Math.floor(this.rng.next() * 20), () => {
      if (m.incarnation !== inc || m.election?.epoch !== epoch || !m.election.acceptsOperations()) return done({ kind: 'failed' });
      const peers = this.reachable(m, epoch);
      const need = majority(this.ids.length) - 1;
      if (!peers || peers.length < need) {
        return this.net.schedule(OP_TIMEOUT_MS, () => done({ kind: 'failed' }));
      }
      const entry: Entry = { dot: { member: m.id, seq: get(m.disk.vv, m.id) + 1 }, epoch, req, op };
      const chosen = [...peers].sort(() => this.rng.next() - 0.5).slice(0, need + Math.floor(this.rng.next() * (peers.length - need + 1)));
      this.merge(m, [entry]);
      for (const p of chosen) {
        this.apply(p, p.election!.observe(epoch, p.now()));
        this.merge(p, [...m.disk.entries.values()]);
      }
      this.acked.push(entry.dot);
      this.counts.writes++;
      done({ kind: 'ok' });
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
            this.acked.push(entry.dot);
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
    while (this.net.step(until)) {
      if (this.failure) throw this.failure;
      this.checkStep();
    }
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
    // one answering from its own state must hold every acknowledged write.
    for (const m of leasing) {
      for (const d of this.acked) if (!covers(m.disk.vv, d)) throw new Error(`${m.id}, holding a lease in epoch ${m.election!.epoch}, lacks acknowledged write ${key(d)}`);
    }
  }

  // ---- linearizability ----

  private checkHistory(): void {
    const register: HistoryOp<number | null>[] = [];
    const counter: HistoryOp<number>[] = [];
    const carried = new Set<number>();
    for (const m of this.members) for (const e of m.disk.entries.values()) carried.add(e.req);
    for (const h of this.history) {
      const o = h.outcome;
      // A write whose client heard no success (a 503, or nothing) may have taken effect at any
      // time after its invocation, or never. The simulator knows which: one whose request is in
      // no member's entries never took effect and leaves the history (a duplicate of a write that
      // did may well have been refused, so the client's answer alone cannot tell).
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
    };
  }
}
