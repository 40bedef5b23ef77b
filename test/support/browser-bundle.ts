/**
 * How the SDK and its rivals are bundled for a browser outside `scripts/build-client.mjs`
 * (which does the same in plain JavaScript, run by wrangler's build step): the settings the
 * bundle-size test and `bench:client` share, so that their figures are comparable.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BuildOptions, Plugin } from 'esbuild';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * Resolves `@automerge/automerge` (and `/slim`) to the entry that embeds its wasm as base64:
 * its `browser` entry imports the `.wasm` file the way webpack does, which esbuild cannot load.
 */
export function automergeBase64(): Plugin {
  const require = createRequire(join(ROOT, 'package.json'));
  const file = join(dirname(require.resolve('@automerge/automerge/automerge.wasm')), 'mjs', 'entrypoints', 'fullfat_base64.js');
  if (!existsSync(file)) throw new Error(`${file} is missing: the @automerge/automerge package changed its layout`);
  return {
    name: 'automerge-base64',
    setup(b) {
      b.onResolve({ filter: /^@automerge\/automerge(\/slim)?$/ }, () => ({ path: file }));
    },
  };
}

/** ESM for browsers, minified, in memory. */
export const BROWSER_BUNDLE: BuildOptions = {
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  legalComments: 'none',
  write: false,
  logLevel: 'error',
  define: { 'process.env.NODE_ENV': '"production"', global: 'globalThis' },
};
