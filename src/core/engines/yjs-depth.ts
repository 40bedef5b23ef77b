/**
 * The nesting depth of what a Yjs transaction integrated: a few bytes of update can nest
 * maps thousands deep (or embed a deeply nested JSON value), and every later recursive walk
 * (`toJSON`, rendering) would then exhaust the stack.
 *
 * @remarks Checked after integration, on the items the transaction added (its before and
 * after state vectors bound them), because only then is every item's parent known: an
 * update may nest into types it does not carry, or complete structs that an earlier update
 * left pending. The document's JSON view is an object of root types, so a root type sits at
 * depth 2 and each nested type one deeper, as in the rendered JSON.
 */
import * as Y from 'yjs';
import { DepthLimitError } from '../errors.js';
import { jsonDepth } from '../json-limits.js';

/** Depth of a type in the rendered JSON, counting up its parents; stops past `stopAt`. */
function typeDepth(type: Y.AbstractType<unknown>, stopAt: number): number {
  let depth = 2;
  for (let item = type._item; item && depth <= stopAt; depth++) {
    const parent = item.parent;
    if (!(parent instanceof Y.AbstractType)) break;
    item = parent._item;
  }
  return depth;
}

/** How many levels an item's content adds below its parent type. */
function contentDepth(content: Y.Item['content'], stopAt: number): number {
  if (content instanceof Y.ContentType) return 1;
  if (content instanceof Y.ContentAny || content instanceof Y.ContentJSON) {
    let max = 0;
    for (const v of content.getContent()) max = Math.max(max, jsonDepth(v, stopAt));
    return max;
  }
  if (content instanceof Y.ContentEmbed) return jsonDepth(content.embed, stopAt);
  if (content instanceof Y.ContentFormat) return jsonDepth(content.value, stopAt);
  return 0;
}

/**
 * @throws DepthLimitError when `tr` integrated an item deeper than `maxDepth`. The document
 * already holds it then: the caller must discard this document instance.
 */
export function checkTransactionDepth(tr: Y.Transaction, maxDepth: number): void {
  const clients = tr.doc.store.clients;
  for (const [client, after] of tr.afterState) {
    const before = tr.beforeState.get(client) ?? 0;
    if (after <= before) continue;
    const structs = clients.get(client);
    if (!structs) continue;
    for (let i = Y.findIndexSS(structs, before); i < structs.length; i++) {
      const item = structs[i];
      if (!(item instanceof Y.Item) || !(item.parent instanceof Y.AbstractType)) continue;
      const depth = typeDepth(item.parent, maxDepth) + contentDepth(item.content, maxDepth);
      if (depth > maxDepth) throw new DepthLimitError('the update', maxDepth);
    }
  }
}
