/**
 * The paths that need a majority, driven through the real core code (`StrongQueue`,
 * `gatherMajority`, `replicateToMajority` of `src/core/strong.ts`) over a {@link MajorityPort}
 * on the simulated network (losses, duplicates, delays, partitions, crashes; each call times
 * out in virtual time), and the session path:
 *
 * - Strong operations go to the leader (the first member), forwarded by the member a client
 *   reached: field writes, increments and guarded decrements of the counter `c` of
 *   {@link GUARDED} (refused below {@link FLOOR}), strong reads (in the queue) and quorum
 *   reads (not). The forwarding member may send a request twice (a transport retry), the
 *   network may duplicate or delay it, and a client without an answer sends it again later
 *   through any member, with the same request id. The leader carries a write out once per id
 *   as `src/objects/replica-object.ts` does (`once`, `replay`): a request still running is
 *   joined, a recorded outcome (stored with the write, `Replica.write(..., { outcome })`) is
 *   answered again after its entry is made durable on a majority again (`replicateToMajority`,
 *   or `ensureOnMajority` when the entry left the log).
 * - Quorum writes at any member: committed there, then `replicateToMajority`.
 * - Session clients: a write at one member, then reads with its causal token (the vector it
 *   was answered with) at any member, which pull until they cover the token.
 *
 * Checks: an acknowledged strong or quorum write is in the storage of a majority when its
 * client hears of it; a strong or quorum read at the leader covers every such write
 * acknowledged before the read was sent, and its document is what the model says; the
 * leader's view of the guarded counter never goes below the floor; each request id produces
 * at most one entry in the whole cluster, and every answer to it equals the first; a session
 * read at a member that covers the client's token shows the client's own write.
 *
 * A crash loses what the member had in memory: its queue, its requests in flight, and the
 * continuations of its operations (their calls never settle, as an object's promises die with
 * its isolate).
 */
import { gossipRound } from '../../../src/core/anti-entropy.js';
import { EngineFaultError, UnavailableError } from '../../../src/core/errors.js';
import { type DocKey, type MemberId } from '../../../src/core/ids.js';
import type { JsonObject } from '../../../src/core/json.js';
import type { LogEntry } from '../../../src/core/log.js';
import type { Replica, WriteOptions, WriteResult } from '../../../src/core/replica.js';
import { majority } from '../../../src/core/routing.js';
import type { StoredOutcome } from '../../../src/core/storage.js';
import { ensureOnMajority, gatherMajority, type MajorityPort, replicateToMajority, StrongQueue } from '../../../src/core/strong.js';
import { covers, type Dot, type VersionVector } from '../../../src/core/version-vector.js';
import { canonical, checkMemberView } from './check.js';
import type { Effect } from './model.js';
import type { Node, Simulation } from './simulation.js';
import { AM_DOCS, GUARDED, pick, type Request, YJS_DOCS, yjsField } from './workload.js';

export { GUARDED };

/** Strong decrements that would take the leader's view of `c` below this are refused. */
export const FLOOR = 0;
/** A member's call to a peer gives up after this long (virtual ms). */
const CALL_TIMEOUT = 200;
/** A client (and the leader's queue) gives up on a strong operation after this long. */
const CLIENT_TIMEOUT = 1500;
const MAX_ATTEMPTS = 4;
/** How long recorded outcomes are kept (as `INTERNAL_OUTCOME_MS`). */
const OUTCOME_MS = 10 * 60 * 1000;
/** Documents that no delete touches, so that a session client's field stays. */
const SESSION_DOCS = [AM_DOCS[0]!, AM_DOCS[1]!, AM_DOCS[2]!, YJS_DOCS[0]!, YJS_DOCS[1]!];

/** Deliberately broken strong paths (`test/core/simulator-mutants.test.ts`). */
export type StrongMutant =
  /** The leader reads and decides without pulling from a majority first. */
  | 'no-gather'
  /** Strong writes are answered before they are durable on a majority. */
  | 'early-ack'
  /** A retried request runs again instead of being answered from its recorded outcome. */
  | 'no-replay'
  /** A session read is answered at once, whether or not the member covers the token. */
  | 'session-no-wait';

