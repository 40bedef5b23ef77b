/**
 * The SDK in a real browser, through the demo page, against the real `wrangler dev`:
 *
 * - two pages (two browser contexts: two devices, each with its own IndexedDB) in two
 *   regions edit the same Automerge to-do list and Yjs notes; one goes offline, edits, is
 *   reloaded while still offline (the service worker serves the page, IndexedDB the
 *   documents) and still shows its edits, then comes back online; both pages converge, and
 *   the server holds every edit in every region;
 * - a page whose token is wrong (401) or does not grant writes (403) shows the error and
 *   keeps its local edits, across a reload, and the server never gets them.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, launchBrowser, mintToken, newPage, screenshot, startWrangler, waitUntil, type WranglerDev } from './browser.js';

const REGIONS = ['wnam', 'weur', 'apac'];

const room = (): string => `s${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;

/** The to-do texts the page shows, sorted. */
const todoTexts = (page: Page): Promise<string[]> => page.locator('#todos li .text').allTextContents().then((t) => t.sort());

const statusOf = (page: Page): Promise<{ state: string | undefined; pending: string | undefined }> =>
  page.locator('#status').evaluate((e) => ({ state: (e as HTMLElement).dataset['state'], pending: (e as HTMLElement).dataset['pending'] }));

async function addTodo(page: Page, text: string): Promise<void> {
  await page.locator('#todo-input').fill(text);
  await page.locator('#todo-add').click();
  await waitUntil(page, `to-do "${text}" shown`, (t: string) => [...document.querySelectorAll('#todos li .text')].some((e) => e.textContent === t), text);
}

/** Types `text` at the end of the notes. */
async function typeNotes(page: Page, text: string): Promise<void> {
  await page.locator('#notes').focus();
  await page.locator('#notes').evaluate((ta) => {
    const t = ta as HTMLTextAreaElement;
    t.setSelectionRange(t.value.length, t.value.length);
  });
  await page.keyboard.type(text);
  await waitUntil(page, `notes holding "${text}"`, (t: string) => (document.getElementById('notes') as HTMLTextAreaElement).value.includes(t), text);
}

const waitReady = (page: Page): Promise<unknown> => waitUntil(page, 'the demo page ready', () => document.body.dataset['ready'] === 'true', null, 60_000);

const waitSynced = (page: Page, timeoutMs = 60_000): Promise<unknown> =>
  waitUntil(
    page,
    'synced with nothing pending',
    () => {
      const s = document.getElementById('status')!;
      return s.dataset['state'] === 'synced' && s.dataset['pending'] === '0';
    },
    null,
    timeoutMs,
  );

