import { describe, expect, it } from 'vitest';
import { AwarenessTable } from '../../src/core/realtime/awareness-table.js';

const e = (clientID: number, clock: number, state: unknown) => ({ clientID, clock, state: JSON.stringify(state) });

describe('AwarenessTable (y-protocols awareness rules)', () => {
  it('accepts newer clocks only, so an echo of a known state is not relayed again', () => {
    const t = new AwarenessTable();
    expect(t.apply([e(1, 1, { n: 'a' })], 0)).toEqual({ accepted: [e(1, 1, { n: 'a' })], added: [1] });
    // The same entry echoed back by another client changes nothing.
    expect(t.apply([e(1, 1, { n: 'a' })], 1)).toEqual({ accepted: [], added: [] });
    expect(t.apply([e(1, 0, { n: 'old' })], 2).accepted).toEqual([]);
    expect(t.apply([e(1, 2, { n: 'b' })], 3)).toEqual({ accepted: [e(1, 2, { n: 'b' })], added: [] });
  });

  it('a removal at the same clock counts once; a client coming back after it is added again', () => {
    const t = new AwarenessTable();
    t.apply([e(7, 3, { x: 1 })], 0);
    const gone = { clientID: 7, clock: 3, state: 'null' };
    expect(t.apply([gone], 1).accepted).toEqual([gone]);
    expect(t.apply([gone], 2).accepted).toEqual([]);
    expect(t.apply([e(7, 4, { x: 2 })], 3).added).toEqual([7]);
  });

  it('lists present clients, forgetting those not renewed within the age bound and removals', () => {
    const t = new AwarenessTable();
    t.apply([e(1, 1, 'a'), e(2, 1, 'b'), { clientID: 3, clock: 1, state: 'null' }], 0);
    t.apply([e(2, 2, 'b2')], 20_000);
    expect(t.present(25_000, 30_000).map((x) => x.clientID).sort()).toEqual([1, 2]);
    expect(t.present(40_000, 30_000)).toEqual([e(2, 2, 'b2')]);
    expect(t.size).toBe(1);
  });
});
