import { expect, it } from 'vitest';
import { simulate } from './simulation.js';

/**
 * Registers the seeds `[from, to]` as tests of 50 seeds each. The 1,000 seeds of `npm test`
 * are spread over several files so that vitest runs them on every core.
 *
 * `SIM_SEEDS=N` in the environment keeps only the first N seeds of the range (the mutation
 * runs of `npm run mutate` use a few per file); unset, every seed runs.
 */
export function simulateSeeds(from: number, to: number): void {
  const limit = Number(process.env['SIM_SEEDS'] ?? Infinity);
  if (!(limit >= 1)) throw new Error(`SIM_SEEDS must be a positive number, not ${process.env['SIM_SEEDS']}`);
  to = Math.min(to, from + Math.floor(limit) - 1);
  for (let start = from; start <= to; start += 50) {
    const end = Math.min(to, start + 49);
    it(`seeds ${start}–${end}: every member converges and no acknowledged write is lost`, async () => {
      for (let seed = start; seed <= end; seed++) {
        const report = await simulate({ seed });
        expect(report.healRounds, `seed ${seed}`).toBeLessThanOrEqual(40);
      }
    });
  }
}
