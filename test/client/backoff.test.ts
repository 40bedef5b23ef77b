import { describe, expect, it } from 'vitest';
import { backoffCeiling, backoffDelay, DEFAULT_BACKOFF } from '../../client/index.js';

describe('reconnect backoff: exponential, full jitter, capped', () => {
  const opts = { baseMs: 100, capMs: 5_000 };

  it('the window doubles per attempt from the base and stops at the cap', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7].map((n) => backoffCeiling(n, opts))).toEqual([100, 200, 400, 800, 1600, 3200, 5000, 5000]);
    expect(backoffCeiling(10_000, opts)).toBe(5_000); // 2^n overflows to Infinity; the cap still holds
    expect(backoffCeiling(0)).toBe(DEFAULT_BACKOFF.baseMs);
    expect(backoffCeiling(100)).toBe(DEFAULT_BACKOFF.capMs);
  });

  it('the delay is random() times the window: 0 at random 0, just under the window near 1', () => {
    expect(backoffDelay(3, () => 0, opts)).toBe(0);
    expect(backoffDelay(3, () => 0.5, opts)).toBe(400);
    expect(backoffDelay(3, () => 0.999999, opts)).toBe(799);
    expect(backoffDelay(20, () => 0.5, opts)).toBe(2_500);
    expect(backoffDelay(20, () => 0.999999, opts)).toBe(4_999);
  });

  it('is a pure function of attempt and random: a seeded sequence gives the same schedule twice, all within bounds', () => {
    const seeded = (seed: number) => () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const a = seeded(7);
    const b = seeded(7);
    const one = Array.from({ length: 12 }, (_, n) => backoffDelay(n, a, opts));
    const two = Array.from({ length: 12 }, (_, n) => backoffDelay(n, b, opts));
    expect(one).toEqual(two);
    one.forEach((d, n) => {
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThan(backoffCeiling(n, opts));
    });
    // Full jitter: not the window itself (that would be plain exponential backoff).
    expect(one.some((d, n) => d !== backoffCeiling(n, opts))).toBe(true);
  });

  it('a random source outside [0, 1) cannot push the delay past the window', () => {
    expect(backoffDelay(2, () => 1, opts)).toBe(0);
    expect(backoffDelay(2, () => -3, opts)).toBe(0);
    expect(backoffDelay(2, () => Number.NaN, opts)).toBe(0);
  });
});
