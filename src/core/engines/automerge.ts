/**
 * The Automerge engine: a JSON document whose strings are collaborative text.
 *
 * @remarks Automerge documents are immutable values over a mutable wasm handle; this class
 * holds the current one and swaps it after every successful update. Changes are committed
 * with `time: 0` so that nothing reads the wall clock, and under the actor given at load, so
 * that two loaded instances never share one.
 */
import * as A from '@automerge/automerge';
import { InvalidDocumentError, InvalidUpdateError, MissingDependenciesError, assert } from '../errors.js';
import type { JsonObject, JsonValue } from '../json.js';
import { isJsonObject } from '../json.js';
import { type Chunk, ChunkType, bytesToHeads, headsToBytes, splitChunks, toHex } from './automerge-chunks.js';
import { diffMap, mergeInto } from './automerge-edit.js';
import { runOps } from './automerge-ops.js';
import { checkChangeDepth } from './automerge-depth.js';
import { checkJsonValue, DEFAULT_MAX_DEPTH, jsonDepth } from '../json-limits.js';
import { DepthLimitError } from '../errors.js';
import { type AmMap, findProtoKey, renderValue } from './automerge-values.js';
import type { Engine, EngineOptions, Op } from './engine.js';

type Doc = A.Doc<AmMap>;

/** Where Automerge keeps a document object's internal state (`Symbol.for`, in its constants). */
const STATE = Symbol.for('_am_meta');

export class AutomergeEngine implements Engine {
  readonly name = 'automerge' as const;
  /**
   * Hashes of changes this instance has seen Automerge hold back for missing dependencies, so
   * that receiving one again reports nothing new. Starts empty at load: a queued change that
   * arrives again after a reload is reported once more, which is harmless.
   */
  private readonly queued = new Set<string>();
  /** The document materialised from its op set; see {@link view}. */
  private viewCache: AmMap | undefined;
  /** True when trusted merges went to the wasm document without patching `doc` (see {@link merge}). */
  private stale = false;

  constructor(
    private doc: Doc,
    private readonly actor: string,
    private readonly maxDepth = DEFAULT_MAX_DEPTH,
  ) {}

  /**
   * The current content, materialised afresh from the op set rather than read from `doc`.
   *
   * @remarks The object Automerge 3.5.0 keeps up to date by patches can be wrong: when a put
   * that conflicted with a counter is deleted, the patch shows the counter at its initial
   * value, ignoring its increments (e.g. `{a: 0}` where the document holds 1); `toJS`, `save`
   * and loading all agree on the right value. Cached until the document changes.
   */
  private view(): AmMap {
    if (this.stale) this.fresh();
    this.viewCache ??= A.toJS(this.doc);
    return this.viewCache;
  }

  private swap(next: Doc): void {
    this.doc = next;
    this.viewCache = undefined;
    this.stale = false;
  }

  /**
   * `doc` for the calls that patch it (`A.change`): after merges, materialised afresh from the
   * op set, which is also the view (what {@link view} would compute), so the next write's diff
   * costs nothing more.
   */
  private fresh(): Doc {
    if (this.stale) {
      const state = Reflect.get(this.doc, STATE) as object;
      this.doc = A.getBackend(this.doc).materialize('/', undefined, { ...state, heads: undefined }) as Doc;
      this.viewCache = this.doc;
      this.stale = false;
    }
    return this.doc;
  }

