/**
 * The pages a newcomer sees, in a real headless Chromium against the real `wrangler dev`:
 *
 * - as `npm start` serves them (top-level config + .dev.vars): the static pages beside the
 *   API, and the demo page at `/` getting its token from the development route, syncing,
 *   and showing its status and who is present;
 * - as `npm run start:test` serves them: the dashboard at `/dashboard` with an admin token,
 *   refreshing live, and its fault controls.
 *
 * Screenshots go to test-artifacts/browser/.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, launchBrowser, mintToken, newPage, pageLog, screenshot, startWrangler, waitUntil, type WranglerDev } from './browser.js';

const room = (): string => `t${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;

async function getDoc(dev: WranglerDev, token: string, key: string, region?: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${dev.url}/v1/demo/docs/${encodeURIComponent(key)}`, {
    headers: { Authorization: `Bearer ${token}`, ...(region && { 'Concord-Region': region }) },
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as unknown) : null };
}

describe('the demo page, as npm start serves it', () => {
  let dev: WranglerDev;
  let browser: Browser;
  let reader: string;

  beforeAll(async () => {
    [dev, browser, reader] = await Promise.all([startWrangler(), launchBrowser(), mintToken('--ns', 'demo', '--scope', 'read')]);
  });
  afterAll(async () => {
    await browser?.close();
    await dev?.stop();
  });

  it('serves the pages and the SDK bundle as assets, and leaves every API path to the Worker', async () => {
    const get = (path: string): Promise<Response> => fetch(`${dev.url}${path}`, { redirect: 'manual', signal: AbortSignal.timeout(10_000) });
    for (const [path, marker] of [
      ['/', '<title>Concord · demo</title>'],
      ['/dashboard', '<title>Concord · cluster dashboard</title>'],
    ] as const) {
      const res = await get(path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('Content-Type')).toContain('text/html');
      expect(await res.text()).toContain(marker);
    }
    const bundle = await get('/assets/concord.js');
    expect(bundle.status, 'the SDK bundle is built by wrangler [build]').toBe(200);
    expect(bundle.headers.get('Content-Type')).toContain('javascript');
    expect(await bundle.text()).toContain('ConcordClient');
    for (const path of ['/nope', '/v1/nope', '/v1/index.html', '/v1/dashboard']) {
      const res = await get(path);
      expect(res.status, path).toBe(404);
      expect(res.headers.get('Content-Type'), path).toBe('application/problem+json');
    }
    const token = await get('/v1/dev/token');
    expect(token.status, 'DEV_TOKENS=on comes from .dev.vars under npm start').toBe(200);
    expect(token.headers.get('Cache-Control')).toBe('no-store');
  });

  it('renders, syncs both documents, and shows its status and presence', async () => {
    const r = room();
    const context = await browser.newContext();
    try {
      const page = await newPage(context);
      await page.goto(`${dev.url}/?room=${r}&region=weur`);
      await waitUntil(page, 'the page to be ready', () => document.body.dataset['ready'] === 'true', null);
      await waitUntil(page, 'status synced', () => document.getElementById('status')!.dataset['state'] === 'synced', null);
      expect(await page.locator('#region').inputValue()).toBe('weur');
      expect(await page.locator('#region option').allTextContents()).toEqual(['wnam', 'weur', 'apac']);
      expect(await page.locator('#people li.me').textContent()).toContain('(you)');

      await page.locator('#todo-input').fill('buy milk');
      await page.locator('#todo-add').click();
      await page.locator('#notes').click();
      await page.keyboard.type('hello from chromium');
      await waitUntil(page, 'the to-do in the list', () => [...document.querySelectorAll('#todos li .text')].some((e) => e.textContent === 'buy milk'), null);
      await waitUntil(page, 'everything acknowledged', () => {
        const s = document.getElementById('status')!;
        return s.dataset['state'] === 'synced' && s.dataset['pending'] === '0';
      }, null);
      expect(await page.locator('#status').textContent()).toBe('synced');

      // The server holds both edits, in the region the page picked and in the others.
      for (const region of ['weur', 'wnam', 'apac']) {
        const todos = await eventually(`the to-do in ${region}`, () => getDoc(dev, reader, `todos-${r}`, region), (d) => d.status === 200 && JSON.stringify(d.body).includes('buy milk'));
        const items = Object.values(todos.body as Record<string, { text: string; done: boolean }>);
        expect(items).toEqual([expect.objectContaining({ text: 'buy milk', done: false })]);
        await eventually(`the notes in ${region}`, () => getDoc(dev, reader, `notes-${r}`, region), (d) => d.status === 200 && (d.body as { text?: string }).text === 'hello from chromium');
      }
      await screenshot(page, 'demo');
      expect(pageLog(page).filter((l) => l.startsWith('[pageerror]'))).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('shows another window of the same room as present, and removes it when it closes', async () => {
    const r = room();
    const context = await browser.newContext();
    try {
      const [a, b] = [await newPage(context), await newPage(context)];
      await a.goto(`${dev.url}/?room=${r}`);
      await b.goto(`${dev.url}/?room=${r}&region=apac`);
      await waitUntil(b, 'the second window ready', () => document.body.dataset['ready'] === 'true', null);
      await b.locator('#name').fill('Bea');
      await b.locator('#name').dispatchEvent('change');
      await waitUntil(a, 'Bea present in the first window', () => [...document.querySelectorAll('#people li')].some((e) => e.textContent === 'Bea · apac'), null);
      expect(await a.locator('#people li').count()).toBe(2);
      await screenshot(a, 'demo-presence');
      await b.close();
      await waitUntil(a, 'Bea gone', () => document.querySelectorAll('#people li').length === 1, null, 45_000);
    } finally {
      await context.close();
    }
  });
});

describe('the dashboard, as npm run start:test serves it', () => {
  let dev: WranglerDev;
  let browser: Browser;
  let admin: string;
  let writer: string;

  beforeAll(async () => {
    [dev, browser, admin, writer] = await Promise.all([
      startWrangler({ env: 'test' }),
      launchBrowser(),
      mintToken('--ns', '*', '--scope', 'admin'),
      mintToken('--ns', 'demo', '--scope', 'write'),
    ]);
  });
  afterAll(async () => {
    await browser?.close();
    await dev?.stop();
  });

  const strongPut = async (key: string, region: string): Promise<number> => {
    const res = await fetch(`${dev.url}/v1/demo/docs/${key}`, {
      method: 'PUT',
      headers: { Authorization: `Bearer ${writer}`, 'Content-Type': 'application/json', Consistency: 'strong', 'Concord-Region': region },
      body: JSON.stringify({ at: Date.now() }),
      signal: AbortSignal.timeout(15_000),
    });
    await res.arrayBuffer();
    return res.status;
  };

  /** The dashboard in a new page of `context`, signed in with `token`. */
  const dashboard = async (context: BrowserContext, token: string): Promise<Page> => {
    const page = await newPage(context);
    await page.goto(`${dev.url}/dashboard`);
    await page.locator('#token').fill(token);
    await page.locator('button[type=submit]').first().click();
    return page;
  };

  it('refuses a wrong token with a readable error', async () => {
    const context = await browser.newContext();
    try {
      const page = await dashboard(context, 'not-a-token');
      await waitUntil(page, 'the refusal', () => !document.getElementById('error')!.hidden, null);
      expect(await page.locator('#error').textContent()).toMatch(/^The token was refused \(401\): /);
      expect(await page.locator('#refresh').getAttribute('data-state')).toBe('error');
      expect(await page.locator('#members tbody tr').count()).toBe(0);
    } finally {
      await context.close();
    }
  });

  it('shows every member per shard and region, leaders and epochs, refreshing live; the token stays for the tab', async () => {
    const context = await browser.newContext();
    try {
      const page = await dashboard(context, admin);
      // wrangler.toml's test environment: 4 shards × 3 regions.
      await waitUntil(page, '12 member rows', () => document.querySelectorAll('#members tbody tr').length === 12, null);
      expect(await page.locator('#leaders tbody tr').count()).toBe(4);
      expect(await page.locator('#regions').textContent()).toBe('wnam, weur, apac');
      expect(await page.locator('#shards').textContent()).toBe('4');
      const rows = await page.locator('#members tbody tr').evaluateAll((trs) => trs.map((tr) => (tr as HTMLElement).dataset['member']));
      expect(rows).toEqual([0, 1, 2, 3].flatMap((s) => ['wnam', 'weur', 'apac'].map((r) => `replica:${s}:${r}`)));
      expect(await page.locator('#members tbody tr .tag.leader').count()).toBe(4);

      // Live: a write made now shows up in the vectors without touching the page.
      const before = await page.locator('#members td.mono').allTextContents();
      expect(before.every((v) => v === '∅')).toBe(true);
      const put = await fetch(`${dev.url}/v1/demo/docs/live-${Date.now()}`, {
        method: 'PUT',
        headers: { Authorization: `Bearer ${writer}`, 'Content-Type': 'application/json', 'Concord-Region': 'weur' },
        body: '{"live":true}',
      });
      expect(put.status).toBe(201);
      await waitUntil(page, 'the write in three members\' vectors', () => [...document.querySelectorAll('#members td.mono')].filter((td) => td.textContent === 'weur 1').length === 3, null);
      await waitUntil(page, 'one document counted', () => document.getElementById('doc-count')!.textContent === '1', null);
      await screenshot(page, 'dashboard');

      // The token is kept in sessionStorage: a reload goes on without asking again.
      expect(await page.evaluate(() => sessionStorage.getItem('concord.adminToken'))).toBe(admin);
      await page.reload();
      await waitUntil(page, '12 member rows after a reload', () => document.querySelectorAll('#members tbody tr').length === 12, null);
    } finally {
      await context.close();
    }
  });

  it('drives the fault routes of the test configuration: a partition, then healing', async () => {
    const context = await browser.newContext();
    try {
      const page = await dashboard(context, admin);
      await waitUntil(page, 'the fault controls', () => !document.getElementById('faults')!.hidden && document.querySelectorAll('#partition-groups select').length === 3, null);
      expect(await strongPut('fault-probe', 'wnam')).toBe(201);

      // wnam alone on one side: its leader loses the majority, so strong writes there fail.
      await page.locator('#group-wnam').selectOption('A');
      await page.locator('#group-weur').selectOption('B');
      await page.locator('#group-apac').selectOption('B');
      await page.locator('#apply-faults').click();
      await waitUntil(page, 'the faults in force', () => document.getElementById('fault-state')!.dataset['state'] === 'faulty', null);
      expect(await page.locator('#fault-state').textContent()).toBe('in force: [wnam] | [weur, apac], drop 0, delay 0 ms');
      await eventually('a strong write in wnam to fail', () => strongPut('fault-probe', 'wnam'), (s) => s === 503, 30_000);
      await screenshot(page, 'dashboard-partitioned');

      await page.locator('#heal').click();
      await waitUntil(page, 'healed', () => document.getElementById('fault-state')!.dataset['state'] === 'healed', null);
      await eventually('strong writes in wnam again', () => strongPut('fault-probe', 'wnam'), (s) => s === 200 || s === 201, 60_000);
    } finally {
      // Never leave the shared server partitioned for the next test.
      await fetch(`${dev.url}/v1/_test/faults`, { method: 'DELETE', headers: { Authorization: `Bearer ${admin}` } });
      await context.close();
    }
  });
});

