import { describe, expect, it } from 'vitest';
import { regionsChange } from '../../src/core/regions-change.js';

describe('a change of REGIONS between deploys', () => {
  it('is safe for a new member, for no change and for one region added or removed (order does not matter)', () => {
    expect(regionsChange(undefined, ['a', 'b'])).toEqual({ added: [], removed: [], safe: true });
    expect(regionsChange(['a', 'b', 'c'], ['c', 'a', 'b'])).toEqual({ added: [], removed: [], safe: true });
    expect(regionsChange(['a', 'b', 'c'], ['a', 'b', 'c', 'd'])).toEqual({ added: ['d'], removed: [], safe: true });
    expect(regionsChange(['a', 'b', 'c'], ['a', 'c'])).toEqual({ added: [], removed: ['b'], safe: true });
  });

  it('is not safe for two regions at once, added, removed or swapped', () => {
    expect(regionsChange(['a', 'b', 'c'], ['a', 'b', 'c', 'd', 'e']).safe).toBe(false);
    expect(regionsChange(['a', 'b', 'c', 'd'], ['a', 'b']).safe).toBe(false);
    expect(regionsChange(['a', 'b', 'c'], ['a', 'b', 'd'])).toEqual({ added: ['d'], removed: ['c'], safe: false });
  });
});
