/**
 * Deliberately broken replicas, for proving that the simulator's checks catch them
 * (`test/core/simulator-mutants.test.ts`). Each keeps every member consistent with the
 * others, so only a check of what the documents hold can tell.
 */
import { restoreEngine } from '../../../src/core/engines/index.js';
import type { DocKey } from '../../../src/core/ids.js';
import type { LogEntry } from '../../../src/core/log.js';
import { Replica, type ReplicaConfig, type ReplicaEnv, type WriteResult } from '../../../src/core/replica.js';
import type { Commit, DocMeta } from '../../../src/core/storage.js';
import type { VersionVector } from '../../../src/core/version-vector.js';
import { MissingDependenciesError } from '../../../src/core/errors.js';
import { decodeMessage, encodeMessage } from '../../../src/core/wire/codec.js';
import { CommitFailure } from './storage.js';

/** Acknowledges every write to `victim` but stores no data for it, on every member alike. */
export class EmptyData extends Replica {
  constructor(config: ReplicaConfig, env: ReplicaEnv, private readonly victim: DocKey) {
    super(config, env);
  }

  override write(...args: Parameters<Replica['write']>): WriteResult {
    const [doc, engine, change, ...rest] = args;
    if (doc !== this.victim) return super.write(...args);
    const empty: typeof change = (state) => {
      // The change runs on a copy, so it still validates (and can be refused) but leaves nothing behind.
      const scratch = restoreEngine(state.name, [state.save()], { actor: new Uint8Array(16).fill(7) });
      try {
        change(scratch);
      } finally {
        scratch.free();
      }
      return new Uint8Array(0);
    };
    return super.write(doc, engine, empty, ...rest);
  }
}

type Stage = { docs: Map<DocKey, DocMeta> };
type Recorder = { record(stage: Stage, e: LogEntry, written: Uint8Array | null): void };

/** A delete removes everything, concurrent writes included: its context is widened to every dot. */
export function deleteWins(config: ReplicaConfig, env: ReplicaEnv): Replica {
  const r = new Replica(config, env);
  const everything: VersionVector = Object.fromEntries(config.members.map((m) => [m, Number.MAX_SAFE_INTEGER]));
  const inner = r as unknown as Recorder;
  // Reaches into a private method: fail loudly, not vacuously, if the replica is restructured.
  if (typeof inner.record !== 'function') throw new Error('Replica has no record(stage, entry, written) to wrap any more');
  const record = inner.record.bind(r);
  inner.record = (stage, e, written) => {
    record(stage, e, written);
    if (e.kind === 'delete') stage.docs.set(e.doc, { ...stage.docs.get(e.doc)!, removed: everything });
  };
  return r;
}

/** Answers a write whose commit failed as if it had succeeded. */
export class SwallowsCommitFailure extends Replica {
  override write(...args: Parameters<Replica['write']>): WriteResult {
    try {
      return super.write(...args);
    } catch (err) {
      if (!(err instanceof CommitFailure)) throw err;
      const [doc] = args;
      const meta = this.docs.meta(doc);
      const entry: LogEntry = { origin: this.self, seq: (this.vv[this.self] ?? 0) + 1, doc, engine: args[1], kind: 'update', hlc: this.lastHlc, deps: meta?.vv ?? {}, data: new Uint8Array(0) };
      return { entry, vv: this.vv, doc: meta ?? { doc, vv: {}, removed: {}, creators: {} } };
    }
  }
}

/** Keeps its engines after a failed commit, so memory runs ahead of what storage holds. */
export function keepsEnginesAfterFailure(config: ReplicaConfig, env: ReplicaEnv): Replica {
  let failed = false;
  const storage = new Proxy(env.storage, {
    get(target, key) {
      if (key === 'commit') {
        return (c: Commit) => {
          try {
            target.commit(c);
          } catch (err) {
            failed = err instanceof CommitFailure;
            throw err;
          }
        };
      }
      const v: unknown = Reflect.get(target, key);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  const r = new Replica(config, { ...env, storage });
  const evict = r.docs.evict.bind(r.docs);
  r.docs.evict = (doc?: DocKey) => {
    if (doc === undefined && failed) failed = false;
    else evict(doc);
  };
  return r;
}

/** Forgets its hybrid clock at every restart, so a member whose clock came back behind issues times it already used. */
export function forgetsClockOnRestart(config: ReplicaConfig, env: ReplicaEnv): Replica {
  const storage = new Proxy(env.storage, {
    get(target, key) {
      if (key === 'loadMeta') {
        return () => {
          const meta = target.loadMeta();
          return meta && { ...meta, hlc: 0 };
        };
      }
      const v: unknown = Reflect.get(target, key);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  return new Replica(config, { ...env, storage });
}

/** Does not count engine faults in its stats. */
export class UncountedEngineFaults extends Replica {
  override stats(): ReturnType<Replica['stats']> {
    return { ...super.stats(), engineFaults: 0 };
  }
}

/** Keeps its engines after an engine fault, so what a failed batch merged stays in memory though nothing was committed. */
export function keepsEnginesAfterEngineFault(config: ReplicaConfig, env: ReplicaEnv): Replica {
  const r = new Replica(config, env);
  const evict = r.docs.evict.bind(r.docs);
  let seen = 0;
  r.docs.evict = (doc?: DocKey) => {
    const faults = r.stats().engineFaults;
    if (doc === undefined && faults !== seen) seen = faults;
    else evict(doc);
  };
  return r;
}

/** Forgets how far its state transfer came at every new round: each round starts again from the first key. */
export class ForgetsTransferProgress extends Replica {
  override transferResume(): ReturnType<Replica['transferResume']> {
    return undefined;
  }
}

/** Ignores the hybrid clock a state transfer's chunk carries, so a write after a transfer may be earlier than what it brought. */
export class IgnoresTransferClock extends Replica {
  override receive(bytes: Uint8Array): Uint8Array | undefined {
    const msg = decodeMessage(bytes);
    if (!msg.transfer) return super.receive(bytes);
    return super.receive(encodeMessage({ ...msg, transfer: { ...msg.transfer, hlc: 0 } }));
  }
}

/** Loses its state transfer's progress at every restart, so the transfer starts again from the first key. */
export function forgetsTransferAtRestart(config: ReplicaConfig, env: ReplicaEnv): Replica {
  const storage = new Proxy(env.storage, {
    get(target, key) {
      if (key === 'loadMeta') {
        return () => {
          const meta = target.loadMeta();
          return meta && { ...meta, transfer: undefined };
        };
      }
      const v: unknown = Reflect.get(target, key);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  return new Replica(config, { ...env, storage });
}

/** Refuses every Yjs write to `victim` as if the client's update built on content it lacked. */
export class RefusesAsMissingDependencies extends Replica {
  constructor(config: ReplicaConfig, env: ReplicaEnv, private readonly victim: DocKey) {
    super(config, env);
  }

  override write(...args: Parameters<Replica['write']>): WriteResult {
    if (args[0] === this.victim && args[1] === 'yjs') throw new MissingDependenciesError('yjs');
    return super.write(...args);
  }
}