/** A member's strong-path state; a crash loses it with the rest of memory. */
export class Incarnation {
  readonly queue: StrongQueue;
  /** Writes being carried out, by document and request id (`once`). */
  readonly inflight = new Map<string, Promise<Answer>>();
  /** Operations started and not settled. */
  ops = 0;
  constructor(node: Node) {
    this.queue = new StrongQueue(node.clock);
  }
}

export interface Answer {
  readonly dot?: string;
  readonly refused?: 'floor';
}

type Op =
  | { readonly kind: 'write' | 'decrement'; readonly id: string; readonly doc: DocKey; readonly effect: Effect; readonly change: (r: Replica, opts: WriteOptions) => WriteResult }
  | { readonly kind: 'read'; readonly level: 'strong' | 'quorum'; readonly doc: DocKey };

type WriteOp = Exclude<Op, { kind: 'read' }>;

interface Session {
  readonly token: VersionVector;
  readonly doc: DocKey;
  readonly name: string;
  readonly value: number;
  readonly dot: string;
  readonly yjs: boolean;
}

const dotName = (d: Dot): string => `${d.member}:${d.seq}`;
const never = <T>(): Promise<T> => new Promise<T>(() => undefined);

export class StrongPaths {
  /** Strong and quorum writes whose clients were told, with when they heard. */
  readonly acked: { readonly dot: Dot; readonly at: number }[] = [];
  /** The first answer each request id got. */
  private readonly answers = new Map<string, string>();
  /** The first failure inside an asynchronous operation; the run fails with it. */
  fatal: unknown;
  strongWrites = 0;
  strongReads = 0;
  quorumWrites = 0;
  floorRefusals = 0;
  replays = 0;
  duplicates = 0;
  sessionReads = 0;
  private ids = 0;
  /** The leader's metadata of the guarded counter when {@link checkStep} last rendered it. */
  private guardedSeen: unknown;
  /** Dots whose answers were given again from a recorded outcome. */
  private readonly replayed = new Set<string>();

  constructor(private readonly sim: Simulation, private readonly mutant?: StrongMutant) {}

  get leader(): Node {
    return this.sim.nodes[0]!;
  }

  /** True while an operation of a member that is up has continuations to run. */
  get busy(): boolean {
    return this.sim.nodes.some((n) => n.replica && n.strong.ops > 0);
  }

  private fail(err: unknown): void {
    this.fatal ??= err;
  }

  /** Errors an operation may end with: the member could not do it now (the client retries). */
  private expected(err: unknown): boolean {
    return err instanceof UnavailableError || err instanceof EngineFaultError;
  }

  // ---- the port: calls between members over the simulated network ----

