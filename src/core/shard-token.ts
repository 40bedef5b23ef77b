/**
 * The causal token: the version vectors, per shard, that a client's answers reflected. A
 * response merges the request's token with the vector of the shard it read or wrote, so a
 * client that always sends back the last token it got carries read-your-writes for every
 * shard it touched, in any region.
 *
 * Binary body: `count (shard:uint vector)*` (vectors as in `version-vector.ts`). The body is
 * not what clients hold: the edge authenticates it (`src/api/causal-token.ts`), because a
 * vector naming sequences nobody wrote would make a member wait and pull for nothing.
 */
import { InvalidTokenError } from './errors.js';
import type { MemberId, ShardId } from './ids.js';
import { STRONG_ORIGIN } from './proposals.js';
import { emptyVV, members, merge, readVV, type VersionVector, writeVV } from './version-vector.js';
import { ByteReader, ByteWriter } from './wire/bytes.js';

export type CausalToken = ReadonlyMap<ShardId, VersionVector>;

export const emptyToken: CausalToken = new Map();

/** The token's body bytes, shards in ascending order. */
export function encodeTokenBody(t: CausalToken): Uint8Array {
  const w = new ByteWriter(32);
  const shards = [...t.keys()].sort((a, b) => a - b);
  w.uint(shards.length);
  for (const s of shards) {
    w.uint(s);
    writeVV(w, t.get(s)!);
  }
  return w.finish();
}

/** @throws InvalidTokenError for bytes {@link encodeTokenBody} did not write. */
export function decodeTokenBody(bytes: Uint8Array): CausalToken {
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

/**
 * Refuses a token that names a shard or member this deployment does not have (issued before
 * `SHARDS` or `REGIONS` changed): no member could ever cover it, so a session read would
 * wait for nothing.
 * @throws InvalidTokenError
 */
export function checkTokenBounds(t: CausalToken, shards: number, regions: readonly MemberId[]): void {
  for (const [s, vv] of t) {
    if (s >= shards) throw new InvalidTokenError(`Concord-Token names shard ${s}; this deployment has shards 0 to ${shards - 1}`);
    for (const m of members(vv)) {
      // Strong writes have their own origin (src/core/proposals.ts), whoever leads.
      if (m !== STRONG_ORIGIN && !regions.includes(m)) {
        throw new InvalidTokenError(`Concord-Token names member ${JSON.stringify(m)}; this deployment has ${regions.join(', ')}`);
      }
    }
  }
}

export const tokenFor = (t: CausalToken, shard: ShardId): VersionVector => t.get(shard) ?? emptyVV;

/** `t` with `shard`'s vector raised to include `vv`. */
export function withShard(t: CausalToken, shard: ShardId, vv: VersionVector): CausalToken {
  const out = new Map(t);
  out.set(shard, merge(t.get(shard) ?? emptyVV, vv));
  return out;
}
