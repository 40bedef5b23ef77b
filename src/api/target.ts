/**
 * A document request's address and reading of its headers: which shard and member, at which
 * consistency level, with which causal token; and how a member's answer becomes a response.
 */
import { type Level, parseLevel } from '../core/consistency.js';
import type { MemberId, ShardId } from '../core/ids.js';
import { shard } from '../core/routing.js';
import { type CausalToken, emptyToken, tokenFor, withShard } from '../core/shard-token.js';
import type { VersionVector } from '../core/version-vector.js';
import type { DocRequest, DocResponse, DocResult } from '../objects/protocol.js';
import { issueCausalToken, readCausalToken, tokenSecret } from './causal-token.js';
import type { Ctx } from './context.js';
import { memberStub } from './members.js';
import { memberProblem } from './problems.js';
import { pickRegion } from './region.js';
import { checkKey, checkNamespace, checkUrlEncoding } from './validate.js';

export interface Target {
  readonly ns: string;
  readonly key: string;
  readonly level: Level;
  readonly shard: ShardId;
  readonly region: MemberId;
  /** The whole token the caller sent: the response token extends it, keeping other shards. */
  readonly token: CausalToken;
  /** The caller's vector for this shard, as members expect it. */
  readonly vv: VersionVector;
  /** Keys the response's Concord-Token. */
  readonly secret: string;
}

/**
 * Reads the address and the request headers every document route shares.
 * @throws ApiProblem `invalid-name`, `invalid-parameter`, `unknown-region`; InvalidConsistencyError;
 * InvalidTokenError (a token that does not verify, or names a shard or member this deployment lacks)
 */
export async function readTarget(c: Ctx): Promise<Target> {
  checkUrlEncoding(c);
  const config = c.get('config');
  const ns = checkNamespace(c.req.param('ns') ?? '');
  const key = checkKey(c.req.param('key') ?? '');
  const level = parseLevel(c.req.header('Consistency') ?? c.req.query('consistency'));
  const region = pickRegion(c);
  const sent = c.req.header('Concord-Token')?.trim();
  const token = sent ? await readCausalToken(sent, tokenSecret(c.env), config) : emptyToken;
  const s = shard(ns, key, config.shards);
  return { ns, key, level, shard: s, region, token, vv: tokenFor(token, s), secret: tokenSecret(c.env) };
}

/** The fields of a {@link DocRequest} that come from the target. */
export const base = (t: Target): { ns: string; key: string; level: Level; token: VersionVector } => ({
  ns: t.ns,
  key: t.key,
  level: t.level,
  token: t.vv,
});

/** Sends the request to the member nearest the caller; it forwards to the leader when the level needs one. */
export function send(c: Ctx, t: Target, req: DocRequest): Promise<DocResponse> {
  return memberStub(c.env, t.shard, t.region).handle(req);
}

/** The headers DESIGN.md promises on every answer: causal token, answering member, ETag. */
export async function resultHeaders(t: Target, result: DocResult): Promise<Record<string, string>> {
  const headers: Record<string, string> = {
    'Concord-Token': await issueCausalToken(withShard(t.token, t.shard, result.vv), t.secret),
    'Concord-Member': result.member,
  };
  if (result.etag) headers['ETag'] = result.etag;
  if (result.status === 201) headers['Location'] = `/v1/${encodeURIComponent(t.ns)}/docs/${encodeURIComponent(t.key)}`;
  return headers;
}

/** A member's answer as a response: `render` on success, the problem otherwise. */
export async function reply(
  t: Target,
  res: DocResponse,
  render: (result: DocResult, headers: Record<string, string>) => Response,
): Promise<Response> {
  if (!res.ok) return memberProblem(res.problem);
  return render(res.result, await resultHeaders(t, res.result));
}

/** A JSON response body with the result headers. */
export function jsonResponse(body: unknown, status: number, headers: Record<string, string>): Response {
  return new Response(JSON.stringify(body), { status, headers: { ...headers, 'Content-Type': 'application/json' } });
}
