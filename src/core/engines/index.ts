/**
 * The engines behind the {@link Engine} port, chosen by name.
 *
 * @example
 * const engine = loadEngine('automerge', [snapshot, ...entries], { actor });
 * engine.applyOps(parseOps(body, 100));
 */
import { loadAutomerge, restoreAutomerge } from './automerge.js';
import type { Engine, EngineName, EngineOptions } from './engine.js';
import { loadYjs, restoreYjs } from './yjs.js';

export * from './engine.js';
export { AutomergeEngine, loadAutomerge } from './automerge.js';
export { YjsEngine, loadYjs } from './yjs.js';
export { hasGuards, parseOps } from './ops.js';

/**
 * Loads a document from its engine-native chunks (a saved state and/or later updates, in any
 * order; empty chunks are skipped).
 * @throws InvalidUpdateError when a chunk does not decode.
 */
export function loadEngine(name: EngineName, chunks: readonly Uint8Array[], opts: EngineOptions): Engine {
  return name === 'automerge' ? loadAutomerge(chunks, opts) : loadYjs(chunks, opts);
}

/** Loads state this system stored itself (trusted): none of {@link loadEngine}'s checks. */
export function restoreEngine(name: EngineName, chunks: readonly Uint8Array[], opts: EngineOptions): Engine {
  return name === 'automerge' ? restoreAutomerge(chunks, opts) : restoreYjs(chunks, opts);
}

/** An empty document. */
export function createEngine(name: EngineName, opts: EngineOptions): Engine {
  return loadEngine(name, [], opts);
}
