/**
 * Strong writes as proposals: Raft's replicated log, over CRDT entries. A strong write is not
 * applied anywhere (in no vector, never gossiped) until a majority holds it; only then does
 * the leader apply it, as one entry of the shard-wide origin {@link STRONG_ORIGIN}, whose
 * sequence numbers are the strong log's indexes.
 *
 * - The leader of epoch `e` proposes the entry at index `i` (one past the strong entries it has
 *   applied), stamped with `e`: its rank `(e, i)`. Each acceptor (the leader first) keeps the
 *   proposal durably and the highest rank it ever accepted, and refuses a lower rank.
 * - A member votes only for a candidate whose highest accepted rank is at least its own (and
 *   whose applied vector covers its own): Raft's "at least as up to date" log rule.
 * - A new leader first settles the proposal it holds, if it has not applied it: proposed again
 *   at its own epoch (a new rank), applied once a majority holds it. Only then does it answer
 *   strong operations, reads included.
 *
 * @remarks Why an acknowledged strong write is never lost and a refused one never surfaces:
 * an acknowledged proposal is held by a majority, each member of which has accepted a rank at
 * least as high as the proposal's ever since; any electing majority contains one of them, so
 * the new leader has accepted a rank at least that high. That rank is the proposal's own (it
 * holds the proposal, or has applied it), or a later one, whose leader had applied the
 * proposal before it proposed (an acceptor covers everything below the index it accepts). So
 * the new leader holds every acknowledged write, applied or to settle. A proposal no majority
 * held is superseded by the first later-epoch proposal at its index, and a member that has
 * applied an entry at that index drops it: its dot is then never applied, so reusing the
 * index is safe. The engine change inside a proposal is made by an engine loaded for it alone
 * (a fresh actor), so no later change of any engine depends on a proposal that was dropped.
 */
import type { MemberId } from './ids.js';
import { memberId } from './ids.js';
import type { LogEntry } from './log.js';
import { get, leq, type VersionVector, withDot } from './version-vector.js';

/** The origin of strong writes: one per shard, whoever leads. Not a region name (those are `[a-z0-9-]`). */
export const STRONG_ORIGIN: MemberId = memberId('~strong');

/** Where a proposal stands in the strong log: the epoch it was proposed in, then its index. */
export interface Rank {
  readonly epoch: number;
  readonly index: number;
}

export const noRank: Rank = { epoch: 0, index: 0 };

/** True when `a` ranks below `b` (an absent rank is the lowest). */
export function rankBefore(a: Rank | undefined, b: Rank | undefined): boolean {
  const x = a ?? noRank;
  const y = b ?? noRank;
  return x.epoch < y.epoch || (x.epoch === y.epoch && x.index < y.index);
}

/** A strong write proposed by the leader of `epoch`: one entry of {@link STRONG_ORIGIN}. */
export interface Proposal {
  readonly epoch: number;
  readonly entry: LogEntry;
  /**
   * The rank at which this leader committed the entry just below (Raft's commit index riding
   * on the next append): an acceptor that holds that proposal applies it from its own copy,
   * instead of waiting for the leader's push of it.
   */
  readonly prev?: Rank;
}

export const rankOf = (p: Proposal): Rank => ({ epoch: p.epoch, index: p.entry.seq });

/** What a member keeps, durably, of the strong log beyond what it applied. */
export interface Acceptor {
  /** The highest rank this member ever accepted (kept after the proposal is applied). */
  readonly accepted: Rank;
  /** The last proposal accepted; settled (or superseded) once the member applies its index. */
  readonly proposal?: Proposal;
}

export const freshAcceptor: Acceptor = { accepted: noRank };

/**
 * Why an acceptor refused: it lacks what the entry needs (send it, then ask again); it accepted
 * a later rank; or it has applied an entry at this index already (this very one, committed
 * meanwhile, or one a later leader committed: either way not to be counted, only pulled).
 */
export type AcceptRefusal = 'behind' | 'superseded' | 'applied';

export type Acceptance = { readonly ok: true; readonly state: Acceptor } | { readonly ok: false; readonly reason: AcceptRefusal };

/** What a member must have applied to accept `p`: the strong entries below its index, and the entry's dependencies. */
export function proposalBase(p: Proposal): VersionVector {
  return p.entry.seq > 1 ? withDot(p.entry.deps, STRONG_ORIGIN, p.entry.seq - 1) : p.entry.deps;
}

/**
 * An acceptor's answer to `p`, given the vector it has applied. Every holder of a proposal can
 * apply it (it covers the entry's dependencies), so a new leader never waits for a member it
 * cannot reach to settle one.
 */
export function accept(state: Acceptor, p: Proposal, vv: VersionVector): Acceptance {
  if (p.entry.origin !== STRONG_ORIGIN) throw new Error(`a proposal's entry comes from ${STRONG_ORIGIN}, not ${p.entry.origin}`);
  if (get(vv, STRONG_ORIGIN) >= p.entry.seq) return { ok: false, reason: 'applied' };
  if (rankBefore(rankOf(p), state.accepted)) return { ok: false, reason: 'superseded' };
  if (!leq(proposalBase(p), vv)) return { ok: false, reason: 'behind' };
  return { ok: true, state: { accepted: rankOf(p), proposal: p } };
}

/**
 * The proposal `state` holds that `p` says was committed (`p.prev` is its rank, and it sits
 * just below `p`), when this member has not applied it yet: to apply before accepting `p`. A
 * rank names one proposal, so the copy held is the entry that was committed.
 */
export function committedBelow(state: Acceptor, p: Proposal, vv: VersionVector): Proposal | undefined {
  const held = unsettled(state, vv);
  const prev = p.prev;
  if (!held || !prev || held.entry.seq !== p.entry.seq - 1) return undefined;
  return held.epoch === prev.epoch && held.entry.seq === prev.index ? held : undefined;
}

/** The proposal this member holds and has not applied (nor seen superseded by an applied entry at its index). */
export function unsettled(state: Acceptor, vv: VersionVector): Proposal | undefined {
  const p = state.proposal;
  return p && get(vv, STRONG_ORIGIN) < p.entry.seq ? p : undefined;
}
