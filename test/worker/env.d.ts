declare module 'cloudflare:test' {
  interface ProvidedEnv extends import('../../src/objects/config.js').Env {}
}
