/**
 * Time to open a document of N edits from IndexedDB, in Debian's Chromium (headless, via
 * playwright-core), for `bench/client.bench.ts`: Concord's SDK against the libraries an
 * application would otherwise use, `y-indexeddb` for Yjs and automerge-repo's IndexedDB
 * adapter for Automerge.
 *
 * Each system gets its own page at `http://bench.local/` (served from memory by a route, so
 * IndexedDB has a real origin and nothing listens on a port). Its bundle exposes
 * `fill(n)`, which makes n one-character edits offline, one transaction each, and waits
 * until they are stored; and `open()`, which opens the document afresh from IndexedDB and
 * answers the milliseconds until its whole content is readable, and that content's length.
 */
import { build } from 'esbuild';
import { chromium } from 'playwright-core';
import { ROOT } from '../test/e2e/wrangler.js';
import { automergeBase64, BROWSER_BUNDLE } from '../test/support/browser-bundle.js';

export interface OpenTimes {
  readonly name: string;
  readonly what: string;
  /** Filling the store: the N edits, stored. */
  readonly fillMs: number;
  /** Each fresh open, in order. */
  readonly opens: number[];
}

interface Bench {
  fill(n: number): Promise<void>;
  open(): Promise<{ ms: number; length: number }>;
}

/** The page scripts: each defines `globalThis.bench` over one library. */
export const SYSTEMS: readonly { name: string; what: string; source: (entry: { yjs: string; automerge: string }) => string }[] = [
  {
    name: 'concord-yjs',
    what: 'Concord SDK, Yjs (offline: every edit also in the outbox)',
    source: ({ yjs }) => `
      import { ConcordClient } from ${JSON.stringify(yjs)};
      const opts = { url: 'http://127.0.0.1:9', token: 'bench', online: false, WebSocket: null, BroadcastChannel: null };
      globalThis.bench = {
        async fill(n) {
          const c = new ConcordClient(opts);
          const h = await c.open('bench', 'doc', { engine: 'yjs' });
          const t = h.ydoc.getText('text');
          for (let i = 0; i < n; i++) t.insert(t.length, 'x');
          await h.compact();
          await c.close();
        },
        async open() {
          const t0 = performance.now();
          const c = new ConcordClient(opts);
          const h = await c.open('bench', 'doc', { engine: 'yjs' });
          const length = h.ydoc.getText('text').length;
          const ms = performance.now() - t0;
          await c.close();
          return { ms, length };
        },
      };`,
  },
  {
    name: 'y-indexeddb',
    what: 'y-indexeddb 9.0.12 + yjs',
    source: () => `
      import * as Y from 'yjs';
      import { IndexeddbPersistence } from 'y-indexeddb';
      globalThis.bench = {
        async fill(n) {
          const doc = new Y.Doc();
          const p = new IndexeddbPersistence('bench', doc);
          await p.whenSynced;
          const t = doc.getText('text');
          for (let i = 0; i < n; i++) t.insert(t.length, 'x');
          // Its writes are queued per update; destroy() waits for them.
          await p.destroy();
        },
        async open() {
          const t0 = performance.now();
          const doc = new Y.Doc();
          const p = new IndexeddbPersistence('bench', doc);
          await p.whenSynced;
          const length = doc.getText('text').length;
          const ms = performance.now() - t0;
          await p.destroy();
          return { ms, length };
        },
      };`,
  },
  {
    name: 'concord-automerge',
    what: 'Concord SDK, Automerge (offline: every edit also in the outbox)',
    source: ({ automerge }) => `
      import { ConcordClient } from ${JSON.stringify(automerge)};
      const opts = { url: 'http://127.0.0.1:9', token: 'bench', online: false, WebSocket: null, BroadcastChannel: null };
      globalThis.bench = {
        async fill(n) {
          const c = new ConcordClient(opts);
          const h = await c.open('bench', 'doc', { engine: 'automerge' });
          h.change((d) => { d.items = []; });
          for (let i = 1; i < n; i++) h.change((d) => { d.items.push(i); });
          await h.compact();
          await c.close();
        },
        async open() {
          const t0 = performance.now();
          const c = new ConcordClient(opts);
          const h = await c.open('bench', 'doc', { engine: 'automerge' });
          const length = h.doc.items.length + 1;
          const ms = performance.now() - t0;
          await c.close();
          return { ms, length };
        },
      };`,
  },
  {
    name: 'automerge-repo',
    what: 'automerge-repo 2.5.6 + its IndexedDB adapter',
    source: () => `
      import { Repo } from '@automerge/automerge-repo';
      import { IndexedDBStorageAdapter } from '@automerge/automerge-repo-storage-indexeddb';
      const repo = () => new Repo({ storage: new IndexedDBStorageAdapter('bench'), network: [] });
      let url;
      globalThis.bench = {
        async fill(n) {
          const r = repo();
          const h = r.create({ items: [] });
          url = h.url;
          for (let i = 1; i < n; i++) h.change((d) => { d.items.push(i); });
          await r.flush();
          await r.shutdown();
        },
        async open() {
          const t0 = performance.now();
          const r = repo();
          const h = await r.find(url);
          const length = h.doc().items.length + 1;
          const ms = performance.now() - t0;
          await r.shutdown();
          return { ms, length };
        },
      };`,
  },
];

async function bundle(source: string): Promise<string> {
  const result = await build({
    stdin: { contents: source, resolveDir: ROOT, sourcefile: 'page.ts', loader: 'ts' },
    ...BROWSER_BUNDLE,
    plugins: [automergeBase64()],
  });
  return result.outputFiles[0]!.text;
}

/**
 * Fills and opens each system's document in its own fresh browser context.
 * @param entry the SDK's entry for each engine (a path from the repository's root)
 */
export async function openTimes(edits: number, opens: number, entry: { yjs: string; automerge: string }, log: (s: string) => void): Promise<OpenTimes[]> {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox'] });
  const out: OpenTimes[] = [];
  try {
    for (const system of SYSTEMS) {
      const script = await bundle(system.source(entry));
      const context = await browser.newContext();
      try {
        const page = await context.newPage();
        await page.route('http://bench.local/**', (route) => {
          const url = new URL(route.request().url());
          if (url.pathname === '/bench.js') return route.fulfill({ contentType: 'text/javascript', body: script });
          return route.fulfill({ contentType: 'text/html', body: '<!doctype html><script type="module" src="/bench.js"></script>' });
        });
        await page.goto('http://bench.local/');
        await page.waitForFunction(() => 'bench' in globalThis, undefined, { timeout: 60_000 });
        const t0 = Date.now();
        await page.evaluate((n) => (globalThis as unknown as { bench: Bench }).bench.fill(n), edits);
        const fillMs = Date.now() - t0;
        const times: number[] = [];
        for (let i = 0; i < opens; i++) {
          const { ms, length } = await page.evaluate(() => (globalThis as unknown as { bench: Bench }).bench.open());
          if (length !== edits) throw new Error(`${system.name}: opened ${length} of ${edits} edits`);
          times.push(ms);
        }
        log(`${system.name}: filled in ${fillMs} ms; opens ${times.map((t) => t.toFixed(1)).join(', ')} ms`);
        out.push({ name: system.name, what: system.what, fillMs, opens: times });
      } finally {
        await context.close();
      }
    }
  } finally {
    await browser.close();
  }
  return out;
}