describe('the demo page where the development route is off (as deployed)', () => {
  let dev: WranglerDev;
  let browser: Browser;

  beforeAll(async () => {
    [dev, browser] = await Promise.all([startWrangler({ vars: { DEV_TOKENS: 'off' } }), launchBrowser()]);
  });
  afterAll(async () => {
    await browser?.close();
    await dev?.stop();
  });

  it('gets no token, says how to give one, and still edits locally', async () => {
    const res = await fetch(`${dev.url}/v1/dev/token`);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ type: 'https://concord.dev/problems/route-not-found' });
    const context = await browser.newContext();
    try {
      const page = await newPage(context);
      await page.goto(`${dev.url}/?room=${room()}`);
      await waitUntil(page, 'the page to be ready', () => document.body.dataset['ready'] === 'true', null);
      await waitUntil(page, 'the missing-token notice', () => !document.getElementById('info')!.hidden, null);
      expect(await page.locator('#info').textContent()).toContain('this server hands out no development token');
      expect(await page.locator('#info').textContent()).toContain('/#token=<JWT>');
      await page.locator('#todo-input').fill('local only');
      await page.locator('#todo-add').click();
      await waitUntil(page, 'the local to-do', () => document.querySelector('#todos li .text')?.textContent === 'local only', null);
      await screenshot(page, 'demo-no-dev-token');
    } finally {
      await context.close();
    }
  });
});
