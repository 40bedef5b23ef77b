import { describe, expect, it } from 'vitest';
import { fnv1a64, jumpHash, majority, memberName, parseMemberName, shard } from '../../src/core/routing.js';
import { memberId, shardId } from '../../src/core/ids.js';

describe('routing', () => {
  it('hashes with FNV-1a 64 (published test vectors)', () => {
    const enc = new TextEncoder();
    expect(fnv1a64(enc.encode(''))).toBe(0xcbf29ce484222325n);
    expect(fnv1a64(enc.encode('a'))).toBe(0xaf63dc4c8601ec8cn);
    expect(fnv1a64(enc.encode('foobar'))).toBe(0x85944171f73967e8n);
  });

  it('places keys on the same shards in every process and version (fixed vectors)', () => {
    // Frozen: a change here would move stored documents to other shards.
    expect(shard('demo', 'doc-1', 16)).toBe(8);
    expect(shard('demo', 'cart:42', 64)).toBe(3);
    expect(shard('app', 'ü-ключ', 8)).toBe(0);
    expect(shard('x', '', 1)).toBe(0);
  });

  it('spreads keys evenly and moves few keys when shards grow', () => {
    const counts = new Array(16).fill(0);
    let moved = 0;
    for (let i = 0; i < 16_000; i++) {
      const s = shard('ns', `k${i}`, 16);
      counts[s]++;
      if (shard('ns', `k${i}`, 17) !== s) moved++;
    }
    for (const c of counts) expect(c).toBeGreaterThan(800);
    expect(moved / 16_000).toBeLessThan(0.1);
  });

  it('jump hash stays within its buckets', () => {
    for (let i = 0n; i < 1000n; i++) {
      const b = jumpHash(i * 0x9e3779b97f4a7c15n, 7);
      expect(b).toBeGreaterThanOrEqual(0);
      expect(b).toBeLessThan(7);
    }
  });

  it('names members as DESIGN.md says and parses the names back', () => {
    expect(memberName(shardId(3), memberId('weur'))).toBe('replica:3:weur');
    expect(parseMemberName('replica:3:weur')).toEqual({ shard: 3, region: 'weur' });
    expect(parseMemberName('replica:x:weur')).toBeUndefined();
    expect([1, 2, 3, 4, 5].map(majority)).toEqual([1, 2, 2, 3, 3]);
  });
});
