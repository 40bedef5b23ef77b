/**
 * Whole-document edits of an Automerge document as minimal changes: `replace` (PUT) and RFC
 * 7396 merge patch (PATCH). Both read the materialised document (`old`) and write through the
 * change proxies, touching only what differs, so that concurrent edits elsewhere survive.
 *
 * @remarks Minimality is what makes PUT collaborative: a client that PUTs the document it GOT
 * with one field changed must not overwrite fields someone else changed meanwhile.
 */
import * as A from '@automerge/automerge';
import type { JsonObject, JsonValue } from '../json.js';
import { isJsonObject } from '../json.js';
import {
  type AmList,
  type AmMap,
  type Prop,
  getChild,
  hasOwn,
  insertValues,
  kindOf,
  putValue,
  sameJson,
  setOwn,
} from './automerge-values.js';

/** The root proxy of the change, which `updateText` needs alongside a path. */
export interface EditContext {
  readonly root: AmMap;
}

/** Makes the map `target` (whose current state is `old`) equal to `next`. */
export function diffMap(ctx: EditContext, target: AmMap, old: AmMap, next: JsonObject, path: Prop[]): void {
  for (const k of Object.keys(old)) {
    if (!hasOwn(next, k)) delete target[k];
  }
  for (const k of Object.keys(next)) {
    diffSlot(ctx, target, k, hasOwn(old, k) ? old[k] : undefined, next[k]!, [...path, k]);
  }
}

/**
 * Makes the value at `parent[key]` equal to `next`. Same-kind values are edited in place:
 * maps and lists recurse, text is diffed (`updateText`), a counter is incremented by the
 * difference so that concurrent increments still add up, an immutable string stays one.
 * Anything else is overwritten.
 */
function diffSlot(
  ctx: EditContext,
  parent: AmMap | AmList,
  key: Prop,
  old: unknown,
  next: JsonValue,
  path: Prop[],
): void {
  if (old !== undefined && sameJson(old, next)) return;
  const kind = kindOf(old);
  if (kind === 'map' && isJsonObject(next)) {
    diffMap(ctx, getChild(parent, key) as AmMap, old as AmMap, next, path);
  } else if (kind === 'list' && Array.isArray(next)) {
    diffList(ctx, getChild(parent, key) as AmList, old as AmList, next, path);
  } else if (kind === 'text' && typeof next === 'string') {
    A.updateText(ctx.root, path, next);
  } else if (kind === 'str' && typeof next === 'string') {
    setSlot(parent, key, new A.ImmutableString(next));
  } else if (kind === 'counter' && Number.isSafeInteger(next) && Number.isSafeInteger((next as number) - (old as A.Counter).value)) {
    (getChild(parent, key) as A.Counter).increment((next as number) - (old as A.Counter).value);
  } else {
    putValue(parent, key, next);
  }
}

function setSlot(parent: AmMap | AmList, key: Prop, value: unknown): void {
  if (Array.isArray(parent)) parent[key as number] = value;
  else parent[key as string] = value;
}

/**
 * Lists: the longest common prefix and suffix (by JSON value) are kept; in the middle, the
 * elements both lists have are edited in place index by index (recursing), and the surplus is
 * deleted or inserted at the end of the middle. One insertion or deletion anywhere therefore
 * costs one list op, and editing an element edits inside it; a move becomes edits, not a move.
 */
function diffList(ctx: EditContext, target: AmList, old: AmList, next: JsonValue[], path: Prop[]): void {
  const n = old.length;
  const m = next.length;
  let pre = 0;
  while (pre < n && pre < m && sameJson(old[pre], next[pre]!)) pre++;
  let suf = 0;
  while (suf < n - pre && suf < m - pre && sameJson(old[n - 1 - suf], next[m - 1 - suf]!)) suf++;
  const oldMid = n - pre - suf;
  const newMid = m - pre - suf;
  const common = Math.min(oldMid, newMid);
  for (let i = pre; i < pre + common; i++) diffSlot(ctx, target, i, old[i], next[i]!, [...path, i]);
  if (oldMid > newMid) A.deleteAt(target, pre + common, oldMid - newMid);
  else if (newMid > oldMid) insertValues(target, pre + common, next.slice(pre + common, pre + newMid));
}

/**
 * RFC 7396 on the map `target` (current state `old`): null members delete, object members
 * merge into an existing map or create one, anything else is written as `replace` would
 * write it (so a string edits text minimally and an array is diffed, with the RFC's result).
 */
export function mergeInto(ctx: EditContext, target: AmMap, old: AmMap, patch: JsonObject, path: Prop[]): void {
  for (const k of Object.keys(patch)) {
    const value = patch[k]!;
    const present = hasOwn(old, k);
    const sub = [...path, k];
    if (value === null) {
      if (present) delete target[k];
    } else if (isJsonObject(value) && present && kindOf(old[k]) === 'map') {
      mergeInto(ctx, target[k] as AmMap, old[k] as AmMap, value, sub);
    } else {
      diffSlot(ctx, target, k, present ? old[k] : undefined, isJsonObject(value) ? withoutNulls(value) : value, sub);
    }
  }
}

/** What merging `patch` into an empty object gives: its null members dropped, recursively. */
function withoutNulls(patch: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) continue;
    setOwn(out, k, isJsonObject(v) ? withoutNulls(v) : v);
  }
  return out;
}
