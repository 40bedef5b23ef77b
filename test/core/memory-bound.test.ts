import { describe, expect, it } from 'vitest';
import { restoreEngine, type Engine } from '../../src/core/engines/index.js';
import type { EngineLoader } from '../../src/core/engines/fault-injection.js';
import { docKey, memberId } from '../../src/core/ids.js';
import { seededRandom } from '../../src/core/ports.js';
import { Replica } from '../../src/core/replica.js';
import { MemoryStorage } from '../../src/core/storage-memory.js';
import { equals } from '../../src/core/version-vector.js';

/** A loader that counts the engines alive at once (loaded and not yet freed). */
function counting(): { loader: EngineLoader; live: () => number; peak: () => number } {
  let live = 0;
  let peak = 0;
  const loader: EngineLoader = (name, chunks, opts) => {
    const e = restoreEngine(name, chunks, opts);
    live++;
    peak = Math.max(peak, live);
    const free = e.free.bind(e);
    return Object.assign(Object.create(Object.getPrototypeOf(e) as object) as Engine, e, {
      free: () => {
        live--;
        free();
      },
    });
  };
  return { loader, live: () => live, peak: () => peak };
}

describe('memory of a member is bounded by its cache, not by what arrives', () => {
  it('one batch carrying 1,000 documents keeps at most the cache budget of engines alive', () => {
    const ids = ['wnam', 'weur'].map(memberId);
    const mk = (self: (typeof ids)[number], loader?: EngineLoader) =>
      new Replica(
        { self, members: ids, maxBatchBytes: 64 * 1024 * 1024, docCacheBytes: 64 * 1024, docCache: 10_000 },
        { storage: new MemoryStorage(), clock: { now: () => 1 }, random: seededRandom(self.length), ...(loader && { engines: loader }) },
      );
    const a = mk(ids[0]!);
    for (let i = 0; i < 1000; i++) a.write(docKey('m', `d${i}`), 'automerge', (e) => e.replace({ i, text: 'x'.repeat(200) }));
    const count = counting();
    const b = mk(ids[1]!, count.loader);
    // Everything in one message: the receiver may not hold 1,000 engines at once.
    b.receive(a.push(a.entriesFor({} as never).entries));
    expect(equals(b.vv, a.vv)).toBe(true);
    expect(b.json(docKey('m', 'd999'))).toEqual({ i: 999, text: 'x'.repeat(200) });
    // 64 KiB of ~300-byte documents: a few hundred engines at most, never all 1,000.
    expect(count.peak()).toBeLessThan(400);
    expect(count.peak()).toBeGreaterThan(0);
    a.close();
    b.close();
  });
});
