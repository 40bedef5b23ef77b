import { expect, it } from 'vitest';
import { simulate } from './simulation.js';

/**
 * Registers the seeds `[from, to]` as tests of 50 seeds each. The 1,000 seeds of `npm test`
 * are spread over several files so that vitest runs them on every core.
 */
export function simulateSeeds(from: number, to: number): void {
  for (let start = from; start <= to; start += 50) {
    const end = Math.min(to, start + 49);
    it(`seeds ${start}–${end}: every member converges and no acknowledged write is lost`, () => {
      for (let seed = start; seed <= end; seed++) {
        const report = simulate({ seed });
        expect(report.healRounds, `seed ${seed}`).toBeLessThanOrEqual(40);
      }
    });
  }
}