async function serverDoc(dev: WranglerDev, token: string, key: string, region: string): Promise<{ status: number; body: Record<string, unknown> | null }> {
  const res = await fetch(`${dev.url}/v1/demo/docs/${encodeURIComponent(key)}`, {
    headers: { Authorization: `Bearer ${token}`, 'Concord-Region': region },
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  return { status: res.status, body: res.status === 200 ? (JSON.parse(text) as Record<string, unknown>) : null };
}

const serverTodoTexts = (body: Record<string, unknown> | null): string[] =>
  Object.values(body ?? {})
    .map((v) => (v as { text?: unknown }).text)
    .filter((t): t is string => typeof t === 'string')
    .sort();

describe('the SDK in Chromium: two devices, two regions, offline and back', () => {
  let dev: WranglerDev;
  let browser: Browser;
  let reader: string;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    [dev, browser, reader] = await Promise.all([startWrangler({ env: 'test' }), launchBrowser(), mintToken('--ns', 'demo', '--scope', 'read')]);
  });
  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await dev?.stop();
  });

  async function device(url: string): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext();
    contexts.push(context);
    const page = await newPage(context);
    await page.goto(url);
    await waitReady(page);
    return { context, page };
  }

  it('keeps offline edits across a reload, then converges everywhere', async () => {
    const r = room();
    const a = await device(`${dev.url}/?room=${r}&region=wnam`);
    const b = await device(`${dev.url}/?room=${r}&region=apac`);
    await Promise.all([waitSynced(a.page), waitSynced(b.page)]);
    // The service worker holds the page's files once it controls the page.
    await waitUntil(a.page, 'the service worker in control', () => navigator.serviceWorker.controller !== null, null);

    // Both online, in different regions: each sees the other's edits of both engines.
    await addTodo(a.page, 'from A');
    await addTodo(b.page, 'from B');
    await typeNotes(a.page, 'A1 ');
    await waitUntil(b.page, 'A1 in B', () => (document.getElementById('notes') as HTMLTextAreaElement).value.includes('A1'), null);
    await typeNotes(b.page, 'B1 ');
    for (const p of [a.page, b.page]) {
      await waitUntil(p, 'both online to-dos', () => document.querySelectorAll('#todos li').length === 2, null);
      await waitUntil(p, 'both online notes', () => /A1.*B1|B1.*A1/s.test((document.getElementById('notes') as HTMLTextAreaElement).value), null);
    }

    // A goes offline and edits.
    await a.context.setOffline(true);
    await waitUntil(a.page, 'A offline', () => document.getElementById('status')!.dataset['state'] === 'offline', null);
    await addTodo(a.page, 'offline A');
    await typeNotes(a.page, 'A-offline ');
    expect(Number((await statusOf(a.page)).pending)).toBeGreaterThan(0);

    // Reloaded while still offline: the page comes from the service worker, the edits from IndexedDB.
    await a.page.reload();
    await waitReady(a.page);
    expect(await todoTexts(a.page)).toEqual(['from A', 'from B', 'offline A']);
    expect(await a.page.locator('#notes').inputValue()).toContain('A-offline');
    // Chromium reports navigator.onLine = true in a document loaded under emulated offline
    // network conditions, so the SDK may believe it is online: it then tries to connect and
    // fails ('connecting'), which is what it does behind any network that drops everything.
    await waitUntil(a.page, 'A offline or failing to connect after the reload', () => ['offline', 'connecting'].includes(document.getElementById('status')!.dataset['state']!), null, 10_000);
    expect(Number((await statusOf(a.page)).pending)).toBeGreaterThan(0);
    await screenshot(a.page, 'sync-offline-after-reload');

    // B edits meanwhile; A cannot see it.
    await addTodo(b.page, 'B while A offline');
    await typeNotes(b.page, 'B2 ');
    await waitSynced(b.page);
    expect(await todoTexts(a.page)).not.toContain('B while A offline');

    // Back online: both converge on everything.
    await a.context.setOffline(false);
    const all = ['B while A offline', 'from A', 'from B', 'offline A'];
    for (const p of [a.page, b.page]) {
      await waitUntil(p, 'every to-do', (n: number) => document.querySelectorAll('#todos li').length === n, all.length, 60_000);
      expect(await todoTexts(p)).toEqual(all);
      await waitUntil(p, 'every note', () => ['A1', 'B1', 'A-offline', 'B2'].every((t) => (document.getElementById('notes') as HTMLTextAreaElement).value.includes(t)), null, 60_000);
      await waitSynced(p);
    }
    const notesA = await a.page.locator('#notes').inputValue();
    expect(await b.page.locator('#notes').inputValue()).toBe(notesA);
    await screenshot(a.page, 'sync-converged-a');
    await screenshot(b.page, 'sync-converged-b');

    // The server has every edit, in every region.
    for (const region of REGIONS) {
      const todos = await eventually(`every to-do in ${region}`, () => serverDoc(dev, reader, `todos-${r}`, region), (d) => serverTodoTexts(d.body).length === all.length);
      expect(serverTodoTexts(todos.body)).toEqual(all);
      const notes = await eventually(`the notes in ${region}`, () => serverDoc(dev, reader, `notes-${r}`, region), (d) => d.body?.['text'] === notesA);
      expect(notes.body).toEqual({ text: notesA });
    }
  });
});

describe('the SDK in Chromium: a token the server refuses', () => {
  let dev: WranglerDev;
  let browser: Browser;
  let reader: string;
  let readOnly: string;

  beforeAll(async () => {
    [dev, browser, reader, readOnly] = await Promise.all([
      startWrangler({ env: 'test' }),
      launchBrowser(),
      mintToken('--ns', 'demo', '--scope', 'read'),
      mintToken('--ns', 'demo', '--scope', 'read'),
    ]);
  });
  afterAll(async () => {
    await browser?.close();
    await dev?.stop();
  });

  for (const [name, token, status] of [
    ['wrong (another secret)', () => mintToken('--ns', 'demo', '--scope', 'write', '--secret', 'not-the-servers-secret'), 'unauthorized'],
    ['read-only', () => Promise.resolve(readOnly), 'forbidden'],
  ] as const) {
    it(`shows the error of a ${name} token and keeps the local edits`, async () => {
      const r = room();
      const context = await browser.newContext();
      try {
        const page = await newPage(context);
        await page.goto(`${dev.url}/?room=${r}#token=${await token()}`);
        await waitReady(page);
        await addTodo(page, 'kept locally');
        await typeNotes(page, 'kept too');
        await waitUntil(page, 'the error state', () => document.getElementById('status')!.dataset['state'] === 'error', null);
        const banner = await page.locator('#error').textContent();
        expect(banner).toContain(`Sync stopped: ${status}`);
        expect(banner).toContain('Your edits are kept on this device');
        expect(Number((await statusOf(page)).pending)).toBeGreaterThan(0);
        await screenshot(page, `sync-refused-${status}`);

        // The edits survive a reload (IndexedDB), and the error shows again.
        await page.reload();
        await waitReady(page);
        expect(await todoTexts(page)).toEqual(['kept locally']);
        expect(await page.locator('#notes').inputValue()).toBe('kept too');
        await waitUntil(page, 'the error state after the reload', () => document.getElementById('status')!.dataset['state'] === 'error', null);

        // Nothing reached the server.
        for (const key of [`todos-${r}`, `notes-${r}`]) expect((await serverDoc(dev, reader, key, 'wnam')).status).toBe(404);
      } finally {
        await context.close();
      }
    });
  }
});
