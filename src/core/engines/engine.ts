/**
 * The engine port: one CRDT document, Automerge or Yjs, behind one interface, so the
 * replica never branches on the engine.
 *
 * Every mutating method either returns the engine-native update bytes of what it changed
 * (the payload of a log entry), `null` when nothing changed, or throws a typed error from
 * `../errors.ts` having changed nothing.
 */
import type { JsonObject, JsonValue } from '../json.js';
import type { DEFAULT_MAX_DEPTH } from '../json-limits.js';

export type EngineName = 'automerge' | 'yjs';
export const ENGINE_NAMES: readonly EngineName[] = ['automerge', 'yjs'];

/** A JSON path: object keys and list indexes from the root. */
export type JsonPath = readonly (string | number)[];

/** JSON operations on Automerge documents (`POST .../ops`), already validated by `parseOps`. */
export type Op =
  | { readonly op: 'set'; readonly path: JsonPath; readonly value: JsonValue }
  | { readonly op: 'delete'; readonly path: JsonPath }
  | {
      readonly op: 'increment';
      readonly path: JsonPath;
      readonly by: number;
      readonly min?: number;
      readonly max?: number;
    }
  | {
      readonly op: 'splice';
      readonly path: JsonPath;
      readonly index: number;
      readonly delete: number;
      /** A string for text, an array of values for lists. */
      readonly insert: string | readonly JsonValue[];
    };

export interface EngineOptions {
  /**
   * Identity for this instance's own changes (Automerge actor id, Yjs client id). Must differ
   * between any two instances that may ever edit the same document; callers pass fresh
   * random bytes at every load. 16 bytes.
   */
  readonly actor: Uint8Array;
  /**
   * Deepest nesting a write may create (the JSON view's depth; `MAX_DEPTH`). Default
   * {@link DEFAULT_MAX_DEPTH}. Only validated writes check it; trusted merges do not.
   */
  readonly maxDepth?: number;
}

export interface Engine {
  readonly name: EngineName;

  /**
   * Applies engine-native update bytes (Automerge change or document chunks; Yjs v1 update)
   * from a client. Applying the same bytes twice converges.
   * @returns the bytes that were new to this document, or `null` if nothing was.
   * After any of the errors below, **discard the instance** (reload the document from what was
   * stored): the engine checks what an update adds once the document has taken it in, since
   * neither engine can take an update back, and checking a copy would cost time in
   * proportion to the document on every update. Nothing is to be stored for a refused update.
   * @throws InvalidUpdateError when the bytes do not decode (framing and decoding failures are
   * found before the document is touched; a change that decodes but does not apply is not).
   * @throws DepthLimitError when they nest deeper than `maxDepth`.
   * @throws MissingDependenciesError when the bytes build on changes the document lacks, which
   * the engine would hold back unseen. (Remote entries arrive by `merge` in causal order, so
   * they never wait.)
   */
  applyUpdate(update: Uint8Array): Uint8Array | null;

  /**
   * Applies bytes this system produced and validated before: a peer's log entry or a state
   * transfer. Skips the checks of {@link applyUpdate}, which dominate its cost.
   */
  merge(update: Uint8Array): void;

  /**
   * Releases the engine's memory (Automerge documents live in wasm memory that only an
   * explicit free returns). The engine must not be used afterwards.
   */
  free(): void;

  /** The document as JSON. Automerge: text and counters as plain strings and numbers. Yjs: one property per root type. */
  toJSON(): JsonObject;

  /** The whole state in engine-native form; `loadEngine(name, [save()])` restores it. */
  save(): Uint8Array;

  /** The engine-native version: Yjs state vector, Automerge heads (32 bytes each, concatenated). */
  version(): Uint8Array;

  /**
   * Everything newer than `since` (a value of {@link version}), in a form {@link applyUpdate} takes.
   * @throws InvalidVersionError when `since` does not decode.
   */
  deltaSince(since: Uint8Array): Uint8Array;

  /** A change that removes all content this instance has seen (observed-remove delete); `null` when already empty. */
  clear(): Uint8Array | null;

  // JSON operations: Automerge only. A Yjs engine throws EngineMismatchError from each.

  /** Makes the content equal to `json` with a minimal change (only differing fields are written; strings are diffed as text). */
  replace(json: JsonObject): Uint8Array | null;

  /**
   * RFC 7396 merge patch, as one change.
   * @throws InvalidDocumentError when `patch` is not an object.
   */
  mergePatch(patch: JsonValue): Uint8Array | null;

  /**
   * The operations as one change, all or nothing.
   * @throws PathNotFoundError, InvalidOperationError, GuardViolationError
   */
  applyOps(ops: readonly Op[]): Uint8Array | null;
}
