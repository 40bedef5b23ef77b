/**
 * What simulated clients write, and what they were told was acknowledged. Each write is
 * recorded with what a correct system must still show at the end, so that the checker can
 * prove no acknowledged write was lost.
 */
import * as Y from 'yjs';
import { type DocKey, docKey, memberId } from '../../../src/core/ids.js';
import type { Random } from '../../../src/core/ports.js';
import type { Replica, WriteResult } from '../../../src/core/replica.js';
import type { Dot } from '../../../src/core/version-vector.js';
import type { LogEntry } from '../../../src/core/log.js';
import { ConcordError } from '../../../src/core/errors.js';

/** Automerge documents; the last one also sees deletes. */
export const AM_DOCS = [docKey('sim', 'a0'), docKey('sim', 'a1'), docKey('sim', 'a2'), docKey('sim', 'a3')];
/** Yjs documents; the last one also sees deletes. */
export const YJS_DOCS = [docKey('sim', 'y0'), docKey('sim', 'y1'), docKey('sim', 'y2')];
/** A key that clients create with either engine, to exercise engine conflicts. */
export const MIXED_DOC = docKey('sim', 'z0');
export const DELETABLE = new Set<DocKey>([AM_DOCS[3]!, YJS_DOCS[2]!, MIXED_DOC]);

export interface Acked {
  readonly entry: LogEntry;
  readonly dot: Dot;
  readonly doc: DocKey;
  /** A field that must hold `value` at the end, unless the document saw deletes. */
  readonly field?: { readonly name: string; readonly value: number };
  readonly counter?: boolean;
  readonly textChar?: boolean;
}

export const pick = <T>(rng: Random, xs: readonly T[]): T => xs[Math.floor(rng.next() * xs.length)]!;

/** The initial content of every Automerge document, written before any fault. */
export function createAutomergeDocs(r: Replica): void {
  for (const doc of AM_DOCS) {
    r.write(doc, 'automerge', (e) => e.applyOps([
      { op: 'set', path: ['t'], value: '' },
      { op: 'increment', path: ['c'], by: 0 },
    ]));
  }
}

/**
 * One random client write at `r`. Returns what was acknowledged, or undefined when the write
 * was refused (engine mismatch, nothing to delete) or changed nothing.
 */
export function randomWrite(r: Replica, rng: Random, id: number): Acked[] {
  try {
    return write(r, rng, id);
  } catch (err) {
    // A delete may have removed the text or counter a later edit targets: refused, not acknowledged.
    if (err instanceof ConcordError && err.code === 'path-not-found') return [];
    throw err;
  }
}

function write(r: Replica, rng: Random, id: number): Acked[] {
  const roll = rng.next();
  if (roll < 0.06) return remove(r, pick(rng, [...DELETABLE]));
  if (roll < 0.12) return mixed(r, rng, id);
  if (roll < 0.6) return automergeWrite(r, rng, id, pick(rng, AM_DOCS));
  return yjsWrite(r, rng, id, pick(rng, YJS_DOCS));
}

function acked(res: WriteResult, extra: Omit<Acked, 'entry' | 'dot' | 'doc'>): Acked[] {
  const e = res.entry;
  return e ? [{ entry: e, dot: { member: e.origin, seq: e.seq }, doc: e.doc, ...extra }] : [];
}

function automergeWrite(r: Replica, rng: Random, id: number, doc: DocKey): Acked[] {
  const kind = rng.next();
  if (kind < 0.35) {
    return acked(r.write(doc, 'automerge', (e) => e.applyOps([{ op: 'set', path: [`f${id}`], value: id }])), {
      field: { name: `f${id}`, value: id },
    });
  }
  if (kind < 0.55) {
    return acked(r.write(doc, 'automerge', (e) => e.mergePatch({ [`p${id}`]: id })), { field: { name: `p${id}`, value: id } });
  }
  if (kind < 0.75) {
    return acked(r.write(doc, 'automerge', (e) => e.applyOps([{ op: 'increment', path: ['c'], by: 1 }])), { counter: true });
  }
  return acked(
    r.write(doc, 'automerge', (e) => {
      const t = (e.toJSON()['t'] as string | undefined) ?? '';
      return e.applyOps([{ op: 'splice', path: ['t'], index: Math.floor(rng.next() * (t.length + 1)), delete: 0, insert: 'x' }]);
    }),
    { textChar: true },
  );
}

/** A Yjs client attached to `r`: loads the document, edits it, sends its update. */
function yjsWrite(r: Replica, rng: Random, id: number, doc: DocKey): Acked[] {
  const client = new Y.Doc();
  client.clientID = 1 + Math.floor(rng.next() * 0x7ffffffe);
  const current = r.read(doc);
  if (current) Y.applyUpdate(client, current.state.save());
  let update: Uint8Array | undefined;
  client.on('update', (u: Uint8Array) => {
    update = update ? Y.mergeUpdates([update, u]) : u;
  });
  const text = rng.next() < 0.4;
  if (text) {
    const t = client.getText('t');
    t.insert(Math.floor(rng.next() * (t.length + 1)), 'x');
  } else {
    client.getMap('m').set(`f${id}`, id);
  }
  const res = r.write(doc, 'yjs', (e) => e.applyUpdate(update!));
  client.destroy();
  return acked(res, text ? { textChar: true } : { field: { name: `f${id}`, value: id } });
}

function mixed(r: Replica, rng: Random, id: number): Acked[] {
  try {
    if (rng.next() < 0.5) return acked(r.write(MIXED_DOC, 'automerge', (e) => e.mergePatch({ [`p${id}`]: id })), {});
    const client = new Y.Doc();
    client.clientID = 1 + Math.floor(rng.next() * 0x7ffffffe);
    client.getMap('m').set(`f${id}`, id);
    const update = Y.encodeStateAsUpdate(client);
    return acked(r.write(MIXED_DOC, 'yjs', (e) => e.applyUpdate(update)), {});
  } catch (err) {
    if (err instanceof ConcordError && err.code === 'engine-mismatch') return [];
    throw err;
  }
}

function remove(r: Replica, doc: DocKey): Acked[] {
  const res = r.remove(doc);
  return res ? acked(res, {}) : [];
}

export const memberIds = (n: number) => ['wnam', 'weur', 'apac', 'enam', 'eeur'].slice(0, n).map(memberId);
