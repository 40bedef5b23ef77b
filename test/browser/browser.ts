/**
 * The browser tests' harness: the real `wrangler dev` (test/e2e/wrangler.ts, which runs
 * wrangler.toml's `[build]`, so the SDK bundle is built from client/ as `npm start` builds
 * it) and Debian's Chromium driven by playwright-core, both stopped by the test's
 * `afterAll`.
 *
 * - Chromium: `/usr/bin/chromium` (or `$CHROMIUM_PATH`), headless, `--no-sandbox` (tests run
 *   as root in CI containers, where Chromium's sandbox cannot start).
 * - Each page's console errors and uncaught exceptions are kept, and printed with a
 *   screenshot when a wait fails, so that a failure says what the page saw.
 * - Screenshots land in `test-artifacts/browser/` (git-ignored).
 * - Waits are bounded: {@link waitUntil} polls a condition in the page until it holds or
 *   its timeout passes, and then fails naming what it waited for.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { ROOT } from '../e2e/wrangler.js';

export { mintToken, startWrangler, type WranglerDev } from '../e2e/wrangler.js';

export const CHROMIUM = process.env['CHROMIUM_PATH'] || '/usr/bin/chromium';
export const ARTIFACTS = join(ROOT, 'test-artifacts', 'browser');

/** Launches headless Chromium. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--headless', '--no-sandbox'], timeout: 60_000 });
}

const logs = new WeakMap<Page, string[]>();

/** A new page in `context` whose console errors and page errors are recorded. */
export async function newPage(context: BrowserContext): Promise<Page> {
  const page = await context.newPage();
  const log: string[] = [];
  logs.set(page, log);
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') log.push(`[console.${m.type()}] ${m.text()}`);
  });
  page.on('pageerror', (e) => log.push(`[pageerror] ${e.message}`));
  return page;
}

/** What the page logged as errors and warnings so far. */
export const pageLog = (page: Page): string[] => logs.get(page) ?? [];

/** Saves a full-page screenshot as `test-artifacts/browser/<name>.png`; returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name.replace(/[^\w.-]+/g, '_')}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/**
 * Waits until `fn(arg)`, evaluated in the page, returns a truthy value, for at most
 * `timeoutMs`; returns that value. On timeout it throws naming `what`, with the page's log
 * and a screenshot.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the page function's argument is serialised into the page
export async function waitUntil(page: Page, what: string, fn: (arg: any) => unknown, arg: unknown = null, timeoutMs = 30_000): Promise<unknown> {
  try {
    const handle = await page.waitForFunction(fn, arg, { timeout: timeoutMs, polling: 100 });
    return await handle.jsonValue();
  } catch (e) {
    let shot = '';
    try {
      shot = await screenshot(page, `failed-${what}`);
    } catch {
      // the page may be gone
    }
    const log = pageLog(page).slice(-20).join('\n');
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}: ${(e as Error).message.split('\n')[0]}\nscreenshot: ${shot}\npage log:\n${log}`);
  }
}

/** Polls an async condition in Node until it holds (bounded); returns its last value. */
export async function eventually<T>(what: string, fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  let error: unknown;
  for (;;) {
    try {
      last = await fn();
      error = undefined;
      if (ok(last)) return last;
    } catch (e) {
      error = e;
    }
    if (Date.now() >= deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last value ${JSON.stringify(last)}${error ? `, last error ${String(error)}` : ''}`);
    }
    // The poll interval of this bounded wait (the deadline above ends it), not a wait for an outcome.
    await new Promise((r) => setTimeout(r, 200));
  }
}
