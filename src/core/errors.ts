/**
 * Typed errors of the core. The edge maps each `code` to an HTTP status and a stable
 * problem `type`; nothing here knows about HTTP.
 *
 * @remarks Every error thrown for bad input is thrown before any state changes, so a caller
 * that catches one may go on using the replica as it was.
 */
import type { EngineName } from './engines/engine.js';

export abstract class ConcordError extends Error {
  abstract readonly code: string;
}

/** Engine-native bytes that do not decode. Catch to answer 400. */
export class InvalidUpdateError extends ConcordError {
  readonly code = 'invalid-update';
  override readonly name = 'InvalidUpdateError';
  constructor(readonly engine: string, detail: string) {
    super(`${engine} update does not decode: ${detail}`);
  }
}

/** A document body or merge patch that is not what the operation needs (e.g. not an object). */
export class InvalidDocumentError extends ConcordError {
  readonly code = 'invalid-document';
  override readonly name = 'InvalidDocumentError';
}

/**
 * A JSON value, or a CRDT update, nested deeper than the configured `MAX_DEPTH`. Catch to
 * answer 400: deep nesting is refused before any recursive code walks it.
 */
export class DepthLimitError extends ConcordError {
  readonly code = 'too-deep';
  override readonly name = 'DepthLimitError';
  constructor(readonly what: string, readonly maxDepth: number) {
    super(`${what} is nested deeper than ${maxDepth} levels (MAX_DEPTH)`);
  }
}

/** An operation list entry that names no known operation. */
export class UnknownOperationError extends ConcordError {
  readonly code = 'unknown-operation';
  override readonly name = 'UnknownOperationError';
  constructor(readonly op: unknown, readonly index: number) {
    super(`operation ${index}: unknown op ${JSON.stringify(op)}`);
  }
}

/** An operation whose fields are missing or of the wrong type. */
export class InvalidOperationError extends ConcordError {
  readonly code = 'invalid-operation';
  override readonly name = 'InvalidOperationError';
  constructor(readonly index: number, detail: string) {
    super(`operation ${index}: ${detail}`);
  }
}

/** A JSON path that does not lead to an existing container or value. */
export class PathNotFoundError extends ConcordError {
  readonly code = 'path-not-found';
  override readonly name = 'PathNotFoundError';
  constructor(readonly path: ReadonlyArray<string | number>, detail = 'does not exist') {
    super(`path ${JSON.stringify(path)} ${detail}`);
  }
}

/** An operation that the document's engine does not offer (JSON ops on a Yjs document). */
export class EngineMismatchError extends ConcordError {
  readonly code = 'engine-mismatch';
  override readonly name = 'EngineMismatchError';
  constructor(readonly expected: string, readonly actual: string) {
    super(`document uses engine ${actual}, not ${expected}`);
  }
}

/** A guarded counter update whose result would leave its bounds. Catch to answer 409. */
export class GuardViolationError extends ConcordError {
  readonly code = 'guard-violation';
  override readonly name = 'GuardViolationError';
  constructor(readonly path: ReadonlyArray<string | number>, readonly current: number, readonly result: number) {
    super(`increment at ${JSON.stringify(path)} would move ${current} to ${result}, outside its bounds`);
  }
}

/** A causal token or version that does not decode. */
export class InvalidTokenError extends ConcordError {
  readonly code = 'invalid-token';
  override readonly name = 'InvalidTokenError';
}

/** A wire message between members that does not decode. */
export class WireDecodeError extends ConcordError {
  readonly code = 'wire-decode';
  override readonly name = 'WireDecodeError';
}

/**
 * A broken invariant: a bug, never bad input. Thrown by {@link assert}; callers must not
 * catch it to carry on.
 */
export class AssertionFailure extends Error {
  override readonly name = 'AssertionFailure';
}

export function assert(cond: unknown, msg: string): asserts cond {
  if (!cond) throw new AssertionFailure(msg);
}

