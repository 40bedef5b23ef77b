/**
 * A Yjs insert whose neighbours a member lacks would be held back by Yjs (pending) although
 * its entry were applied. A local write of one is refused (409 missing-dependencies); held-
 * back content can still be in a member's state (stored before that refusal existed, or
 * brought by a state transfer from such a member). A delete at that member covers the
 * entry, so it must remove the insert too, wherever and whenever the insert integrates.
 */
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { MissingDependenciesError } from '../../src/core/errors.js';
import { docKey } from '../../src/core/ids.js';
import { cluster, restart, sync, syncAll, type TestMember } from '../support/cluster.js';

const DOC = docKey('demo', 'text');

function text(doc: Y.Doc): string {
  return doc.getText('t').toString();
}

/** A client writes "ab" at `at`, then inserts "x" between them: the update carrying "x" alone. */
function insertBetween(at: TestMember): Uint8Array {
  const client = new Y.Doc();
  client.getText('t').insert(0, 'ab');
  at.replica.write(DOC, 'yjs', (s) => s.applyUpdate(Y.encodeStateAsUpdate(client)));
  const before = Y.encodeStateVector(client);
  client.getText('t').insert(1, 'x');
  return Y.encodeStateAsUpdate(client, before);
}

describe('a delete covers the Yjs content its member holds back', () => {
  it('an insert held back at the deleting member does not reappear once its neighbours arrive', () => {
    const [a, b] = cluster(['a', 'b']);
    // The client inserts "x" between "ab" and, retrying elsewhere, reaches only b.
    const x = insertBetween(a!);
    const held = b!.replica.write(DOC, 'yjs', (s) => (s.merge(x), x));
    expect(held.entry).toBeDefined();
    // b deletes the document: its context covers the entry that carries "x".
    const del = b!.replica.remove(DOC)!;
    expect(del.entry!.deps).toEqual(held.vv);
    syncAll([a!, b!]);
    // a's "ab" was concurrent with the delete and survives; "x" does not, on either member.
    for (const m of [a!, b!]) {
      const doc = new Y.Doc();
      Y.applyUpdate(doc, m.replica.view(DOC, (s) => s.save())!);
      expect(text(doc)).toBe('ab');
      expect(m.replica.json(DOC)).toEqual({ t: 'ab' });
    }
  });

  it('the removal survives a restart of the deleting member before the neighbours arrive', () => {
    const ids = ['a', 'b'];
    const [a, b] = cluster(ids);
    const x = insertBetween(a!);
    b!.replica.write(DOC, 'yjs', (s) => (s.merge(x), x));
    b!.replica.remove(DOC);
    restart(b!, ids);
    sync(a!.replica, b!.replica);
    sync(b!.replica, a!.replica);
    expect(b!.replica.json(DOC)).toEqual({ t: 'ab' });
    expect(a!.replica.json(DOC)).toEqual({ t: 'ab' });
  });
});

describe('a Yjs update that builds on content the member lacks', () => {
  it('is refused with nothing stored, and accepted once the member has what it builds on', () => {
    const [a, b] = cluster(['a', 'b']);
    const x = insertBetween(a!);
    const commits = b!.storage.commits;
    expect(() => b!.replica.write(DOC, 'yjs', (s) => s.applyUpdate(x))).toThrow(MissingDependenciesError);
    expect(b!.storage.commits).toBe(commits);
    expect(b!.replica.read(DOC)).toBeUndefined();
    // Nothing half-applied stays in memory: the same member, once caught up, takes it whole.
    sync(b!.replica, a!.replica);
    expect(b!.replica.json(DOC)).toEqual({ t: 'ab' });
    const w = b!.replica.write(DOC, 'yjs', (s) => s.applyUpdate(x));
    expect(w.entry).toBeDefined();
    expect(b!.replica.json(DOC)).toEqual({ t: 'axb' });
  });

  it('computed against the member\'s state vector, it is accepted at once', () => {
    const [a, b] = cluster(['a', 'b']);
    const client = new Y.Doc();
    client.getText('t').insert(0, 'ab');
    a!.replica.write(DOC, 'yjs', (s) => s.applyUpdate(Y.encodeStateAsUpdate(client)));
    client.getText('t').insert(1, 'x');
    // b has nothing: the update against its (empty) state vector carries "ab" too.
    b!.replica.write(DOC, 'yjs', (s) => s.applyUpdate(Y.encodeStateAsUpdate(client, new Uint8Array([0]))));
    expect(b!.replica.json(DOC)).toEqual({ t: 'axb' });
    syncAll([a!, b!]);
    expect(a!.replica.json(DOC)).toEqual({ t: 'axb' });
  });
});
