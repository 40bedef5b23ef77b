/**
 * The request body bound (`MAX_BODY_BYTES`, default 1 MiB), enforced while the body streams
 * in, so an oversized upload is refused before it is buffered whole.
 */
import type { MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { AppEnv } from './context.js';
import { ApiProblem } from './problems.js';

// One middleware per distinct limit: the limit is configuration, read per request, but
// building hono's middleware per request would be wasted work.
const limiters = new Map<number, MiddlewareHandler<AppEnv>>();

function limiter(maxSize: number): MiddlewareHandler<AppEnv> {
  let mw = limiters.get(maxSize);
  if (!mw) {
    mw = bodyLimit({
      maxSize,
      onError: () => {
        throw new ApiProblem('payload-too-large', `the request body exceeds ${maxSize} bytes`);
      },
    });
    limiters.set(maxSize, mw);
  }
  return mw;
}

/** Middleware: 413 `payload-too-large` past `config.maxBodyBytes`. Place after auth, before the body is read. */
export const limitBody: MiddlewareHandler<AppEnv> = (c, next) => limiter(c.get('config').maxBodyBytes)(c, next);