/** An engine version (`since=`: Yjs state vector or Automerge heads) that does not decode. */
export class InvalidVersionError extends ConcordError {
  readonly code = 'invalid-version';
  override readonly name = 'InvalidVersionError';
}

/** An unknown consistency level. */
export class InvalidConsistencyError extends ConcordError {
  readonly code = 'invalid-consistency';
  override readonly name = 'InvalidConsistencyError';
}

/** A precondition (If-Match, guards) at a level that cannot honour it: only `strong` can. */
export class PreconditionNeedsStrongError extends ConcordError {
  readonly code = 'precondition-needs-strong';
  override readonly name = 'PreconditionNeedsStrongError';
}

/** `If-Match` did not match the document's current ETag. Catch to answer 412. */
export class PreconditionFailedError extends ConcordError {
  readonly code = 'precondition-failed';
  override readonly name = 'PreconditionFailedError';
}

/**
 * The requested consistency level cannot be met now (no majority, leader unreachable, a
 * session token not reached in time). Catch to answer 503 with `Retry-After`.
 *
 * @remarks For a write, the outcome is unknown: it may have been applied by some members
 * and will then reach every member by gossip. It was not acknowledged.
 */
export class UnavailableError extends ConcordError {
  readonly code = 'unavailable';
  override readonly name = 'UnavailableError';
  constructor(detail: string, readonly retryAfterSeconds = 1) {
    super(detail);
  }
}

/**
 * Engine bytes from a client that build on changes this member does not have yet (made
 * against another region's state): a Yjs update whose items lack their neighbours, an
 * Automerge change whose dependencies are missing. The engine would hold them back, invisible
 * although the write were acknowledged, so the write is refused with nothing stored. Catch to
 * answer 409 with `Retry-After`: the client retries later, sends what it has beyond this
 * member's state vector or heads, or sends its session token so that the member first waits
 * for what it saw.
 */
export class MissingDependenciesError extends ConcordError {
  readonly code = 'missing-dependencies';
  override readonly name = 'MissingDependenciesError';
  readonly retryAfterSeconds = 1;
  constructor(engine: EngineName) {
    const [what, since] =
      engine === 'yjs'
        ? ['Yjs update builds on content', "the update computed against this member's state vector"]
        : ['Automerge change depends on changes', "the changes since this member's heads"];
    super(`this ${what} this member has not received yet; retry later, send ${since}, or send the Concord-Token of the read it builds on (consistency session)`);
  }
}

/**
 * An engine failed in a way that is not a validation error (a broken wasm module, an
 * exhausted stack, a bug): the member's fault, not the request's. Nothing was stored; the
 * member dropped its engines and rebuilds them from storage. Catch to answer 503.
 */
export class EngineFaultError extends ConcordError {
  readonly code = 'engine-fault';
  override readonly name = 'EngineFaultError';
  constructor(readonly during: string, override readonly cause: unknown, readonly retryAfterSeconds = 1) {
    super(`the member's document engine failed during ${during} (${cause instanceof Error ? cause.message : String(cause)}); it is rebuilding from storage, retry`);
  }
}

/**
 * An `Idempotency-Key` whose first request is still being carried out. Catch to answer 409;
 * the client retries later and then gets the first request's outcome.
 */
export class IdempotencyKeyInUseError extends ConcordError {
  readonly code = 'idempotency-key-in-use';
  override readonly name = 'IdempotencyKeyInUseError';
}

/** An `Idempotency-Key` already used for a request with other content. Catch to answer 422. */
export class IdempotencyKeyMismatchError extends ConcordError {
  readonly code = 'idempotency-key-mismatch';
  override readonly name = 'IdempotencyKeyMismatchError';
}

/** A document that does not exist (or was deleted). */
export class NotFoundError extends ConcordError {
  readonly code = 'not-found';
  override readonly name = 'NotFoundError';
}

/** A member-to-member request from a leader whose epoch is older than one already seen. */
export class StaleEpochError extends ConcordError {
  readonly code = 'stale-epoch';
  override readonly name = 'StaleEpochError';
}
