import { describe, expect, it } from 'vitest';
import { simulate } from '../support/sim/simulation.js';

const SEEDS = 1000;
const CHUNKS = 10;

describe('deterministic simulator', () => {
  for (let c = 0; c < CHUNKS; c++) {
    const from = 1 + (c * SEEDS) / CHUNKS;
    const to = from + SEEDS / CHUNKS - 1;
    it(`seeds ${from}–${to}: every member converges and no acknowledged write is lost`, () => {
      for (let seed = from; seed <= to; seed++) {
        const report = simulate({ seed });
        expect(report.healRounds, `seed ${seed}`).toBeLessThanOrEqual(40);
      }
    });
  }

  it('replays a seed identically', () => {
    expect(simulate({ seed: 4242 })).toEqual(simulate({ seed: 4242 }));
  });
});
