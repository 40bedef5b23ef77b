/**
 * The document routes (DESIGN.md, HTTP API): JSON reads and writes, operations, deletes and
 * engine-native bytes of one document, each answered by the member nearest the caller.
 *
 * @remarks Checks run cheapest first and all before the member is asked, so a bad request
 * costs no Durable Object round trip and changes nothing: names, headers, content type, then
 * the body, then whether the consistency level can honour the preconditions.
 */
import type { Hono } from 'hono';
import { checkPreconditionsAllowed } from '../core/consistency.js';
import type { EngineName } from '../core/engines/engine.js';
import { hasGuards, parseOps } from '../core/engines/ops.js';
import { isJsonObject } from '../core/json.js';
import type { DocResult } from '../objects/protocol.js';
import { requireScope } from './auth.js';
import type { AppEnv, Ctx } from './context.js';
import { limitBody } from './limits.js';
import { ApiProblem } from './problems.js';
import { base, jsonResponse, readTarget, reply, send, type Target } from './target.js';
import { parseIfMatch, parseSince, readJson, requireMediaType } from './validate.js';
import { writeIdentity } from './write-identity.js';

const DOC = '/v1/:ns/docs/:key';

export const CRDT_TYPES = {
  yjs: 'application/vnd.concord.yjs',
  automerge: 'application/vnd.concord.automerge',
} as const satisfies Record<EngineName, string>;

const ENGINE_OF_TYPE = new Map<string, EngineName>(Object.entries(CRDT_TYPES).map(([e, t]) => [t, e as EngineName]));

/** The document JSON of a result; a member that answers a JSON route without one breaks the protocol. */
function docJson(result: DocResult): unknown {
  if (!result.json) throw new Error(`member ${result.member} answered without a document`);
  return result.json;
}

/** The answer to `Prefer: return=minimal`: status and headers, no body. */
const minimalResponse = (result: DocResult, headers: Record<string, string>): Response =>
  new Response(null, { status: result.status, headers: { ...headers, 'Preference-Applied': 'return=minimal' } });

const renderDoc = (result: DocResult, headers: Record<string, string>): Response =>
  result.json === undefined && result.status !== 204 ? minimalResponse(result, headers) : jsonResponse(docJson(result), result.status, headers);

/** `If-Match` read and checked against the level before anything else is sent. */
function preconditions(c: Ctx, t: Target, guards: boolean): { ifMatch?: string[] } {
  const ifMatch = parseIfMatch(c.req.header('If-Match'));
  checkPreconditionsAllowed(t.level, { ifMatch: ifMatch !== undefined, guards });
  return ifMatch ? { ifMatch } : {};
}

