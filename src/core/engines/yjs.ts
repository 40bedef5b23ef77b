/**
 * The Yjs engine: a document of named root types (maps, arrays, text, XML), edited by Yjs
 * clients and replicated here as v1 updates. The server edits nothing but `clear()`.
 */
import * as Y from 'yjs';
import { EngineMismatchError, InvalidUpdateError, InvalidVersionError, MissingDependenciesError, WireDecodeError, assert } from '../errors.js';
import type { JsonObject, JsonValue } from '../json.js';
import { ByteReader, bytesEqual } from '../wire/bytes.js';
import type { Engine, EngineOptions, Op } from './engine.js';
import { type RootKind, materialize, renderRoot, rootKind, setOwn } from './yjs-render.js';
import { checkTransactionDepth } from './yjs-depth.js';
import { DEFAULT_MAX_DEPTH } from '../json-limits.js';
import { heldBackDeletion } from './yjs-held-back.js';

export class YjsEngine implements Engine {
  readonly name = 'yjs' as const;
  /** Updates emitted by the document during the current call; Yjs emits only when state changed. */
  private emitted: Uint8Array[] = [];

  constructor(
    private readonly doc: Y.Doc,
    private readonly maxDepth = DEFAULT_MAX_DEPTH,
  ) {
    doc.on('update', (update: Uint8Array) => {
      this.emitted.push(update);
    });
  }

  /**
   * @remarks The update is first read whole into a scratch document, since Yjs applies what it
   * has decoded before failing on the rest and ignores trailing bytes. Items whose neighbours
   * or parents this document lacks would be held back by Yjs (`pendingStructs`), invisible
   * although the write were acknowledged: such an update is refused (the caller drops this
   * instance, which it has partly changed). Deletions of items not here yet are kept
   * (`pendingDs`); when the pending set changes, the input itself is included in the result
   * so that it is not mistaken for a no-op.
   * @throws MissingDependenciesError when an item of the update cannot be integrated.
   */
  applyUpdate(update: Uint8Array): Uint8Array | null {
    try {
      readWhole(scratchDoc(), update);
    } catch (e) {
      throw new InvalidUpdateError('yjs', e instanceof Error ? e.message : String(e));
    }
    const pendingBefore = pendingBytes(this.doc);
    // An update that reads whole into an empty document integrates into any document: Yjs
    // turns structs with impossible parents into GC structs rather than failing. Were it to
    // throw anyway, the error is not an InvalidUpdateError, since the document may have changed.
    const emitted = this.capture(() =>
      this.doc.transact((tr) => {
        Y.applyUpdate(this.doc, update);
        // Still inside the transaction: afterState is final only at its end, so read it from the store.
        checkDepthSoFar(tr, this.maxDepth);
      }),
    );
    if (this.doc.store.pendingStructs) refuseHeldBack(this.doc, update);
    if (bytesEqual(pendingBefore, pendingBytes(this.doc))) return emitted;
    return emitted ? Y.mergeUpdates([emitted, update]) : update;
  }

  free(): void {
    this.doc.destroy();
  }

  merge(update: Uint8Array): void {
    Y.applyUpdate(this.doc, update);
  }

  toJSON(): JsonObject {
    const out: JsonObject = {};
    for (const name of Array.from(this.doc.share.keys()).sort()) {
      const kind = rootKind(this.doc.share.get(name)!);
      if (kind !== null) setOwn(out, name, renderRoot(materialize(this.doc, name, kind)));
    }
    return out;
  }

  save(): Uint8Array {
    return Y.encodeStateAsUpdate(this.doc);
  }

  version(): Uint8Array {
    return Y.encodeStateVector(this.doc);
  }

  /** An empty `since` stands for the empty state vector: everything. */
  deltaSince(since: Uint8Array): Uint8Array {
    if (since.length === 0) return Y.encodeStateAsUpdate(this.doc);
    checkStateVector(since);
    return Y.encodeStateAsUpdate(this.doc, since);
  }

  /**
   * Deletes the content this instance has: map entries and sequence ranges, so later
   * concurrent inserts survive; and the content it holds back (see {@link heldBackDeletion}).
   */
  clear(): Uint8Array | null {
    const visible = this.capture(() =>
      this.doc.transact(() => {
        for (const name of Array.from(this.doc.share.keys())) {
          const kind: RootKind | null = rootKind(this.doc.share.get(name)!);
          if (kind === null) continue;
          const type = materialize(this.doc, name, kind);
          if (type instanceof Y.Map) for (const k of Array.from(type.keys())) type.delete(k);
          else if (type instanceof Y.Text || type instanceof Y.Array || type instanceof Y.XmlFragment) {
            if (type.length > 0) type.delete(0, type.length);
          }
        }
      }),
    );
    const held = heldBackDeletion(this.doc);
    if (!held) return visible;
    // Here too the deletion waits (pendingDs) for the items it names, and is saved with the state.
    Y.applyUpdate(this.doc, held);
    return visible ? Y.mergeUpdates([visible, held]) : held;
  }

