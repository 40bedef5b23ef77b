/**
 * The Concord extension of the WebSocket route (`?ext=concord`), which the browser SDK speaks:
 * an acknowledgement with a causal token once a client's update is durable, and presence for
 * Automerge documents as text frames. Raw `ws` clients against the real `wrangler dev`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as A from '@automerge/automerge';
import WebSocket from 'ws';
import * as awarenessProtocol from 'y-protocols/awareness';
import * as Y from 'yjs';
import { eventually } from './eventually.js';
import { frame } from './y-frames.js';
import { mintToken, startWrangler, type WranglerDev } from './wrangler.js';

const NS = 'ext';

interface Ack {
  type: 'ack';
  seq: number;
  token: string;
}

/** A raw socket with what it received, split into binary frames and parsed text frames. */
interface Raw {
  readonly ws: WebSocket;
  readonly binary: Uint8Array[];
  readonly text: Record<string, unknown>[];
  readonly closed: Promise<{ code: number; reason: string }>;
}

describe('the Concord extension of the WebSocket route (ext=concord)', () => {
  let dev: WranglerDev;
  let write: string;
  let read: string;
  const sockets: WebSocket[] = [];

  beforeAll(async () => {
    [dev, write, read] = await Promise.all([
      startWrangler({ env: 'test', logLevel: 'warn' }),
      mintToken('--ns', `${NS}*`, '--scope', 'write'),
      mintToken('--ns', `${NS}*`, '--scope', 'read'),
    ]);
  });
  afterAll(async () => {
    for (const s of sockets) s.terminate();
    await dev?.stop();
  });

  function open(path: string): Promise<Raw> {
    const ws = new WebSocket(`${dev.url.replace(/^http/, 'ws')}${path}`);
    sockets.push(ws);
    const raw: Raw = {
      ws,
      binary: [],
      text: [],
      closed: new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }))),
    };
    ws.on('message', (m: Buffer, isBinary: boolean) => {
      if (isBinary) raw.binary.push(new Uint8Array(m));
      else raw.text.push(JSON.parse(m.toString()) as Record<string, unknown>);
    });
    return new Promise((resolve, reject) => {
      ws.on('open', () => resolve(raw));
      ws.on('error', reject);
    });
  }

  const acks = (r: Raw): Ack[] => r.text.filter((t): t is Ack & Record<string, unknown> => t['type'] === 'ack');

  /** A y-websocket sync frame (type 0) of `step` with `payload`. */
  const syncFrame = (step: number, payload: Uint8Array): Buffer => frame(0, step, payload);

  async function readAt(key: string, region: string, token?: string): Promise<{ status: number; body: unknown }> {
    const res = await fetch(`${dev.url}/v1/${NS}/docs/${key}?region=${region}`, {
      headers: { Authorization: `Bearer ${write}`, Consistency: 'session', ...(token && { 'Concord-Token': token }) },
    });
    return { status: res.status, body: await res.json() };
  }

  it('acknowledges each Yjs update once durable, numbered by its frame, with a token that reads it back in another region', async () => {
    const s = await open(`/v1/${NS}/ws/acked?region=wnam&ext=concord&token=${write}`);
    const doc = new Y.Doc();
    // Frame 1: a step 1, which carries no update and gets no ack.
    s.ws.send(syncFrame(0, Y.encodeStateVector(doc)));
    doc.getText('text').insert(0, 'hello');
    s.ws.send(syncFrame(2, Y.encodeStateAsUpdate(doc)));
    const sv = Y.encodeStateVector(doc);
    doc.getText('text').insert(5, ' world');
    s.ws.send(syncFrame(2, Y.encodeStateAsUpdate(doc, sv)));
    await eventually('two acks', 15_000, () => (acks(s).length === 2 ? true : undefined));
    expect(acks(s).map((a) => a.seq)).toEqual([2, 3]);
    // The token of the last ack covers the update: a session read in another region sees it.
    const { status, body } = await readAt('acked', 'apac', acks(s)[1]!.token);
    expect(status).toBe(200);
    expect(body).toMatchObject({ text: 'hello world' });
  });

  it('acknowledges an update the member already had, and an empty step 2, so that a client resending after a lost ack is not left pending', async () => {
    const s = await open(`/v1/${NS}/ws/resent?region=weur&ext=concord&token=${write}`);
    const doc = new Y.Doc();
    doc.getText('text').insert(0, 'once');
    const update = Y.encodeStateAsUpdate(doc);
    s.ws.send(syncFrame(2, update));
    s.ws.send(syncFrame(2, update));
    s.ws.send(syncFrame(1, new Uint8Array([0, 0])));
    await eventually('three acks', 15_000, () => (acks(s).length === 3 ? true : undefined));
    expect(acks(s).map((a) => a.seq).sort()).toEqual([1, 2, 3]);
    // A read-only socket sends empty step 2s too (a stock provider with nothing new): no ack, no close.
    const r = await open(`/v1/${NS}/ws/resent?region=weur&ext=concord&token=${read}`);
    r.ws.send(syncFrame(1, new Uint8Array([0, 0])));
    r.ws.send(syncFrame(0, new Uint8Array([0])));
    await eventually('the step 2', 15_000, () => (r.binary.some((b) => b[0] === 0 && b[1] === 1) ? true : undefined));
    expect(acks(r)).toEqual([]);
  });

  it('sends no text frame to a client that did not ask for the extension, and refuses an unknown extension', async () => {
    const plain = await open(`/v1/${NS}/ws/plain?region=wnam&token=${write}`);
    const doc = new Y.Doc();
    doc.getText('text').insert(0, 'x');
    plain.ws.send(syncFrame(2, Y.encodeStateAsUpdate(doc)));
    // Its update is stored, and a step 1 is answered: both arrive after any ack would have.
    await eventually('stored', 15_000, async () => ((await readAt('plain', 'wnam')).status === 200 ? true : undefined));
    plain.ws.send(syncFrame(0, new Uint8Array([0])));
    await eventually('the step 2', 15_000, () => (plain.binary.some((b) => b[0] === 0 && b[1] === 1) ? true : undefined));
    expect(plain.text).toEqual([]);

    const unknown = await open(`/v1/${NS}/ws/plain?ext=other&token=${write}`);
    expect(await unknown.closed).toMatchObject({ code: 4400 });
  });

  it('acknowledges Automerge changes, and relays Automerge presence as text frames across regions', async () => {
    const a = await open(`/v1/${NS}/ws/am?engine=automerge&region=wnam&ext=concord&token=${write}`);
    const b = await open(`/v1/${NS}/ws/am?engine=automerge&region=weur&ext=concord&token=${write}`);
    // Automerge's sync loop, numbering the frames sent: the first carrying changes is acknowledged.
    let doc = A.change(A.init<{ n?: number }>(), (d) => {
      d.n = 1;
    });
    let state = A.initSyncState();
    let sent = 0;
    let withChanges: number | undefined;
    const flush = (): void => {
      const [next, message] = A.generateSyncMessage(doc, state);
      state = next;
      if (!message) return;
      a.ws.send(message);
      sent += 1;
      if (withChanges === undefined && A.decodeSyncMessage(message).changes.length > 0) withChanges = sent;
    };
    a.ws.on('message', (m: Buffer, isBinary: boolean) => {
      if (!isBinary) return;
      [doc, state] = A.receiveSyncMessage(doc, state, new Uint8Array(m));
      flush();
    });
    flush();
    const ack = await eventually('the ack', 15_000, () => acks(a)[0]);
    expect(withChanges).toBeDefined();
    expect(ack.seq).toBe(withChanges);
    expect((await readAt('am', 'apac', ack.token)).body).toEqual({ n: 1 });

    // Presence: a y-protocols awareness update, base64 in a text frame, both ways.
    const ydoc = new Y.Doc();
    const awareness = new awarenessProtocol.Awareness(ydoc);
    awareness.setLocalState({ name: 'ada' });
    const update = awarenessProtocol.encodeAwarenessUpdate(awareness, [ydoc.clientID]);
    a.ws.send(JSON.stringify({ type: 'awareness', update: Buffer.from(update).toString('base64') }));
    const seen = await eventually('presence in weur', 15_000, () => b.text.find((t) => t['type'] === 'awareness'));
    const remote = new awarenessProtocol.Awareness(new Y.Doc());
    awarenessProtocol.applyAwarenessUpdate(remote, new Uint8Array(Buffer.from(seen['update'] as string, 'base64')), 'test');
    expect(remote.getStates().get(ydoc.clientID)).toEqual({ name: 'ada' });
    // A text frame that is not one of the extension's closes that socket with a protocol error.
    b.ws.send('{"type":"nonsense"}');
    expect(await b.closed).toMatchObject({ code: 1002 });
    expect(a.ws.readyState).toBe(WebSocket.OPEN);
  });

  it('echoes a read-only client\'s presence to itself only, and sends it no ack', async () => {
    const writer = await open(`/v1/${NS}/ws/am-ro?engine=automerge&region=wnam&ext=concord&token=${write}`);
    const reader = await open(`/v1/${NS}/ws/am-ro?engine=automerge&region=wnam&ext=concord&token=${read}`);
    const ydoc = new Y.Doc();
    const awareness = new awarenessProtocol.Awareness(ydoc);
    awareness.setLocalState({ name: 'eve' });
    const update = Buffer.from(awarenessProtocol.encodeAwarenessUpdate(awareness, [ydoc.clientID])).toString('base64');
    reader.ws.send(JSON.stringify({ type: 'awareness', update }));
    await eventually('the echo', 15_000, () => reader.text.find((t) => t['type'] === 'awareness'));
    // The writer's own presence reaches the reader, which shows the reader's never reached the writer.
    awareness.setLocalState({ name: 'bob' });
    const own = Buffer.from(awarenessProtocol.encodeAwarenessUpdate(awareness, [ydoc.clientID])).toString('base64');
    writer.ws.send(JSON.stringify({ type: 'awareness', update: own }));
    await eventually('the writer hears itself', 15_000, () => writer.text.find((t) => t['type'] === 'awareness'));
    expect(writer.text.filter((t) => t['type'] === 'awareness')).toHaveLength(1);
    expect(acks(reader)).toEqual([]);
  });
});
