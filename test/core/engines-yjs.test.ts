/** Behaviour of the Yjs engine: root types from remote clients, clear, deltas, held-back updates. */
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import type { Engine } from '../../src/core/engines/index.js';
import { loadEngine } from '../../src/core/engines/index.js';
import { InvalidVersionError, MissingDependenciesError } from '../../src/core/errors.js';
import { actor, applyAll, fresh, reload, yClient, yEdit } from './engines-helpers.js';

/** Everything a client has, as one update. */
const state = (d: Y.Doc): Uint8Array => Y.encodeStateAsUpdate(d);

describe('toJSON', () => {
  it('renders root types created by a remote client, which arrive untyped', () => {
    const c = yClient(11);
    const e = fresh('yjs');
    e.applyUpdate(
      yEdit(c, (d) => {
        d.getMap('settings').set('theme', 'dark');
        d.getMap('settings').set('nested', new Y.Map([['deep', [1, 2]]]));
        d.getArray('todos').push([{ title: 'a' }, 'b', 3]);
        d.getText('body').insert(0, 'hello');
        d.getText('rich').insert(0, 'bold', { bold: true });
        d.getXmlFragment('prose').insert(0, [new Y.XmlElement('p')]);
        d.getArray('bytes').push([new Uint8Array([1, 2, 3])]);
      }),
    );
    const expected = {
      settings: { theme: 'dark', nested: { deep: [1, 2] } },
      todos: [{ title: 'a' }, 'b', 3],
      body: 'hello',
      rich: 'bold',
      prose: '<p></p>',
      bytes: ['AQID'],
    };
    expect(e.toJSON()).toEqual(expected);
    expect(reload(e).toJSON()).toEqual(expected);
    // Rendering typed nothing wrongly: a client that knows the types can still read them.
    const back = yClient(12);
    Y.applyUpdate(back, e.save());
    expect(back.getText('body').toString()).toBe('hello');
    expect(back.getArray('todos').length).toBe(3);
  });

  it('renders the same state the same on every replica, whatever it typed or saw first', () => {
    const c = yClient(13);
    const u1 = yEdit(c, (d) => d.getMap('m').set('b', 1));
    const u2 = yEdit(c, (d) => d.getMap('m').set('a', 2));
    const u3 = yEdit(c, (d) => d.getText('t').insert(0, 'x'));
    const u4 = yEdit(c, (d) => d.getText('t').delete(0, 1));
    const x = fresh('yjs');
    const y = fresh('yjs');
    applyAll(x, [u1, u2, u3]);
    x.toJSON();
    applyAll(x, [u4]);
    // A peer's entries may arrive in any order (merge); a client's updates are refused out of order.
    for (const u of [u4, u3, u2, u1]) y.merge(u);
    expect(JSON.stringify(x.toJSON())).toBe(JSON.stringify(y.toJSON()));
    expect(JSON.stringify(reload(x).toJSON())).toBe(JSON.stringify(x.toJSON()));
    expect(x.toJSON()).toEqual({ m: { a: 2, b: 1 } });
  });
});

describe('applyUpdate', () => {
  it('returns what was new, and null for a duplicate', () => {
    const c = yClient(21);
    const e = fresh('yjs');
    const u = yEdit(c, (d) => d.getMap('m').set('k', 'v'));
    const got = e.applyUpdate(u);
    expect(got).not.toBeNull();
    expect(e.applyUpdate(u)).toBeNull();
    expect(e.applyUpdate(state(c))).toBeNull();
    expect(e.applyUpdate(e.save())).toBeNull();
    const other = fresh('yjs');
    other.applyUpdate(got!);
    expect(other.toJSON()).toEqual({ m: { k: 'v' } });
  });

  it('refuses an update whose items build on content it lacks; keeps deletions of items not here yet', () => {
    const c = yClient(22);
    const u1 = yEdit(c, (d) => d.getText('t').insert(0, 'abc'));
    const u2 = yEdit(c, (d) => d.getText('t').insert(3, 'def'));
    const u3 = yEdit(c, (d) => d.getText('t').delete(0, 1));
    const e = fresh('yjs');
    expect(() => e.applyUpdate(u2)).toThrow(MissingDependenciesError);
    // A deletion alone waits for its items, and is reported as new.
    const e2 = fresh('yjs');
    const late3 = e2.applyUpdate(u3);
    expect(late3).not.toBeNull();
    expect(e2.toJSON()).toEqual({});
    const fromReported = loadEngine('yjs', [late3!], { actor: actor(70) });
    const fromSave = reload(e2);
    for (const r of [e2, fromReported, fromSave]) {
      expect(r.applyUpdate(u1)).not.toBeNull();
      expect(r.applyUpdate(u2)).not.toBeNull();
      expect(r.toJSON()).toEqual({ t: 'bcdef' });
    }
  });
});

describe('clear', () => {
  it('deletes all content it has seen; a concurrent remote insert survives', () => {
    const c1 = yClient(31);
    const c2 = yClient(32);
    const base = yEdit(c1, (d) => {
      d.getMap('m').set('a', 1);
      d.getArray('l').push([1, 2]);
      d.getText('t').insert(0, 'text');
    });
    Y.applyUpdate(c2, base);
    const e = fresh('yjs');
    e.applyUpdate(base);
    const cleared = e.clear()!;
    expect(cleared).not.toBeNull();
    expect(e.clear()).toBeNull();
    expect(e.toJSON()).toEqual({ m: {} });
    const concurrent = yEdit(c2, (d) => {
      d.getMap('m').set('b', 2);
      d.getArray('l').insert(1, ['mid']);
      d.getText('t').insert(4, '!');
    });
    e.applyUpdate(concurrent);
    Y.applyUpdate(c2, cleared);
    expect(e.toJSON()).toEqual({ m: { b: 2 }, l: ['mid'], t: '!' });
    expect(c2.getMap('m').toJSON()).toEqual({ b: 2 });
    expect(c2.getText('t').toString()).toBe('!');
  });
});

describe('version and deltaSince', () => {
  it('deltaSince gives only what is newer, and the older copy converges with it', () => {
    const c = yClient(41);
    const a = fresh('yjs');
    a.applyUpdate(yEdit(c, (d) => d.getText('t').insert(0, 'x'.repeat(2000))));
    const b = reload(a);
    const v = b.version();
    a.applyUpdate(yEdit(c, (d) => d.getMap('m').set('k', 1)));
    const delta = a.deltaSince(v);
    expect(delta.length * 10).toBeLessThan(a.save().length);
    expect(b.applyUpdate(delta)).not.toBeNull();
    expect(b.toJSON()).toEqual(a.toJSON());
    expect(b.version()).toEqual(a.version());
    expect(a.deltaSince(new Uint8Array(0))).toEqual(a.save());
  });

  it('deltaSince rejects a state vector that does not decode', () => {
    const a: Engine = fresh('yjs');
    for (const bad of [[5], [1, 200], [0, 1], [1, 1, 1, 9]]) {
      expect(() => a.deltaSince(new Uint8Array(bad)), JSON.stringify(bad)).toThrow(InvalidVersionError);
    }
  });
});
