/**
 * `GET /v1/:ns/docs/:key/events`: the document's JSON view after each change, as Server-Sent
 * Events, for clients that do not speak a CRDT protocol. Served by the member of the caller's
 * region (`src/objects/feeds.ts`); this route authenticates, and turns the member's events
 * into SSE whose ids are causal tokens.
 *
 * @remarks The event id is the `Concord-Token` of the state the event shows. `EventSource`
 * sends the last one back as `Last-Event-ID` when it reconnects. The feed then resumes
 * without a gap: in any region, it waits like a session read until the member has what the
 * id names, and starts with the current view if the document changed since. It also resumes
 * without a duplicate: nothing is sent for a state the id already covers. `?token=` carries
 * the bearer token, since `EventSource` cannot set headers.
 *
 * Events: `change` (data `{"json": …, "etag": …}`), `delete` (data `{}`), and `dropped`
 * (data `{"detail": …}`, the last event of a listener that fell too far behind).
 */
import type { Hono } from 'hono';
import { emptyToken, tokenFor, withShard } from '../core/shard-token.js';
import { shard } from '../core/routing.js';
import type { VersionVector } from '../core/version-vector.js';
import type { FeedRequest } from '../objects/replica-object.js';
import { authenticate, browserBearer, checkGrant, verifierFor } from './auth.js';
import { issueCausalToken, readCausalToken, tokenSecret } from './causal-token.js';
import type { AppEnv, Ctx } from './context.js';
import { memberProblem } from './problems.js';
import { memberFetcher } from './members.js';
import { pickRegion } from './region.js';
import { memberName } from '../core/routing.js';
import { checkKey, checkNamespace, checkUrlEncoding } from './validate.js';

export const EVENTS = '/v1/:ns/docs/:key/events';

/** What a member's feed line holds (see `feeds.ts`). */
interface FeedLine {
  readonly vv?: VersionVector;
  readonly deleted?: boolean;
  readonly json?: unknown;
  readonly etag?: string;
  readonly dropped?: string;
}

async function events(c: Ctx): Promise<Response> {
  checkUrlEncoding(c);
  const ns = checkNamespace(c.req.param('ns') ?? '');
  const key = checkKey(c.req.param('key') ?? '');
  const claims = await authenticate(browserBearer(c), verifierFor(c.env));
  checkGrant(claims, 'read', ns);
  const config = c.get('config');
  const region = pickRegion(c);
  const secret = tokenSecret(c.env);
  const sent = (c.req.header('Last-Event-ID') ?? c.req.header('Concord-Token'))?.trim();
  const token = sent ? await readCausalToken(sent, secret, config) : emptyToken;
  const s = shard(ns, key, config.shards);

  const stub = memberFetcher(c.env, s, region);
  const req: FeedRequest = { ns, key, token: tokenFor(token, s) };
  const res = await stub.fetch(new Request(`https://member/events`, { headers: { 'Concord-Events': JSON.stringify(req) } }));
  if (res.headers.get('Content-Type') !== 'application/x-ndjson' || !res.body) {
    return memberProblem((await res.json()) as { code: string; detail: string; retryAfterSeconds?: number });
  }

  const toSse = async (line: string): Promise<string> => {
    const e = JSON.parse(line) as FeedLine;
    if (e.dropped !== undefined) return `event: dropped\ndata: ${JSON.stringify({ detail: e.dropped })}\n\n`;
    const id = await issueCausalToken(withShard(token, s, e.vv ?? {}), secret);
    const data = e.deleted ? {} : { json: e.json, etag: e.etag };
    return `id: ${id}\nevent: ${e.deleted ? 'delete' : 'change'}\ndata: ${JSON.stringify(data)}\n\n`;
  };
  let rest = '';
  const sse = new TransformStream<string, string>({
    start(ctl) {
      // Reconnect after a second; also sends the headers at once.
      ctl.enqueue('retry: 1000\n\n');
    },
    async transform(chunk, ctl) {
      rest += chunk;
      let nl: number;
      while ((nl = rest.indexOf('\n')) >= 0) {
        const line = rest.slice(0, nl);
        rest = rest.slice(nl + 1);
        if (line.trim() !== '') ctl.enqueue(await toSse(line));
      }
    },
  });
  const body = res.body.pipeThrough(new TextDecoderStream()).pipeThrough(sse).pipeThrough(new TextEncoderStream());
  return new Response(body, { headers: { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store', 'Concord-Member': memberName(s, region) } });
}

export const EVENTS_METHODS = [[EVENTS, ['GET']]] as const;

export function eventRoutes(app: Hono<AppEnv>): void {
  app.get(EVENTS, events);
}
