/**
 * The client's local store over fake-indexeddb: the outbox, reloads, several clients (tabs)
 * over one store with a BroadcastChannel between them, and compaction that loses nothing.
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as A from '@automerge/automerge';
import { Store } from '../../client/store.js';
import { client, closeAll, IDBFactory, until } from './support.js';

afterEach(closeAll);

describe('Store (IndexedDB)', () => {
  it('appends log and outbox rows together, loads after an id, and acknowledges by key only what it names', async () => {
    const store = await Store.open(new IDBFactory(), 'db');
    const one = await store.append('d', new Uint8Array([1]), 'k1');
    const two = await store.append('d', new Uint8Array([2]), 'k2');
    const three = await store.append('d', new Uint8Array([3]));
    await store.append('other', new Uint8Array([9]), 'k9');
    expect(one < two && two < three).toBe(true);
    const all = await store.load('d');
    expect(all.rows.map((r) => [...r.data])).toEqual([[1], [2], [3]]);
    expect(all.outbox.map((r) => r.key)).toEqual(['k1', 'k2']);
    expect((await store.load('d', one)).rows.map((r) => r.id)).toEqual([two, three]);
    expect(await store.acknowledge(['k1', 'nope'])).toBe(1);
    expect((await store.outbox('d')).map((r) => r.key)).toEqual(['k2']);
    expect((await store.outbox('other')).map((r) => r.key)).toEqual(['k9']);
    // A key is unique: the same Idempotency-Key can never name two updates.
    await expect(store.append('d', new Uint8Array([4]), 'k2')).rejects.toThrow();
    expect((await store.load('d')).rows.length).toBe(3); // and its log row was not written either
    store.close();
  });

  it('compaction merges exactly the rows it read, in one transaction', async () => {
    const store = await Store.open(new IDBFactory(), 'db');
    for (const b of [1, 2, 3]) await store.append('d', new Uint8Array([b]));
    const done = await store.compact('d', (rows) => new Uint8Array(rows.flatMap((r) => [...r])));
    expect(done?.merged.length).toBe(3);
    const { rows } = await store.load('d');
    expect(rows.map((r) => [...r.data])).toEqual([[1, 2, 3]]);
    expect(await store.compact('d', () => new Uint8Array())).toBeUndefined(); // one row: nothing to do
    store.close();
  });
});

describe('ConcordClient offline: the outbox, reload, tabs', () => {
  it('a local Automerge change applies at once, is pending in the outbox, and survives a reload (a new client over the same IndexedDB)', async () => {
    const idb = new IDBFactory();
    const a = client(idb);
    const h = await a.open('app', 'todo', { engine: 'automerge' });
    const seen: string[] = [];
    h.subscribe((e) => seen.push(e.origin));
    h.change((d) => {
      d.items = ['milk'];
    });
    h.change((d) => {
      d.items.push('eggs');
    });
    expect(h.value()).toEqual({ items: ['milk', 'eggs'] });
    expect(seen).toEqual(['local', 'local']);
    expect(a.status).toMatchObject({ state: 'offline', pending: 2 });
    await a.close();

    const b = client(idb);
    const again = await b.open('app', 'todo', { engine: 'automerge' });
    expect(again.value()).toEqual({ items: ['milk', 'eggs'] });
    expect(again.pendingCount).toBe(2);
    expect(b.status.pending).toBe(2);
  });

  it('close() right after edits waits for them to be stored, compactions included: nothing is lost, nothing fails', async () => {
    const idb = new IDBFactory();
    const errors: unknown[] = [];
    const a = client(idb, { compactEvery: 10, onError: (e) => errors.push(e) });
    const h = await a.open('app', 'burst', { engine: 'automerge' });
    for (let i = 0; i < 45; i++) {
      h.change((d) => {
        d[`k${i}`] = i;
      });
    }
    await a.close();
    expect(errors).toEqual([]);
    const b = client(idb);
    expect(Object.keys((await b.open('app', 'burst', { engine: 'automerge' })).value())).toHaveLength(45);
  });

  it('a Yjs document reopens with its edits; the engine a document was stored with is kept', async () => {
    const idb = new IDBFactory();
    const a = client(idb);
    const h = await a.open('app', 'pad', { engine: 'yjs' });
    h.ydoc.getText('text').insert(0, 'hello');
    h.ydoc.getText('text').insert(5, ' world');
    expect(h.value()).toEqual({ text: 'hello world' });
    await a.close();
    const b = client(idb);
    expect((await b.open('app', 'pad', { engine: 'yjs' })).value()).toEqual({ text: 'hello world' });
    await expect(b.open('app', 'pad2', { engine: 'yjs' }).then(() => b.open('app', 'pad', { engine: 'automerge' }))).rejects.toThrow(/open as a yjs/);
    const c = client(idb);
    await expect(c.open('app', 'pad', { engine: 'automerge' })).rejects.toThrow(/stored as a yjs document/);
  });

  it('two clients (tabs) over one store: edits reach the other through the BroadcastChannel, both ways, both engines', async () => {
    const idb = new IDBFactory();
    const a = client(idb);
    const b = client(idb);
    const ha = await a.open('app', 'shared', { engine: 'automerge' });
    const hb = await b.open('app', 'shared', { engine: 'automerge' });
    ha.change((d) => {
      d.a = 1;
    });
    hb.change((d) => {
      d.b = 2;
    });
    await until('both tabs see both edits', 5_000, () => (JSON.stringify(ha.value()) === '{"a":1,"b":2}' && JSON.stringify(hb.value()) === '{"a":1,"b":2}' ? true : undefined));
    // The outbox is shared: each tab counts every unacknowledged update once.
    await until('both count two pending', 5_000, () => (ha.pendingCount === 2 && hb.pendingCount === 2 ? true : undefined));

    const ya = await a.open('app', 'text', { engine: 'yjs' });
    const yb = await b.open('app', 'text', { engine: 'yjs' });
    ya.ydoc.getText('t').insert(0, 'abc');
    await until('tab b sees abc', 5_000, () => (yb.ydoc.getText('t').toString() === 'abc' ? true : undefined));
    yb.ydoc.getText('t').insert(3, 'def');
    await until('tab a sees abcdef', 5_000, () => (ya.ydoc.getText('t').toString() === 'abcdef' ? true : undefined));
  });

  it('concurrent compactions in two tabs while both append lose no edit', async () => {
    const idb = new IDBFactory();
    const a = client(idb, { compactEvery: 3 });
    const b = client(idb, { compactEvery: 4 });
    const ha = await a.open('app', 'busy', { engine: 'yjs' });
    const hb = await b.open('app', 'busy', { engine: 'yjs' });
    const N = 40;
    const compactions: Promise<number[]>[] = [];
    for (let i = 0; i < N; i++) {
      ha.ydoc.getMap('m').set(`a${i}`, i);
      hb.ydoc.getMap('m').set(`b${i}`, i);
      if (i % 5 === 0) compactions.push(ha.compact(), hb.compact());
    }
    const merged = (await Promise.all(compactions)).flat();
    expect(merged.length).toBeGreaterThan(0);
    await Promise.all([ha.compact(), hb.compact()]);
    // A third tab opened afterwards reads every edit of both from the compacted store.
    const c = client(idb);
    const hc = await c.open('app', 'busy', { engine: 'yjs' });
    const m = hc.value()['m'] as Record<string, number>;
    expect(Object.keys(m).length).toBe(2 * N);
    expect(hc.pendingCount).toBe(2 * N); // offline: every local update is still in the outbox
    // And the tabs converge on the same view.
    await until('a and b converge', 5_000, () => (Object.keys((ha.value()['m'] ?? {}) as object).length === 2 * N && Object.keys((hb.value()['m'] ?? {}) as object).length === 2 * N ? true : undefined));

    // The same with Automerge changes.
    const am = await a.open('app', 'busy-am', { engine: 'automerge' });
    const bm = await b.open('app', 'busy-am', { engine: 'automerge' });
    const runs: Promise<number[]>[] = [];
    for (let i = 0; i < 20; i++) {
      am.change((d) => {
        d[`a${i}`] = i;
      });
      bm.change((d) => {
        d[`b${i}`] = i;
      });
      if (i % 4 === 0) runs.push(am.compact(), bm.compact());
    }
    await Promise.all(runs);
    await Promise.all([am.compact(), bm.compact()]);
    const d = client(idb);
    const hd = await d.open('app', 'busy-am', { engine: 'automerge' });
    expect(Object.keys(hd.value()).length).toBe(40);
    expect(A.getHeads(hd.doc).length).toBeGreaterThan(0);
  });

  it('an update is counted once in the shared outbox, by the tab that made it and the tab that loaded it', async () => {
    const idb = new IDBFactory();
    const a = client(idb);
    const b = client(idb);
    const ha = await a.open('app', 'once', { engine: 'yjs' });
    const hb = await b.open('app', 'once', { engine: 'yjs' });
    ha.ydoc.getText('t').insert(0, 'y');
    await until('b sees y', 5_000, () => (hb.value()['t'] === 'y' ? true : undefined));
    expect(hb.pendingCount).toBe(1);
    expect(ha.pendingCount).toBe(1);
  });
});
