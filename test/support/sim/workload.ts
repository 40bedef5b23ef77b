/**
 * What simulated clients ask for. Each request carries its {@link Effect}, what it means
 * whichever member takes it, so that the checker's model (`model.ts`) can derive what every
 * document must hold from the writes alone.
 */
import * as Y from 'yjs';
import { type DocKey, docKey, memberId } from '../../../src/core/ids.js';
import type { EngineName } from '../../../src/core/engines/engine.js';
import type { Random } from '../../../src/core/ports.js';
import type { Replica, WriteResult } from '../../../src/core/replica.js';
import type { Effect } from './model.js';
import { emptyVV, leq, type VersionVector } from '../../../src/core/version-vector.js';

/** Automerge documents; the last one also sees deletes. */
export const AM_DOCS = [docKey('sim', 'a0'), docKey('sim', 'a1'), docKey('sim', 'a2'), docKey('sim', 'a3')];
/** Yjs documents; the last one also sees deletes. */
export const YJS_DOCS = [docKey('sim', 'y0'), docKey('sim', 'y1'), docKey('sim', 'y2')];
/** A key that clients create with either engine, to exercise engine conflicts. */
export const MIXED_DOC = docKey('sim', 'z0');
/** The guarded counter's document (`strong.ts`): set up like the others, then written only by majority paths. */
export const GUARDED = docKey('sim', 'g0');
export const DELETABLE = new Set<DocKey>([AM_DOCS[3]!, YJS_DOCS[2]!, MIXED_DOC]);

/**
 * A client request. `send` may be called again with the same request (a client retrying
 * after a lost reply, at the same member or another): a Yjs client sends the same update
 * bytes again, JSON operations run again as a new change, as they would over HTTP.
 */
export interface Request {
  readonly doc: DocKey;
  /** The engine the request writes with; undefined for a delete, which takes the document's. */
  readonly engine: EngineName | undefined;
  readonly effect: Effect;
  /** Undefined when there was nothing to delete. */
  send(r: Replica): WriteResult | undefined;
  /**
   * A Yjs client's document vector when it made its update (at its first send): a member that
   * lacks part of it would hold the update back until the characters around it arrive.
   */
  basis?(): VersionVector | undefined;
}

export const pick = <T>(rng: Random, xs: readonly T[]): T => xs[Math.floor(rng.next() * xs.length)]!;

/** The initial content of every Automerge document, written before any fault. */
export function setupRequests(): Request[] {
  return [...AM_DOCS, GUARDED].map((doc) => ({
    doc,
    engine: 'automerge',
    effect: { kind: 'setup' },
    send: (r) =>
      r.write(doc, 'automerge', (e) => e.applyOps([
        { op: 'set', path: ['t'], value: '' },
        { op: 'increment', path: ['c'], by: 0 },
      ])),
  }));
}

/** One random client request; `id` is unique in the run and names the fields it writes. */
export function randomRequest(rng: Random, id: number): Request {
  const roll = rng.next();
  if (roll < 0.06) return remove(pick(rng, [...DELETABLE]));
  if (roll < 0.12) return mixed(rng, id);
  if (roll < 0.14) return create(rng);
  if (roll < 0.6) return automergeWrite(rng, id, pick(rng, AM_DOCS));
  return yjsWrite(rng, id, pick(rng, YJS_DOCS));
}

/** A field written to one of `n` extra Automerge documents (the transfer scenario's bulk). */
export function bulkRequest(rng: Random, id: number, n: number): Request {
  const doc = docKey('sim', `b${String(Math.floor(rng.next() * n)).padStart(2, '0')}`);
  return {
    doc,
    engine: 'automerge',
    effect: { kind: 'field', name: `f${id}`, value: id },
    send: (r) => r.write(doc, 'automerge', (e) => e.applyOps([{ op: 'set', path: [`f${id}`], value: id }])),
  };
}

function automergeWrite(rng: Random, id: number, doc: DocKey): Request {
  const kind = rng.next();
  const base = { doc, engine: 'automerge' as const };
  if (kind < 0.35) {
    return { ...base, effect: { kind: 'field', name: `f${id}`, value: id }, send: (r) => r.write(doc, 'automerge', (e) => e.applyOps([{ op: 'set', path: [`f${id}`], value: id }])) };
  }
  if (kind < 0.55) {
    return { ...base, effect: { kind: 'field', name: `p${id}`, value: id }, send: (r) => r.write(doc, 'automerge', (e) => e.mergePatch({ [`p${id}`]: id })) };
  }
  if (kind < 0.75) {
    return { ...base, effect: { kind: 'counter' }, send: (r) => r.write(doc, 'automerge', (e) => e.applyOps([{ op: 'increment', path: ['c'], by: 1 }])) };
  }
  const at = rng.next();
  return {
    ...base,
    effect: { kind: 'text' },
    send: (r) =>
      r.write(doc, 'automerge', (e) => {
        const t = (e.toJSON()['t'] as string | undefined) ?? '';
        // Refused with path-not-found once a delete removed the text: nothing re-creates it.
        return e.applyOps([{ op: 'splice', path: ['t'], index: Math.floor(at * (t.length + 1)), delete: 0, insert: 'x' }]);
      }),
  };
}

