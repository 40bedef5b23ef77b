/**
 * Strong write proposals (src/core/proposals.ts): the acceptor's rules, and the replica's
 * side: a proposal is made without being committed or seen, and applied only when committed.
 */
import { describe, expect, it } from 'vitest';
import { docKey, memberId } from '../../src/core/ids.js';
import type { LogEntry } from '../../src/core/log.js';
import { seededRandom } from '../../src/core/ports.js';
import { accept, committedBelow, freshAcceptor, type Proposal, rankBefore, STRONG_ORIGIN, unsettled } from '../../src/core/proposals.js';
import { Replica } from '../../src/core/replica.js';
import type { StoredOutcome } from '../../src/core/storage.js';
import { MemoryStorage } from '../../src/core/storage-memory.js';
import type { VersionVector } from '../../src/core/version-vector.js';

const DOC = docKey('t', 'doc');
const vv = (o: Record<string, number>): VersionVector => o as VersionVector;
const entry = (seq: number, deps: Record<string, number> = {}): LogEntry => ({
  origin: STRONG_ORIGIN,
  seq,
  doc: DOC,
  engine: 'automerge',
  kind: 'update',
  hlc: 1,
  deps: vv(deps),
  data: new Uint8Array([1]),
});
const proposal = (epoch: number, seq: number, deps: Record<string, number> = {}): Proposal => ({ epoch, entry: entry(seq, deps) });

describe('ranks', () => {
  it('order by epoch, then index; no rank is the lowest', () => {
    expect(rankBefore({ epoch: 1, index: 9 }, { epoch: 2, index: 1 })).toBe(true);
    expect(rankBefore({ epoch: 2, index: 1 }, { epoch: 2, index: 2 })).toBe(true);
    expect(rankBefore({ epoch: 2, index: 2 }, { epoch: 2, index: 2 })).toBe(false);
    expect(rankBefore(undefined, { epoch: 0, index: 1 })).toBe(true);
    expect(rankBefore({ epoch: 1, index: 1 }, undefined)).toBe(false);
  });
});

describe('an acceptor', () => {
  it('keeps a proposal it can apply, and its rank', () => {
    const a = accept(freshAcceptor, proposal(3, 2, { a: 1 }), vv({ a: 1, [STRONG_ORIGIN]: 1 }));
    expect(a).toEqual({ ok: true, state: { accepted: { epoch: 3, index: 2 }, proposal: proposal(3, 2, { a: 1 }) } });
  });

  it('refuses one whose strong entries below it, or whose dependencies, it lacks: behind', () => {
    expect(accept(freshAcceptor, proposal(3, 2), vv({}))).toEqual({ ok: false, reason: 'behind' });
    expect(accept(freshAcceptor, proposal(3, 1, { a: 2 }), vv({ a: 1 }))).toEqual({ ok: false, reason: 'behind' });
  });

  it('refuses a rank below the one it accepted (a deposed leader\'s), and takes a higher one at the same index', () => {
    const held = { accepted: { epoch: 4, index: 3 }, proposal: proposal(4, 3) };
    const at = vv({ [STRONG_ORIGIN]: 2 });
    expect(accept(held, proposal(3, 3), at)).toEqual({ ok: false, reason: 'superseded' });
    expect(accept(held, proposal(4, 3), at).ok).toBe(true);
    const later = accept(held, proposal(5, 3), at);
    expect(later.ok && later.state.accepted).toEqual({ epoch: 5, index: 3 });
  });

  it('refuses an index it has applied: that entry was committed, this one is not to be counted', () => {
    expect(accept(freshAcceptor, proposal(9, 2), vv({ [STRONG_ORIGIN]: 2 }))).toEqual({ ok: false, reason: 'applied' });
  });

  it('applies the proposal it holds when the next one names it committed (its rank, just below), and no other', () => {
    const held = { accepted: { epoch: 4, index: 3 }, proposal: proposal(4, 3) };
    const at = vv({ [STRONG_ORIGIN]: 2 });
    const next = (prev?: { epoch: number; index: number }, seq = 4): Proposal => ({ ...proposal(4, seq), ...(prev && { prev }) });
    expect(committedBelow(held, next({ epoch: 4, index: 3 }), at)).toEqual(proposal(4, 3));
    // Another rank at that index (a later leader's entry there), none named, not just below, or applied already.
    expect(committedBelow(held, next({ epoch: 5, index: 3 }), at)).toBeUndefined();
    expect(committedBelow({ accepted: { epoch: 3, index: 3 }, proposal: proposal(3, 3) }, next({ epoch: 4, index: 3 }), at)).toBeUndefined();
    expect(committedBelow(held, next(), at)).toBeUndefined();
    expect(committedBelow(held, next({ epoch: 4, index: 3 }, 5), at)).toBeUndefined();
    expect(committedBelow(held, next({ epoch: 4, index: 3 }), vv({ [STRONG_ORIGIN]: 3 }))).toBeUndefined();
  });

  it('holds an unsettled proposal until it applies an entry at its index', () => {
    const held = { accepted: { epoch: 4, index: 3 }, proposal: proposal(4, 3) };
    expect(unsettled(held, vv({ [STRONG_ORIGIN]: 2 }))).toEqual(proposal(4, 3));
    expect(unsettled(held, vv({ [STRONG_ORIGIN]: 3 }))).toBeUndefined();
    expect(unsettled(freshAcceptor, vv({}))).toBeUndefined();
  });
});

