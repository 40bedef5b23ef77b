/**
 * Whether the engines still work at all: after an engine fault, a member asks this before
 * serving again, because a trap inside Automerge's wasm (an exhausted stack, a panic) can
 * leave the whole module unusable, not just one document.
 */
import * as A from '@automerge/automerge';
import * as Y from 'yjs';

/** A small round trip through each engine: create, change, save, load, render. */
export function enginesHealthy(): boolean {
  try {
    const doc = A.change(A.init<{ n?: number }>(), (d) => {
      d.n = 1;
    });
    const loaded = A.load<{ n?: number }>(A.save(doc));
    const ok = A.toJS(loaded).n === 1;
    A.free(doc);
    A.free(loaded);
    const y = new Y.Doc();
    y.getMap('m').set('n', 1);
    const copy = new Y.Doc();
    Y.applyUpdate(copy, Y.encodeStateAsUpdate(y));
    return ok && copy.getMap('m').get('n') === 1;
  } catch {
    return false;
  }
}
