/**
 * Automerge binary framing and checksums, checked in plain code because `loadIncremental` is
 * lenient: it silently drops trailing bytes and, given several chunks, any that do not decode
 * (sometimes with the valid ones before them). The same hashes name changes, which Automerge
 * offers no way to compute for changes it has only queued.
 *
 * Chunk layout (Automerge binary format): magic `85 6f 4a 83`, a 4-byte checksum (the first
 * bytes of the chunk's SHA-256), a 1-byte chunk type, a uLEB128 length, then that many bytes.
 */
import { InvalidUpdateError, InvalidVersionError } from '../errors.js';

const MAGIC = [0x85, 0x6f, 0x4a, 0x83] as const;

/** Chunk types Automerge 3 writes: a saved document, a change, a compressed change, a bundle. */
export const ChunkType = { Document: 0, Change: 1, CompressedChange: 2, Bundle: 3 } as const;
export type ChunkType = (typeof ChunkType)[keyof typeof ChunkType];

export interface Chunk {
  readonly type: ChunkType;
  /** The whole chunk, header included. */
  readonly bytes: Uint8Array;
  /**
   * SHA-256 (hex) of the chunk after its checksum; for a change, its hash. Absent for a
   * compressed change, whose checksum covers the uncompressed form (Automerge checks it).
   */
  readonly hash?: string;
}

/**
 * Splits `input` into chunks that tile it exactly, verifying their checksums.
 * @throws InvalidUpdateError for empty input, a bad magic or type, a length running past the
 * end, trailing bytes, or a checksum mismatch.
 */
export function splitChunks(input: Uint8Array): Chunk[] {
  if (input.length === 0) throw new InvalidUpdateError('automerge', 'empty input');
  const chunks: Chunk[] = [];
  let pos = 0;
  while (pos < input.length) {
    const start = pos;
    if (input.length - pos < 10) throw invalid(start, 'truncated chunk header');
    for (let i = 0; i < 4; i++) {
      if (input[pos + i] !== MAGIC[i]) throw invalid(start, 'bad magic bytes');
    }
    pos += 8;
    const type = input[pos++]!;
    if (type > ChunkType.Bundle) throw invalid(start, `unknown chunk type ${type}`);
    let len = 0;
    let mul = 1;
    for (;;) {
      if (pos >= input.length) throw invalid(start, 'truncated chunk length');
      const b = input[pos++]!;
      len += (b & 0x7f) * mul;
      if (b < 0x80) break;
      mul *= 0x80;
      if (mul > 2 ** 49) throw invalid(start, 'chunk length too long');
    }
    if (len > input.length - pos) throw invalid(start, 'chunk runs past the end');
    pos += len;
    const bytes = input.subarray(start, pos);
    if (type === ChunkType.CompressedChange) {
      chunks.push({ type, bytes });
      continue;
    }
    const digest = sha256(bytes.subarray(8));
    for (let i = 0; i < 4; i++) {
      if (digest[i] !== bytes[4 + i]) throw invalid(start, 'bad checksum');
    }
    chunks.push({ type: type as ChunkType, bytes, hash: toHex(digest) });
  }
  return chunks;
}

function invalid(offset: number, detail: string): InvalidUpdateError {
  return new InvalidUpdateError('automerge', `${detail} at byte ${offset}`);
}

const HASH_BYTES = 32;

/** Heads (hex hashes) as raw 32-byte hashes concatenated. */
export function headsToBytes(heads: readonly string[]): Uint8Array {
  const out = new Uint8Array(heads.length * HASH_BYTES);
  heads.forEach((h, i) => out.set(fromHex(h), i * HASH_BYTES));
  return out;
}

/** @throws InvalidVersionError unless `bytes` is a whole number of 32-byte hashes. */
export function bytesToHeads(bytes: Uint8Array): string[] {
  if (bytes.length % HASH_BYTES !== 0) {
    throw new InvalidVersionError(`automerge heads must be 32-byte hashes, got ${bytes.length} bytes`);
  }
  const heads: string[] = [];
  for (let i = 0; i < bytes.length; i += HASH_BYTES) heads.push(toHex(bytes.subarray(i, i + HASH_BYTES)));
  return heads;
}

export function toHex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

function fromHex(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

// SHA-256 (FIPS 180-4). The core may not use node:crypto and WebCrypto is async.
const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

export function sha256(data: Uint8Array): Uint8Array {
  const h = new Uint32Array([
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
  ]);
  const padded = new Uint8Array((((data.length + 9 + 63) >> 6) << 6));
  padded.set(data);
  padded[data.length] = 0x80;
  const view = new DataView(padded.buffer);
  view.setUint32(padded.length - 8, Math.floor(data.length / 0x20000000));
  view.setUint32(padded.length - 4, (data.length * 8) >>> 0);
  const w = new Uint32Array(64);
  for (let off = 0; off < padded.length; off += 64) {
    for (let i = 0; i < 16; i++) w[i] = view.getUint32(off + 4 * i);
    for (let i = 16; i < 64; i++) {
      const a = w[i - 15]!;
      const b = w[i - 2]!;
      const s0 = rotr(a, 7) ^ rotr(a, 18) ^ (a >>> 3);
      const s1 = rotr(b, 17) ^ rotr(b, 19) ^ (b >>> 10);
      w[i] = (w[i - 16]! + s0 + w[i - 7]! + s1) >>> 0;
    }
    let [a, b, c, d, e, f, g, hh] = [h[0]!, h[1]!, h[2]!, h[3]!, h[4]!, h[5]!, h[6]!, h[7]!];
    for (let i = 0; i < 64; i++) {
      const t1 = (hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[i]! + w[i]!) >>> 0;
      const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) >>> 0;
      hh = g;
      g = f;
      f = e;
      e = (d + t1) >>> 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) >>> 0;
    }
    h[0] = h[0]! + a;
    h[1] = h[1]! + b;
    h[2] = h[2]! + c;
    h[3] = h[3]! + d;
    h[4] = h[4]! + e;
    h[5] = h[5]! + f;
    h[6] = h[6]! + g;
    h[7] = h[7]! + hh;
  }
  const out = new Uint8Array(32);
  const outView = new DataView(out.buffer);
  for (let i = 0; i < 8; i++) outView.setUint32(4 * i, h[i]!);
  return out;
}

const rotr = (x: number, n: number): number => (x >>> n) | (x << (32 - n));
