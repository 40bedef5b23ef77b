/**
 * Bundle sizes for `bench/client.bench.ts`: each entry bundled for a browser by esbuild as
 * `scripts/build-client.mjs` bundles the SDK (ESM, minified, es2022, Automerge through its
 * base64-wasm entry), then gzipped at level 9. Nothing is written to disk.
 */
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { ROOT } from '../test/e2e/wrangler.js';
import { automergeBase64, BROWSER_BUNDLE } from '../test/support/browser-bundle.js';

export interface BundleSize {
  readonly name: string;
  readonly what: string;
  readonly minified: number;
  readonly gzip: number;
}

/**
 * Bundles `source` (an ES module's text, resolved from the repository's root) and measures it.
 * The source re-exports what an application would import, so nothing is tree-shaken away that
 * an application using it would keep.
 */
export async function bundleSize(name: string, what: string, source: string): Promise<BundleSize> {
  const result = await build({
    stdin: { contents: source, resolveDir: ROOT, sourcefile: `${name}.ts`, loader: 'ts' },
    ...BROWSER_BUNDLE,
    plugins: [automergeBase64()],
  });
  const code = result.outputFiles[0]!.contents;
  return { name, what, minified: code.length, gzip: gzipSync(code, { level: 9 }).length };
}
