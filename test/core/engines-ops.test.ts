/** Validation of `POST .../ops` bodies. */
import { describe, expect, it } from 'vitest';
import { hasGuards, parseOps } from '../../src/core/engines/ops.js';
import { InvalidOperationError, UnknownOperationError } from '../../src/core/errors.js';

describe('parseOps', () => {
  it('accepts the documented example', () => {
    const ops = parseOps(
      {
        ops: [
          { op: 'set', path: ['title'], value: 'Widget' },
          { op: 'delete', path: ['draft'] },
          { op: 'increment', path: ['stock'], by: -1, min: 0 },
          { op: 'splice', path: ['notes'], index: 0, delete: 0, insert: 'hello ' },
        ],
      },
      100,
    );
    expect(ops).toEqual([
      { op: 'set', path: ['title'], value: 'Widget' },
      { op: 'delete', path: ['draft'] },
      { op: 'increment', path: ['stock'], by: -1, min: 0 },
      { op: 'splice', path: ['notes'], index: 0, delete: 0, insert: 'hello ' },
    ]);
    expect(hasGuards(ops)).toBe(true);
    expect(hasGuards(ops.filter((o) => o.op !== 'increment'))).toBe(false);
  });

  it('parses JSON Pointers: escapes, empty keys, canonical integers as indexes', () => {
    const path = (p: string) => parseOps({ ops: [{ op: 'delete', path: p }] }, 1)[0]!.path;
    expect(path('/items/0')).toEqual(['items', 0]);
    expect(path('/a~1b/~0c/~01')).toEqual(['a/b', '~c', '~1']);
    expect(path('/')).toEqual(['']);
    expect(path('/x/01/-1/12')).toEqual(['x', '01', '-1', 12]);
  });

  it('defaults a splice to no deletion and no insertion', () => {
    expect(parseOps({ ops: [{ op: 'splice', path: ['t'], index: 2 }] }, 1)).toEqual([
      { op: 'splice', path: ['t'], index: 2, delete: 0, insert: '' },
    ]);
  });

  it('rejects bodies that are not a non-empty, bounded list of ops', () => {
    for (const body of [null, [], 'x', {}, { ops: {} }, { ops: [] }, { ops: [{ op: 'delete', path: ['a'] }, { op: 'delete', path: ['b'] }] }]) {
      const err = (() => {
        try {
          parseOps(body, 1);
        } catch (e) {
          return e;
        }
      })();
      expect(err, JSON.stringify(body)).toBeInstanceOf(InvalidOperationError);
      expect((err as InvalidOperationError).index).toBe(-1);
    }
  });

  it('names unknown operations', () => {
    let err: unknown;
    try {
      parseOps({ ops: [{ op: 'delete', path: ['a'] }, { op: 'move', path: ['a'] }] }, 10);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UnknownOperationError);
    expect(err).toMatchObject({ op: 'move', index: 1 });
    expect(() => parseOps({ ops: [{ op: 7, path: ['a'] }] }, 10)).toThrow(UnknownOperationError);
  });

  it('rejects missing and ill-typed fields with the index of the op', () => {
    const bad: unknown[] = [
      'not an object',
      { path: ['a'] },
      { op: 'set', path: ['a'] },
      { op: 'set', value: 1 },
      { op: 'set', path: [], value: 1 },
      { op: 'set', path: '', value: 1 },
      { op: 'set', path: 'a', value: 1 },
      { op: 'set', path: '/a~2', value: 1 },
      { op: 'set', path: [-1], value: 1 },
      { op: 'set', path: [1.5], value: 1 },
      { op: 'set', path: [true], value: 1 },
      { op: 'set', path: ['a'], value: undefined },
      { op: 'set', path: ['a'], value: { x: Number.NaN } },
      { op: 'set', path: ['a'], value: JSON.parse('{"__proto__": 1}') },
      { op: 'increment', path: ['a'] },
      { op: 'increment', path: ['a'], by: 1.5 },
      { op: 'increment', path: ['a'], by: '1' },
      { op: 'increment', path: ['a'], by: 1, min: 'x' },
      { op: 'increment', path: ['a'], by: 1, max: Number.POSITIVE_INFINITY },
      { op: 'increment', path: ['a'], by: 1, min: 2, max: 1 },
      { op: 'splice', path: ['a'] },
      { op: 'splice', path: ['a'], index: -1 },
      { op: 'splice', path: ['a'], index: 0, delete: 1.5 },
      { op: 'splice', path: ['a'], index: 0, insert: 5 },
      { op: 'splice', path: ['a'], index: 0, insert: [Number.NaN] },
    ];
    for (const op of bad) {
      let err: unknown;
      try {
        parseOps({ ops: [{ op: 'delete', path: ['ok'] }, op] }, 10);
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(op)).toBeInstanceOf(InvalidOperationError);
      expect((err as InvalidOperationError).index, JSON.stringify(op)).toBe(1);
    }
  });
});