  /**
   * @remarks Three checks, because Automerge alone is lenient. Framing and checksums are
   * checked here: Automerge silently drops trailing bytes. Each chunk is then loaded alone into
   * an empty scratch document, the one case in which Automerge reports a chunk that does not
   * decode (given several chunks, or a non-empty document, it keeps what decoded and drops the
   * rest without a word). Finally the update goes into the document itself, and what it added
   * is checked there (depth, dependencies).
   *
   * A refusal at that last step leaves this instance changed: a change that refers to objects
   * that do not exist panics halfway, after earlier changes were applied, and the checks need
   * the changes in place. The caller discards the instance (the contract of
   * {@link Engine.applyUpdate}). Checking on a fork instead kept the instance as it was, but a
   * fork and the first load into it cost time in proportion to the document on every update
   * (14 ms at 10,000 changes), where loading into the document costs about 0.2 ms.
   */
  applyUpdate(update: Uint8Array): Uint8Array | null {
    const chunks = splitChunks(update);
    // Changes named by hashes the document has are byte for byte what it has: a duplicate.
    if (chunks.every((c) => c.type === ChunkType.Change && c.hash !== undefined && A.hasHeads(this.doc, [c.hash]))) {
      return null;
    }
    try {
      checkDecodes(chunks, this.actor);
    } catch (e) {
      throw new InvalidUpdateError('automerge', e instanceof Error ? e.message : String(e));
    }
    const before = A.getHeads(this.doc);
    const missingBefore = A.getMissingDeps(this.doc, []).length;
    const handle = A.getBackend(this.doc);
    this.viewCache = undefined;
    this.stale = true;
    try {
      handle.loadIncremental(update);
    } catch (e) {
      throw new InvalidUpdateError('automerge', e instanceof Error ? e.message : String(e));
    }
    handle.updateDiffCursor();
    const applied = sameHeads(before, A.getHeads(this.doc)) ? [] : A.getChangesSince(this.doc, before);
    checkChangeDepth(this.doc, applied, this.maxDepth);
    if (waitsForMissing(this.doc, chunks, missingBefore)) throw new MissingDependenciesError('automerge');
    const queued = this.newlyQueued(this.doc, chunks);
    if (applied.length === 0 && queued.length === 0) return null;
    return concat([...applied, ...queued]);
  }

  /** Chunks of `chunks` that Automerge queued in `next` rather than applied, and had not queued before. */
  private newlyQueued(next: Doc, chunks: readonly Chunk[]): Uint8Array[] {
    if (A.getMissingDeps(next, []).length === 0) {
      this.queued.clear();
      return [];
    }
    for (const h of this.queued) if (A.hasHeads(next, [h])) this.queued.delete(h);
    const out: Uint8Array[] = [];
    for (const chunk of chunks) {
      if (chunk.type === ChunkType.Change && chunk.hash !== undefined) {
        const hash = chunk.hash;
        if (A.hasHeads(next, [hash]) || this.queued.has(hash)) continue;
        this.queued.add(hash);
        out.push(chunk.bytes);
      } else if (chunk.type !== ChunkType.Document) {
        // Compressed changes and bundles cannot be hashed here; reporting them again is only redundant.
        out.push(chunk.bytes);
      }
    }
    return out;
  }

  free(): void {
    A.free(this.doc);
  }

  /**
   * Straight into the wasm document: `A.loadIncremental` also turns the change into patches and
   * applies them to the JavaScript object, a third of a merge's cost, which nothing here reads
   * (the view is materialised from the op set). The patch cursor moves past the merge, and
   * `doc` is materialised afresh before the next change ({@link fresh}).
   */
  merge(update: Uint8Array): void {
    const handle = A.getBackend(this.doc);
    this.viewCache = undefined;
    this.stale = true;
    handle.loadIncremental(update);
    handle.updateDiffCursor();
  }

  toJSON(): JsonObject {
    return renderValue(this.view()) as JsonObject;
  }

