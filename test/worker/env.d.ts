// The test bindings are the Worker's own (wrangler.toml, environment "test").
declare namespace Cloudflare {
  interface Env extends Omit<import('../../src/objects/config.js').Env, never> {}
}
