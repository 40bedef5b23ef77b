/**
 * Real-time sync over `GET /v1/:ns/ws/:key` on the real `wrangler dev` (test environment):
 * stock `y-websocket` providers (Node, with `ws`) in different regions, and raw `ws` clients
 * for what a provider never sends (malformed and oversized frames, a close without a code).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as A from '@automerge/automerge';
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import WebSocket from 'ws';
import { WebsocketProvider } from 'y-websocket';
import * as Y from 'yjs';
import { eventually } from './eventually.js';
import { frame } from './y-frames.js';
import { mintToken, startWrangler, type WranglerDev } from './wrangler.js';

/** The provider's WebSocket constructor type (the DOM's); `ws` is one at run time. */
type Polyfill = NonNullable<NonNullable<ConstructorParameters<typeof WebsocketProvider>[3]>['WebSocketPolyfill']>;

const NS = 'rt';
const MAX_WS_MESSAGE_BYTES = 64 * 1024;
const MAX_SOCKETS = 40;

describe('WebSocket sync on wrangler dev (test environment)', () => {
  let dev: WranglerDev;
  let write: string;
  let read: string;
  let other: string;
  let admin: string;
  const providers: WebsocketProvider[] = [];
  const sockets: WebSocket[] = [];

  beforeAll(async () => {
    [dev, write, read, other, admin] = await Promise.all([
      // FAILOVER off: with it on, the leaders' heartbeats keep every member in memory, and the
      // hibernation test needs a member that can be evicted (README, Failover).
      startWrangler({ env: 'test', logLevel: 'warn', vars: { MAX_WS_MESSAGE_BYTES: String(MAX_WS_MESSAGE_BYTES), MAX_SOCKETS: String(MAX_SOCKETS), FAILOVER: 'off' } }),
      mintToken('--ns', `${NS}*`, '--scope', 'write'),
      mintToken('--ns', `${NS}*`, '--scope', 'read'),
      mintToken('--ns', 'elsewhere', '--scope', 'write'),
      mintToken('--scope', 'admin', '--ns', '*'),
    ]);
  });
  afterAll(async () => {
    for (const p of providers) p.destroy();
    for (const s of sockets) s.terminate();
    await dev?.stop();
  });

  const wsBase = (): string => dev.url.replace(/^http/, 'ws');

  /** A stock provider of `key` in `region`, as the README shows it. */
  function provider(key: string, region: string, token = write): { doc: Y.Doc; p: WebsocketProvider } {
    const doc = new Y.Doc();
    const p = new WebsocketProvider(`${wsBase()}/v1/${NS}`.concat('/ws'), key, doc, {
      params: { token, region },
      WebSocketPolyfill: WebSocket as unknown as Polyfill,
      disableBc: true,
    });
    providers.push(p);
    return { doc, p };
  }

  const synced = (p: WebsocketProvider): Promise<void> => eventually('provider synced', 20_000, () => (p.synced ? true : undefined)).then(() => undefined);

  /** A raw socket; resolves once open, or with the close it got instead. */
  function raw(path: string, protocols?: string[]): Promise<{ ws: WebSocket; closed: Promise<{ code: number; reason: string }>; messages: Buffer[] }> {
    const ws = new WebSocket(`${wsBase()}${path}`, protocols);
    sockets.push(ws);
    const messages: Buffer[] = [];
    ws.on('message', (m: Buffer) => messages.push(m));
    const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    return new Promise((resolve, reject) => {
      ws.on('open', () => resolve({ ws, closed, messages }));
      ws.on('error', reject);
    });
  }

  const withTimeout = <T>(p: Promise<T>, ms: number, what: string): Promise<T> =>
    Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms))]);

  async function serverText(key: string, region: string): Promise<string | undefined> {
    const res = await fetch(`${dev.url}/v1/${NS}/docs/${key}?region=${region}`, { headers: { Authorization: `Bearer ${write}` } });
    if (res.status !== 200) return undefined;
    const body = (await res.json()) as { text?: string };
    return body.text;
  }

  async function setFaults(body: unknown | null): Promise<void> {
    const res = await fetch(`${dev.url}/v1/_test/faults`, {
      method: body === null ? 'DELETE' : 'POST',
      headers: { Authorization: `Bearer ${admin}`, 'Content-Type': 'application/json' },
      ...(body !== null && { body: JSON.stringify(body) }),
    });
    expect(res.status, await res.text()).toBeLessThan(300);
  }

  it('stock providers in two regions edit one Y.Text concurrently and converge, and every region stores the result', async () => {
    const a = provider('pad', 'wnam');
    const b = provider('pad', 'weur');
    await Promise.all([synced(a.p), synced(b.p)]);
    const ta = a.doc.getText('text');
    const tb = b.doc.getText('text');
    for (let i = 0; i < 20; i++) {
      ta.insert(0, 'a');
      tb.insert(tb.length, 'b');
    }
    const both = await eventually('both providers converge', 20_000, () =>
      ta.toString() === tb.toString() && ta.length === 40 ? ta.toString() : undefined,
    );
    expect(both.replaceAll('a', '')).toBe('b'.repeat(20));
    for (const region of ['wnam', 'weur', 'apac']) {
      await eventually(`${region} stores every edit`, 20_000, async () => ((await serverText('pad', region)) === both ? true : undefined));
    }
  });

  it('converges after a partition between the regions during the edits', async () => {
    const a = provider('split', 'wnam');
    const b = provider('split', 'weur');
    await Promise.all([synced(a.p), synced(b.p)]);
    await setFaults({ partitions: [['wnam'], ['weur', 'apac']] });
    try {
      a.doc.getText('text').insert(0, 'west ');
      b.doc.getText('text').insert(0, 'east ');
      // Each side sees its own edit at once; the other's cannot cross the partition.
      await eventually('weur stores its side', 10_000, async () => ((await serverText('split', 'weur')) === 'east ' ? true : undefined));
      expect(await serverText('split', 'wnam')).toBe('west ');
      expect(b.doc.getText('text').toString()).toBe('east ');
    } finally {
      await setFaults(null);
    }
    const text = await eventually('converged after the heal', 30_000, () => {
      const x = a.doc.getText('text').toString();
      return x === b.doc.getText('text').toString() && x.length === 10 ? x : undefined;
    });
    expect([...text.split(' ')].sort()).toEqual(['', 'east', 'west']);
  });

  it('presence set in one region is seen in another, and is gone once its client leaves', async () => {
    const a = provider('presence', 'wnam');
    const b = provider('presence', 'apac');
    await Promise.all([synced(a.p), synced(b.p)]);
    a.p.awareness.setLocalStateField('user', { name: 'ada' });
    const id = a.doc.clientID;
    await eventually('apac sees ada', 10_000, () => (b.p.awareness.getStates().get(id)?.['user']?.name === 'ada' ? true : undefined));
    a.p.destroy();
    await eventually('ada is gone in apac', 10_000, () => (b.p.awareness.getStates().has(id) ? undefined : true));
  });

  it('an awareness state echoed back by other clients is relayed once, not once per client', async () => {
    const a = provider('echo', 'wnam');
    const b = provider('echo', 'wnam');
    await Promise.all([synced(a.p), synced(b.p)]);
    const observer = await raw(`/v1/${NS}/ws/echo?region=wnam&token=${write}`);
    const entriesOf = (m: Buffer) => (m[0] === 1 ? readAwarenessFrame(m) : []);
    a.p.awareness.setLocalStateField('user', { name: 'ada' });
    const clock = a.p.awareness.meta.get(a.doc.clientID)!.clock;
    await eventually('b sees ada', 10_000, () => (b.p.awareness.getStates().get(a.doc.clientID) ? true : undefined));
    // B's provider echoes ada's state to the server; B's own state, sent after, marks that its echo was handled.
    b.p.awareness.setLocalStateField('user', { name: 'bob' });
    await eventually('the observer sees bob', 10_000, () => (observer.messages.some((m) => entriesOf(m).some((x) => x.clientID === b.doc.clientID && x.state.includes('bob'))) ? true : undefined));
    const adaAtClock = observer.messages.flatMap(entriesOf).filter((x) => x.clientID === a.doc.clientID && x.clock === clock);
    expect(adaAtClock.length).toBe(1);
  });

  it('presence too large to keep in the attachment, on the longest key, is still relayed, and its departure announced', async () => {
    // The longest key, of characters outside Latin-1 (two bytes each in the attachment).
    const key = encodeURIComponent('€'.repeat(512));
    const speaker = await raw(`/v1/${NS}/ws/${key}?token=${write}`);
    const listener = await raw(`/v1/${NS}/ws/${key}?token=${write}`);
    // 15,600 bytes in the attachment beside the key: over its 16 KiB, were the state kept.
    const state = JSON.stringify({ user: { name: '€'.repeat(7800) } });
    speaker.ws.send(awarenessMessage([{ clientID: 4242, clock: 1, state }]));
    await eventually('the listener hears it', 10_000, () => (listener.messages.some((m) => m[0] === 1 && readAwarenessFrame(m).some((e) => e.clientID === 4242)) ? true : undefined));
    expect(speaker.ws.readyState).toBe(WebSocket.OPEN);
    speaker.ws.close(1000);
    // Its departure is announced from what the attachment kept (the id and clock, without the state).
    await eventually('the listener hears it leave', 10_000, () => (listener.messages.some((m) => m[0] === 1 && readAwarenessFrame(m).some((e) => e.clientID === 4242 && e.state === 'null')) ? true : undefined));
    listener.ws.close(1000);
  });

  it('a token in the query, as a subprotocol, or none: read and write as granted, refusals as close codes', async () => {
    // A bearer subprotocol, offered beside `concord`, which the answer selects.
    const sub = await raw(`/v1/${NS}/ws/tok?region=wnam`, ['concord', `concord.bearer.${write}`]);
    expect(sub.ws.protocol).toBe('concord');
    sub.ws.close(1000);
    const none = await raw(`/v1/${NS}/ws/tok`);
    expect((await withTimeout(none.closed, 10_000, 'close without a token')).code).toBe(4401);
    const forbidden = await raw(`/v1/${NS}/ws/tok?token=${other}`);
    expect(await withTimeout(forbidden.closed, 10_000, 'close for another namespace')).toMatchObject({ code: 4403 });
    const noUpgrade = await fetch(`${dev.url}/v1/${NS}/ws/tok?token=${write}`);
    expect(noUpgrade.status).toBe(426);
  });

  it('a read-only token receives changes but may not write, and nothing it sent is stored', async () => {
    const writer = provider('ro', 'wnam');
    await synced(writer.p);
    writer.doc.getText('text').insert(0, 'hello');
    await eventually('stored', 10_000, async () => ((await serverText('ro', 'weur')) === 'hello' ? true : undefined));
    const reader = provider('ro', 'weur', read);
    await synced(reader.p);
    await eventually('the reader sees the text', 10_000, () => (reader.doc.getText('text').toString() === 'hello' ? true : undefined));
    // A raw read-only socket sending an update is closed with 1008.
    const s = await raw(`/v1/${NS}/ws/ro?region=weur&token=${read}`);
    const evil = new Y.Doc();
    evil.getText('text').insert(0, 'evil ');
    s.ws.send(frame(0, 2, Y.encodeStateAsUpdate(evil)));
    expect(await withTimeout(s.closed, 10_000, 'read-only close')).toMatchObject({ code: 1008 });
    expect(await serverText('ro', 'weur')).toBe('hello');
  });

  it('malformed, text and oversized frames close that socket only; the document and the other sockets go on', async () => {
    const keeper = provider('bad', 'wnam');
    await synced(keeper.p);
    keeper.doc.getText('text').insert(0, 'kept');
    await eventually('stored', 10_000, async () => ((await serverText('bad', 'wnam')) === 'kept' ? true : undefined));
    const url = `/v1/${NS}/ws/bad?region=wnam&token=${write}`;

    const garbage = await raw(url);
    garbage.ws.send(Buffer.from([0x07, 0x01, 0x02]));
    expect(await withTimeout(garbage.closed, 10_000, 'unknown type')).toMatchObject({ code: 1002 });

    const truncated = await raw(url);
    truncated.ws.send(Buffer.from([0x00, 0x02, 0x10, 0x01]));
    expect(await withTimeout(truncated.closed, 10_000, 'truncated')).toMatchObject({ code: 1002 });

    const junkUpdate = await raw(url);
    junkUpdate.ws.send(frame(0, 2, new Uint8Array([0xff, 0xff, 0xff, 0x01])));
    expect(await withTimeout(junkUpdate.closed, 10_000, 'undecodable update')).toMatchObject({ code: 1007 });

    const text = await raw(url);
    text.ws.send('hello');
    expect(await withTimeout(text.closed, 10_000, 'text frame')).toMatchObject({ code: 1003 });

    const big = await raw(url);
    big.ws.send(frame(0, 2, new Uint8Array(MAX_WS_MESSAGE_BYTES + 1)));
    expect(await withTimeout(big.closed, 10_000, 'oversized')).toMatchObject({ code: 1009 });

    expect(await serverText('bad', 'wnam')).toBe('kept');
    keeper.doc.getText('text').insert(4, '!');
    await eventually('the other socket still syncs', 10_000, async () => ((await serverText('bad', 'wnam')) === 'kept!' ? true : undefined));
  });

  it('an update building on content the member lacks is answered with a sync step 1, not stored, and taken once the client sends what it lacks', async () => {
    const url = `/v1/${NS}/ws/deps?region=apac&token=${write}`;
    const base = new Y.Doc();
    base.getText('text').insert(0, 'base');
    const next = new Y.Doc();
    Y.applyUpdate(next, Y.encodeStateAsUpdate(base));
    const before = Y.encodeStateVector(next);
    next.getText('text').insert(4, '+more');
    const onlyMore = Y.encodeStateAsUpdate(next, before);
    const s = await raw(url);
    // The greeting: the member's step 1 (type 0, step 0).
    await eventually('greeting', 10_000, () => (s.messages.length >= 1 ? true : undefined));
    const greeted = s.messages.length;
    s.ws.send(frame(0, 2, onlyMore));
    const asked = await eventually('a step 1 in answer', 10_000, () => (s.messages.length > greeted ? s.messages[greeted]! : undefined));
    expect([...asked.subarray(0, 2)]).toEqual([0, 0]);
    expect(await serverText('deps', 'apac')).toBeUndefined();
    s.ws.send(frame(0, 1, Y.encodeStateAsUpdate(next)));
    await eventually('stored whole', 10_000, async () => ((await serverText('deps', 'apac')) === 'base+more' ? true : undefined));
  });

  it('refuses a document of another engine than asked for, and sockets past MAX_SOCKETS, with close codes', async () => {
    const put = await fetch(`${dev.url}/v1/${NS}/docs/am`, { method: 'PUT', headers: { Authorization: `Bearer ${write}`, 'Content-Type': 'application/json' }, body: '{"a":1}' });
    expect(put.status).toBe(201);
    const am = await raw(`/v1/${NS}/ws/am?engine=yjs&token=${write}`);
    expect(await withTimeout(am.closed, 10_000, 'Automerge document asked for as Yjs')).toMatchObject({ code: 4409 });

    const opened = await Promise.all(Array.from({ length: MAX_SOCKETS + 5 }, () => raw(`/v1/${NS}/ws/crowd?region=apac&token=${write}`)));
    const codes: number[] = [];
    for (const s of opened) void s.closed.then((c) => codes.push(c.code));
    // The member holds other tests' sockets too, so at least the last five are refused.
    await eventually('five refused', 10_000, () => (codes.length >= 5 ? true : undefined));
    expect(new Set(codes)).toEqual(new Set([4503]));
    for (const s of opened) s.ws.close(1000);
  });

  it('a connection survives the hibernation of its object and goes on syncing', async () => {
    const a = provider('hib', 'wnam');
    const c = provider('hib', 'weur');
    await Promise.all([synced(a.p), synced(c.p)]);
    a.doc.getText('text').insert(0, 'one');
    await eventually('weur gets one', 10_000, () => (c.doc.getText('text').toString() === 'one' ? true : undefined));
    const member = (await fetch(`${dev.url}/v1/${NS}/docs/hib?region=wnam`, { headers: { Authorization: `Bearer ${write}` } })).headers.get('Concord-Member');
    const startedAt = async (): Promise<{ startedAt: number; sockets: number }> => {
      const res = await fetch(`${dev.url}/v1/cluster`, { headers: { Authorization: `Bearer ${admin}` } });
      const body = (await res.json()) as { members: { member: string; startedAt: number; sockets: number }[] };
      const m = body.members.find((x) => x.member === member);
      if (!m) throw new Error(`no stats for ${member}`);
      return m;
    };
    const before = await startedAt();
    expect(before.sockets).toBeGreaterThanOrEqual(1);
    // workerd evicts an idle object after about ten seconds; each look wakes it again, so look rarely.
    const after = await eventually('the member was evicted and woken again', 60_000, async () => {
      await new Promise((r) => setTimeout(r, 12_000));
      const s = await startedAt();
      return s.startedAt > before.startedAt ? s : undefined;
    });
    expect(after.sockets).toBe(before.sockets);
    expect(a.p.wsconnected).toBe(true);
    a.doc.getText('text').insert(3, ' two');
    await eventually('weur gets two after the hibernation', 10_000, () => (c.doc.getText('text').toString() === 'one two' ? true : undefined));
    c.doc.getText('text').insert(0, 'zero ');
    await eventually('and back', 10_000, () => (a.doc.getText('text').toString() === 'zero one two' ? true : undefined));
  }, 120_000);

  it('Automerge documents sync with Automerge\'s sync protocol: two regions converge, every region stores the result', async () => {
    const a = await automergePeer(`/v1/${NS}/ws/am-sync?engine=automerge&region=wnam&token=${write}`);
    const b = await automergePeer(`/v1/${NS}/ws/am-sync?engine=automerge&region=weur&token=${write}`);
    a.change((d) => {
      d['west'] = 1;
    });
    b.change((d) => {
      d['east'] = 2;
    });
    const want = { east: 2, west: 1 };
    await eventually('both peers converge', 20_000, () => (JSON.stringify(A.toJS(a.doc())) === JSON.stringify(want) && JSON.stringify(A.toJS(b.doc())) === JSON.stringify(want) ? true : undefined));
    for (const region of ['wnam', 'weur', 'apac']) {
      await eventually(`${region} stores both`, 20_000, async () => {
        const res = await fetch(`${dev.url}/v1/${NS}/docs/am-sync?region=${region}`, { headers: { Authorization: `Bearer ${write}` } });
        return res.status === 200 && JSON.stringify(await res.json()) === JSON.stringify(want) ? true : undefined;
      });
    }
    // A change made over HTTP reaches the sockets too.
    const res = await fetch(`${dev.url}/v1/${NS}/docs/am-sync?region=apac`, { method: 'PATCH', headers: { Authorization: `Bearer ${write}`, 'Content-Type': 'application/merge-patch+json' }, body: '{"south":3}' });
    expect(res.status).toBe(200);
    await eventually('the sockets get the HTTP change', 20_000, () => ((A.toJS(a.doc()) as { south?: number }).south === 3 && (A.toJS(b.doc()) as { south?: number }).south === 3 ? true : undefined));
    // A read-only peer receives, and is closed when it sends changes.
    const reader = await automergePeer(`/v1/${NS}/ws/am-sync?region=apac&token=${read}`);
    await eventually('the reader syncs', 20_000, () => ((A.toJS(reader.doc()) as { south?: number }).south === 3 ? true : undefined));
    reader.change((d) => {
      d['evil'] = true;
    });
    expect(await withTimeout(reader.closed, 10_000, 'read-only Automerge close')).toMatchObject({ code: 1008 });
  });

  /** A client running Automerge's sync loop over a raw socket, as the README describes it. */
  async function automergePeer(path: string): Promise<{ doc: () => A.Doc<Record<string, unknown>>; change: (f: (d: Record<string, unknown>) => void) => void; closed: Promise<{ code: number }> }> {
    const s = await raw(path);
    let doc = A.init<Record<string, unknown>>();
    let state = A.initSyncState();
    const flush = (): void => {
      const [next, message] = A.generateSyncMessage(doc, state);
      state = next;
      if (message) s.ws.send(message);
    };
    const receive = (m: Buffer): void => {
      [doc, state] = A.receiveSyncMessage(doc, state, new Uint8Array(m));
      flush();
    };
    s.ws.removeAllListeners('message');
    for (const m of s.messages.splice(0)) receive(m);
    s.ws.on('message', receive);
    flush();
    return {
      doc: () => doc,
      change: (f) => {
        doc = A.change(doc, f);
        flush();
      },
      closed: s.closed,
    };
  }

  it('a client cannot smuggle the edge\'s internal headers to a member', async () => {
    // A write token for this namespace asks, through its own upgrade, for a feed or a socket of a namespace it was not granted.
    const smuggled = new WebSocket(`${wsBase()}/v1/${NS}/ws/own?token=${write}`, {
      headers: {
        'Concord-Events': JSON.stringify({ ns: 'secret', key: 'doc', token: {} }),
        'Concord-Socket-Protocol': 'evil',
      },
    });
    sockets.push(smuggled);
    const got: Buffer[] = [];
    smuggled.on('message', (m: Buffer) => got.push(m));
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        smuggled.on('open', () => resolve());
        smuggled.on('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}: not a socket`)));
        smuggled.on('error', reject);
      }),
      10_000,
      'the socket opens',
    );
    // A y-websocket greeting (sync step 1) for its own document, not a change feed of another.
    await eventually('the greeting', 10_000, () => got[0]);
    expect([...got[0]!.subarray(0, 2)]).toEqual([0, 0]);
    expect(smuggled.protocol).toBe('');
    smuggled.close(1000);
  });

  it('answers a client close without a status code at once', async () => {
    const s = await raw(`/v1/${NS}/ws/bye?token=${write}`);
    const started = Date.now();
    s.ws.close();
    const { code } = await withTimeout(s.closed, 5_000, 'the server answers the close');
    expect(code).toBe(1000);
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

/** The entries of a y-websocket awareness frame (type 1), read with y-protocols' own decoder. */
function readAwarenessFrame(m: Buffer): { clientID: number; clock: number; state: string }[] {
  const d = decoding.createDecoder(new Uint8Array(m));
  decoding.readVarUint(d);
  const u = decoding.createDecoder(decoding.readVarUint8Array(d));
  const n = decoding.readVarUint(u);
  const out: { clientID: number; clock: number; state: string }[] = [];
  for (let i = 0; i < n; i++) out.push({ clientID: decoding.readVarUint(u), clock: decoding.readVarUint(u), state: decoding.readVarString(u) });
  return out;
}

/** A y-websocket awareness frame (type 1) of `entries`, written with lib0's encoder as y-protocols does. */
function awarenessMessage(entries: { clientID: number; clock: number; state: string }[]): Uint8Array {
  const u = encoding.createEncoder();
  encoding.writeVarUint(u, entries.length);
  for (const e of entries) {
    encoding.writeVarUint(u, e.clientID);
    encoding.writeVarUint(u, e.clock);
    encoding.writeVarString(u, e.state);
  }
  const f = encoding.createEncoder();
  encoding.writeVarUint(f, 1);
  encoding.writeVarUint8Array(f, encoding.toUint8Array(u));
  return encoding.toUint8Array(f);
}
