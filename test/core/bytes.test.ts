import { describe, expect, it } from 'vitest';
import { WireDecodeError } from '../../src/core/errors.js';
import { ByteReader, ByteWriter } from '../../src/core/wire/bytes.js';

const utf8 = new TextEncoder();

describe('ByteWriter / ByteReader strings', () => {
  it('write every string as length-prefixed UTF-8 and read it back, ASCII or not, short or long', () => {
    const samples = ['', 'wnam', 'replica:3:apac', 'ns\u0000key/with spaces', 'é', '€uro', '😀 emoji', 'x'.repeat(256), 'y'.repeat(257), 'ü'.repeat(300), '\u007f\u0080'];
    for (const s of samples) {
      const bytes = new ByteWriter(4).string(s).finish();
      // The same bytes TextEncoder would give, after the varint length.
      const expected = new ByteWriter(4).bytes(utf8.encode(s)).finish();
      expect(bytes, JSON.stringify(s)).toEqual(expected);
      const r = new ByteReader(bytes);
      expect(r.string()).toBe(s);
      r.end();
    }
  });

  it('refuses invalid UTF-8, short or long', () => {
    for (const bad of [[0xff], [0x61, 0xc3], [0xed, 0xa0, 0x80], new Array(300).fill(0x61).concat([0xff])]) {
      const bytes = new ByteWriter().bytes(new Uint8Array(bad)).finish();
      expect(() => new ByteReader(bytes).string()).toThrow(WireDecodeError);
    }
  });
});
