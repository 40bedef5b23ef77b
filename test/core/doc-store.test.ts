import { describe, expect, it } from 'vitest';
import { docKey } from '../../src/core/ids.js';
import { member } from '../support/cluster.js';

describe('document cache', () => {
  it('returns the memory of evicted engines: touching many documents does not grow wasm memory', () => {
    const m = member('wnam', ['wnam', 'weur'], { docCache: 4 });
    const touch = (from: number, to: number) => {
      for (let i = from; i < to; i++) {
        m.replica.write(docKey('mem', `d${i}`), 'automerge', (e) => e.mergePatch({ text: 'x'.repeat(2000), i }));
      }
    };
    touch(0, 100);
    const before = process.memoryUsage().external;
    touch(100, 700);
    const grown = process.memoryUsage().external - before;
    // Without freeing, 600 evicted documents keep several MB of wasm memory alive.
    expect(grown).toBeLessThan(2 * 1024 * 1024);
    expect(m.replica.json(docKey('mem', 'd3'))).toEqual({ text: 'x'.repeat(2000), i: 3 });
  });

  it('keeps the sorted keys in order as documents are created after they were listed', () => {
    const m = member('wnam', ['wnam', 'weur']);
    const keys = ['m', 'c', 'x', 'a', 'n', 'z', 'b'].map((k) => docKey('ns', k));
    const write = (k: (typeof keys)[number]) => m.replica.write(k, 'automerge', (e) => e.mergePatch({ k }));
    write(keys[0]!);
    expect(m.replica.docs.sortedKeys()).toEqual([keys[0]]);
    for (const k of keys.slice(1)) {
      write(k);
      expect(m.replica.docs.sortedKeys()).toEqual([...m.replica.docs.all()].map((d) => d.doc).sort());
    }
    expect(m.replica.docs.sortedKeys()).toHaveLength(keys.length);
  });
});
