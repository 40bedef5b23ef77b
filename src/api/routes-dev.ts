/**
 * Development only: `GET /v1/dev/token`, a short-lived `write` token for the demo namespace,
 * so that the demo page at `/` works in a browser right after `npm start` with nothing to
 * paste.
 *
 * @remarks The route exists only when `DEV_TOKENS=on`. That setting is in `.dev.vars`
 * (which `wrangler dev` reads and `wrangler deploy` never uploads) and in the `test`
 * environment's vars, never in the top-level `[vars]` that a deploy uploads. Otherwise the
 * route answers exactly like an unknown one, before authentication, so a deployed Worker
 * reveals nothing (the same rule as the `/v1/_test/faults` routes).
 *
 * The token is signed exactly as `scripts/token.ts` signs (HS256 with `JWT_SECRET`, `exp`
 * required, `iss` / `aud` when the deployment checks them), so the edge verifies it like any
 * other. It grants `write` on the namespace {@link DEV_NAMESPACE} and nothing else, for
 * {@link DEV_TOKEN_TTL_S} seconds: a page keeps asking for a fresh one.
 */
import type { Hono, MiddlewareHandler } from 'hono';
import { SignJWT } from 'jose';
import { verifierFor } from './auth.js';
import type { AppEnv } from './context.js';
import { ApiProblem } from './problems.js';

/** The namespace a development token grants, exactly (not a glob). */
export const DEV_NAMESPACE = 'demo';
/** A development token's lifetime: one hour. */
export const DEV_TOKEN_TTL_S = 3600;

export const DEV_TOKEN_PATH = '/v1/dev/token';

/** Middleware: unless `DEV_TOKENS=on`, the route does not exist. */
export const devOnly: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (!c.get('config').devTokens) throw new ApiProblem('route-not-found', `no route ${c.req.method} ${c.req.path}`);
  await next();
};

/** What `GET /v1/dev/token` answers. */
export interface DevToken {
  readonly token: string;
  readonly ns: string;
  readonly scope: 'write';
  /** Seconds since the epoch, the token's `exp`. */
  readonly expiresAt: number;
  /** The deployment's regions and primary, for the demo's region picker. */
  readonly regions: readonly string[];
  readonly primary: string;
}

/** Registers the development routes on `app` (after the `configured` middleware). */
export function devRoutes(app: Hono<AppEnv>): void {
  app.get(DEV_TOKEN_PATH, devOnly, async (c) => {
    const { secret, config } = verifierFor(c.env);
    if (!secret) {
      throw new ApiProblem('not-configured', 'development tokens are signed with JWT_SECRET, and this deployment verifies tokens with a JWKS only');
    }
    const now = Math.floor(Date.now() / 1000);
    const expiresAt = now + DEV_TOKEN_TTL_S;
    const token = await new SignJWT({
      ns: DEV_NAMESPACE,
      scope: 'write',
      iat: now,
      exp: expiresAt,
      ...(config.issuer && { iss: config.issuer }),
      ...(config.audience && { aud: config.audience }),
    })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .sign(secret);
    const { regions, primary } = c.get('config');
    const body: DevToken = { token, ns: DEV_NAMESPACE, scope: 'write', expiresAt, regions, primary };
    return c.json(body, 200, { 'Cache-Control': 'no-store' });
  });
  app.all(DEV_TOKEN_PATH, devOnly, (c) => {
    throw new ApiProblem('method-not-allowed', `${c.req.path} answers GET, HEAD, OPTIONS`, { Allow: 'GET, HEAD, OPTIONS' });
  });
}
