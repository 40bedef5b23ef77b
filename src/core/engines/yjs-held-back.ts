/**
 * Content Yjs holds back: structs whose neighbours or parents this document lacks wait in
 * `store.pendingStructs`, yet the entry that brought them is applied and joins the vector.
 * A delete made here covers that entry, so it must remove the held-back content too, or the
 * content would appear once its neighbours arrive although the delete's context covers it.
 */
import * as Y from 'yjs';
import { ByteWriter } from '../wire/bytes.js';

/**
 * A v1 update that deletes every held-back item of `doc` (no structs, only a delete set),
 * or null when nothing is held back. Applied where the items are not integrated yet, Yjs
 * keeps the deletion pending (`pendingDs`) and applies it when they arrive.
 */
export function heldBackDeletion(doc: Y.Doc): Uint8Array | null {
  const pending = doc.store.pendingStructs;
  if (!pending) return null;
  const ranges = new Map<number, [clock: number, len: number][]>();
  // Yjs keeps what it holds back in the v2 encoding.
  for (const s of Y.decodeUpdateV2(pending.update).structs) {
    if (!(s instanceof Y.Item)) continue;
    const list = ranges.get(s.id.client) ?? [];
    list.push([s.id.clock, s.length]);
    ranges.set(s.id.client, list);
  }
  if (ranges.size === 0) return null;
  // The v1 layout: a count of struct groups (none), then the delete set, all varints.
  const w = new ByteWriter().uint(0).uint(ranges.size);
  for (const [client, list] of ranges) {
    w.uint(client).uint(list.length);
    for (const [clock, len] of list) w.uint(clock).uint(len);
  }
  return w.finish();
}
