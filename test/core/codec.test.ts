import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type DocKey, docKey, memberId } from '../../src/core/ids.js';
import { WireDecodeError } from '../../src/core/errors.js';
import type { LogEntry } from '../../src/core/log.js';
import type { VersionVector } from '../../src/core/version-vector.js';
import { decodeMessage, encodeMessage } from '../../src/core/wire/codec.js';
import type { SyncMessage } from '../../src/core/wire/messages.js';
import { fromBase64Url, toBase64Url } from '../../src/core/wire/bytes.js';

const member = fc.constantFrom('wnam', 'weur', 'apac').map(memberId);
const vv = fc.dictionary(member, fc.integer({ min: 1, max: 2 ** 35 }), { maxKeys: 3 }).map((d) => d as VersionVector);
const doc = fc.tuple(fc.string({ maxLength: 8 }), fc.string({ maxLength: 12 })).map(([n, k]) => docKey(n, k));
const bytes = fc.uint8Array({ maxLength: 64 });
const entry: fc.Arbitrary<LogEntry> = fc.record({
  origin: member,
  seq: fc.integer({ min: 1, max: 2 ** 40 }),
  doc,
  engine: fc.constantFrom('automerge' as const, 'yjs' as const),
  kind: fc.constantFrom('update' as const, 'delete' as const),
  hlc: fc.integer({ min: 0, max: 2 ** 50 }),
  deps: vv,
  data: bytes,
});
const snapshot = fc.record({
  meta: fc.record({
    doc,
    vv,
    removed: vv,
    creators: fc.record(
      { automerge: fc.record({ hlc: fc.nat(), origin: member }), yjs: fc.record({ hlc: fc.nat(), origin: member }) },
      { requiredKeys: [] },
    ),
  }),
  states: fc.array(fc.record({ engine: fc.constantFrom('automerge' as const, 'yjs' as const), bytes }), { maxLength: 2 }),
});
const message: fc.Arbitrary<SyncMessage> = fc.record(
  {
    kind: fc.constantFrom('digest' as const, 'delta' as const),
    from: member,
    vv,
    more: fc.boolean(),
    reply: fc.boolean(),
    entries: fc.array(entry, { maxLength: 4 }),
    transfer: fc.record({
      target: vv,
      hlc: fc.nat(),
      after: fc.option(doc, { nil: undefined }),
      docs: fc.array(snapshot, { maxLength: 3 }),
      next: fc.option(doc, { nil: undefined }),
    }),
    resume: fc.record({ target: vv, after: doc }),
  },
  { requiredKeys: ['kind', 'from', 'vv', 'more', 'reply', 'entries'] },
);

/** Structural form for comparison: drops undefined optionals and copies bytes into arrays. */
const plain = (m: unknown): unknown => JSON.parse(JSON.stringify(m, (_k, v) => (v instanceof Uint8Array ? [...v] : v)));

describe('wire codec', () => {
  it('round-trips every message', () => {
    fc.assert(
      fc.property(message, (m) => {
        expect(plain(decodeMessage(encodeMessage(m)))).toEqual(plain(m));
      }),
      { numRuns: 300 },
    );
  });

  it('rejects truncated messages and trailing bytes', () => {
    fc.assert(
      fc.property(message, fc.nat(), (m, cut) => {
        const b = encodeMessage(m);
        const at = cut % b.length;
        expect(() => decodeMessage(b.subarray(0, at))).toThrow(WireDecodeError);
        expect(() => decodeMessage(new Uint8Array([...b, 0]))).toThrow(WireDecodeError);
      }),
      { numRuns: 200 },
    );
  });

  it('keeps an eager push of one keystroke small', () => {
    const e: LogEntry = {
      origin: memberId('wnam'),
      seq: 123_456,
      doc: docKey('notes', 'meeting-2026-11-25') as DocKey,
      engine: 'yjs',
      kind: 'update',
      hlc: 1_764_000_000_000,
      deps: { [memberId('wnam')]: 123_455, [memberId('weur')]: 9_000 } as VersionVector,
      data: new Uint8Array(24),
    };
    const m: SyncMessage = {
      kind: 'delta',
      from: memberId('wnam'),
      vv: { [memberId('wnam')]: 123_456, [memberId('weur')]: 9_000, [memberId('apac')]: 7_000 } as VersionVector,
      more: false,
      reply: false,
      entries: [e],
    };
    expect(encodeMessage(m).length).toBeLessThan(24 + 80);
  });

  it('base64url round-trips and refuses foreign characters', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (b) => {
        expect(fromBase64Url(toBase64Url(b))).toEqual(b);
      }),
    );
    expect(fromBase64Url('a+b/')).toBeUndefined();
    expect(fromBase64Url('abcde')).toBeUndefined();
  });
});
