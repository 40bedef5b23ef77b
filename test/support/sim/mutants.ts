/**
 * Deliberately broken replicas, for proving that the simulator's checks catch them
 * (`test/core/simulator-mutants.test.ts`). Each keeps every member consistent with the
 * others, so only a check of what the documents hold can tell.
 */
import { restoreEngine } from '../../../src/core/engines/index.js';
import type { DocKey } from '../../../src/core/ids.js';
import type { LogEntry } from '../../../src/core/log.js';
import { Replica, type ReplicaConfig, type ReplicaEnv, type WriteResult } from '../../../src/core/replica.js';
import type { DocMeta } from '../../../src/core/storage.js';
import type { VersionVector } from '../../../src/core/version-vector.js';

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
