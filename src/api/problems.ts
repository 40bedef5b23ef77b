/**
 * RFC 9457 problem details: every error the edge answers, one table from error `code` to
 * HTTP status and title, and the one function that turns anything thrown into a response.
 *
 * @remarks The `type` URI of a code never changes once published: clients branch on it.
 * Codes come from three places that share this table: the core's typed errors (thrown at
 * the edge, e.g. by `parseOps`), the `Problem` a member answers over RPC (exception classes
 * do not survive RPC, their `code` does), and the edge's own {@link ApiProblem}s.
 */
import { HTTPException } from 'hono/http-exception';
import { ConcordError } from '../core/errors.js';

export const PROBLEM_BASE = 'https://concord.dev/problems/';
export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

interface Kind {
  readonly status: number;
  readonly title: string;
}

const KINDS = {
  // Bad input: the request can never succeed as sent.
  'malformed-json': { status: 400, title: 'Malformed JSON' },
  'invalid-encoding': { status: 400, title: 'Invalid character encoding' },
  'invalid-document': { status: 400, title: 'Invalid document' },
  'invalid-update': { status: 400, title: 'Engine update does not decode' },
  'unknown-operation': { status: 400, title: 'Unknown operation' },
  'invalid-operation': { status: 400, title: 'Invalid operation' },
  'invalid-token': { status: 400, title: 'Invalid Concord-Token' },
  'invalid-version': { status: 400, title: 'Invalid engine version' },
  'invalid-consistency': { status: 400, title: 'Unknown consistency level' },
  'precondition-needs-strong': { status: 400, title: 'Precondition needs consistency strong' },
  'invalid-name': { status: 400, title: 'Invalid namespace or key' },
  'invalid-parameter': { status: 400, title: 'Invalid parameter' },
  'unknown-region': { status: 400, title: 'Unknown region' },
  'too-deep': { status: 400, title: 'Nested too deep' },
  'invalid-idempotency-key': { status: 400, title: 'Invalid Idempotency-Key' },
  'idempotency-key-in-use': { status: 409, title: 'Idempotency-Key in use' },
  'idempotency-key-mismatch': { status: 422, title: 'Idempotency-Key reused with another request' },
  // The request is fine but the document's current state refuses it.
  'path-not-found': { status: 409, title: 'Path not found in document' },
  'engine-mismatch': { status: 409, title: 'Engine mismatch' },
  'guard-violation': { status: 409, title: 'Guard violation' },
  'missing-dependencies': { status: 409, title: 'Update builds on changes this member lacks' },
  'precondition-failed': { status: 412, title: 'Precondition failed' },
  'not-found': { status: 404, title: 'Document not found' },
  // Transport and access.
  unauthorized: { status: 401, title: 'Unauthorized' },
  forbidden: { status: 403, title: 'Forbidden' },
  'route-not-found': { status: 404, title: 'Route not found' },
  'method-not-allowed': { status: 405, title: 'Method not allowed' },
  'upgrade-required': { status: 426, title: 'Upgrade required' },
  'payload-too-large': { status: 413, title: 'Payload too large' },
  'unsupported-media-type': { status: 415, title: 'Unsupported media type' },
  // The service.
  'not-configured': { status: 500, title: 'Service not configured' },
  internal: { status: 500, title: 'Internal error' },
  unavailable: { status: 503, title: 'Unavailable' },
  'engine-fault': { status: 503, title: 'Member is rebuilding its document engine' },
  'stale-epoch': { status: 503, title: 'Leader changed' },
} as const satisfies Record<string, Kind>;

export type ProblemCode = keyof typeof KINDS;

export const PROBLEM_CODES = Object.keys(KINDS) as ProblemCode[];

const isProblemCode = (code: string): code is ProblemCode => Object.hasOwn(KINDS, code);

/** The `type` URI of a problem code. */
export const problemType = (code: ProblemCode): string => PROBLEM_BASE + code;

/**
 * An error the edge answers as a problem. Throw it from middleware or handlers; `app.onError`
 * renders it.
 */
export class ApiProblem extends Error {
  override readonly name = 'ApiProblem';
  constructor(
    readonly code: ProblemCode,
    readonly detail: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(detail);
  }
}

/** The problem+json response for `code`. */
export function problemResponse(code: ProblemCode, detail: string, headers: Readonly<Record<string, string>> = {}): Response {
  const { status, title } = KINDS[code];
  const body = JSON.stringify({ type: problemType(code), title, status, detail });
  return new Response(body, { status, headers: { ...headers, 'Content-Type': PROBLEM_CONTENT_TYPE } });
}

function retryHeaders(code: string, seconds: number | undefined): Record<string, string> {
  if (code !== 'unavailable' && code !== 'stale-epoch' && code !== 'engine-fault' && code !== 'missing-dependencies') return {};
  return { 'Retry-After': String(Math.max(1, Math.ceil(seconds ?? 1))) };
}

/**
 * A member's answer `{ok: false}` as a response.
 * @remarks A code missing from the table means the object and the edge disagree on the
 * protocol: a bug, so it is logged and answered as `internal` without its detail.
 */
export function memberProblem(p: { code: string; detail: string; retryAfterSeconds?: number }): Response {
  if (!isProblemCode(p.code)) {
    console.error('Concord:edge unknown problem code from member', p.code, p.detail);
    return problemResponse('internal', 'internal error');
  }
  return problemResponse(p.code, p.detail, retryHeaders(p.code, p.retryAfterSeconds));
}

/** Durable Object infrastructure errors that say a retry may succeed (object reset, overloaded). */
function isRetryable(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { retryable?: unknown; overloaded?: unknown };
  return e.retryable === true || e.overloaded === true;
}

/**
 * Maps anything thrown while handling a request to a problem response; the body of
 * `app.onError`. Unknown errors are logged and answered as a bare 500.
 */
export function errorToResponse(err: unknown): Response {
  if (err instanceof ApiProblem) return problemResponse(err.code, err.detail, err.headers);
  if (err instanceof ConcordError && isProblemCode(err.code)) {
    const seconds = (err as { retryAfterSeconds?: number }).retryAfterSeconds;
    return problemResponse(err.code, err.message, retryHeaders(err.code, seconds));
  }
  if (err instanceof HTTPException) return httpExceptionProblem(err);
  if (isRetryable(err)) {
    console.warn('Concord:edge retryable object error', err);
    return problemResponse('unavailable', 'a shard member is temporarily unavailable; retry', { 'Retry-After': '1' });
  }
  console.error('Concord:edge unexpected error', err);
  return problemResponse('internal', 'internal error');
}

/** Hono's own exceptions (from its middleware) mapped onto our codes. */
function httpExceptionProblem(err: HTTPException): Response {
  switch (err.status) {
    case 413:
      return problemResponse('payload-too-large', 'request body too large');
    case 400:
      return problemResponse('malformed-json', err.message || 'malformed request body');
    case 401:
      return problemResponse('unauthorized', err.message || 'unauthorized', { 'WWW-Authenticate': 'Bearer realm="concord"' });
    case 403:
      return problemResponse('forbidden', err.message || 'forbidden');
    case 404:
      return problemResponse('route-not-found', err.message || 'not found');
    default:
      console.error('Concord:edge unmapped HTTPException', err.status, err.message);
      return problemResponse('internal', 'internal error');
  }
}