  /**
   * Automerge's sync protocol, the receiving half: the peer's new sync state. The message's
   * changes are not applied here: the caller writes them through {@link applyUpdate} first,
   * which checks them (see {@link syncChanges}); they count as received only once the
   * document holds the sender's heads.
   * @throws InvalidUpdateError when `message` does not decode
   */
  syncReceive(state: A.SyncState, message: Uint8Array): A.SyncState {
    let received: Uint8Array;
    try {
      const decoded = A.decodeSyncMessage(message);
      // Once the document holds what the sender has (its changes were written), the whole
      // message adds nothing, and it lets the protocol count them as received: the answer
      // then announces the new heads, which tells the sender they arrived.
      received = decoded.changes.length > 0 && A.hasHeads(this.doc, decoded.heads) ? message : A.encodeSyncMessage({ ...decoded, changes: [] });
    } catch (e) {
      throw new InvalidUpdateError('automerge', `sync message: ${e instanceof Error ? e.message : String(e)}`);
    }
    // Without changes the document's content stays as it was; so do the view and its staleness.
    const { stale, viewCache } = this;
    const [next, out] = A.receiveSyncMessage(this.doc, state, received);
    this.doc = next;
    this.stale = stale;
    this.viewCache = viewCache;
    return out;
  }

  /** Automerge's sync protocol, the sending half: the peer's new state and the message to send it (null: nothing to say). */
  syncGenerate(state: A.SyncState): { state: A.SyncState; message: Uint8Array | null } {
    const [out, message] = A.generateSyncMessage(this.doc, state);
    return { state: out, message };
  }

  save(): Uint8Array {
    return A.save(this.doc);
  }

  version(): Uint8Array {
    return headsToBytes(A.getHeads(this.doc));
  }

  /** Heads this document does not know cannot bound a delta, so the whole state is the answer. */
  deltaSince(since: Uint8Array): Uint8Array {
    const heads = bytesToHeads(since);
    if (heads.length === 0 || !A.hasHeads(this.doc, heads)) return A.save(this.doc);
    return A.saveSince(this.doc, heads);
  }

  clear(): Uint8Array | null {
    return this.commit((root) => {
      for (const k of Object.keys(root)) delete root[k];
    });
  }

  replace(json: JsonObject): Uint8Array | null {
    if (!isJsonObject(json)) throw new InvalidDocumentError('a document must be a JSON object');
    checkJsonValue(json, this.maxDepth, 'the document');
    checkKeys(json);
    const old = this.view();
    return this.commit((root) => diffMap({ root }, root, old, json, []));
  }

  mergePatch(patch: JsonValue): Uint8Array | null {
    if (!isJsonObject(patch)) throw new InvalidDocumentError('a merge patch for a document must be a JSON object');
    checkJsonValue(patch, this.maxDepth, 'the merge patch');
    checkKeys(patch);
    const old = this.view();
    return this.commit((root) => mergeInto({ root }, root, old, patch, []));
  }

  applyOps(ops: readonly Op[]): Uint8Array | null {
    ops.forEach((op, i) => checkOpDepth(op, i, this.maxDepth));
    return this.commit((root) => runOps(root, ops));
  }

  /**
   * Runs `edit` as one change. When it throws, `Automerge.change` rolls the pending ops back
   * and rethrows, and `this.doc` is still the document from before.
   */
  private commit(edit: (root: AmMap) => void): Uint8Array | null {
    const before = this.fresh();
    const next = A.change(before, { time: 0 }, edit);
    if (next === before) return null;
    this.swap(next);
    const change = A.getLastLocalChange(next);
    assert(change !== undefined, 'a committed change has bytes');
    return change;
  }
}

/**
 * An op's value lands at its path: a value of depth d at a path of n steps sits n + d deep
 * (the root object is depth 1), and a spliced list item one deeper than the list.
 */
function checkOpDepth(op: Op, index: number, maxDepth: number): void {
  const what = `operation ${index}`;
  let depth = op.path.length;
  if (op.op === 'set') {
    checkJsonValue(op.value, maxDepth, `${what}'s value`);
    depth += jsonDepth(op.value, maxDepth);
  } else if (op.op === 'splice' && typeof op.insert !== 'string') {
    checkJsonValue(op.insert, maxDepth, `${what}'s insert`);
    depth += jsonDepth(op.insert, maxDepth);
  }
  if (depth > maxDepth) throw new DepthLimitError(what, maxDepth);
}

function checkKeys(json: JsonObject): void {
  const at = findProtoKey(json);
  if (at) throw new InvalidDocumentError(`the key "__proto__" is not allowed (at ${JSON.stringify(at)})`);
}

