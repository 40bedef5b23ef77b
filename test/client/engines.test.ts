/**
 * The per-engine entries: `concord/client/yjs` and `concord/client/automerge` open documents
 * of their engine and refuse the other with `EngineUnavailableError` (typed, before anything
 * is stored); `concord/client` opens both. All three share one store layout.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ConcordClient as AutomergeClient } from '../../client/automerge.js';
import { ConcordClient, EngineUnavailableError, type ConcordClientOptions } from '../../client/index.js';
import { Store, docId } from '../../client/store.js';
import { ConcordClient as YjsClient } from '../../client/yjs.js';
import { IDBFactory } from './support.js';

const opened: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const c of opened.splice(0)) await c.close();
});

function options(idb: IDBFactory): ConcordClientOptions {
  return { url: 'http://concord.test', token: 'jwt-1', indexedDB: idb, online: false, WebSocket: null, BroadcastChannel: null, onError: () => {} };
}
function make<C extends { close(): Promise<void> }>(c: C): C {
  opened.push(c);
  return c;
}

async function storedEngine(idb: IDBFactory, ns: string, key: string): Promise<string | undefined> {
  const store = await Store.open(idb, 'concord:http://concord.test');
  try {
    return (await store.meta(docId(ns, key))).engine;
  } finally {
    store.close();
  }
}

describe('EngineUnavailableError', () => {
  it('concord/client/yjs opens Yjs documents and refuses Automerge ones, storing nothing', async () => {
    const idb = new IDBFactory();
    const c = make(new YjsClient(options(idb)));
    expect(c.engines).toEqual(['yjs']);
    const pad = await c.open('app', 'pad', { engine: 'yjs' });
    pad.ydoc.getText('t').insert(0, 'hi');
    expect(pad.value()).toEqual({ t: 'hi' });

    // @ts-expect-error -- the Yjs entry's client is typed to Yjs documents only
    const refuse = () => c.doc('app', 'todo', { engine: 'automerge' });
    expect(refuse).toThrow(EngineUnavailableError);
    try {
      refuse();
    } catch (e) {
      const err = e as EngineUnavailableError;
      expect(err.name).toBe('EngineUnavailableError');
      expect(err.engine).toBe('automerge');
      expect(err.available).toEqual(['yjs']);
      expect(err.message).toContain(`cannot open "automerge" documents`);
      expect(err.message).toContain(`'concord/client/automerge'`);
    }
    // @ts-expect-error -- as above, through open()
    await expect(c.open('app', 'todo', { engine: 'automerge' })).rejects.toBeInstanceOf(EngineUnavailableError);
    expect(await storedEngine(idb, 'app', 'todo')).toBeUndefined();
    expect(c.status.pending).toBe(1); // the one Yjs edit; nothing opened for the refused document
  });

  it('concord/client/automerge opens Automerge documents with presence and refuses Yjs ones', async () => {
    const idb = new IDBFactory();
    const c = make(new AutomergeClient(options(idb)));
    expect(c.engines).toEqual(['automerge']);
    const todo = await c.open('app', 'todo', { engine: 'automerge' });
    todo.change((d) => {
      d.items = ['milk'];
    });
    expect(todo.value()).toEqual({ items: ['milk'] });
    // Presence without a Y.Doc: a client id of its own, local state kept and encoded as usual.
    expect(Number.isInteger(todo.presence.clientID)).toBe(true);
    todo.presence.setLocalStateField('user', { name: 'ada' });
    expect(todo.presence.getStates().get(todo.presence.clientID)).toEqual({ user: { name: 'ada' } });

    // @ts-expect-error -- the Automerge entry's client is typed to Automerge documents only
    expect(() => c.doc('app', 'pad', { engine: 'yjs' })).toThrow(EngineUnavailableError);
    // @ts-expect-error -- as above, through open()
    const err = (await c.open('app', 'pad', { engine: 'yjs' }).catch((e: unknown) => e)) as EngineUnavailableError;
    expect(err).toBeInstanceOf(EngineUnavailableError);
    expect([err.engine, err.available]).toEqual(['yjs', ['automerge']]);
    expect(err.message).toContain(`'concord/client/yjs'`);
    expect(await storedEngine(idb, 'app', 'pad')).toBeUndefined();
  });

  it('concord/client opens both; an engine no entry knows is refused the same way', async () => {
    const idb = new IDBFactory();
    const c = make(new ConcordClient(options(idb)));
    expect([...c.engines].sort()).toEqual(['automerge', 'yjs']);
    await c.open('app', 'todo', { engine: 'automerge' });
    await c.open('app', 'pad', { engine: 'yjs' });
    const bogus = () => c.doc('app', 'x', { engine: 'json' as 'yjs' });
    expect(bogus).toThrow(EngineUnavailableError);
    expect(bogus).toThrow(/cannot open "json" documents: it was built with "automerge" and "yjs"/);
  });

  it('the entries share the store: what the per-engine clients wrote, concord/client reads', async () => {
    const idb = new IDBFactory();
    const y = make(new YjsClient(options(idb)));
    const a = make(new AutomergeClient(options(idb)));
    (await y.open('app', 'pad', { engine: 'yjs' })).ydoc.getMap('m').set('k', 1);
    (await a.open('app', 'todo', { engine: 'automerge' })).change((d) => {
      d.done = true;
    });
    await y.close();
    await a.close();
    const both = make(new ConcordClient(options(idb)));
    const pad = await both.open('app', 'pad', { engine: 'yjs' });
    const todo = await both.open('app', 'todo', { engine: 'automerge' });
    expect(pad.value()).toEqual({ m: { k: 1 } });
    expect(todo.value()).toEqual({ done: true });
    expect(both.status.pending).toBe(2);
  });
});