/** RFC 9110 §13.1.2: weak comparison, `*` matches any current representation. */
function noneMatch(header: string | undefined, etag: string | undefined): boolean {
  if (!header || !etag) return false;
  const opaque = (tag: string): string => tag.trim().replace(/^W\//, '');
  return header.trim() === '*' || header.split(',').some((tag) => opaque(tag) === opaque(etag));
}

async function getDoc(c: Ctx): Promise<Response> {
  const t = await readTarget(c);
  const res = await send(c, t, { op: 'get', ...base(t) });
  return reply(t, res, (result, headers) => {
    if (noneMatch(c.req.header('If-None-Match'), result.etag)) return new Response(null, { status: 304, headers });
    return renderDoc(result, headers);
  });
}

async function putDoc(c: Ctx): Promise<Response> {
  const t = await readTarget(c);
  requireMediaType(c, ['application/json']);
  const pre = preconditions(c, t, false);
  const json = await readJson(c);
  if (!isJsonObject(json)) throw new ApiProblem('invalid-document', 'PUT needs a JSON object: a document is an object at its root');
  const id = await writeIdentity(c, t, JSON.stringify(json));
  return reply(t, await send(c, t, { op: 'put', ...base(t), ...pre, ...id, json }), renderDoc);
}

async function patchDoc(c: Ctx): Promise<Response> {
  const t = await readTarget(c);
  requireMediaType(c, ['application/merge-patch+json']);
  const pre = preconditions(c, t, false);
  const patch = await readJson(c);
  // RFC 7396 would replace the whole target with a non-object patch; a document must stay an object.
  if (!isJsonObject(patch)) throw new ApiProblem('invalid-document', 'a merge patch of a document must be a JSON object');
  const id = await writeIdentity(c, t, JSON.stringify(patch));
  return reply(t, await send(c, t, { op: 'patch', ...base(t), ...pre, ...id, patch }), renderDoc);
}

async function postOps(c: Ctx): Promise<Response> {
  const t = await readTarget(c);
  requireMediaType(c, ['application/json']);
  const ops = parseOps(await readJson(c), c.get('config').maxOps);
  const pre = preconditions(c, t, hasGuards(ops));
  const id = await writeIdentity(c, t, JSON.stringify(ops));
  return reply(t, await send(c, t, { op: 'ops', ...base(t), ...pre, ...id, ops }), renderDoc);
}

async function deleteDoc(c: Ctx): Promise<Response> {
  const t = await readTarget(c);
  const pre = preconditions(c, t, false);
  const res = await send(c, t, { op: 'delete', ...base(t), ...pre, ...(await writeIdentity(c, t, '')) });
  return reply(t, res, (_, headers) => new Response(null, { status: 204, headers }));
}

async function getCrdt(c: Ctx): Promise<Response> {
  const t = await readTarget(c);
  const since = parseSince(c.req.query('since'));
  const res = await send(c, t, { op: 'getCrdt', ...base(t), ...(since && { since }) });
  return reply(t, res, (result, headers) => {
    if (!result.bytes || !result.engine) throw new Error(`member ${result.member} answered getCrdt without bytes or engine`);
    return new Response(result.bytes, { status: 200, headers: { ...headers, 'Content-Type': CRDT_TYPES[result.engine] } });
  });
}

/** Answers `{engine, json}`: the engine says how to read the bytes later, the JSON what they made. */
async function postCrdt(c: Ctx): Promise<Response> {
  const t = await readTarget(c);
  const type = requireMediaType(c, Object.values(CRDT_TYPES));
  const engine = ENGINE_OF_TYPE.get(type)!;
  const pre = preconditions(c, t, false);
  const bytes = new Uint8Array(await c.req.arrayBuffer());
  if (bytes.length === 0) throw new ApiProblem('invalid-update', `an empty body is no ${engine} update`);
  const id = await writeIdentity(c, t, bytes);
  const res = await send(c, t, { op: 'postCrdt', ...base(t), ...pre, ...id, engine, bytes });
  return reply(t, res, (result, headers) => {
    if (id.minimal) return minimalResponse(result, headers);
    return jsonResponse({ engine: result.engine ?? engine, json: docJson(result) }, result.status, headers);
  });
}

/** Registers the document routes on `app`. */
export function docRoutes(app: Hono<AppEnv>): void {
  app.get(DOC, requireScope('read'), getDoc);
  app.put(DOC, requireScope('write'), limitBody, putDoc);
  app.patch(DOC, requireScope('write'), limitBody, patchDoc);
  app.delete(DOC, requireScope('write'), deleteDoc);
  app.post(`${DOC}/ops`, requireScope('write'), limitBody, postOps);
  app.get(`${DOC}/crdt`, requireScope('read'), getCrdt);
  app.post(`${DOC}/crdt`, requireScope('write'), limitBody, postCrdt);
}

/** Paths of this module with the methods they answer, for 405 responses. */
export const DOC_METHODS: ReadonlyArray<readonly [string, readonly string[]]> = [
  [DOC, ['GET', 'HEAD', 'PUT', 'PATCH', 'DELETE']],
  [`${DOC}/ops`, ['POST']],
  [`${DOC}/crdt`, ['GET', 'HEAD', 'POST']],
];
