import { describe, expect, it } from 'vitest';
import { docKey, memberId } from '../../src/core/ids.js';
import type { LogEntry } from '../../src/core/log.js';
import { decodeMessage, encodeMessage } from '../../src/core/wire/codec.js';

describe('wire codec: entries that carry a client request', () => {
  it('round-trips the request beside entries without one', () => {
    const base: LogEntry = {
      origin: memberId('wnam'), seq: 1, doc: docKey('ns', 'k'), engine: 'automerge', kind: 'update', hlc: 5, deps: {} as never, data: new Uint8Array([1, 2]),
    };
    const carried: LogEntry = { ...base, seq: 2, request: { id: 'k:retry-1', fingerprint: 'ab'.repeat(32), status: 201, expires: 1_800_000_000_000 } };
    const msg = { kind: 'delta' as const, from: memberId('wnam'), vv: {} as never, more: false, reply: false, entries: [base, carried] };
    const back = decodeMessage(encodeMessage(msg));
    expect(back.entries[0]).toEqual(base);
    expect(back.entries[0]!.request).toBeUndefined();
    expect(back.entries[1]).toEqual(carried);
  });
});
