/**
 * Version vectors and dots.
 *
 * A {@link VersionVector} maps each member to the highest sequence number such that every
 * entry from that member up to it is known (for a replica: applied; for a document: the
 * highest dot of each origin that touched it). Members absent from the map are at 0, so a
 * vector never stores zeros and two equal vectors have equal entries.
 */
import type { MemberId } from './ids.js';
import { InvalidTokenError } from './errors.js';
import { ByteReader, ByteWriter, fromBase64Url, toBase64Url } from './wire/bytes.js';

export type VersionVector = Readonly<Record<MemberId, number>>;

/** One write's identity: the member that accepted it and its sequence number there. */
export interface Dot {
  readonly member: MemberId;
  readonly seq: number;
}

export type Ordering = 'before' | 'after' | 'equal' | 'concurrent';

export const emptyVV: VersionVector = Object.freeze({});

export const get = (vv: VersionVector, m: MemberId): number => vv[m] ?? 0;

export function members(vv: VersionVector): MemberId[] {
  return Object.keys(vv) as MemberId[];
}

/** A copy of `vv` with `m` raised to at least `seq`. */
export function withDot(vv: VersionVector, m: MemberId, seq: number): VersionVector {
  if (get(vv, m) >= seq) return vv;
  return { ...vv, [m]: seq };
}

/** True when the write `dot` is covered by `vv`. */
export const covers = (vv: VersionVector, dot: Dot): boolean => get(vv, dot.member) >= dot.seq;

/** Pointwise maximum: commutative, associative and idempotent. */
export function merge(a: VersionVector, b: VersionVector): VersionVector {
  let out: Record<string, number> | undefined;
  for (const m of members(b)) {
    if (get(a, m) < b[m]!) {
      out ??= { ...a };
      out[m] = b[m]!;
    }
  }
  return (out as VersionVector | undefined) ?? a;
}

/** Pointwise minimum over `vvs`; members missing from any vector are at 0 and so drop out. */
export function meet(vvs: readonly VersionVector[]): VersionVector {
  if (vvs.length === 0) return emptyVV;
  const out: Record<string, number> = {};
  for (const m of members(vvs[0]!)) {
    let min = Infinity;
    for (const vv of vvs) min = Math.min(min, get(vv, m));
    if (min > 0) out[m] = min;
  }
  return out as VersionVector;
}

/** `a ≤ b` pointwise: everything `a` knows, `b` knows. */
export function leq(a: VersionVector, b: VersionVector): boolean {
  for (const m of members(a)) if (a[m]! > get(b, m)) return false;
  return true;
}

export function compare(a: VersionVector, b: VersionVector): Ordering {
  const ab = leq(a, b);
  const ba = leq(b, a);
  if (ab && ba) return 'equal';
  if (ab) return 'before';
  if (ba) return 'after';
  return 'concurrent';
}

export const equals = (a: VersionVector, b: VersionVector): boolean => leq(a, b) && leq(b, a);

/** The vector as a plain object with members in sorted order (stable for JSON and tests). */
export function normalize(vv: VersionVector): VersionVector {
  const out: Record<string, number> = {};
  for (const m of members(vv).sort()) if (vv[m]! > 0) out[m] = vv[m]!;
  return out as VersionVector;
}

/**
 * Binary form: `count` then, per member in sorted order, `name` (string) and `seq` (uint).
 * Used inside wire messages and as the body of a causal token.
 */
export function writeVV(w: ByteWriter, vv: VersionVector): void {
  const ms = members(vv)
    .filter((m) => vv[m]! > 0)
    .sort();
  w.uint(ms.length);
  for (const m of ms) w.string(m).uint(vv[m]!);
}

export function readVV(r: ByteReader): VersionVector {
  const n = r.uint();
  const out: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const m = r.string();
    const seq = r.uint();
    if (seq > 0) out[m] = Math.max(out[m] ?? 0, seq);
  }
  return out as VersionVector;
}

/**
 * The causal token: the binary vector in base64url, opaque to clients and safe in URLs and
 * headers. An empty vector encodes as `AA`.
 */
export function encodeToken(vv: VersionVector): string {
  const w = new ByteWriter(16);
  writeVV(w, vv);
  return toBase64Url(w.finish());
}

/** @throws InvalidTokenError when `token` is not a token this module wrote. */
export function decodeToken(token: string): VersionVector {
  const bytes = fromBase64Url(token);
  if (!bytes || bytes.length === 0) throw new InvalidTokenError('causal token is not base64url');
  try {
    const r = new ByteReader(bytes);
    const vv = readVV(r);
    r.end();
    return vv;
  } catch {
    throw new InvalidTokenError('causal token does not decode');
  }
}
