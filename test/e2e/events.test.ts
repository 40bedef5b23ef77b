/**
 * `GET /v1/:ns/docs/:key/events` on the real `wrangler dev`: a listener in one region gets
 * every change written in another, and resumes with `Last-Event-ID` without gaps or
 * duplicates.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from './eventually.js';
import { mintToken, startWrangler, type WranglerDev } from './wrangler.js';

const NS = 'feed';

interface SseEvent {
  id?: string;
  event: string;
  data: string;
}

/** An open feed: the events so far, and a way to stop listening. */
interface Feed {
  readonly status: number;
  readonly events: SseEvent[];
  close(): void;
}

describe('Server-Sent Events feed on wrangler dev', () => {
  let dev: WranglerDev;
  let write: string;
  let read: string;
  const feeds: Feed[] = [];

  beforeAll(async () => {
    [dev, write, read] = await Promise.all([
      startWrangler({ env: 'test', logLevel: 'warn' }),
      mintToken('--ns', `${NS}*`, '--scope', 'write'),
      mintToken('--ns', `${NS}*`, '--scope', 'read'),
    ]);
  });
  afterAll(async () => {
    for (const f of feeds) f.close();
    await dev?.stop();
  });

  /** Opens the feed as EventSource would (token in the query, the last id as Last-Event-ID). */
  async function listen(key: string, region: string, lastEventId?: string): Promise<Feed> {
    const abort = new AbortController();
    const res = await fetch(`${dev.url}/v1/${NS}/docs/${key}/events?region=${region}&token=${read}`, {
      headers: { Accept: 'text/event-stream', ...(lastEventId && { 'Last-Event-ID': lastEventId }) },
      signal: abort.signal,
    });
    const events: SseEvent[] = [];
    const feed: Feed = { status: res.status, events, close: () => abort.abort() };
    feeds.push(feed);
    if (res.status !== 200 || !res.body) return feed;
    void (async () => {
      const decoder = new TextDecoder();
      let buf = '';
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          buf += decoder.decode(chunk, { stream: true });
          let end: number;
          while ((end = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, end);
            buf = buf.slice(end + 2);
            const e: SseEvent = { event: 'message', data: '' };
            let hasData = false;
            for (const line of block.split('\n')) {
              const [field, ...rest] = line.split(': ');
              const value = rest.join(': ');
              if (field === 'id') e.id = value;
              else if (field === 'event') e.event = value;
              else if (field === 'data') {
                e.data = value;
                hasData = true;
              }
            }
            if (hasData) events.push(e);
          }
        }
      } catch {
        // Aborted by close().
      }
    })();
    return feed;
  }

  async function patch(key: string, region: string, body: unknown): Promise<void> {
    const res = await fetch(`${dev.url}/v1/${NS}/docs/${key}?region=${region}`, {
      method: 'PATCH',
      headers: { Authorization: `Bearer ${write}`, 'Content-Type': 'application/merge-patch+json' },
      body: JSON.stringify(body),
    });
    expect(res.status, await res.text()).toBeLessThan(300);
  }

  const json = (e: SseEvent): unknown => (JSON.parse(e.data) as { json?: unknown }).json;

  it('delivers every change written in another region, in order', async () => {
    const feed = await listen('live', 'apac');
    expect(feed.status).toBe(200);
    for (let i = 1; i <= 5; i++) {
      await patch('live', 'wnam', { n: i });
      // Each change is seen before the next is written, so no two can fold into one event.
      await eventually(`event ${i}`, 15_000, () => (feed.events.some((e) => (json(e) as { n?: number })?.n === i) ? true : undefined));
    }
    expect(feed.events.map((e) => (json(e) as { n: number }).n)).toEqual([1, 2, 3, 4, 5]);
    expect(feed.events.every((e) => e.event === 'change' && e.id)).toBe(true);
  });

  it('resumes from Last-Event-ID in another region without a gap or a duplicate', async () => {
    const first = await listen('resume', 'weur');
    await patch('resume', 'wnam', { step: 1 });
    const last = await eventually('the first event', 15_000, () => first.events.at(-1));
    first.close();
    // Nothing changed since: a resumed feed sends nothing until the next change.
    const quiet = await listen('resume', 'apac', last.id);
    await patch('resume', 'wnam', { other: true });
    const next = await eventually('the next change', 15_000, () => quiet.events[0]);
    expect(json(next)).toEqual({ step: 1, other: true });
    quiet.close();
    // Changes made while away arrive as one up-to-date event.
    await patch('resume', 'wnam', { step: 2 });
    await patch('resume', 'wnam', { step: 3 });
    const back = await listen('resume', 'weur', next.id);
    const caughtUp = await eventually('caught up', 15_000, () => back.events.find((e) => (json(e) as { step?: number })?.step === 3));
    expect(back.events.indexOf(caughtUp)).toBe(back.events.length - 1);
    expect(back.events.every((e) => (json(e) as { step: number }).step >= 2)).toBe(true);
  });

  it('drops a listener that stops reading once its events back up, with a last dropped event', async () => {
    const abort = new AbortController();
    await patch('slow', 'wnam', { big: 'x'.repeat(200_000) });
    const res = await fetch(`${dev.url}/v1/${NS}/docs/slow/events?region=wnam&token=${read}`, { signal: abort.signal });
    expect(res.status).toBe(200);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let text = '';
    while (!text.includes('event: change')) text += decoder.decode((await reader.read()).value, { stream: true });
    // The listener now reads nothing while 120 small changes are made, each an event with the
    // whole view of about 200 KB: far more than the member's 1 MiB bound plus what the sockets
    // between can buffer.
    for (let i = 0; i < 120; i++) await patch('slow', 'wnam', { n: i });
    let received = 0;
    // An undropped feed stays open: it must end within a bound, not at the test's timeout.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('the feed was not dropped')), 30_000)));
    for (;;) {
      const { value, done } = await Promise.race([reader.read(), deadline]);
      if (done) break;
      received += value.byteLength;
      text = (text + decoder.decode(value, { stream: true })).slice(-4096);
    }
    clearTimeout(timer);
    abort.abort();
    expect(text).toContain('event: dropped');
    expect(received).toBeLessThan(120 * 200_000);
  });

  it('tells a delete as a delete event, and refuses a listener without a token or with a forged id', async () => {
    const feed = await listen('gone', 'wnam');
    await patch('gone', 'wnam', { a: 1 });
    await eventually('created', 15_000, () => feed.events[0]);
    const del = await fetch(`${dev.url}/v1/${NS}/docs/gone?region=wnam`, { method: 'DELETE', headers: { Authorization: `Bearer ${write}` } });
    expect(del.status).toBe(204);
    const deleted = await eventually('delete event', 15_000, () => feed.events.find((e) => e.event === 'delete'));
    expect(JSON.parse(deleted.data)).toEqual({});

    const anonymous = await fetch(`${dev.url}/v1/${NS}/docs/gone/events`);
    expect(anonymous.status).toBe(401);
    const forged = await fetch(`${dev.url}/v1/${NS}/docs/gone/events?token=${read}`, { headers: { 'Last-Event-ID': 'AAAA' } });
    expect(forged.status).toBe(400);
    expect(((await forged.json()) as { type: string }).type).toBe('https://concord.dev/problems/invalid-token');
  });
});
