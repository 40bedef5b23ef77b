/**
 * Shard routing and member naming.
 *
 * `shard(ns, key)` must never change for a stored document, across processes, deploys and
 * library versions, so it depends only on this file: FNV-1a (64-bit) over the UTF-8 bytes
 * of `ns`, a NUL, and `key`, then jump consistent hashing (Lamping & Veach, 2014) into
 * `shards` buckets. Jump hashing means growing `SHARDS` from n to n+1 moves only ~1/(n+1)
 * of the keys, should resharding ever be built.
 */
import { type MemberId, type ShardId, shardId } from './ids.js';

const FNV_OFFSET = 0xcbf29ce484222325n;
const FNV_PRIME = 0x100000001b3n;
const MASK64 = 0xffffffffffffffffn;
const utf8 = new TextEncoder();

export function fnv1a64(bytes: Uint8Array): bigint {
  let h = FNV_OFFSET;
  for (const b of bytes) h = ((h ^ BigInt(b)) * FNV_PRIME) & MASK64;
  return h;
}

/** Jump consistent hash: a bucket in [0, buckets) for a 64-bit key. */
export function jumpHash(key: bigint, buckets: number): number {
  let b = -1;
  let j = 0;
  let k = key;
  while (j < buckets) {
    b = j;
    k = (k * 2862933555777941757n + 1n) & MASK64;
    j = Math.floor(((b + 1) * 2 ** 31) / (Number(k >> 33n) + 1));
  }
  return b;
}

export function shard(ns: string, key: string, shards: number): ShardId {
  if (!Number.isInteger(shards) || shards < 1) throw new RangeError(`shards must be a positive integer, got ${shards}`);
  const bytes = utf8.encode(`${ns}\u0000${key}`);
  return shardId(jumpHash(fnv1a64(bytes), shards));
}

/** The Durable Object name of a shard's member in `region` (DESIGN.md: `replica:<shard>:<region>`). */
export const memberName = (s: ShardId, region: MemberId | string): string => `replica:${s}:${region}`;

/** Parses a name written by {@link memberName}. */
export function parseMemberName(name: string): { shard: ShardId; region: MemberId } | undefined {
  const m = /^replica:(\d+):([a-z0-9-]+)$/.exec(name);
  if (!m) return undefined;
  return { shard: shardId(Number(m[1])), region: m[2] as MemberId };
}

/** The majority of `n` members: ⌊n/2⌋+1. */
export const majority = (n: number): number => Math.floor(n / 2) + 1;
