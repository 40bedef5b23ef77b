/**
 * Bundle sizes for `bench/client.bench.ts`: each entry bundled for a browser by esbuild as
 * `scripts/build-client.mjs` bundles the SDK (ESM, minified, es2022, Automerge through its
 * base64-wasm entry), then gzipped at level 9. Nothing is written to disk.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build, type Plugin } from 'esbuild';
import { ROOT } from '../test/e2e/wrangler.js';

export interface BundleSize {
  readonly name: string;
  readonly what: string;
  readonly minified: number;
  readonly gzip: number;
}

/** `@automerge/automerge` resolved to the entry that embeds its wasm as base64, for every bundle alike. */
function automergeBase64(): Plugin {
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

/**
 * Bundles `source` (an ES module's text, resolved from the repository's root) and measures it.
 * The source re-exports what an application would import, so nothing is tree-shaken away that
 * an application using it would keep.
 */
export async function bundleSize(name: string, what: string, source: string): Promise<BundleSize> {
  const result = await build({
    stdin: { contents: source, resolveDir: ROOT, sourcefile: `${name}.ts`, loader: 'ts' },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    legalComments: 'none',
    write: false,
    logLevel: 'error',
    plugins: [automergeBase64()],
    define: { 'process.env.NODE_ENV': '"production"', global: 'globalThis' },
  });
  const code = result.outputFiles[0]!.contents;
  return { name, what, minified: code.length, gzip: gzipSync(code, { level: 9 }).length };
}