function replica(self = 'a') {
  const storage = new MemoryStorage();
  const r = new Replica({ self: memberId(self), members: ['a', 'b'].map(memberId) }, { storage, clock: { now: () => 1000 }, random: seededRandom(7) });
  return { storage, r };
}

describe('a replica proposing', () => {
  it('makes the entry of the next strong index and commits nothing: the document reads as before', () => {
    const { r, storage } = replica();
    r.write(DOC, 'automerge', (e) => e.replace({ n: 1 }));
    const before = r.vv;
    const made = r.propose(() => r.write(DOC, 'automerge', (e) => e.replace({ n: 2 }), { render: true }));
    expect(made.entry).toMatchObject({ origin: STRONG_ORIGIN, seq: 1, doc: DOC, deps: { a: 1 } });
    expect(made.value.json).toEqual({ n: 2 });
    expect(made.value.vv).toEqual({ a: 1, [STRONG_ORIGIN]: 1 });
    expect(r.vv).toEqual(before);
    expect(r.json(DOC)).toEqual({ n: 1 });
    expect(storage.logSize().entries).toBe(1);
    // Local writes meanwhile go on from the committed state, under the member's own origin.
    const w = r.write(DOC, 'automerge', (e) => e.mergePatch({ m: 1 }));
    expect(w.entry).toMatchObject({ origin: 'a', seq: 2 });
    expect(r.json(DOC)).toEqual({ n: 1, m: 1 });
  });

  it('applies the proposal when committed, with the full record of the request replacing the one the entry carries', () => {
    const { r } = replica();
    r.write(DOC, 'automerge', (e) => e.replace({ n: 1 }));
    const record = (status: number): StoredOutcome => ({ doc: DOC, id: 'req-1', fingerprint: 'fp', expires: 5000, response: 'full answer', status });
    const made = r.propose(() => r.write(DOC, 'automerge', (e) => e.replace({ n: 2 }), { outcome: () => record(200) }));
    expect(made.entry?.request).toMatchObject({ id: 'req-1', status: 200 });
    expect(r.outcome(DOC, 'req-1')).toBeUndefined();
    expect(r.commitProposal(made.entry!, made.outcome)).toBe(true);
    expect(r.json(DOC)).toEqual({ n: 2 });
    expect(r.vv).toEqual({ a: 1, [STRONG_ORIGIN]: 1 });
    expect(r.outcome(DOC, 'req-1')).toMatchObject({ response: 'full answer', status: 200 });
  });

  it('applies at another member a proposal it holds, as an entry from a peer; a dropped one leaves no trace', () => {
    const { r: a } = replica('a');
    const { r: b } = replica('b');
    const first = a.write(DOC, 'automerge', (e) => e.replace({ n: 1 }));
    b.receive(a.push([first.entry!]));
    const dropped = a.propose(() => a.write(DOC, 'automerge', (e) => e.replace({ n: 9 })));
    const kept = a.propose(() => a.write(DOC, 'automerge', (e) => e.replace({ n: 2 })));
    // Both were made at index 1: only one is ever committed.
    expect(dropped.entry!.seq).toBe(1);
    expect(kept.entry!.seq).toBe(1);
    expect(b.commitProposal(kept.entry!)).toBe(true);
    expect(b.json(DOC)).toEqual({ n: 2 });
    expect(a.commitProposal(kept.entry!)).toBe(true);
    expect(a.json(DOC)).toEqual({ n: 2 });
    // The dropped proposal's index is taken: were it offered again, it would not apply.
    expect(a.commitProposal(dropped.entry!)).toBe(true);
    expect(a.json(DOC)).toEqual({ n: 2 });
  });

  it('does not apply a proposal whose dependencies it lacks', () => {
    const { r: a } = replica('a');
    const { r: b } = replica('b');
    a.write(DOC, 'automerge', (e) => e.replace({ n: 1 }));
    const made = a.propose(() => a.write(DOC, 'automerge', (e) => e.replace({ n: 2 })));
    expect(b.commitProposal(made.entry!)).toBe(false);
    expect(b.vv).toEqual({});
  });
});
