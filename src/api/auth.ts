/**
 * Bearer-token access control (DESIGN.md, Security).
 *
 * A token is a JWT verified with `jose`, either
 * - HS256, signed with the Worker's `JWT_SECRET`, or
 * - ES256, RS256 or EdDSA (Ed25519), signed by an identity provider whose public keys are
 *   configured as a JSON Web Key Set: inline in `JWT_JWKS`, or fetched from `JWT_JWKS_URL`
 *   (needs outbound network; cached per isolate, refetched after 10 minutes or when a token
 *   names an unknown `kid`, at most every 30 s). The token's `kid` selects the key.
 *
 * The header's `alg` picks the verifier before anything is checked, and each verifier
 * accepts only its own algorithms: an HS256 token is never checked against a public key and
 * an asymmetric one never against the secret; `none` and every other algorithm are refused.
 *
 * Claims:
 * - `exp` is required; `exp` and `nbf` are checked with {@link CLOCK_TOLERANCE_S} seconds of
 *   tolerance; `iat` is not checked.
 * - `iss` must equal `JWT_ISSUER` and `aud` must be or contain `JWT_AUDIENCE` when those are
 *   set, whichever key signed the token.
 * - `ns`: a namespace glob or a list of them (`*` matches any run of characters, so `demo*`
 *   covers `demo` and `demo-eu`); without it the token reaches no namespace.
 * - `scope`: `read`, `write` or `admin`, each including the ones before. A space-separated
 *   list (OAuth style) is accepted and its highest known scope counts.
 *
 * @remarks Namespace globs bind every scope, admin included; only the namespace-independent
 * routes (`/v1/cluster`, `/v1/_test/*`) skip them.
 */
import type { MiddlewareHandler } from 'hono';
import { createLocalJWKSet, createRemoteJWKSet, decodeProtectedHeader, errors, type JWTVerifyGetKey, jwtVerify } from 'jose';
import { type AuthConfig, type Env, readAuthConfig } from '../objects/config.js';
import type { AppEnv, Ctx } from './context.js';
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

/**
 * Seconds of clock skew forgiven on `exp` and `nbf`: an identity provider's clock and the
 * edge's disagree by a little, and a token refused for being a second early or late is
 * refused for nothing; five seconds keep an expired token working no longer than that.
 */
export const CLOCK_TOLERANCE_S = 5;

const SECRET_ALGS = ['HS256'];
const KEY_SET_ALGS = ['ES256', 'RS256', 'EdDSA'];

/** How the edge checks bearer tokens, built once per bindings object. */
export interface Verifier {
  readonly config: AuthConfig;
  readonly secret: Uint8Array | undefined;
  readonly keySet: JWTVerifyGetKey | undefined;
  /** Tokens verified lately, by their exact text (see {@link authenticate}). */
  readonly verified: Map<string, { readonly claims: Claims; readonly until: number }>;
}

/** Verified tokens kept per verifier, and for how long at most (ms). */
const VERIFIED_MAX = 1024;
const VERIFIED_TTL_MS = 60_000;

const verifiers = new WeakMap<object, Verifier>();
// Per URL for the isolate's life, so that the fetched set is shared by every request (and
// every bindings object) instead of being fetched again for each.
const remoteSets = new Map<string, JWTVerifyGetKey>();

const notConfigured = (detail: string): ApiProblem => new ApiProblem('not-configured', detail);

/**
 * The token verifier for these bindings.
 * @throws ApiProblem `not-configured` when no key is configured, a setting is malformed, or
 * only a JWKS is set and so no secret keys the Concord-Token MAC.
 */
