/**
 * Branded identifiers, so that a member name cannot be passed where a document key is expected.
 */
declare const brand: unique symbol;
type Brand<T, B extends string> = T & { readonly [brand]: B };

/** A shard member, named by its region (`wnam`, `weur`, …). */
export type MemberId = Brand<string, 'MemberId'>;
/** A document's identity inside a shard: `<ns>/<key>` (see {@link docKey}). */
export type DocKey = Brand<string, 'DocKey'>;
/** A shard number in `[0, SHARDS)`. */
export type ShardId = Brand<number, 'ShardId'>;

export const memberId = (s: string): MemberId => s as MemberId;
export const shardId = (n: number): ShardId => n as ShardId;

/**
 * The document key inside a shard. A NUL separates namespace and key because neither may
 * contain one (the edge validates names), so the pair is recoverable and never ambiguous.
 */
export const docKey = (ns: string, key: string): DocKey => `${ns}\u0000${key}` as DocKey;

export function splitDocKey(doc: DocKey): { ns: string; key: string } {
  const i = doc.indexOf('\u0000');
  return { ns: doc.slice(0, i), key: doc.slice(i + 1) };
}
