/**
 * `GET /v1/:ns/ws/:key`: a WebSocket for real-time sync, held by the member nearest the
 * caller (or the one `?region=` names). The edge authenticates and forwards the upgrade; the
 * member accepts it (`src/objects/sockets.ts`).
 *
 * @remarks Browsers cannot set headers on a WebSocket, so the bearer token may also come as
 * the `token` query parameter (what `WebsocketProvider`'s `params` sends) or as a subprotocol
 * `concord.bearer.<token>`, offered together with `concord`, which the answer selects.
 *
 * `?ext=concord` asks for Concord's extension of both protocols, which the browser SDK speaks
 * and stock clients never ask for (see `src/objects/sockets.ts`).
 *
 * A browser cannot read the body of a refused upgrade either: every refusal of a WebSocket
 * request is therefore a socket that is accepted and closed at once, with code 4000 + the
 * HTTP status the problem would have had (4400, 4401, 4403, 4409, 4503) and the problem's
 * detail as the reason. A request without `Upgrade: websocket` gets the problem as HTTP (426).
 */
import type { Hono } from 'hono';
import { closeReason } from '../core/realtime/close-reason.js';
import { ENGINE_NAMES, type EngineName } from '../core/engines/engine.js';
import { shard } from '../core/routing.js';
import type { SocketRequest } from '../objects/sockets.js';
import { authenticate, browserBearer, checkGrant, grants, verifierFor } from './auth.js';
import type { AppEnv, Ctx } from './context.js';
import { memberFetcher } from './members.js';
import { pickRegion } from './region.js';
import { ApiProblem, errorToResponse, memberProblem } from './problems.js';
import { checkKey, checkNamespace, checkUrlEncoding } from './validate.js';

export const WS = '/v1/:ns/ws/:key';
const PROTOCOL = 'concord';
const BEARER_PROTOCOL = 'concord.bearer.';
/** `?ext=concord`: acknowledgements and Automerge presence, for the SDK (`src/objects/sockets.ts`). */
const EXTENSION = 'concord';

async function upgrade(c: Ctx): Promise<Response> {
  const offered = (c.req.header('Sec-WebSocket-Protocol') ?? '').split(',').map((p) => p.trim()).filter(Boolean);
  const selected = offered.includes(PROTOCOL) ? PROTOCOL : offered.find((p) => p.startsWith(BEARER_PROTOCOL));
  if (c.req.header('Upgrade')?.toLowerCase() !== 'websocket') {
    throw new ApiProblem('upgrade-required', `${c.req.path} is a WebSocket: send Upgrade: websocket`, { Upgrade: 'websocket' });
  }
  try {
    checkUrlEncoding(c);
    const ns = checkNamespace(c.req.param('ns') ?? '');
    const key = checkKey(c.req.param('key') ?? '');
    const claims = await authenticate(browserBearer(c, offered.find((p) => p.startsWith(BEARER_PROTOCOL))?.slice(BEARER_PROTOCOL.length)), verifierFor(c.env));
    checkGrant(claims, 'read', ns);
    const region = pickRegion(c);
    const config = c.get('config');
    const engine = c.req.query('engine');
    if (engine !== undefined && !(ENGINE_NAMES as readonly string[]).includes(engine)) {
      throw new ApiProblem('invalid-parameter', `engine must be one of ${ENGINE_NAMES.join(', ')}`);
    }
    const ext = c.req.query('ext');
    if (ext !== undefined && ext !== EXTENSION) throw new ApiProblem('invalid-parameter', `ext must be ${EXTENSION}`);
    const req: SocketRequest = { ns, key, write: grants(claims, 'write'), ...(engine && { engine: engine as EngineName }), ...(ext && { ext: true }) };
    // Only what the member needs, set here: a client's own `Concord-*` headers must never reach it.
    const headers = new Headers({ Upgrade: 'websocket', 'Concord-Socket': JSON.stringify(req) });
    if (selected) headers.set('Concord-Socket-Protocol', selected);
    const stub = memberFetcher(c.env, shard(ns, key, config.shards), region);
    const res = await stub.fetch(new Request(c.req.raw.url, { headers }));
    if (res.status === 101) return res;
    return refused(memberProblem((await res.json()) as { code: string; detail: string; retryAfterSeconds?: number }), selected);
  } catch (err) {
    return refused(errorToResponse(err), selected);
  }
}


/** A problem response as a socket closed at once, with 4000 + its status and its detail. */
async function refused(problem: Response, protocol: string | undefined): Promise<Response> {
  let detail = problem.statusText;
  try {
    detail = ((await problem.json()) as { detail?: string }).detail ?? detail;
  } catch {
    // A bare response: its status says enough.
  }
  const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
  server.accept();
  server.close(4000 + problem.status, closeReason(detail));
  return new Response(null, { status: 101, webSocket: client, ...(protocol && { headers: { 'Sec-WebSocket-Protocol': protocol } }) });
}

export const WS_METHODS = [[WS, ['GET']]] as const;

export function wsRoutes(app: Hono<AppEnv>): void {
  app.get(WS, upgrade);
}
