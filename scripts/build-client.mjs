#!/usr/bin/env node
/**
 * Builds the browser SDK bundle that the demo page (`public/index.html`) loads:
 * `client/index.ts` → `public/assets/concord.js` (one ESM file, minified, with a source map),
 * served by wrangler's `[assets]`. `public/assets/` is git-ignored: the bundle is always
 * built from the checkout's `client/`.
 *
 * wrangler.toml's `[build]` runs this before every `wrangler dev` and `wrangler deploy`, so
 * `npm start` and every `wrangler dev` the tests start serve a fresh bundle.
 *
 * - Automerge in a browser: `@automerge/automerge`'s `browser` entry imports the `.wasm`
 *   file the way webpack does, which esbuild cannot load. Its `fullfat_base64` entry embeds
 *   the module as base64 and instantiates it synchronously at import (Chromium allows
 *   synchronous compilation on the main thread up to 8 MB; the module is 3.6 MB), so the
 *   bare specifier is resolved to that entry. It costs about a third more bytes than the
 *   binary and needs no second request or async initialisation.
 * - Atomic and idempotent: several `wrangler dev` may start at once (the tests do). Every
 *   output is written to a temporary file beside it and renamed over the old one, so a
 *   reader sees the old file or the new one, never half of one; a file whose bytes did not
 *   change is not rewritten (no needless reload of the servers already watching it).
 * - Until `client/index.ts` exists, nothing is built: it says so and exits 0, and the demo
 *   page reports that the SDK bundle is missing.
 * - A client/ that does not compile (someone is in the middle of an edit) does not stop the
 *   server: the API does not depend on the demo's bundle. The error is printed, the old
 *   bundle is removed (a demo silently running stale SDK code would mislead), and the error
 *   is written to `public/assets/build-error.txt`, which the demo page shows instead. The
 *   script still exits 0, so check wrangler's output (or the page) after a failed build.
 *
 * Usage: `node scripts/build-client.mjs` (`npm run build:client`).
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const ENTRY = join(ROOT, 'client', 'index.ts');
const OUT_DIR = join(ROOT, 'public', 'assets');
const OUT_FILE = join(OUT_DIR, 'concord.js');
const ERROR_FILE = join(OUT_DIR, 'build-error.txt');

const say = (msg) => process.stderr.write(`build-client: ${msg}\n`);

/** The file of `@automerge/automerge`'s entry that embeds its wasm module as base64. */
function automergeBase64Entry() {
  // The package's exports hide package.json; its wasm subpath resolves inside dist/.
  const require = createRequire(join(ROOT, 'package.json'));
  const wasm = require.resolve('@automerge/automerge/automerge.wasm');
  const file = join(dirname(wasm), 'mjs', 'entrypoints', 'fullfat_base64.js');
  if (!existsSync(file)) throw new Error(`${file} is missing: the @automerge/automerge package changed its layout`);
  return file;
}

/** Resolves the bare `@automerge/automerge` to its base64 entry (subpaths resolve as usual). */
const automergeInBrowser = (file) => ({
  name: 'automerge-base64',
  setup(b) {
    b.onResolve({ filter: /^@automerge\/automerge$/ }, () => ({ path: file }));
  },
});

/** Writes `bytes` to `path` through a temporary file and a rename; skips identical content. */
function writeAtomic(path, bytes) {
  try {
    if (Buffer.compare(readFileSync(path), bytes) === 0) return false;
  } catch {
    // no old file
  }
  const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
  try {
    writeFileSync(tmp, bytes);
    renameSync(tmp, path);
  } finally {
    rmSync(tmp, { force: true });
  }
  return true;
}

async function main() {
  if (!existsSync(ENTRY)) {
    say(`${relative(ROOT, ENTRY)} does not exist yet: no SDK bundle built (the demo page says so)`);
    return;
  }
  const started = Date.now();
  let result;
  try {
    result = await build({
    entryPoints: [ENTRY],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    sourcemap: 'linked',
    sourcesContent: false,
    legalComments: 'none',
    outfile: OUT_FILE,
    write: false,
    logLevel: 'silent',
    plugins: [automergeInBrowser(automergeBase64Entry())],
    // A browser has no process; some dependencies test it.
    define: { 'process.env.NODE_ENV': '"production"' },
    });
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    mkdirSync(OUT_DIR, { recursive: true });
    writeAtomic(ERROR_FILE, Buffer.from(`${new Date().toISOString()}: the SDK bundle did not build from client/:\n${message}\n`));
    for (const f of [OUT_FILE, `${OUT_FILE}.map`]) rmSync(f, { force: true });
    say(`ERROR: client/ does not build, so the demo page has no SDK (the API is served all the same):\n${message}`);
    return;
  }
  mkdirSync(OUT_DIR, { recursive: true });
  const written = [];
  for (const f of result.outputFiles) {
    if (writeAtomic(f.path, Buffer.from(f.contents))) written.push(relative(ROOT, f.path));
  }
  rmSync(ERROR_FILE, { force: true });
  const size = result.outputFiles.find((f) => f.path === OUT_FILE)?.contents.length ?? 0;
  say(`${relative(ROOT, OUT_FILE)} ${(size / 1024).toFixed(0)} KiB in ${Date.now() - started} ms${written.length ? '' : ' (unchanged)'}`);
  for (const w of result.warnings) say(`warning: ${w.text}${w.location ? ` (${w.location.file}:${w.location.line})` : ''}`);
}

main().catch((e) => {
  say(`failed: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
