/**
 * Bearer-token access control (DESIGN.md, Security).
 *
 * A token is an HS256 JWT signed with the Worker's `JWT_SECRET`. Its claims:
 * - `ns`: a namespace glob or a list of them (`*` matches any run of characters, so `demo*`
 *   covers `demo` and `demo-eu`); without it the token reaches no namespace.
 * - `scope`: `read`, `write` or `admin`, each including the ones before. A space-separated
 *   list (OAuth style) is accepted and its highest known scope counts.
 * - `exp`, `nbf`: honoured (RFC 7519); `iat` is not checked.
 *
 * @remarks Namespace globs bind every scope, admin included; only the namespace-independent
 * routes (`/v1/cluster`, `/v1/_test/*`) skip them.
 */
import type { MiddlewareHandler } from 'hono';
import { verify } from 'hono/jwt';
import type { AppEnv } from './context.js';
import { ApiProblem } from './problems.js';

export const SCOPES = ['read', 'write', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

export interface Claims {
  readonly ns: readonly string[];
  /** The highest scope the token grants, or undefined when it names none we know. */
  readonly scope: Scope | undefined;
}

const REALM = 'Bearer realm="concord"';

const unauthorized = (detail: string, error?: string): ApiProblem =>
  new ApiProblem('unauthorized', detail, {
    'WWW-Authenticate': error ? `${REALM}, error="${error}"` : REALM,
  });

/** Whether `ns` matches the glob `pattern` (`*` is any run of characters, all else literal). */
export function globMatch(pattern: string, ns: string): boolean {
  const parts = pattern.split('*').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${parts.join('.*')}$`, 's').test(ns);
}

/** The claims of a verified payload. @throws ApiProblem `unauthorized` when they have the wrong shape. */
export function parseClaims(payload: Record<string, unknown>): Claims {
  const ns = payload['ns'];
  const scope = payload['scope'];
  let patterns: string[];
  if (ns === undefined) patterns = [];
  else if (typeof ns === 'string') patterns = [ns];
  else if (Array.isArray(ns) && ns.every((p): p is string => typeof p === 'string')) patterns = ns;
  else throw unauthorized('the token\'s "ns" claim must be a string or an array of strings', 'invalid_token');
  if (scope !== undefined && typeof scope !== 'string') throw unauthorized('the token\'s "scope" claim must be a string', 'invalid_token');
  const granted = (scope ?? '').split(/\s+/).map((s) => SCOPES.indexOf(s as Scope));
  const best = Math.max(-1, ...granted);
  return { ns: patterns, scope: best >= 0 ? SCOPES[best] : undefined };
}

function jwtFailure(e: unknown): string {
  switch ((e as Error | undefined)?.name) {
    case 'JwtTokenExpired':
      return 'the token has expired';
    case 'JwtTokenNotBefore':
      return 'the token is not valid yet (nbf)';
    case 'JwtTokenSignatureMismatched':
      return 'the token signature does not verify';
    default:
      return 'the token is not an HS256 JWT this service issued';
  }
}

/** Verifies the request's bearer token. @throws ApiProblem `unauthorized` */
export async function authenticate(authorization: string | undefined, secret: string): Promise<Claims> {
  if (!authorization) throw unauthorized('this route needs an Authorization: Bearer <token> header');
  const m = /^Bearer +(\S+) *$/i.exec(authorization);
  if (!m) throw unauthorized('the Authorization header must be "Bearer <token>"', 'invalid_request');
  let payload: Record<string, unknown>;
  try {
    // `iat` is informational (RFC 7519 §4.1.6): rejecting a future one would only turn a
    // second of clock skew between the minting host and the edge into a 401.
    payload = await verify(m[1]!, secret, { alg: 'HS256', iat: false });
  } catch (e) {
    throw unauthorized(jwtFailure(e), 'invalid_token');
  }
  return parseClaims(payload);
}

const rank = (s: Scope | undefined): number => (s === undefined ? -1 : SCOPES.indexOf(s));

/**
 * Middleware: the caller must hold `scope`, and, unless `namespaced` is false, a namespace
 * glob matching the route's `:ns`. Sets `claims`.
 * @throws ApiProblem `unauthorized` (401) or `forbidden` (403)
 * @example app.get('/v1/:ns/docs/:key', requireScope('read'), handler)
 */
export function requireScope(scope: Scope, { namespaced = true }: { namespaced?: boolean } = {}): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const claims = await authenticate(c.req.header('Authorization'), c.env.JWT_SECRET ?? '');
    if (rank(claims.scope) < rank(scope)) {
      throw new ApiProblem('forbidden', `this route needs scope ${scope}; the token grants ${claims.scope ?? 'none'}`, {
        'WWW-Authenticate': `${REALM}, error="insufficient_scope", scope="${scope}"`,
      });
    }
    if (namespaced) {
      const ns = c.req.param('ns') ?? '';
      if (!claims.ns.some((p) => globMatch(p, ns))) {
        throw new ApiProblem('forbidden', `the token does not grant namespace ${JSON.stringify(ns)}`);
      }
    }
    c.set('claims', claims);
    await next();
  };
}
