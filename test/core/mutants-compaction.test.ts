/**
 * `planCompaction` case by case: written to kill the mutants Stryker found surviving
 * (`npm run mutate`, see MUTANTS.md).
 */
import { describe, expect, it } from 'vitest';
import { type CompactionInput, planCompaction } from '../../src/core/compaction.js';
import { memberId } from '../../src/core/ids.js';
import type { LogEntry } from '../../src/core/log.js';
import { emptyVV, type VersionVector } from '../../src/core/version-vector.js';

const vv = (o: Record<string, number>): VersionVector => o as VersionVector;

function entry(origin: string, seq: number): LogEntry {
  return { origin: memberId(origin), seq, doc: 'd/k' as LogEntry['doc'], hlc: seq, deps: emptyVV, engine: 'yjs', kind: 'update', data: new Uint8Array(10) };
}

function input(over: Partial<CompactionInput>): CompactionInput {
  return {
    known: [],
    vv: emptyVV,
    horizon: emptyVV,
    logBytes: 0,
    logMaxBytes: 1000,
    oldest: () => {
      throw new Error('the log is under its bound: nothing to scan');
    },
    ...over,
  };
}

describe('planCompaction', () => {
  it('moves the horizon to what every member has', () => {
    const plan = planCompaction(input({ known: [vv({ a: 5, b: 2 }), vv({ a: 3, b: 4, c: 1 })], vv: vv({ a: 5, b: 4 }) }));
    expect(plan).toEqual({ a: 3, b: 2 });
  });

  it('never past what this replica has applied', () => {
    const plan = planCompaction(input({ known: [vv({ a: 5, b: 2 }), vv({ a: 5, b: 2 })], vv: vv({ a: 3 }) }));
    expect(plan).toEqual({ a: 3 });
  });

  it('answers undefined when the horizon would not move, and keeps what it already had', () => {
    expect(planCompaction(input({ known: [vv({ a: 3 })], vv: vv({ a: 3 }), horizon: vv({ a: 3 }) }))).toBeUndefined();
    expect(planCompaction(input({ known: [vv({ a: 2 })], vv: vv({ a: 3 }), horizon: vv({ a: 3 }) }))).toBeUndefined();
    expect(planCompaction(input({ known: [vv({ a: 4, b: 1 })], vv: vv({ a: 4, b: 1 }), horizon: vv({ a: 5 }) }))).toEqual({ a: 5, b: 1 });
  });

  it('nothing known in common: nothing to drop', () => {
    expect(planCompaction(input({ known: [vv({ a: 3 }), emptyVV], vv: vv({ a: 3 }) }))).toBeUndefined();
  });

  it('a log exactly at its bound is not cut', () => {
    expect(planCompaction(input({ known: [emptyVV], vv: vv({ a: 9 }), logBytes: 1000, logMaxBytes: 1000 }))).toBeUndefined();
  });

  it('past its bound, the oldest entries go until the log is back to half the bound', () => {
    const asked: number[] = [];
    const plan = planCompaction(
      input({
        known: [vv({ a: 1 }), emptyVV],
        vv: vv({ a: 9, b: 4 }),
        logBytes: 1001,
        logMaxBytes: 1000,
        oldest: (bytes) => {
          asked.push(bytes);
          return [entry('a', 2), entry('b', 1), entry('a', 3), entry('b', 2)];
        },
      }),
    );
    expect(asked).toEqual([501]);
    expect(plan).toEqual({ a: 3, b: 2 });
  });

  it('past its bound, what the oldest entries reach is still bounded by what was applied', () => {
    const plan = planCompaction(
      input({ known: [emptyVV], vv: vv({ a: 2 }), logBytes: 3000, logMaxBytes: 1000, oldest: () => [entry('a', 5)] }),
    );
    expect(plan).toEqual({ a: 2 });
  });
});