/** A Yjs client that sets field `name` of map `m` to `value`. */
export function yjsField(rng: Random, doc: DocKey, name: string, value: number): Request {
  return yjsClient(rng, doc, { kind: 'field', name, value }, (client) => client.getMap('m').set(name, value));
}

/**
 * A Yjs client: on its first send it loads the document from that member and makes one
 * item (its own client id, so a retry carries the same item); later sends repeat the bytes.
 */
function yjsWrite(rng: Random, id: number, doc: DocKey): Request {
  const text = rng.next() < 0.4;
  const at = rng.next();
  if (!text) return yjsField(rng, doc, `f${id}`, id);
  return yjsClient(rng, doc, { kind: 'text' }, (client) => {
    const t = client.getText('t');
    t.insert(Math.floor(at * (t.length + 1)), 'x');
  });
}

/** A Yjs client with its own client id making `edit`; `effect` gets the item it makes. */
function yjsClient(rng: Random, doc: DocKey, effect: { kind: 'text' } | { kind: 'field'; name: string; value: number }, edit: (client: Y.Doc) => void): Request {
  const clientID = 1 + Math.floor(rng.next() * 0x7ffffffe);
  const item = `y${clientID}`;
  let update: Uint8Array | undefined;
  let basis: VersionVector | undefined;
  return {
    doc,
    engine: 'yjs',
    effect: { ...effect, item },
    send(r) {
      if (!update) {
        update = yjsUpdate(r, doc, clientID, edit);
        basis = r.docs.meta(doc)?.vv ?? emptyVV;
      }
      const u = update;
      return r.write(doc, 'yjs', (e) => e.applyUpdate(u));
    },
    basis: () => basis,
  };
}

function yjsUpdate(r: Replica, doc: DocKey, clientID: number, edit: (client: Y.Doc) => void): Uint8Array {
  // A fixed guid: the default one costs a crypto call per client.
  const client = new Y.Doc({ guid: 'client' });
  client.clientID = clientID;
  // Read through the member's guard: its engine may fail (an engine fault), as a client's GET would.
  if (r.read(doc)?.engine === 'yjs') Y.applyUpdate(client, r.view(doc, (s) => s.save())!);
  let update: Uint8Array | undefined;
  client.on('update', (u: Uint8Array) => {
    update = update ? Y.mergeUpdates([update, u]) : u;
  });
  edit(client);
  client.destroy();
  return update!;
}

/** Either engine on one key: the first creator (by hybrid time) wins, the other is refused. */
function mixed(rng: Random, id: number): Request {
  if (rng.next() < 0.5) {
    return {
      doc: MIXED_DOC,
      engine: 'automerge',
      effect: { kind: 'field', name: `p${id}`, value: id },
      send: (r) => r.write(MIXED_DOC, 'automerge', (e) => e.mergePatch({ [`p${id}`]: id })),
    };
  }
  const clientID = 1 + Math.floor(rng.next() * 0x7ffffffe);
  // A fixed guid: the default one costs a crypto call per client.
  const client = new Y.Doc({ guid: 'client' });
  client.clientID = clientID;
  client.getMap('m').set(`f${id}`, id);
  const update = Y.encodeStateAsUpdate(client);
  client.destroy();
  return {
    doc: MIXED_DOC,
    engine: 'yjs',
    effect: { kind: 'field', name: `f${id}`, value: id, item: `y${clientID}` },
    send: (r) => r.write(MIXED_DOC, 'yjs', (e) => e.applyUpdate(update)),
  };
}

/** `PUT {}` on a key: an entry without engine bytes, which still makes the document live and may decide its engine. */
function create(rng: Random): Request {
  const doc = pick(rng, [MIXED_DOC, YJS_DOCS[2]!, AM_DOCS[3]!]);
  const engine: EngineName = doc === MIXED_DOC ? pick(rng, ['automerge', 'yjs'] as const) : doc === AM_DOCS[3] ? 'automerge' : 'yjs';
  return { doc, engine, effect: { kind: 'create' }, send: (r) => r.create(doc, engine) };
}

function remove(doc: DocKey): Request {
  return { doc, engine: undefined, effect: { kind: 'delete' }, send: (r) => r.remove(doc) };
}

export const memberIds = (n: number) => ['wnam', 'weur', 'apac', 'enam', 'eeur'].slice(0, n).map(memberId);
