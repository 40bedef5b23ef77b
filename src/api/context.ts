/**
 * What every handler of the edge can rely on: the bindings, the parsed configuration and,
 * after {@link requireScope}, the caller's verified claims.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { type Config, type Env, readConfig } from '../objects/config.js';
import { type Claims, verifierFor } from './auth.js';
import { ApiProblem } from './problems.js';

export interface AppEnv {
  Bindings: Env;
  Variables: { config: Config; claims: Claims };
}

export type Ctx = Context<AppEnv>;

// Parsed once per isolate per bindings object: the bindings never change within an isolate,
// and tests that pass their own env to `app.request` get their own entry.
const configs = new WeakMap<object, Config>();

function configOf(env: Env): Config {
  let config = configs.get(env);
  if (!config) {
    try {
      config = readConfig(env);
    } catch (e) {
      console.error('Concord:edge invalid configuration', e);
      throw new ApiProblem('not-configured', `the Worker's configuration is invalid: ${(e as Error).message}`);
    }
    configs.set(env, config);
  }
  return config;
}

/**
 * Refuses every request while the deployment cannot verify tokens (DESIGN.md, Security: "a
 * deploy with no secret configured refuses requests"): no JWT_SECRET and no JWKS, a
 * malformed key setting, or a JWKS without a secret for Concord-Tokens (see
 * {@link verifierFor}). Then loads the configuration.
 * @throws ApiProblem `not-configured`
 */
export const configured: MiddlewareHandler<AppEnv> = async (c, next) => {
  verifierFor(c.env);
  c.set('config', configOf(c.env));
  await next();
};
