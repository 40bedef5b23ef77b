/**
 * Requests carried out once: a write's outcome is recorded with the write (same commit) under
 * its request id, and a retry of the request is answered from the record. Covers the
 * client's `Idempotency-Key` at every level and the member-to-member retries of strong
 * operations (DESIGN.md, Consistency → Retries).
 */
import { ConcordError, IdempotencyKeyMismatchError } from '../core/errors.js';
import type { DocKey } from '../core/ids.js';
import type { LogEntry } from '../core/log.js';
import type { StoredOutcome } from '../core/storage.js';
import type { Dot } from '../core/version-vector.js';
import type { RecordOutcome } from './execute.js';
import type { DocResult, Problem, RequestIdentity } from './protocol.js';

/** How long an outcome without a client key is kept: long enough for any transport retry. */
export const INTERNAL_OUTCOME_MS = 10 * 60 * 1000;

/**
 * What a record holds: the answer and the dots it wrote (a retry makes sure they are
 * durable); a refusal; or, learned from a peer's entry, only the status the origin answered.
 */
export type Recorded =
  | { readonly result: DocResult; readonly dots: readonly Dot[] }
  | { readonly problem: Problem }
  | { readonly replicated: { readonly status: number } };

/** A recorded problem (a refused write) answered again as the same problem. */
export class RecordedProblem extends ConcordError {
  override readonly name = 'RecordedProblem';
  constructor(readonly code: string, detail: string) {
    super(detail);
  }
}

const expiry = (rid: RequestIdentity, now: number, clientTtlMs: number): number =>
  now + (rid.client ? clientTtlMs : INTERNAL_OUTCOME_MS);

/** The recorder `execute` stores a successful write's outcome with. */
export function recorder(doc: DocKey, rid: RequestIdentity, now: number, clientTtlMs: number): RecordOutcome {
  return (result: DocResult, entries: readonly LogEntry[]): StoredOutcome => {
    const recorded: Recorded = { result, dots: entries.map((e) => ({ member: e.origin, seq: e.seq })) };
    const response = JSON.stringify(recorded);
    // A client's key travels with the write's entry, so that a retry in another region finds it.
    const carried = rid.client ? { status: result.status } : {};
    return { doc, id: rid.id, fingerprint: rid.fingerprint, expires: expiry(rid, now, clientTtlMs), response, ...carried };
  };
}

/** The record of a refused write (a 4xx), so that a retry is refused the same way. */
export function refusal(doc: DocKey, rid: RequestIdentity, problem: Problem, now: number, clientTtlMs: number): StoredOutcome {
  const recorded: Recorded = { problem };
  return { doc, id: rid.id, fingerprint: rid.fingerprint, expires: expiry(rid, now, clientTtlMs), response: JSON.stringify(recorded) };
}

/**
 * A stored outcome read back for a retry.
 * @throws IdempotencyKeyMismatchError when the retry carries other content than the first request.
 */
export function readRecord(o: StoredOutcome, rid: RequestIdentity): Recorded {
  if (o.fingerprint !== rid.fingerprint) {
    throw new IdempotencyKeyMismatchError(`Idempotency-Key ${JSON.stringify(rid.id.slice(2))} was used for a different request; use a new key for new content`);
  }
  if (o.replicated) return { replicated: { status: o.status ?? 200 } };
  return JSON.parse(o.response) as Recorded;
}
