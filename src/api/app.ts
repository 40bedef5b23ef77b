/**
 * The Worker's HTTP edge (DESIGN.md, HTTP API): one Hono app, middleware in the order a
 * request meets it, and one error handler that renders every failure as problem+json.
 *
 * Order: CORS (preflights never need a token) → `/healthz` (answers even unconfigured, for
 * load balancers) → refusal while no JWT secret is set → per route: authentication and
 * scope, body bound, handler.
 */
import { Hono } from 'hono';
import { cors } from 'hono/cors';
import { type AppEnv, configured } from './context.js';
import { ApiProblem, errorToResponse, problemResponse } from './problems.js';
import { ADMIN_METHODS, adminRoutes, TEST_METHODS, testOnly } from './routes-admin.js';
import { DOC_METHODS, docRoutes } from './routes-docs.js';
import { LIST_METHODS, listRoutes } from './routes-list.js';
import { WS_METHODS, wsRoutes } from './routes-ws.js';
import { EVENTS_METHODS, eventRoutes } from './routes-events.js';
import { devRoutes } from './routes-dev.js';

/** Request headers a browser client may send, and response headers it may read. */
const CORS = cors({
  origin: '*',
  allowMethods: ['GET', 'HEAD', 'PUT', 'PATCH', 'POST', 'DELETE'],
  allowHeaders: ['Authorization', 'Content-Type', 'Consistency', 'Concord-Token', 'Concord-Region', 'If-Match', 'If-None-Match', 'Idempotency-Key', 'Prefer'],
  exposeHeaders: ['Concord-Token', 'Concord-Member', 'ETag', 'Location', 'Retry-After', 'WWW-Authenticate', 'Preference-Applied'],
  maxAge: 86400,
});

/** After a path's own routes: any other method on it is a 405 naming the allowed ones. */
function methodNotAllowed(app: Hono<AppEnv>, table: ReadonlyArray<readonly [string, readonly string[]]>, guard?: typeof testOnly): void {
  for (const [path, methods] of table) {
    const allow = [...methods, 'OPTIONS'].join(', ');
    const refuse = (): never => {
      throw new ApiProblem('method-not-allowed', `${path} answers ${allow}`, { Allow: allow });
    };
    if (guard) app.all(path, guard, refuse);
    else app.all(path, refuse);
  }
}

/** Builds the edge app. */
export function createApp(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use('*', CORS);
  app.get('/healthz', (c) => c.json({ ok: true }));
  app.use('*', configured);
  docRoutes(app);
  listRoutes(app);
  wsRoutes(app);
  eventRoutes(app);
  adminRoutes(app);
  devRoutes(app);
  methodNotAllowed(app, [...DOC_METHODS, ...LIST_METHODS, ...WS_METHODS, ...EVENTS_METHODS, ...ADMIN_METHODS]);
  methodNotAllowed(app, TEST_METHODS, testOnly);
  app.notFound((c) => problemResponse('route-not-found', `no route ${c.req.method} ${c.req.path}`));
  app.onError((err) => errorToResponse(err));
  return app;
}

/** The app the Worker serves. */
export const app = createApp();
