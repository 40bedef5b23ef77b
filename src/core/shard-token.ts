/**
 * The `Concord-Token` header: the version vectors, per shard, that a client's answers
 * reflected. A response merges the request's token with the vector of the shard it read
 * or wrote, so a client that always sends back the last token it got carries
 * read-your-writes for every shard it touched, in any region.
 *
 * Binary: `count (shard:uint vector)*` (vectors as in `version-vector.ts`), base64url.
 */
import { InvalidTokenError } from './errors.js';
import type { ShardId } from './ids.js';
import { emptyVV, merge, readVV, type VersionVector, writeVV } from './version-vector.js';
import { ByteReader, ByteWriter, fromBase64Url, toBase64Url } from './wire/bytes.js';

export type CausalToken = ReadonlyMap<ShardId, VersionVector>;

export const emptyToken: CausalToken = new Map();

export function encodeCausalToken(t: CausalToken): string {
  const w = new ByteWriter(32);
  const shards = [...t.keys()].sort((a, b) => a - b);
  w.uint(shards.length);
  for (const s of shards) {
    w.uint(s);
    writeVV(w, t.get(s)!);
  }
  return toBase64Url(w.finish());
}

/** @throws InvalidTokenError for anything {@link encodeCausalToken} did not write. */
export function decodeCausalToken(s: string): CausalToken {
  const bytes = fromBase64Url(s);
  if (!bytes || bytes.length === 0 || s.length > 8192) throw new InvalidTokenError('Concord-Token is not a token this service issued');
  try {
    const r = new ByteReader(bytes);
    const n = r.uint();
    const out = new Map<ShardId, VersionVector>();
    for (let i = 0; i < n; i++) {
      const shard = r.uint() as ShardId;
      out.set(shard, merge(out.get(shard) ?? emptyVV, readVV(r)));
    }
    r.end();
    return out;
  } catch {
    throw new InvalidTokenError('Concord-Token does not decode');
  }
}

export const tokenFor = (t: CausalToken, shard: ShardId): VersionVector => t.get(shard) ?? emptyVV;

/** `t` with `shard`'s vector raised to include `vv`. */
export function withShard(t: CausalToken, shard: ShardId, vv: VersionVector): CausalToken {
  const out = new Map(t);
  out.set(shard, merge(t.get(shard) ?? emptyVV, vv));
  return out;
}
