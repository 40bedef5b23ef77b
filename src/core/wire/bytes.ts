/**
 * Byte-level building blocks of every binary format in the core: unsigned LEB128 varints
 * (as in yjs' lib0 and protobuf), length-prefixed byte strings and UTF-8 strings, and
 * base64url without padding for tokens that travel in URLs and headers.
 */
import { WireDecodeError } from '../errors.js';

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** Strings up to this length take the ASCII path when they can (longer ones gain nothing from it). */
const ASCII_FAST_CHARS = 256;

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

function isAsciiBytes(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (b[i]! > 0x7f) return false;
  return true;
}

/** A growable byte buffer with varint, bytes and string writers. */
export class ByteWriter {
  private buf: Uint8Array;
  private pos = 0;

  constructor(initial = 64) {
    this.buf = new Uint8Array(initial);
  }

  private reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  u8(v: number): this {
    this.reserve(1);
    this.buf[this.pos++] = v & 0xff;
    return this;
  }

  /** Unsigned varint for integers in [0, 2^53). */
  uint(v: number): this {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`not a uint: ${v}`);
    this.reserve(8);
    while (v >= 0x80) {
      this.buf[this.pos++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.pos++] = v;
    return this;
  }

  bytes(b: Uint8Array): this {
    this.uint(b.length);
    this.reserve(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }

  /**
   * Member names and document keys are mostly short ASCII: those are copied byte for byte,
   * without `TextEncoder` allocating an array per string.
   */
  string(s: string): this {
    if (s.length > ASCII_FAST_CHARS || !isAscii(s)) return this.bytes(utf8Encoder.encode(s));
    this.uint(s.length);
    this.reserve(s.length);
    for (let i = 0; i < s.length; i++) this.buf[this.pos++] = s.charCodeAt(i);
    return this;
  }

  get length(): number {
    return this.pos;
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
}

/** Reads what {@link ByteWriter} wrote; every read past the end throws {@link WireDecodeError}. */
export class ByteReader {
  private pos = 0;

  constructor(private readonly buf: Uint8Array) {}

  get done(): boolean {
    return this.pos >= this.buf.length;
  }

  u8(): number {
    if (this.pos >= this.buf.length) throw new WireDecodeError('unexpected end of input');
    return this.buf[this.pos++]!;
  }

  uint(): number {
    let result = 0;
    let mul = 1;
    for (;;) {
      const b = this.u8();
      result += (b & 0x7f) * mul;
      if (b < 0x80) break;
      mul *= 0x80;
      if (mul > 2 ** 53) throw new WireDecodeError('varint too long');
    }
    if (!Number.isSafeInteger(result)) throw new WireDecodeError('varint out of range');
    return result;
  }

  bytes(): Uint8Array {
    const n = this.uint();
    if (this.pos + n > this.buf.length) throw new WireDecodeError('byte string runs past the end');
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** Short ASCII strings are read byte for byte: a `TextDecoder` call per string was a quarter of a push's cost. */
  string(): string {
    const b = this.bytes();
    if (b.length <= ASCII_FAST_CHARS && isAsciiBytes(b)) return String.fromCharCode.apply(null, b as unknown as number[]);
    try {
      return utf8Decoder.decode(b);
    } catch (e) {
      if (e instanceof WireDecodeError) throw e;
      throw new WireDecodeError('invalid UTF-8');
    }
  }

  /** Throws unless every byte was consumed: trailing bytes mean a malformed message. */
  end(): void {
    if (!this.done) throw new WireDecodeError(`${this.buf.length - this.pos} trailing bytes`);
  }
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const B64_INDEX = new Int16Array(128).fill(-1);
for (let i = 0; i < B64.length; i++) B64_INDEX[B64.charCodeAt(i)] = i;

/** base64url without padding (RFC 4648 §5). */
export function toBase64Url(bytes: Uint8Array): string {
  let out = '';
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += B64[n >> 18]! + B64[(n >> 12) & 63]! + B64[(n >> 6) & 63]! + B64[n & 63]!;
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i]! << 16;
    out += B64[n >> 18]! + B64[(n >> 12) & 63]!;
  } else if (rest === 2) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8);
    out += B64[n >> 18]! + B64[(n >> 12) & 63]! + B64[(n >> 6) & 63]!;
  }
  return out;
}

/** Decodes base64url (padding tolerated); returns undefined for any other character. */
export function fromBase64Url(s: string): Uint8Array | undefined {
  const str = s.replace(/=+$/, '');
  if (str.length % 4 === 1) return undefined;
  const out = new Uint8Array(Math.floor((str.length * 3) / 4));
  let bits = 0;
  let acc = 0;
  let o = 0;
  for (let i = 0; i < str.length; i++) {
    const c = str.charCodeAt(i);
    const v = c < 128 ? B64_INDEX[c]! : -1;
    if (v < 0) return undefined;
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  return out;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
