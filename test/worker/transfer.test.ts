import * as Y from 'yjs';
import { afterEach, describe, expect, it } from 'vitest';
import { memberId } from '../../src/core/ids.js';
import { shard } from '../../src/core/routing.js';
import { equals, get } from '../../src/core/version-vector.js';
import { at, call, ok, REGIONS, setFaults, SHARDS, stats, waitFor } from './members.js';

const NS = 'xfer';
// 84 documents of 1,000,000 characters: 84 MB (80.1 MiB), each body under MAX_BODY_BYTES.
const DOCS = 84;
const SIZE = 1_000_000;
const S = 1;
const KEYS = Array.from({ length: 1000 }, (_, i) => `big-${i}`)
  .filter((k) => shard(NS, k, SHARDS) === S)
  .slice(0, DOCS);

/** Document `i`'s body: distinct per document and position, so that a mix-up or truncation shows. */
function body(i: number): string {
  const unit = `<${i}:abcdefghijklmnopqrstuvwxyz0123456789>`;
  return unit.repeat(Math.ceil(SIZE / unit.length)).slice(0, SIZE);
}

function update(i: number): Uint8Array {
  const d = new Y.Doc({ guid: KEYS[i]! });
  d.getMap('m').set('body', body(i));
  return Y.encodeStateAsUpdate(d);
}

async function bodyAt(region: string, key: string): Promise<unknown> {
  const res = await call(region, { op: 'get', ...at('eventual', NS, key) });
  return res.ok ? (res.result.json?.['m'] as { body?: string } | undefined)?.body : undefined;
}

afterEach(async () => {
  for (let s = 0; s < SHARDS; s++) await setFaults(s, null);
});

describe('catch-up by state transfer', () => {
  it('a region cut off while 80 MiB is written catches up after the heal', { timeout: 150_000 }, async () => {
    expect(KEYS).toHaveLength(DOCS);
    await setFaults(S, { partitions: [['wnam', 'weur'], ['apac']] });
    const apacBefore = (await stats(S, 'apac')).vv;
    for (const [i, key] of KEYS.entries()) {
      await ok(i % 2 ? 'weur' : 'wnam', { op: 'postCrdt', ...at('eventual', NS, key), engine: 'yjs', bytes: update(i) });
    }
    const wnam = await stats(S, 'wnam');
    expect((await stats(S, 'apac')).vv).toEqual(apacBefore);
    // The log holds at most LOG_MAX_BYTES (64 KiB): what apac lacks is gone from it.
    expect(get(wnam.horizon, memberId('wnam'))).toBeGreaterThan(get(apacBefore, memberId('wnam')));

    await setFaults(S, null);
    const first = [...KEYS].sort()[0]!;
    let servedMidway = false;
    await waitFor(
      'apac has every write of wnam and weur',
      async () => {
        const [a, w, e] = await Promise.all(['apac', 'wnam', 'weur'].map((r) => stats(S, r)));
        if (!servedMidway && a!.transfer && a!.transfer.docs > 0) {
          // Documents of earlier chunks are served before the transfer ends (the first key came first).
          expect(await bodyAt('apac', first)).toBe(body(KEYS.indexOf(first)));
          servedMidway = true;
        }
        return equals(a!.vv, w!.vv) && equals(a!.vv, e!.vv) && !a!.transfer;
      },
      120_000,
    );
    expect(servedMidway).toBe(true);
    for (const [i, key] of KEYS.entries()) {
      for (const region of REGIONS) expect(await bodyAt(region, key), `${key} at ${region}`).toBe(body(i));
    }
  });
});
