/** Shared helpers of the engine tests: actors, a seeded shuffle, Yjs client updates. */
import * as Y from 'yjs';
import { createEngine, loadEngine } from '../../src/core/engines/index.js';
import type { Engine, EngineName } from '../../src/core/engines/index.js';

/** A distinct 16-byte actor per n (first four bytes non-zero, so Yjs client ids differ too). */
export function actor(n: number): Uint8Array {
  const a = new Uint8Array(16);
  new DataView(a.buffer).setUint32(0, 0x10000000 + n * 7919);
  a.fill(n & 0xff, 4);
  return a;
}

let nextActor = 1000;
export const fresh = (name: EngineName): Engine => createEngine(name, { actor: actor(nextActor++) });
export const reload = (e: Engine): Engine => loadEngine(e.name, [e.save()], { actor: actor(nextActor++) });

/** mulberry32: a tiny seeded PRNG for shuffles inside properties. */
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `items` shuffled, with about a third of them delivered twice. */
export function shuffledWithDuplicates<T>(items: readonly T[], seed: number): T[] {
  const rnd = prng(seed);
  const out = [...items, ...items.filter(() => rnd() < 0.33)];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** The v1 update of one edit made by a Yjs client `doc`. */
export function yEdit(doc: Y.Doc, edit: (d: Y.Doc) => void): Uint8Array {
  const before = Y.encodeStateVector(doc);
  edit(doc);
  return Y.encodeStateAsUpdate(doc, before);
}

export function yClient(clientID: number): Y.Doc {
  const d = new Y.Doc({ guid: `client-${clientID}` });
  d.clientID = clientID;
  return d;
}

/** Applies every update; returns the non-null results. */
export function applyAll(e: Engine, updates: readonly Uint8Array[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const u of updates) {
    const r = e.applyUpdate(u);
    if (r) out.push(r);
  }
  return out;
}

/** Expects `act` to throw `error` and to leave `e`'s saved state and JSON as they were. */
/**
 * Runs an `applyUpdate` that must be refused and returns the error with the instance the
 * caller goes on with: as the engine contract says, the refused instance is discarded, and a
 * fresh one is loaded from what was stored before (its `save()` then).
 */
export function expectRefused(e: Engine, act: (e: Engine) => unknown): { thrown: unknown; next: Engine } {
  const stored = e.save();
  let thrown: unknown;
  try {
    act(e);
  } catch (err) {
    thrown = err;
  }
  if (thrown === undefined) throw new Error('expected an error');
  e.free();
  return { thrown, next: loadEngine(e.name, [stored], { actor: actor(nextActor++) }) };
}

export function expectUnchanged(e: Engine, act: () => unknown): unknown {
  const save = e.save();
  const json = JSON.stringify(e.toJSON());
  const version = e.version();
  let thrown: unknown;
  try {
    act();
  } catch (err) {
    thrown = err;
  }
  if (thrown === undefined) throw new Error('expected an error');
  if (Buffer.compare(Buffer.from(save), Buffer.from(e.save())) !== 0) throw new Error('save() changed');
  if (JSON.stringify(e.toJSON()) !== json) throw new Error('toJSON() changed');
  if (Buffer.compare(Buffer.from(version), Buffer.from(e.version())) !== 0) throw new Error('version() changed');
  return thrown;
}
