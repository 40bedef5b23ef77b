/**
 * The nesting depth of Automerge objects created by changes, checked before a document
 * takes them: a change may nest maps and lists arbitrarily deep in a few bytes, and every
 * later recursive walk (materialising, rendering JSON) would then exhaust the stack.
 *
 * @remarks Read from the decoded ops, not from the document: an object made by `makeMap`,
 * `makeList` or `makeText` has the op's id, and sits one level below the object the op
 * writes into. Objects that existed before are placed by their path in `doc`. The root is
 * at depth 1, as the JSON object it renders to.
 */
import * as A from '@automerge/automerge';
import { DepthLimitError } from '../errors.js';

const MAKES = new Set(['makeMap', 'makeList', 'makeText', 'makeTable']);

/**
 * @param doc a document that holds every object the changes write into.
 * @throws DepthLimitError when a change creates an object deeper than `maxDepth`.
 */
export function checkChangeDepth(doc: A.Doc<unknown>, changes: readonly Uint8Array[], maxDepth: number): void {
  const depths = new Map<string, number>([['_root', 1]]);
  const depthOf = (obj: string): number => {
    let d = depths.get(obj);
    if (d === undefined) {
      // An object from before these changes: its path from the root says how deep it is.
      const path = A.getBackend(doc).objInfo(obj).path;
      d = (path?.length ?? 0) + 1;
      depths.set(obj, d);
    }
    return d;
  };
  for (const bytes of changes) {
    const change = A.decodeChange(bytes);
    change.ops.forEach((op, i) => {
      if (!MAKES.has(op.action)) return;
      const depth = depthOf(op.obj) + 1;
      if (depth > maxDepth) throw new DepthLimitError('the update', maxDepth);
      depths.set(`${change.startOp + i}@${change.actor}`, depth);
    });
  }
}
