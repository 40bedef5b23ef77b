/**
 * The SDK over the Concord extension of the WebSocket route against the real `wrangler dev`:
 * acks clear the outbox and bring a causal token; Automerge presence travels as text frames.
 */
import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import * as A from '@automerge/automerge';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ConcordClient, type WebSocketCtor } from '../../client/index.js';
import { eventually } from './eventually.js';
import { mintToken, startWrangler, type WranglerDev } from './wrangler.js';

const NS = 'sdkx';

describe('client SDK over ext=concord', () => {
  let dev: WranglerDev;
  let write: string;
  const clients: ConcordClient[] = [];
  beforeAll(async () => {
    [dev, write] = await Promise.all([startWrangler({ env: 'test', logLevel: 'warn' }), mintToken('--ns', `${NS}*`, '--scope', 'write')]);
  });
  afterAll(async () => {
    for (const c of clients) await c.close();
    await dev?.stop();
  });
  const client = (region: string): ConcordClient => {
    const c = new ConcordClient({ url: dev.url, token: write, region, indexedDB: new IDBFactory(), WebSocket: WebSocket as unknown as WebSocketCtor, BroadcastChannel: null, online: true, onError: (e) => console.error(e) });
    clients.push(c);
    return c;
  };

  it('Yjs: acks clear the outbox (pending 0, synced) and carry a Concord-Token', async () => {
    const c = client('wnam');
    const h = await c.open(NS, 'acked', { engine: 'yjs' });
    for (let i = 0; i < 5; i++) h.ydoc.getText('t').insert(0, 'x');
    await eventually('synced with nothing pending', 20_000, () => (c.status.state === 'synced' && c.status.pending === 0 ? true : undefined));
    expect(h.causalToken).toMatch(/^[A-Za-z0-9_-]+$/);
    const res = await fetch(`${dev.url}/v1/${NS}/docs/acked?region=apac`, { headers: { Authorization: `Bearer ${write}`, Consistency: 'session', 'Concord-Token': h.causalToken! } });
    expect(await res.json()).toEqual({ t: 'xxxxx' });
  });

  it('Automerge: changes made before the first sync reach the member, and the client then counts itself synced with nothing pending', async () => {
    const c = client('weur');
    c.setOnline(false);
    const h = await c.open(NS, 'am-synced', { engine: 'automerge' });
    for (let i = 0; i < 20; i++) {
      h.change((d) => {
        d[`k${i}`] = i;
      });
    }
    c.setOnline(true);
    await eventually('synced with nothing pending', 20_000, () => (c.status.state === 'synced' && c.status.pending === 0 ? true : undefined));
    const res = await fetch(`${dev.url}/v1/${NS}/docs/am-synced?region=weur`, { headers: { Authorization: `Bearer ${write}` } });
    expect(Object.keys((await res.json()) as object)).toHaveLength(20);
  });

  it('Automerge: a reconnect after many offline changes sends no more than about the whole compressed document', async () => {
    const c = client('apac');
    const h = await c.open(NS, 'am-many', { engine: 'automerge' });
    h.change((d) => {
      d.text = '';
    });
    const type = (n: number): void => {
      for (let i = 0; i < n; i++) {
        h.change((d) => {
          A.splice(d, ['text'], (d.text as string).length, 0, 'abcdefghij'[i % 10]!);
        });
      }
    };
    type(500);
    await eventually('synced', 20_000, () => (c.status.state === 'synced' && c.status.pending === 0 ? true : undefined));
    c.setOnline(false);
    await eventually('offline', 10_000, () => (c.status.state === 'offline' ? true : undefined));
    type(100);
    const whole = A.save(h.doc).length;
    const before = h.socketBytesSent;
    c.setOnline(true);
    await eventually('synced again', 20_000, () => (c.status.state === 'synced' && c.status.pending === 0 ? true : undefined));
    // 100 changes one by one cost about 11 KB; the document they belong to, compressed, far less.
    expect(h.socketBytesSent - before).toBeLessThan(2 * whole + 1024);
    const res = await fetch(`${dev.url}/v1/${NS}/docs/am-many?region=apac`, { headers: { Authorization: `Bearer ${write}` } });
    expect(((await res.json()) as { text: string }).text).toHaveLength(600);
  });

  it('Automerge: presence over text frames reaches a client in another region', async () => {
    const a = await client('wnam').open(NS, 'am-presence', { engine: 'automerge' });
    const b = await client('weur').open(NS, 'am-presence', { engine: 'automerge' });
    a.change((d) => {
      d.x = 1;
    });
    await eventually('b has x', 20_000, () => ((b.value() as { x?: number }).x === 1 ? true : undefined));
    a.presence.setLocalStateField('user', { name: 'ada' });
    await eventually('b sees ada', 20_000, () => (b.presence.getStates().get(a.presence.clientID)?.['user']?.name === 'ada' ? true : undefined));
    expect(a.causalToken).toBeDefined();
  });
});
