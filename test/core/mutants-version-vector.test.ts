/**
 * Version vectors at their edges (zeros, absent members, identity, member order, the binary
 * form): written to kill the mutants Stryker found surviving (`npm run mutate`, see
 * MUTANTS.md).
 */
import { describe, expect, it } from 'vitest';
import { InvalidTokenError } from '../../src/core/errors.js';
import { memberId } from '../../src/core/ids.js';
import {
  compare,
  covers,
  decodeToken,
  emptyVV,
  encodeToken,
  equals,
  get,
  leq,
  meet,
  members,
  merge,
  normalize,
  readVV,
  type VersionVector,
  withDot,
  writeVV,
} from '../../src/core/version-vector.js';
import { ByteReader, ByteWriter, toBase64Url } from '../../src/core/wire/bytes.js';

const vv = (o: Record<string, number>): VersionVector => o as VersionVector;
const a = memberId('a');
const b = memberId('b');

function bytesOf(write: (w: ByteWriter) => void): Uint8Array {
  const w = new ByteWriter();
  write(w);
  return w.finish();
}

describe('version vectors: edges', () => {
  it('an absent member is at 0, the empty vector is frozen and empty', () => {
    expect(get(vv({ a: 3 }), b)).toBe(0);
    expect(get(vv({ a: 3 }), a)).toBe(3);
    expect(Object.isFrozen(emptyVV)).toBe(true);
    expect(members(emptyVV)).toEqual([]);
  });

  it('withDot raises a member, and returns the same vector when it would not rise', () => {
    const v = vv({ a: 3 });
    expect(withDot(v, a, 3)).toBe(v);
    expect(withDot(v, a, 2)).toBe(v);
    expect(withDot(v, a, 4)).toEqual({ a: 4 });
    expect(withDot(v, b, 1)).toEqual({ a: 3, b: 1 });
    expect(v).toEqual({ a: 3 });
  });

  it('covers is inclusive', () => {
    expect(covers(vv({ a: 3 }), { member: a, seq: 3 })).toBe(true);
    expect(covers(vv({ a: 3 }), { member: a, seq: 4 })).toBe(false);
    expect(covers(emptyVV, { member: a, seq: 1 })).toBe(false);
  });

  it('merge returns its first argument itself when the second adds nothing, and never changes either', () => {
    const x = vv({ a: 3, b: 1 });
    const y = vv({ a: 3 });
    expect(merge(x, y)).toBe(x);
    expect(merge(x, vv({ a: 2, b: 1 }))).toBe(x);
    expect(merge(x, emptyVV)).toBe(x);
    const m = merge(y, x);
    expect(m).toEqual({ a: 3, b: 1 });
    expect(m).not.toBe(x);
    expect(y).toEqual({ a: 3 });
    expect(merge(vv({ a: 1, b: 5 }), vv({ a: 4, b: 2 }))).toEqual({ a: 4, b: 5 });
  });

  it('meet drops members absent anywhere, keeps no zeros, and is empty for no vectors', () => {
    expect(meet([])).toBe(emptyVV);
    expect(meet([vv({ a: 3, b: 2 })])).toEqual({ a: 3, b: 2 });
    expect(meet([vv({ a: 3, b: 2 }), vv({ a: 5 })])).toEqual({ a: 3 });
    expect(meet([vv({ a: 3 }), vv({ a: 5, b: 1 }), vv({ a: 2, b: 7 })])).toEqual({ a: 2 });
    expect(Object.keys(meet([vv({ a: 1 }), vv({ b: 1 })]))).toEqual([]);
  });

  it('leq and compare at equality and on absent members', () => {
    expect(leq(vv({ a: 3 }), vv({ a: 3 }))).toBe(true);
    expect(leq(vv({ a: 4 }), vv({ a: 3 }))).toBe(false);
    expect(leq(vv({ b: 1 }), vv({ a: 3 }))).toBe(false);
    expect(leq(emptyVV, vv({ a: 3 }))).toBe(true);
    expect(compare(vv({ a: 3 }), vv({ a: 3 }))).toBe('equal');
    expect(compare(vv({ a: 2 }), vv({ a: 3 }))).toBe('before');
    expect(compare(vv({ a: 3 }), vv({ a: 2 }))).toBe('after');
    expect(compare(vv({ a: 3 }), vv({ b: 2 }))).toBe('concurrent');
    expect(equals(vv({ a: 3 }), vv({ a: 3, b: 1 }))).toBe(false);
    expect(equals(vv({ a: 3, b: 1 }), vv({ a: 3 }))).toBe(false);
  });

  it('normalize sorts members and drops zeros', () => {
    const n = normalize(vv({ c: 1, a: 2, b: 0 }));
    expect(Object.keys(n)).toEqual(['a', 'c']);
    expect(n).toEqual({ a: 2, c: 1 });
  });

  it('the binary form lists members sorted, without zeros: one vector, one encoding', () => {
    const bytes = bytesOf((w) => writeVV(w, vv({ b: 2, a: 1, c: 0 })));
    expect(bytes).toEqual(bytesOf((w) => w.uint(2).string('a').uint(1).string('b').uint(2)));
    expect(encodeToken(vv({ b: 2, a: 1 }))).toBe(encodeToken(vv({ a: 1, b: 2 })));
    expect(encodeToken(emptyVV)).toBe('AA');
  });

  it('reading keeps the highest of repeated members and ignores zeros', () => {
    const bytes = bytesOf((w) => w.uint(4).string('a').uint(2).string('a').uint(5).string('a').uint(3).string('b').uint(0));
    const r = new ByteReader(bytes);
    const read = readVV(r);
    r.end();
    expect(read).toEqual({ a: 5 });
    expect(Object.keys(read)).toEqual(['a']);
  });

  it('a token decodes to its vector; bytes that are no vector or have bytes left over are refused', () => {
    expect(decodeToken(encodeToken(vv({ a: 7, b: 1 })))).toEqual({ a: 7, b: 1 });
    expect(decodeToken('AA')).toEqual({});
    const trailing = toBase64Url(bytesOf((w) => w.uint(0).uint(1)));
    expect(() => decodeToken(trailing)).toThrow(new InvalidTokenError('causal token does not decode'));
    const truncated = toBase64Url(bytesOf((w) => w.uint(2).string('a').uint(1)));
    expect(() => decodeToken(truncated)).toThrow(new InvalidTokenError('causal token does not decode'));
    expect(() => decodeToken('')).toThrow(new InvalidTokenError('causal token is not base64url'));
    expect(() => decodeToken('!!')).toThrow(new InvalidTokenError('causal token is not base64url'));
  });
});
