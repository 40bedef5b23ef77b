import { runInDurableObject } from 'cloudflare:test';
import * as Y from 'yjs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { EngineName } from '../../src/core/engines/engine.js';
import { docKey } from '../../src/core/ids.js';
import type { LogEntry } from '../../src/core/log.js';
import type { Replica } from '../../src/core/replica.js';
import { shard } from '../../src/core/routing.js';
import { equals } from '../../src/core/version-vector.js';
import { call, expectProblem, writeToken } from './helpers.js';
import { REGIONS, setFaults, SHARDS, stats, stub, waitFor } from './members.js';

/**
 * Two regions create one key at once with different engines (README, "One engine per key,
 * even under races"). Which creation is first is read from the entries' own stamps, not
 * assumed from the order of the requests.
 */
const NS = 'demo-race';
const S = 3;
const keyOn = (prefix: string): string => {
  for (let i = 0; ; i++) if (shard(NS, `${prefix}-${i}`, SHARDS) === S) return `${prefix}-${i}`;
};
const TYPES = { yjs: 'application/vnd.concord.yjs', automerge: 'application/vnd.concord.automerge' } as const;

let bearer: string;
beforeAll(async () => {
  bearer = await writeToken();
});
afterEach(async () => {
  await setFaults(S, null);
});

const path = (key: string): string => `/v1/${NS}/docs/${key}`;
let yClient = 1;
function yjsBytes(value: string): Uint8Array {
  const d = new Y.Doc();
  d.clientID = yClient++;
  d.getMap('m').set('by', value);
  return Y.encodeStateAsUpdate(d);
}
/** A write of `engine` to `key` in `region`: JSON for Automerge, an update for Yjs. */
function write(engine: EngineName, key: string, region: string, value: string): Promise<Response> {
  const headers = { 'Concord-Region': region };
  if (engine === 'automerge') return call(path(key), { method: 'PATCH', token: bearer, body: JSON.stringify({ by: value }), headers: { ...headers, 'Content-Type': 'application/merge-patch+json' } });
  return call(`${path(key)}/crdt`, { method: 'POST', token: bearer, body: yjsBytes(value), headers: { ...headers, 'Content-Type': TYPES.yjs } });
}

/** The entries that created `key` at `region`'s member (read from its log before anyone synced). */
async function creations(region: string, key: string): Promise<LogEntry[]> {
  return runInDurableObject(stub(S, region), async (obj) => {
    const replica = (obj as unknown as { replica: Replica }).replica;
    return replica.entriesFor({}).entries.filter((e) => e.doc === docKey(NS, key));
  });
}
/** The earlier of two stamps in (hlc, member) order. */
const earlier = (a: LogEntry, b: LogEntry): LogEntry => (a.hlc !== b.hlc ? (a.hlc < b.hlc ? a : b) : a.origin < b.origin ? a : b);

describe('one engine per key under races', () => {
  it('every region serves the engine whose first write is earliest in (hlc, member) order and answers 409 engine-mismatch to the other', async () => {
    // Both keys are created in weur and then in apac, with the engines swapped: whichever way
    // the stamps fall (a later hlc, or the same millisecond and the member tie-break), one key
    // goes to each engine.
    const races = [
      { key: keyOn('am-first'), weur: 'automerge', apac: 'yjs' },
      { key: keyOn('y-first'), weur: 'yjs', apac: 'automerge' },
    ] as const;
    await setFaults(S, { partitions: [['wnam'], ['weur'], ['apac']] });
    for (const { key, weur, apac } of races) {
      expect((await write(weur, key, 'weur', 'weur')).status).toBe(201);
      expect((await write(apac, key, 'apac', 'apac')).status).toBe(201);
    }
    const expected = new Map<string, EngineName>();
    for (const { key } of races) {
      const [w, a] = [await creations('weur', key), await creations('apac', key)];
      expect([w.length, a.length]).toEqual([1, 1]);
      expected.set(key, earlier(w[0]!, a[0]!).engine);
    }
    expect(new Set(expected.values())).toEqual(new Set(['automerge', 'yjs']));

    await setFaults(S, null);
    await waitFor('identical vectors in every region', async () => {
      const all = await Promise.all(REGIONS.map((r) => stats(S, r)));
      return all.every((m) => equals(m.vv, all[0]!.vv));
    });
    for (const { key } of races) {
      const winner = expected.get(key)!;
      const loser: EngineName = winner === 'automerge' ? 'yjs' : 'automerge';
      for (const region of REGIONS) {
        const what = `${key} in ${region}`;
        const res = await call(`${path(key)}/crdt`, { token: bearer, headers: { 'Concord-Region': region } });
        await res.arrayBuffer();
        expect(res.status, what).toBe(200);
        expect(res.headers.get('Concord-Member'), what).toMatch(new RegExp(`:${region}$`));
        expect(res.headers.get('Content-Type'), what).toBe(TYPES[winner]);
        await expectProblem(await write(loser, key, region, `late in ${region}`), 409, 'engine-mismatch');
        const accepted = await write(winner, key, region, `late in ${region}`);
        expect(accepted.status, `${what}: ${await accepted.text()}`).toBe(200);
      }
    }
  });
});
