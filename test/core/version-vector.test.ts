import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { memberId } from '../../src/core/ids.js';
import { InvalidTokenError } from '../../src/core/errors.js';
import {
  compare,
  covers,
  decodeToken,
  encodeToken,
  equals,
  meet,
  merge,
  normalize,
  type VersionVector,
} from '../../src/core/version-vector.js';

const member = fc.constantFrom('wnam', 'weur', 'apac', 'enam', 'eeur').map(memberId);
const vector: fc.Arbitrary<VersionVector> = fc
  .dictionary(member, fc.integer({ min: 1, max: 2 ** 40 }), { maxKeys: 5 })
  .map((d) => d as VersionVector);

describe('version vectors', () => {
  it('merge is commutative, associative and idempotent', () => {
    fc.assert(
      fc.property(vector, vector, vector, (a, b, c) => {
        expect(equals(merge(a, b), merge(b, a))).toBe(true);
        expect(equals(merge(merge(a, b), c), merge(a, merge(b, c)))).toBe(true);
        expect(equals(merge(a, a), a)).toBe(true);
      }),
    );
  });

  it('merge is the least upper bound and meet the greatest lower bound', () => {
    fc.assert(
      fc.property(vector, vector, (a, b) => {
        const m = merge(a, b);
        expect(['before', 'equal']).toContain(compare(a, m));
        expect(['before', 'equal']).toContain(compare(b, m));
        const g = meet([a, b]);
        expect(['before', 'equal']).toContain(compare(g, a));
        expect(['before', 'equal']).toContain(compare(g, b));
      }),
    );
  });

  it('compare is antisymmetric and agrees with equality', () => {
    const flip = { before: 'after', after: 'before', equal: 'equal', concurrent: 'concurrent' } as const;
    fc.assert(
      fc.property(vector, vector, (a, b) => {
        expect(compare(b, a)).toBe(flip[compare(a, b)]);
        expect(compare(a, b) === 'equal').toBe(equals(a, b));
      }),
    );
  });

  it('tells concurrent vectors apart', () => {
    const a = { [memberId('wnam')]: 2 } as VersionVector;
    const b = { [memberId('weur')]: 1 } as VersionVector;
    expect(compare(a, b)).toBe('concurrent');
    expect(compare(a, merge(a, b))).toBe('before');
    expect(covers(a, { member: memberId('wnam'), seq: 2 })).toBe(true);
    expect(covers(a, { member: memberId('wnam'), seq: 3 })).toBe(false);
  });

  it('round-trips through the URL-safe causal token', () => {
    fc.assert(
      fc.property(vector, (v) => {
        const token = encodeToken(v);
        expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
        expect(normalize(decodeToken(token))).toEqual(normalize(v));
      }),
    );
  });

  it('keeps tokens compact', () => {
    const v = { wnam: 120_000, weur: 98_000, apac: 77_000 } as unknown as VersionVector;
    expect(encodeToken(v).length).toBeLessThan(40);
  });

  it('rejects tokens it did not write', () => {
    for (const bad of ['', '!!!', 'AAAA', '_w', 'ZZZZZZZZZZ']) {
      expect(() => decodeToken(bad)).toThrow(InvalidTokenError);
    }
  });
});