export function verifierFor(env: Env | undefined): Verifier {
  const cached = env ? verifiers.get(env) : undefined;
  if (cached) return cached;
  let config: AuthConfig;
  try {
    config = readAuthConfig(env ?? ({} as Env));
  } catch (e) {
    throw notConfigured(`the Worker's configuration is invalid: ${(e as Error).message}`);
  }
  if (!config.secret && !config.jwks && !config.jwksUrl) {
    throw notConfigured(
      'no JWT secret is configured: set JWT_SECRET with `wrangler secret put JWT_SECRET` (local development reads it from .dev.vars), or JWT_JWKS / JWT_JWKS_URL to accept tokens of your identity provider',
    );
  }
  // Concord-Tokens are authenticated with TOKEN_SECRET, else JWT_SECRET (issue 6, item 6):
  // a deployment that verifies bearer tokens by public keys alone has nothing to key them.
  if (!config.secret && !env?.TOKEN_SECRET?.trim()) {
    throw notConfigured(
      'only a JWKS is configured: without JWT_SECRET, set TOKEN_SECRET (`wrangler secret put TOKEN_SECRET`), the key that authenticates Concord-Token session tokens',
    );
  }
  let keySet: JWTVerifyGetKey | undefined;
  if (config.jwks) {
    try {
      keySet = createLocalJWKSet(config.jwks as Parameters<typeof createLocalJWKSet>[0]);
    } catch (e) {
      throw notConfigured(`the Worker's configuration is invalid: JWT_JWKS: ${(e as Error).message}`);
    }
  } else if (config.jwksUrl) {
    const href = config.jwksUrl.href;
    keySet = remoteSets.get(href);
    if (!keySet) remoteSets.set(href, (keySet = createRemoteJWKSet(config.jwksUrl)));
  }
  const verifier: Verifier = { config, secret: config.secret ? new TextEncoder().encode(config.secret) : undefined, keySet, verified: new Map() };
  if (env) verifiers.set(env, verifier);
  return verifier;
}

const invalidToken = (detail: string): ApiProblem => unauthorized(detail, 'invalid_token');

function verifyFailure(e: unknown, alg: string, kid: unknown, verifier: Verifier): ApiProblem {
  const code = e instanceof errors.JOSEError ? e.code : undefined;
  const { issuer, audience, jwksUrl } = verifier.config;
  switch (code) {
    case 'ERR_JWT_EXPIRED':
      return invalidToken('the token has expired');
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED': {
      const { claim, reason } = e as errors.JWTClaimValidationFailed;
      if (reason === 'missing' && claim === 'exp') return invalidToken('the token has no "exp" claim: every token must expire');
      if (reason === 'missing') return invalidToken(`the token has no "${claim}" claim, which this deployment requires`);
      if (claim === 'nbf') return invalidToken('the token is not valid yet (nbf)');
      if (claim === 'iss') return invalidToken(`the token's issuer (iss) is not ${JSON.stringify(issuer)}`);
      if (claim === 'aud') return invalidToken(`the token's audience (aud) does not include ${JSON.stringify(audience)}`);
      return invalidToken(`the token's "${claim}" claim is invalid: ${(e as Error).message}`);
    }
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return invalidToken('the token signature does not verify');
    case 'ERR_JWKS_NO_MATCHING_KEY':
      return invalidToken(`no key of the JWKS verifies ${alg} tokens with kid ${kid === undefined ? '(none)' : JSON.stringify(kid)}`);
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
      return invalidToken(`several keys of the JWKS verify ${alg} tokens: the token must name one with "kid"`);
    case 'ERR_JWS_INVALID':
    case 'ERR_JWT_INVALID':
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
    case 'ERR_JOSE_NOT_SUPPORTED':
      return invalidToken(`the token is not a valid JWT: ${(e as Error).message}`);
  }
  // What is left is the key set failing, not the token: an unreachable or broken identity
  // provider is worth a retry, a malformed inline key is the deployment's fault.
  if (!KEY_SET_ALGS.includes(alg)) throw e;
  const why = (e as Error | undefined)?.message ?? String(e);
  if (jwksUrl) {
    console.error('Concord:edge JWKS at JWT_JWKS_URL unusable', jwksUrl.href, e);
    return new ApiProblem('unavailable', `the key set at JWT_JWKS_URL could not be used: ${why}`, { 'Retry-After': '5' });
  }
  console.error('Concord:edge JWT_JWKS key does not import', e);
  return notConfigured(`a key of JWT_JWKS for ${alg} does not import: ${why}`);
}

/**
 * Verifies the request's bearer token. A token verified lately is taken from the verifier's
 * memory, by its exact text, until it expires and for a minute at most (so that a key
 * removed from a JWKS stops working within a minute): verifying the same token on every
 * request of a client was a twentieth of a write's CPU.
 * @throws ApiProblem `unauthorized`
 */