/**
 * Loads a document from engine-native chunks (saved documents and changes, in any order).
 * @throws InvalidUpdateError when a chunk does not decode.
 */
export function loadAutomerge(chunks: readonly Uint8Array[], opts: EngineOptions): AutomergeEngine {
  assert(opts.actor.length > 0, 'an actor id is needed');
  const actor = toHex(opts.actor);
  let doc = A.init<AmMap>({ actor });
  const all = concat(chunks.filter((c) => c.length > 0));
  if (all.length === 0) return new AutomergeEngine(doc, actor, opts.maxDepth);
  const [first, ...rest] = splitChunks(all);
  try {
    // A single chunk loads strictly, so only the others need a scratch check of their own.
    checkDecodes(rest, actor);
    doc = A.loadIncremental(doc, first!.bytes);
    if (rest.length > 0) doc = A.loadIncremental(doc, concat(rest.map((c) => c.bytes)));
  } catch (e) {
    throw new InvalidUpdateError('automerge', e instanceof Error ? e.message : String(e));
  }
  return new AutomergeEngine(doc, actor, opts.maxDepth);
}

/** Loads state that this system stored itself, without the checks of {@link loadAutomerge}. */
export function restoreAutomerge(chunks: readonly Uint8Array[], opts: EngineOptions): AutomergeEngine {
  const actor = toHex(opts.actor);
  const all = concat(chunks.filter((c) => c.length > 0));
  const doc = A.init<AmMap>({ actor });
  return new AutomergeEngine(all.length === 0 ? doc : A.loadIncremental(doc, all), actor, opts.maxDepth);
}

/**
 * The changes an Automerge sync message carries, as one update for {@link AutomergeEngine.applyUpdate}
 * (null when it carries none).
 * @throws InvalidUpdateError when the message does not decode
 */
export function syncChanges(message: Uint8Array): Uint8Array | null {
  let changes: Uint8Array[];
  try {
    changes = A.decodeSyncMessage(message).changes;
  } catch (e) {
    throw new InvalidUpdateError('automerge', `sync message: ${e instanceof Error ? e.message : String(e)}`);
  }
  return changes.length === 0 ? null : concat(changes);
}

export type SyncState = A.SyncState;

/**
 * A sync state as bytes, to keep across restarts. Only what both sides share survives
 * (Automerge keeps the rest in memory): a peer resumed from it needs one more round trip.
 */
export const encodeSyncState = (state: A.SyncState): Uint8Array => A.encodeSyncState(state);

/** The state {@link encodeSyncState} kept; a fresh one for empty or undecodable bytes. */
export function decodeSyncState(bytes: Uint8Array): A.SyncState {
  if (bytes.length === 0) return A.initSyncState();
  try {
    return A.decodeSyncState(bytes);
  } catch {
    return A.initSyncState();
  }
}

/** Loads each chunk alone into an empty document, where Automerge reports what does not decode. */
function checkDecodes(chunks: readonly Chunk[], actor: string): void {
  for (const chunk of chunks) {
    const scratch = A.init({ actor });
    try {
      A.loadIncremental(scratch, chunk.bytes);
    } finally {
      A.free(scratch);
    }
  }
}

function sameHeads(a: readonly string[], b: readonly string[]): boolean {
  const set = new Set(a);
  return a.length === b.length && b.every((h) => set.has(h));
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

/**
 * True when a change of `chunks` was queued in `next` rather than applied, because it depends
 * on changes the document lacks: it would stay unseen although the write were acknowledged.
 * (Chunks without a hash here, compressed changes and bundles, show as new missing deps.)
 */
function waitsForMissing(next: Doc, chunks: readonly Chunk[], missingBefore: number): boolean {
  for (const c of chunks) if (c.type === ChunkType.Change && c.hash !== undefined && !A.hasHeads(next, [c.hash])) return true;
  return A.getMissingDeps(next, []).length > missingBefore;
}
