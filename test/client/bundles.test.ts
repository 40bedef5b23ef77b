/**
 * Each per-engine entry of the SDK bundles its engine alone. Every entry is bundled for a
 * browser as scripts/build-client.mjs and bench/client-bundles.ts do (esbuild, ESM, minified,
 * `@automerge/automerge` resolved to its base64-wasm entry), in memory, and esbuild's
 * metafile says which modules went in:
 * - `client/yjs.ts` reaches no Automerge module at all (not even parsed);
 * - `client/automerge.ts` puts no byte of `node_modules/yjs` in its output. esbuild does parse
 *   yjs there, because y-protocols/awareness.js has `import * as Y from 'yjs'` for a JSDoc
 *   type; yjs is `sideEffects: false`, so the unused import is dropped (checked below).
 */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build, type Metafile } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { automergeBase64, BROWSER_BUNDLE } from '../support/browser-bundle.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

interface Bundle {
  /** Every module esbuild parsed (reachable through imports). */
  parsed: string[];
  /** The modules with bytes in the output. */
  included: string[];
  code: string;
  minified: number;
  gzip: number;
}

async function bundle(entry: string): Promise<Bundle> {
  const result = await build({
    entryPoints: [join(ROOT, 'client', entry)],
    absWorkingDir: ROOT,
    ...BROWSER_BUNDLE,
    metafile: true,
    plugins: [automergeBase64()],
  });
  const meta: Metafile = result.metafile;
  const [output] = Object.values(meta.outputs);
  const bytes = result.outputFiles[0]!.contents;
  return {
    parsed: Object.keys(meta.inputs),
    included: Object.entries(output!.inputs)
      .filter(([, v]) => v.bytesInOutput > 0)
      .map(([p]) => p),
    code: new TextDecoder().decode(bytes),
    minified: bytes.length,
    gzip: gzipSync(bytes, { level: 9 }).length,
  };
}

const automergeModule = (p: string): boolean => p.includes('node_modules/@automerge/');
const yjsModule = (p: string): boolean => p.includes('node_modules/yjs/');
/** A string of yjs' own code (its double-import warning), absent from every other package. */
const YJS_MARK = 'Yjs was already imported';

describe('per-engine entries bundle their engine alone', () => {
  it('concord/client (both engines): the same checks see Automerge and Yjs', async () => {
    const b = await bundle('index.ts');
    expect(b.included.some(automergeModule)).toBe(true);
    expect(b.included.some(yjsModule)).toBe(true);
    expect(b.code).toContain(YJS_MARK);
    console.log(`concord/client: ${b.minified} B minified, ${b.gzip} B gzip`);
  });

  it('concord/client/yjs: no Automerge module is reachable; Yjs, y-protocols, lib0 and idb are in', async () => {
    const b = await bundle('yjs.ts');
    expect(b.parsed.filter(automergeModule)).toEqual([]);
    expect(b.included.filter(automergeModule)).toEqual([]);
    expect(b.parsed.filter((p) => p.includes('automerge'))).toEqual([]); // src/core/engines/automerge-chunks.ts neither
    expect(b.included.some(yjsModule)).toBe(true);
    expect(b.included).toEqual(expect.arrayContaining(['client/engine-yjs.ts', 'src/core/engines/yjs-render.ts']));
    expect(b.code).toContain(YJS_MARK);
    expect(b.minified).toBeLessThan(250_000); // the Automerge base64 wasm alone is about 4.8 MB
    console.log(`concord/client/yjs: ${b.minified} B minified, ${b.gzip} B gzip`);
  });

  it('concord/client/automerge: no byte of yjs in the output (presence runs on y-protocols and lib0 alone)', async () => {
    const b = await bundle('automerge.ts');
    expect(b.included.filter(yjsModule)).toEqual([]);
    expect(b.code).not.toContain(YJS_MARK);
    expect(b.included.some(automergeModule)).toBe(true);
    expect(b.included).toEqual(expect.arrayContaining(['client/engine-automerge.ts', 'node_modules/y-protocols/awareness.js']));
    expect(b.included.filter((p) => p.includes('y-protocols/sync') || p.includes('yjs-render'))).toEqual([]);
    console.log(`concord/client/automerge: ${b.minified} B minified, ${b.gzip} B gzip`);
  });
});
