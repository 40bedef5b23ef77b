/**
 * `npm run bench:client` (also the second half of `npm run bench`): the browser SDK's figures
 * for issue 8, each beside what an application would use otherwise, measured in the same run.
 *
 * 1. Bundle size, minified and gzipped, of each SDK entry point, beside `y-websocket +
 *    y-indexeddb + yjs` and `automerge-repo` with its IndexedDB and WebSocket adapters
 *    (`bench/client-bundles.ts`).
 * 2. Time to open a document of `EDITS` edits from IndexedDB in Chromium, beside y-indexeddb
 *    and automerge-repo's IndexedDB adapter (`bench/client-idb.ts`).
 * 3. Bytes sent on a reconnect after K offline edits, beside the whole document's size
 *    (`bench/client-reconnect.ts`, against a `wrangler dev` started here).
 *
 * Env: BENCH_CLIENT_EDITS (10000), BENCH_CLIENT_OPENS (5), BENCH_CLIENT_K (1,10,100),
 * BENCH_CLIENT_ONLY (comma-separated parts: bundles, open, reconnect),
 * BENCH_CLIENT_COMMIT (the commit to print, for a clean copy without .git).
 * Markdown on stdout, progress on stderr.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { type BundleSize, bundleSize } from './client-bundles.js';
import { openTimes } from './client-idb.js';
import { reconnectBytes } from './client-reconnect.js';
import { mintToken, ROOT, startWrangler } from '../test/e2e/wrangler.js';

const envInt = (name: string, fallback: number): number => {
  const v = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(v) || v < 0) throw new Error(`${name} must be a non-negative integer`);
  return v;
};
const EDITS = envInt('BENCH_CLIENT_EDITS', 10_000);
const OPENS = envInt('BENCH_CLIENT_OPENS', 5);
const KS = (process.env['BENCH_CLIENT_K'] ?? '1,10,100').split(',').map(Number);
const ONLY = new Set((process.env['BENCH_CLIENT_ONLY'] ?? 'bundles,open,reconnect').split(','));

const log = (s: string): void => void process.stderr.write(`bench:client: ${s}\n`);
const kib = (n: number): string => (n / 1024).toFixed(1);
const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const ratio = (x: number, base: number): string => `${(x / base).toFixed(2)}×`;

/** The SDK's entry for each engine: its own entry point where it has one, else the whole SDK. */
const entry = (engine: 'yjs' | 'automerge'): string => (existsSync(join(ROOT, 'client', `${engine}.ts`)) ? `./client/${engine}.ts` : './client/index.ts');

function header(): void {
  const commit = process.env['BENCH_CLIENT_COMMIT'] ?? execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  console.log(`# bench:client at ${commit}, ${new Date().toISOString()}\n`);
  console.log(`Machine: ${cpu}, ${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}. Load average at start ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}.\n`);
}

async function bundles(): Promise<void> {
  const reexport = (path: string): string => `export * from ${JSON.stringify(path)};`;
  const rows: BundleSize[] = await Promise.all([
    bundleSize('concord/client/yjs', `\`${entry('yjs')}\``, reexport(entry('yjs'))),
    bundleSize('y-websocket', 'y-websocket 3.1.0 + y-indexeddb 9.0.12 + yjs 13.6.33', "export { WebsocketProvider } from 'y-websocket'; export { IndexeddbPersistence } from 'y-indexeddb'; export * as Y from 'yjs';"),
    bundleSize('concord/client/automerge', `\`${entry('automerge')}\``, reexport(entry('automerge'))),
    bundleSize(
      'automerge-repo',
      '@automerge/automerge-repo 2.5.6 + storage-indexeddb + network-websocket + @automerge/automerge 3.5.0',
      "export { Repo } from '@automerge/automerge-repo'; export { IndexedDBStorageAdapter } from '@automerge/automerge-repo-storage-indexeddb'; export { BrowserWebSocketClientAdapter } from '@automerge/automerge-repo-network-websocket'; export * as A from '@automerge/automerge';",
    ),
    bundleSize('concord/client', '`./client/index.ts` (both engines)', reexport('./client/index.ts')),
  ]);
  const base = (name: string): BundleSize => rows.find((r) => r.name === name)!;
  const against: Record<string, string> = { 'concord/client/yjs': 'y-websocket', 'concord/client/automerge': 'automerge-repo', 'concord/client': 'automerge-repo' };
  console.log('## Bundle size (esbuild, browser, ESM, minified; gzip -9)\n');
  console.log('Automerge is bundled through its base64-wasm entry in every row that holds it.\n');
  console.log('| bundle | what | minified KiB | gzip KiB | gzip vs |');
  console.log('| --- | --- | --- | --- | --- |');
  for (const r of rows) {
    const b = against[r.name];
    console.log(`| ${r.name} | ${r.what} | ${kib(r.minified)} | ${kib(r.gzip)} | ${b ? `${ratio(r.gzip, base(b).gzip)} ${b}` : 'baseline'} |`);
  }
  console.log();
}

async function open(): Promise<void> {
  const rows = await openTimes(EDITS, OPENS, { yjs: entry('yjs'), automerge: entry('automerge') }, log);
  const by = (name: string) => rows.find((r) => r.name === name)!;
  const against: Record<string, string> = { 'concord-yjs': 'y-indexeddb', 'concord-automerge': 'automerge-repo' };
  console.log(`## Open a document of ${EDITS} edits from IndexedDB (Chromium ${chromiumVersion()}, headless)\n`);
  console.log(`Each edit its own transaction or change, made offline; then ${OPENS} fresh opens, each from a new client, until the whole content is readable.\n`);
  console.log('| system | what | fill (ms) | open, median (ms) | each open (ms) | median vs |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const r of rows) {
    const b = against[r.name];
    console.log(`| ${r.name} | ${r.what} | ${r.fillMs} | ${median(r.opens).toFixed(1)} | ${r.opens.map((t) => t.toFixed(1)).join(', ')} | ${b ? `${ratio(median(r.opens), median(by(b).opens))} ${b}` : 'baseline'} |`);
  }
  console.log();
}

async function reconnect(): Promise<void> {
  const [dev, token] = await Promise.all([startWrangler({ logLevel: 'warn' }), mintToken('--ns', 'bench*', '--scope', 'write')]);
  try {
    const rows = await reconnectBytes(dev.url, token, EDITS, KS, log);
    console.log(`## Bytes sent on reconnect after K offline edits (document of ${EDITS} edits, \`wrangler dev\`, default env)\n`);
    console.log('| engine | K | whole document (B) | sent on reconnect (B) | sent vs whole document | until acknowledged (ms) |');
    console.log('| --- | --- | --- | --- | --- | --- |');
    for (const r of rows) console.log(`| ${r.engine} | ${r.k} | ${r.docBytes} | ${r.sentBytes} | ${ratio(r.sentBytes, r.docBytes)} | ${r.ms} |`);
    console.log();
  } finally {
    await dev.stop();
  }
}

function chromiumVersion(): string {
  try {
    return execFileSync('/usr/bin/chromium', ['--version'], { encoding: 'utf8' }).trim().replace(/^Chromium\s*/, '');
  } catch {
    return '(version unknown)';
  }
}

header();
if (ONLY.has('bundles')) await bundles();
if (ONLY.has('open')) await open();
if (ONLY.has('reconnect')) await reconnect();