export async function authenticate(authorization: string | undefined, verifier: Verifier, now = Date.now()): Promise<Claims> {
  if (!authorization) throw unauthorized('this route needs an Authorization: Bearer <token> header');
  const m = /^Bearer +(\S+) *$/i.exec(authorization);
  if (!m) throw unauthorized('the Authorization header must be "Bearer <token>"', 'invalid_request');
  const token = m[1]!;
  const known = verifier.verified.get(token);
  if (known && now < known.until) return known.claims;
  if (known) verifier.verified.delete(token);
  return verifyToken(token, verifier, now);
}

async function verifyToken(token: string, verifier: Verifier, now: number): Promise<Claims> {
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(token);
  } catch {
    throw invalidToken('the token is not a JWT');
  }
  const { alg, kid } = header;
  const { issuer, audience } = verifier.config;
  // `iat` is informational (RFC 7519 §4.1.6): rejecting a future one would only turn clock
  // skew between the minting host and the edge into a 401, so no maxTokenAge.
  const options = {
    requiredClaims: ['exp'],
    clockTolerance: CLOCK_TOLERANCE_S,
    currentDate: new Date(now),
    ...(issuer && { issuer }),
    ...(audience && { audience }),
  };
  let payload: Record<string, unknown>;
  try {
    if (alg !== undefined && SECRET_ALGS.includes(alg)) {
      if (!verifier.secret) throw invalidToken(`${alg} tokens are not accepted: this deployment verifies tokens with its JWKS only`);
      ({ payload } = await jwtVerify(token, verifier.secret, { ...options, algorithms: SECRET_ALGS }));
    } else if (alg !== undefined && KEY_SET_ALGS.includes(alg)) {
      if (!verifier.keySet) throw invalidToken(`${alg} tokens are not accepted: this deployment has no JWKS (JWT_JWKS or JWT_JWKS_URL)`);
      ({ payload } = await jwtVerify(token, verifier.keySet, { ...options, algorithms: KEY_SET_ALGS }));
    } else {
      throw invalidToken(`the token's algorithm ${JSON.stringify(alg ?? null)} is not accepted: use HS256, ES256, RS256 or EdDSA`);
    }
  } catch (e) {
    if (e instanceof ApiProblem) throw e;
    throw verifyFailure(e, alg ?? '', kid, verifier);
  }
  const claims = parseClaims(payload);
  const expires = (payload['exp'] as number) * 1000 + CLOCK_TOLERANCE_S * 1000;
  if (verifier.verified.size >= VERIFIED_MAX) verifier.verified.delete(verifier.verified.keys().next().value!);
  verifier.verified.set(token, { claims, until: Math.min(expires, now + VERIFIED_TTL_MS) });
  return claims;
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
    const claims = await authenticate(c.req.header('Authorization'), verifierFor(c.env));
    checkGrant(claims, scope, namespaced ? (c.req.param('ns') ?? '') : undefined);
    c.set('claims', claims);
    await next();
  };
}

/**
 * The claims grant `scope`, and namespace `ns` unless it is undefined.
 * @throws ApiProblem `forbidden`
 */
export function checkGrant(claims: Claims, scope: Scope, ns: string | undefined): void {
  if (rank(claims.scope) < rank(scope)) {
    throw new ApiProblem('forbidden', `this route needs scope ${scope}; the token grants ${claims.scope ?? 'none'}`, {
      'WWW-Authenticate': `${REALM}, error="insufficient_scope", scope="${scope}"`,
    });
  }
  if (ns !== undefined && !claims.ns.some((p) => globMatch(p, ns))) {
    throw new ApiProblem('forbidden', `the token does not grant namespace ${JSON.stringify(ns)}`);
  }
}

/**
 * The bearer token of a route browsers reach without setting headers (WebSockets,
 * `EventSource`), as an `Authorization` value: the header where the client could send it, else
 * `?token=`, else `subprotocolToken` (the token a WebSocket offered as a subprotocol).
 */
export function browserBearer(c: Ctx, subprotocolToken?: string): string | undefined {
  const header = c.req.header('Authorization');
  if (header) return header;
  const token = c.req.query('token') || subprotocolToken;
  return token ? `Bearer ${token}` : undefined;
}

/** True when the claims grant `scope` (namespace aside). */
export const grants = (claims: Claims, scope: Scope): boolean => rank(claims.scope) >= rank(scope);
