/**
 * Pure transitions of a document's metadata: which dots touched it, what deletes removed,
 * and which engine it has. All of them are joins (merges of vectors, minimum of stamps), so
 * members that see the same entries in any order agree.
 */
import type { DocKey } from './ids.js';
import type { EngineName } from './engines/engine.js';
import { stampBefore, type LogEntry } from './log.js';
import type { CreationStamp, DocMeta } from './storage.js';
import { emptyVV, equals, leq, merge, withDot } from './version-vector.js';

export const newDocMeta = (doc: DocKey): DocMeta => ({ doc, vv: emptyVV, removed: emptyVV, creators: {} });

/**
 * Observed-remove: a document is live while some dot that touched it is not covered by what
 * deletes removed. A write concurrent with a delete is not in the delete's context, so it
 * keeps the document alive on every member.
 */
export const isLive = (m: DocMeta): boolean => !leq(m.vv, m.removed);

/**
 * The document's engine: the one whose first write is earliest in (hlc, origin) order.
 * Two regions that create one key with different engines at once thus agree on the
 * winner; the loser's state is kept (never lost) but not served.
 */
export function visibleEngine(m: DocMeta): EngineName | undefined {
  let best: { engine: EngineName; stamp: CreationStamp } | undefined;
  for (const [engine, stamp] of Object.entries(m.creators) as [EngineName, CreationStamp][]) {
    if (!best || stampBefore(stamp, best.stamp)) best = { engine, stamp };
  }
  return best?.engine;
}

/** The metadata after applying `e` (whose deps are already covered). */
export function applyEntryMeta(m: DocMeta, e: LogEntry): DocMeta {
  const vv = withDot(m.vv, e.origin, e.seq);
  const removed = e.kind === 'delete' ? withDot(merge(m.removed, e.deps), e.origin, e.seq) : m.removed;
  const stamp: CreationStamp = { hlc: e.hlc, origin: e.origin };
  const current = m.creators[e.engine];
  const creators = current && !stampBefore(stamp, current) ? m.creators : { ...m.creators, [e.engine]: stamp };
  return { doc: m.doc, vv, removed, creators };
}

/** Join of two metadata records of one document (state transfer). */
export function mergeDocMeta(a: DocMeta, b: DocMeta): DocMeta {
  const creators: Partial<Record<EngineName, CreationStamp>> = { ...a.creators };
  for (const [engine, stamp] of Object.entries(b.creators) as [EngineName, CreationStamp][]) {
    const cur = creators[engine];
    if (!cur || stampBefore(stamp, cur)) creators[engine] = stamp;
  }
  return { doc: a.doc, vv: merge(a.vv, b.vv), removed: merge(a.removed, b.removed), creators };
}

export function sameDocMeta(a: DocMeta, b: DocMeta): boolean {
  if (!equals(a.vv, b.vv) || !equals(a.removed, b.removed)) return false;
  const ka = Object.keys(a.creators).sort().join();
  const kb = Object.keys(b.creators).sort().join();
  if (ka !== kb) return false;
  return (Object.keys(a.creators) as EngineName[]).every(
    (k) => a.creators[k]!.hlc === b.creators[k]!.hlc && a.creators[k]!.origin === b.creators[k]!.origin,
  );
}
