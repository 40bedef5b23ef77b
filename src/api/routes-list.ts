/**
 * `GET /v1/:ns/docs?prefix=&limit=&cursor=`: the keys of a namespace across every shard.
 *
 * Each shard's member in the caller's region is asked for `limit + 1` keys after the cursor;
 * the union, sorted, holds the first `limit + 1` keys of the namespace after the cursor
 * whatever the shards hold, so there are more pages exactly when it has more than `limit`.
 * Like an eventual read, a page reflects what the nearest members have applied.
 *
 * @remarks Keys are ordered as members order them for `after` (JavaScript string order, by
 * UTF-16 code units; it differs from code point order only between characters above U+FFFF
 * and U+E000–U+FFFF). The merge must use the same order, or pages would skip or repeat keys.
 */
import type { Hono } from 'hono';
import { shardId } from '../core/ids.js';
import { requireScope } from './auth.js';
import type { AppEnv, Ctx } from './context.js';
import { memberStub } from './members.js';
import { pickRegion } from './region.js';
import { checkNamespace, checkPrefix, checkUrlEncoding, decodeCursor, encodeCursor, parseLimit } from './validate.js';

/** The order members list keys in: JavaScript string order (UTF-16 code units). */
export const compareKeys = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** The first `limit` keys of the sorted union of `pages`, and whether more follow. */
export function mergePages(pages: readonly (readonly string[])[], limit: number): { keys: string[]; more: boolean } {
  const all = [...new Set(pages.flat())].sort(compareKeys);
  return { keys: all.slice(0, limit), more: all.length > limit };
}

async function listKeys(c: Ctx): Promise<Response> {
  const config = c.get('config');
  checkUrlEncoding(c);
  const ns = checkNamespace(c.req.param('ns') ?? '');
  const prefix = checkPrefix(c.req.query('prefix') ?? '');
  const limit = parseLimit(c.req.query('limit'), config.maxListLimit);
  const after = decodeCursor(c.req.query('cursor'));
  const region = pickRegion(c);
  const shards = Array.from({ length: config.shards }, (_, s) => shardId(s));
  const pages = await Promise.all(
    shards.map((s) => memberStub(c.env, s, region).list({ ns, prefix, limit: limit + 1, ...(after !== undefined && { after }) })),
  );
  const { keys, more } = mergePages(pages, limit);
  const last = keys[keys.length - 1];
  return c.json({ keys, cursor: more && last !== undefined ? encodeCursor(last) : null });
}

/** Registers the list route on `app`. */
export function listRoutes(app: Hono<AppEnv>): void {
  app.get('/v1/:ns/docs', requireScope('read'), listKeys);
}

export const LIST_METHODS: ReadonlyArray<readonly [string, readonly string[]]> = [['/v1/:ns/docs', ['GET', 'HEAD']]];
