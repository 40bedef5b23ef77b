/**
 * The documents of one replica: every document's metadata in memory (small: vectors and
 * stamps), and the engines of recently used documents in an LRU cache, loaded on demand
 * from a snapshot plus the increments written since.
 *
 * @remarks Each write stores only its own update bytes as an increment, so a keystroke on a
 * large document costs a small row, not a full save. Once the increments outgrow the
 * snapshot (or grow numerous), the next write stores a fresh snapshot instead, which keeps
 * loading time proportional to the document's size.
 */
import type { DocKey } from './ids.js';
import { restoreEngine } from './engines/index.js';
import type { EngineLoader } from './engines/fault-injection.js';
import type { Engine, EngineName, EngineOptions } from './engines/engine.js';
import type { DocMeta, StateWrite, Storage } from './storage.js';

const MAX_INCREMENTS = 256;
/**
 * Stored bytes of engines kept in memory. An engine in memory takes several times its stored
 * size, so this keeps a member's engines far below a Durable Object's 128 MB.
 */
export const DEFAULT_CACHE_BYTES = 8 * 1024 * 1024;
const MIN_SNAPSHOT_SLACK = 16 * 1024;

interface Cached {
  readonly engine: Engine;
  increments: number;
  incrementBytes: number;
  snapshotBytes: number;
}

export class DocStore {
  private metas = new Map<DocKey, DocMeta>();
  private sorted: DocKey[] | undefined;
  private readonly cache = new Map<string, Cached>();
  /** Stored bytes of the cached engines: what bounds their memory, whatever their number. */
  private cachedBytes = 0;

  constructor(
    private readonly storage: Storage,
    private readonly engineOptions: () => EngineOptions,
    private readonly cacheSize: number,
    private readonly load: EngineLoader = restoreEngine,
    private readonly cacheBytes = DEFAULT_CACHE_BYTES,
  ) {
    for (const m of storage.loadDocs()) this.metas.set(m.doc, m);
  }

  get size(): number {
    return this.metas.size;
  }

  meta(doc: DocKey): DocMeta | undefined {
    return this.metas.get(doc);
  }

  setMeta(m: DocMeta): void {
    // In place: re-sorting every key per new document would cost each transfer chunk or
    // listing the whole shard while documents are being created.
    if (!this.metas.has(m.doc) && this.sorted) this.sorted.splice(indexFrom(this.sorted, m.doc), 0, m.doc);
    this.metas.set(m.doc, m);
  }

  all(): IterableIterator<DocMeta> {
    return this.metas.values();
  }

  /** Document keys in ascending order (for state-transfer cursors and listing). */
  sortedKeys(): readonly DocKey[] {
    this.sorted ??= [...this.metas.keys()].sort();
    return this.sorted;
  }

  /** The engine state of `doc`, loading it (or starting an empty one). */
  engine(doc: DocKey, name: EngineName): Engine {
    return this.cached(doc, name).engine;
  }

  /** True when the `name` engine of `doc` is in memory. */
  isCached(doc: DocKey, name: EngineName): boolean {
    return this.cache.has(cacheKey(doc, name));
  }

  /**
   * The whole state of `doc`, for a state transfer. An engine that is not cached is loaded
   * for this alone and freed at once: a transfer reads every document of the shard and
   * would otherwise push the working set out of the cache.
   */
  saved(doc: DocKey, name: EngineName): Uint8Array {
    const c = this.cache.get(cacheKey(doc, name));
    if (c) return c.engine.save();
    const stored = this.storage.loadState(doc, name);
    const chunks = stored ? [...(stored.snapshot ? [stored.snapshot] : []), ...stored.increments] : [];
    const engine = this.load(name, chunks, this.engineOptions(), doc);
    try {
      return engine.save();
    } finally {
      engine.free();
    }
  }

  /**
   * What to store after `update` was applied to the cached engine: the increment, or a fresh
   * snapshot when increments have piled up.
   */
  stateWrite(doc: DocKey, name: EngineName, update: Uint8Array, forceSnapshot = false): StateWrite {
    const c = this.cached(doc, name);
    c.increments++;
    c.incrementBytes += update.length;
    this.cachedBytes += update.length;
    const slack = Math.max(c.snapshotBytes, MIN_SNAPSHOT_SLACK);
    if (forceSnapshot || c.increments > MAX_INCREMENTS || c.incrementBytes > slack) {
      const snapshot = c.engine.save();
      this.cachedBytes += snapshot.length - c.snapshotBytes - c.incrementBytes;
      c.increments = 0;
      c.incrementBytes = 0;
      c.snapshotBytes = snapshot.length;
      return { engine: name, snapshot };
    }
    return { engine: name, increment: update };
  }

  /**
   * Evicts least recently used engines beyond the cache size. Called only between commits:
   * an engine changed by an uncommitted batch must stay cached, or a reload from storage
   * would miss the batch's earlier updates.
   */
  trim(): void {
    // The engine used last stays, however large: the next request most likely wants it.
    while (this.cache.size > 1 && this.overBudget) this.drop(this.cache.keys().next().value!);
    if (this.cache.size > this.cacheSize) this.drop(this.cache.keys().next().value!);
  }

  /** Drops cached engines, e.g. after a failed commit left them ahead of storage. */
  evict(doc?: DocKey): void {
    if (doc === undefined) for (const key of [...this.cache.keys()]) this.drop(key);
    else for (const name of ['automerge', 'yjs'] as const) this.drop(cacheKey(doc, name));
  }

  /** Forgets every cached engine without freeing it (when freeing itself fails). */
  forget(): void {
    this.cache.clear();
    this.cachedBytes = 0;
  }

  /** True when the cached engines outgrow the cache's bounds (a long batch commits in parts then). */
  get overBudget(): boolean {
    return this.cache.size > this.cacheSize || this.cachedBytes > this.cacheBytes;
  }

  private drop(key: string): void {
    const c = this.cache.get(key);
    if (!c) return;
    this.cachedBytes -= c.snapshotBytes + c.incrementBytes;
    this.cache.delete(key);
    c.engine.free();
  }

  private cached(doc: DocKey, name: EngineName): Cached {
    const key = cacheKey(doc, name);
    let c = this.cache.get(key);
    if (c) {
      this.cache.delete(key);
      this.cache.set(key, c);
      return c;
    }
    const stored = this.storage.loadState(doc, name);
    const chunks = stored ? [...(stored.snapshot ? [stored.snapshot] : []), ...stored.increments] : [];
    c = {
      engine: this.load(name, chunks, this.engineOptions(), doc),
      increments: stored?.increments.length ?? 0,
      incrementBytes: stored?.increments.reduce((n, b) => n + b.length, 0) ?? 0,
      snapshotBytes: stored?.snapshot?.length ?? 0,
    };
    this.cache.set(key, c);
    this.cachedBytes += c.snapshotBytes + c.incrementBytes;
    return c;
  }
}

const cacheKey = (doc: DocKey, name: EngineName): string => `${name}\u0001${doc}`;

/**
 * The index of the first key in ascending `keys` that is at or after `k` (or, with `after`,
 * strictly after it): where a listing or a transfer cursor resumes.
 */
export function indexFrom(keys: readonly string[], k: string, after = false): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid]! < k || (after && keys[mid] === k)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