  replace(_json: JsonObject): Uint8Array | null {
    throw new EngineMismatchError('automerge', 'yjs');
  }

  mergePatch(_patch: JsonValue): Uint8Array | null {
    throw new EngineMismatchError('automerge', 'yjs');
  }

  applyOps(_ops: readonly Op[]): Uint8Array | null {
    throw new EngineMismatchError('automerge', 'yjs');
  }

  /** Runs `fn` and returns what the document emitted meanwhile (merged), or null if nothing. */
  private capture(fn: () => void): Uint8Array | null {
    this.emitted = [];
    try {
      fn();
    } catch (e) {
      this.emitted = [];
      throw e;
    }
    const out = this.emitted;
    this.emitted = [];
    if (out.length === 0) return null;
    // One transaction emits once; merging only guards against a nested one.
    return out.length === 1 ? out[0]! : Y.mergeUpdates(out);
  }
}

/** {@link checkTransactionDepth} for a transaction still open: its after state is the store's. */
function checkDepthSoFar(tr: Y.Transaction, maxDepth: number): void {
  const now = new Map<number, number>();
  for (const [client, structs] of tr.doc.store.clients) {
    const last = structs[structs.length - 1];
    if (last) now.set(client, last.id.clock + last.length);
  }
  tr.afterState = now;
  checkTransactionDepth(tr, maxDepth);
}

/** A Yjs v1 update read into `doc`, which must consume it to the last byte. */
function readWhole(doc: Y.Doc, update: Uint8Array): void {
  if (update.length === 0) throw new Error('empty input');
  // lib0's Decoder is a plain { arr, pos } cursor; building one here lets us see where reading stopped.
  const decoder = { arr: update, pos: 0 };
  Y.readUpdate(decoder as unknown as Parameters<typeof Y.readUpdate>[0], doc);
  if (decoder.pos !== update.length) throw new Error(`${update.length - decoder.pos} trailing bytes`);
}

function scratchDoc(): Y.Doc {
  return new Y.Doc({ gc: true, guid: 'scratch' });
}

/** Throws when an item of `update` is not integrated in `doc` after applying it. */
function refuseHeldBack(doc: Y.Doc, update: Uint8Array): void {
  for (const s of Y.decodeUpdate(update).structs) {
    if (!(s instanceof Y.Item) || Y.getState(doc.store, s.id.client) >= s.id.clock + s.length) continue;
    throw new MissingDependenciesError('yjs');
  }
}

function pendingBytes(doc: Y.Doc): Uint8Array {
  const structs = doc.store.pendingStructs?.update ?? new Uint8Array(0);
  const ds = doc.store.pendingDs ?? new Uint8Array(0);
  const out = new Uint8Array(structs.length + ds.length + 1);
  out.set(structs);
  out[structs.length] = 0xff;
  out.set(ds, structs.length + 1);
  return out;
}

/** A v1 state vector: a count, then that many (client, clock) varint pairs, nothing after. */
function checkStateVector(sv: Uint8Array): void {
  try {
    const r = new ByteReader(sv);
    const n = r.uint();
    for (let i = 0; i < n; i++) {
      r.uint();
      r.uint();
    }
    r.end();
  } catch (e) {
    if (e instanceof WireDecodeError) throw new InvalidVersionError(`yjs state vector does not decode: ${e.message}`);
    throw e;
  }
}

/**
 * Loads a document from v1 updates (a saved state and later updates, in any order).
 * @throws InvalidUpdateError when a chunk does not decode.
 */
export function loadYjs(chunks: readonly Uint8Array[], opts: EngineOptions): YjsEngine {
  // A fixed guid: the default draws a random uuid per load, which showed in profiles.
  const doc = new Y.Doc({ gc: true, guid: 'concord' });
  doc.clientID = clientIdFrom(opts.actor);
  try {
    doc.transact(() => {
      for (const chunk of chunks) if (chunk.length > 0) readWhole(doc, chunk);
    });
  } catch (e) {
    throw new InvalidUpdateError('yjs', e instanceof Error ? e.message : String(e));
  }
  return new YjsEngine(doc, opts.maxDepth);
}

/** Loads state that this system stored itself, without the checks of {@link loadYjs}. */
export function restoreYjs(chunks: readonly Uint8Array[], opts: EngineOptions): YjsEngine {
  // A fixed guid: the default draws a random uuid per load, which showed in profiles.
  const doc = new Y.Doc({ gc: true, guid: 'concord' });
  doc.clientID = clientIdFrom(opts.actor);
  doc.transact(() => {
    for (const chunk of chunks) if (chunk.length > 0) Y.applyUpdate(doc, chunk);
  });
  return new YjsEngine(doc, opts.maxDepth);
}

/** The first four actor bytes as an unsigned 32-bit client id; 0 is avoided. */
function clientIdFrom(actor: Uint8Array): number {
  assert(actor.length >= 4, 'an actor id of at least 4 bytes is needed');
  const id = ((actor[0]! << 24) | (actor[1]! << 16) | (actor[2]! << 8) | actor[3]!) >>> 0;
  return id === 0 ? 1 : id;
}