  /**
   * `node` asks `to` to `serve` and waits for the answer, which may be lost; rejects after
   * {@link CALL_TIMEOUT}. `serve` answers undefined when the peer failed (no answer). A call
   * of a member that crashed never settles.
   */
  private call<T>(node: Node, to: MemberId, serve: (peer: Node) => { value: T } | undefined): Promise<T> {
    const inc = node.strong;
    const alive = () => node.strong === inc && node.replica !== undefined;
    if (!alive()) return never();
    const peer = this.sim.nodes.find((n) => n.id === to)!;
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      this.sim.net.send(node.id, to, () => {
        if (!peer.replica) return;
        const out = serve(peer);
        if (!out) return;
        this.sim.net.send(to, node.id, () => {
          if (settled || !alive()) return;
          settled = true;
          resolve(out.value);
        }, () => this.sim.repliesLost++);
      });
      this.sim.net.schedule(CALL_TIMEOUT, () => {
        if (settled || !alive()) return;
        settled = true;
        reject(new UnavailableError(`${to} did not answer ${node.id} within ${CALL_TIMEOUT} ms`));
      });
    });
  }

  /** The {@link MajorityPort} of `node` while it runs replica `r`. */
  port(node: Node, r: Replica): MajorityPort {
    // gossipRound drives the replica through digest() and receive(); the member's own receive
    // goes through the simulator, so that a storage or engine fault there is handled as anywhere.
    const local = {
      digest: () => r.digest(),
      receive: (bytes: Uint8Array) => {
        if (node.replica !== r) throw new UnavailableError(`${node.id} crashed`);
        const out = this.sim.receiveAt(node, bytes);
        if (!out) throw new UnavailableError(`${node.id} failed to apply a peer's answer`);
        return out.reply;
      },
    } as unknown as Replica;
    return {
      replicate: (to, message) =>
        this.call(node, to, (peer) => {
          const out = this.sim.receiveAt(peer, message);
          return out && { value: peer.replica!.vv };
        }),
      pull: (to) =>
        gossipRound(local, to, {
          request: (p, bytes) =>
            this.call(node, p, (peer) => {
              const out = this.sim.receiveAt(peer, bytes);
              return out && { value: out.reply };
            }),
        }),
    };
  }

  // ---- the member's own work, with faults handled as for client requests ----

  /**
   * Runs a commit of `node` for an operation: entries it lands join the model; a storage or
   * engine fault is handled (a crash takes the member down) and surfaces as unavailable.
   */
  private local<T>(node: Node, effect: Effect, f: () => T): T {
    const before = node.storage.own.length;
    const faults = node.replica!.stats().engineFaults;
    try {
      return node.faulty(this.sim.rng, f);
    } catch (err) {
      if (this.sim.storageFault(node, err) || this.sim.engineFault(node, err, faults)) {
        throw new UnavailableError(`${node.id} failed: ${err instanceof Error ? err.message : String(err)}`);
      }
      throw err;
    } finally {
      for (const entry of node.storage.own.slice(before)) this.sim.model.add({ entry, effect, acked: false });
    }
  }

  // ---- clients of strong operations ----

  /** A client reaches `via`, which forwards a strong operation to the leader. */
  clientStrong(via: Node): void {
    const roll = this.sim.rng.next();
    const id = `s${++this.ids}`;
    let op: Op;
    if (roll < 0.4) op = { kind: 'read', level: this.sim.rng.next() < 0.5 ? 'strong' : 'quorum', doc: pick(this.sim.rng, [...AM_DOCS.slice(0, 3), GUARDED]) };
    else if (roll < 0.85) {
      const by = roll < 0.65 ? -1 : 1;
      const change = (r: Replica, opts: WriteOptions) => r.write(GUARDED, 'automerge', (e) => e.applyOps([{ op: 'increment', path: ['c'], by }]), opts);
      op = { kind: by < 0 ? 'decrement' : 'write', id, doc: GUARDED, effect: { kind: 'counter', by }, change };
    }
    else {
      const doc = pick(this.sim.rng, AM_DOCS.slice(0, 3));
      const name = `s${id}`;
      const value = this.ids;
      op = { kind: 'write', id, doc, effect: { kind: 'field', name, value }, change: (r, opts) => r.write(doc, 'automerge', (e) => e.applyOps([{ op: 'set', path: [name], value }]), opts) };
    }
    this.send(op, via, 1);
    if (op.kind !== 'read' && this.sim.rng.next() < 0.25) {
      // The forwarding member's transport sends it again (its first reply was late).
      this.duplicates++;
      this.sim.net.schedule(1 + Math.floor(this.sim.rng.next() * 80), () => {
        if (via.replica) this.send(op, via, MAX_ATTEMPTS);
      });
    }
  }

  /** One attempt: `via` forwards `op` to the leader and relays the answer, unless it is lost or late. */
  private send(op: Op, via: Node, attempt: number): void {
    const inc = via.strong;
    const sentAt = this.sim.net.now;
    let done = false;
    const leader = this.leader;
    this.sim.net.send(via.id, leader.id, () => {
      if (!leader.replica) return;
      this.lead(leader, op, sentAt).then(
        (answer) =>
          this.sim.net.send(leader.id, via.id, () => {
            if (via.strong !== inc || !via.replica) return;
            done = true;
            this.answered(op, answer);
          }),
        (err: unknown) => {
          if (!this.expected(err)) this.fail(err);
        },
      );
    });
    this.sim.net.schedule(CLIENT_TIMEOUT, () => {
      if (done || attempt >= MAX_ATTEMPTS) return;
      // No answer: the client sends the request again, with the same id, through any member up.
      const up = this.sim.up();
      if (up.length > 0) this.send(op, pick(this.sim.rng, up), attempt + 1);
    });
  }

  /** What the client heard; every answer to one request id must be the first one. */
  private answered(op: Op, answer: Answer): void {
    if (op.kind === 'read') {
      this.strongReads++;
      return;
    }
    const got = canonical(answer);
    const first = this.answers.get(op.id);
    if (first !== undefined) {
      if (first !== got) this.fail(new Error(`request ${op.id} was answered ${first}, then ${got}`));
      return;
    }
    this.answers.set(op.id, got);
    if (answer.refused) {
      this.floorRefusals++;
      return;
    }
    this.strongWrites++;
    this.acknowledge(parseDot(answer.dot!), this.replayed.has(answer.dot!) ? 'answered from its recorded outcome' : undefined);
  }

  /** A majority write's client is told: it must be in the storage of a majority by now. */
  private acknowledge(dot: Dot, how?: string): void {
    const stored = this.sim.nodes.filter((n) => covers(n.storage.loadMeta()?.vv ?? {}, dot)).length;
    const need = majority(this.sim.nodes.length);
    if (stored < need) this.fail(new Error(`${dotName(dot)} was acknowledged stored on ${stored} members, ${need} needed${how ? ` (${how})` : ''}`));
    this.sim.model.ack(dot);
    this.acked.push({ dot, at: this.sim.net.now });
  }

  // ---- the leader ----

  /** The leader's side of a forwarded operation (the object's `lead`). */
  private lead(leader: Node, op: Op, sentAt: number): Promise<Answer> {
    const st = leader.strong;
    const r = leader.replica!;
    const port = this.port(leader, r);
    const alive = () => {
      if (leader.strong !== st || leader.replica !== r) throw new UnavailableError(`${leader.id} crashed`);
    };
    const deadline = leader.clock.now() + CLIENT_TIMEOUT;
    const queued = <T>(f: () => Promise<T>): Promise<T> => st.queue.run(f, deadline);
    st.ops++;
    let p: Promise<Answer>;
    if (op.kind === 'read') {
      const read = () => this.read(leader, r, port, op, sentAt, alive);
      p = op.level === 'quorum' ? read() : queued(read);
    } else {
      p = queued(() => this.once(leader, r, port, op, alive));
    }
    return p.finally(() => st.ops--);
  }

  private async gather(r: Replica, port: MajorityPort, alive: () => void): Promise<void> {
    if (this.mutant !== 'no-gather') await gatherMajority(r, port);
    alive();
  }

  /** A strong or quorum read: the leader must then cover every majority write acknowledged before it was sent. */
  private async read(leader: Node, r: Replica, port: MajorityPort, op: Op & { kind: 'read' }, sentAt: number, alive: () => void): Promise<Answer> {
    await this.gather(r, port, alive);
    for (const a of this.acked) {
      if (a.at < sentAt && !covers(r.vv, a.dot)) {
        throw new Error(`a ${op.level} read of ${JSON.stringify(op.doc)} sent at ${sentAt} misses ${dotName(a.dot)}, acknowledged at ${a.at}`);
      }
    }
    // Its content one read in four (rendering costs; the metadata every time).
    leader.quiet(() => checkMemberView(this.sim, leader, op.doc, this.strongReads % 4 === 0));
    return {};
  }

  /** Carries a write out once per request id, as the object's `once` does. */
  private async once(leader: Node, r: Replica, port: MajorityPort, op: WriteOp, alive: () => void): Promise<Answer> {
    const key = `${op.doc}\u0001${op.id}`;
    const st = leader.strong;
    const running = st.inflight.get(key);
    if (running) return running;
    const attempt = (async (): Promise<Answer> => {
      const stored = r.outcome(op.doc, op.id);
      if (stored && this.mutant !== 'no-replay') return this.replay(r, port, stored, alive);
      return this.write(leader, r, port, op, alive);
    })();
    st.inflight.set(key, attempt);
    try {
      return await attempt;
    } finally {
      st.inflight.delete(key);
    }
  }

  /** A recorded outcome answered again, once its entry is durable on a majority (the object's `replay`). */
  private async replay(r: Replica, port: MajorityPort, stored: StoredOutcome, alive: () => void): Promise<Answer> {
    this.replays++;
    const answer = JSON.parse(stored.response) as Answer;
    if (answer.dot) {
      this.replayed.add(answer.dot);
      const dot = parseDot(answer.dot);
      const entry = r.entriesFor({ ...r.vv, [dot.member]: dot.seq - 1 }).entries.find((e) => e.origin === dot.member && e.seq === dot.seq);
      if (entry) await replicateToMajority(r, port, [entry]);
      // Compacted past the log bound, perhaps before any peer had it: rounds carry it (086cc2d).
      else await ensureOnMajority(r, port, [dot]);
      alive();
    }
    return answer;
  }

  private async write(leader: Node, r: Replica, port: MajorityPort, op: WriteOp, alive: () => void): Promise<Answer> {
    await this.gather(r, port, alive);
    const now = leader.clock.now();
    const outcome = (answer: Answer, status?: number): StoredOutcome => ({
      doc: op.doc, id: op.id, fingerprint: op.id, expires: now + OUTCOME_MS, response: JSON.stringify(answer), ...(status !== undefined && { status }),
    });
    if (op.kind === 'decrement') {
      const c = this.local(leader, op.effect, () => r.json(GUARDED)?.['c']) as number;
      if (c - 1 < FLOOR) {
        this.local(leader, op.effect, () => r.recordOutcome(outcome({ refused: 'floor' })));
        return { refused: 'floor' };
      }
    }
    // The outcome rides in the write's own commit; its status makes the entry carry the request id.
    const res = this.local(leader, op.effect, () => op.change(r, { outcome: (w) => outcome(answerOf(w.entry!), 200) }));
    const entry = res.entry;
    // Only a request run twice (the no-replay mutant) can set a field to the value it has.
    if (!entry) return {};
    if (this.mutant !== 'early-ack') await replicateToMajority(r, port, [entry]);
    alive();
    return answerOf(entry);
  }

  // ---- quorum writes ----

  /** A quorum write at `node`: committed there, acknowledged once `replicateToMajority` succeeds. */
  quorumWrite(node: Node): void {
    const r = node.replica!;
    const st = node.strong;
    const guarded = this.sim.rng.next() < 0.5;
    const doc = guarded ? GUARDED : pick(this.sim.rng, AM_DOCS.slice(0, 3));
    const name = `q${++this.ids}`;
    const value = this.ids;
    const effect: Effect = guarded ? { kind: 'counter' } : { kind: 'field', name, value };
    let res: WriteResult;
    try {
      res = this.local(node, effect, () =>
        r.write(doc, 'automerge', (e) => e.applyOps([guarded ? { op: 'increment', path: ['c'], by: 1 } : { op: 'set', path: [name], value }])),
      );
    } catch (err) {
      if (this.expected(err)) return;
      throw err;
    }
    const entry = res.entry!;
    st.ops++;
    replicateToMajority(r, this.port(node, r), [entry])
      .then(
        () => {
          if (node.strong !== st || node.replica !== r) return;
          this.quorumWrites++;
          this.acknowledge({ member: entry.origin, seq: entry.seq });
        },
        (err: unknown) => {
          if (!this.expected(err)) this.fail(err);
        },
      )
      .finally(() => st.ops--);
  }

  // ---- session clients ----

  /** A session client writes a field at `node`, then reads it back later at any member with its token. */
  sessionWrite(node: Node): void {
    const doc = pick(this.sim.rng, SESSION_DOCS);
    const name = `c${++this.ids}`;
    const value = this.ids;
    const yjs = doc.endsWith('y0') || doc.endsWith('y1');
    const req: Request = yjs
      ? yjsField(this.sim.rng, doc, name, value)
      : { doc, engine: 'automerge', effect: { kind: 'field', name, value }, send: (r) => r.write(doc, 'automerge', (e) => e.applyOps([{ op: 'set', path: [name], value }])) };
    this.sim.request(node, req, 1, (res) => {
      const s: Session = { token: res.vv, doc, name, value, yjs, dot: `${res.entry!.origin}:${res.entry!.seq}` };
      this.sim.net.schedule(1 + Math.floor(this.sim.rng.next() * 80), () => this.sessionRead(s, 1));
    });
  }

  /** A session read at a random member: it waits (pulling) until it covers the token, then must show the write. */
  private sessionRead(s: Session, attempt: number): void {
    const node = pick(this.sim.rng, this.sim.nodes);
    const r = node.replica;
    if (r && (r.covers(s.token) || this.mutant === 'session-no-wait')) {
      this.sessionReads++;
      const json = node.quiet(() => r.json(s.doc));
      const got = s.yjs ? (json?.['m'] as JsonObject | undefined)?.[s.name] : json?.[s.name];
      if (got !== s.value) {
        this.fail(new Error(`${node.id}: a session read of ${JSON.stringify(s.doc)} with token ${canonical(s.token)} shows ${s.name}=${String(got)}, the client wrote ${s.value} (${s.dot})`));
      }
      return;
    }
    if (attempt >= 6) return;
    // The member pulls from a peer and the read waits for it.
    if (r) this.sim.gossip(node, pick(this.sim.rng, this.sim.nodes.filter((n) => n !== node)));
    this.sim.net.schedule(20 + Math.floor(this.sim.rng.next() * 60), () => this.sessionRead(s, attempt + 1));
  }

  // ---- checks ----

  /** After every step: the leader's view of the guarded counter is not below the floor. */
  checkStep(): void {
    const leader = this.leader;
    const r = leader.replica;
    // Rendered only when the document changed since the last look (metadata is replaced on change).
    const meta = r?.docs.meta(GUARDED);
    if (!r || meta === this.guardedSeen) return;
    this.guardedSeen = meta;
    const c = leader.quiet(() => r.json(GUARDED)?.['c']);
    if (typeof c === 'number' && c < FLOOR) throw new Error(`${leader.id}: the guarded counter is ${c}, below its floor ${FLOOR}`);
  }

  /** At the end: each request id produced at most one entry in the whole cluster. */
  checkEnd(): void {
    if (this.fatal) throw this.fatal;
    const byId = new Map<string, LogEntry[]>();
    for (const { entry } of this.sim.model.writes()) {
      const id = entry.request?.id;
      if (id === undefined) continue;
      const list = byId.get(id) ?? [];
      list.push(entry);
      byId.set(id, list);
    }
    for (const [id, list] of byId) {
      if (list.length > 1) throw new Error(`request ${id} produced ${list.length} entries: ${list.map((e) => `${e.origin}:${e.seq}`).join(', ')}`);
    }
    this.checkStep();
  }
}

function parseDot(s: string): Dot {
  const i = s.lastIndexOf(':');
  return { member: s.slice(0, i) as MemberId, seq: Number(s.slice(i + 1)) };
}

const answerOf = (e: LogEntry): Answer => ({ dot: `${e.origin}:${e.seq}` });
