import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import { describe, expect, it } from 'vitest';
import * as awarenessProtocol from 'y-protocols/awareness';
import * as syncProtocol from 'y-protocols/sync';
import * as Y from 'yjs';
import { WireDecodeError } from '../../src/core/errors.js';
import { awarenessFrame, readAwareness, readFrame, step1Frame, step2Frame, updateFrame } from '../../src/core/realtime/y-protocol.js';

/** A frame as y-protocols writes it: message type, then the body `write` adds. */
function yFrame(type: number, write: (e: encoding.Encoder) => void): Uint8Array {
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, type);
  write(e);
  return encoding.toUint8Array(e);
}

const docWith = (text: string): Y.Doc => {
  const d = new Y.Doc();
  d.getText('t').insert(0, text);
  return d;
};

describe('y-websocket frames', () => {
  it('reads the sync messages y-protocols writes', () => {
    const d = docWith('hello');
    expect(readFrame(yFrame(0, (e) => syncProtocol.writeSyncStep1(e, d)))).toEqual({ kind: 'step1', stateVector: Y.encodeStateVector(d) });
    expect(readFrame(yFrame(0, (e) => syncProtocol.writeSyncStep2(e, d, new Uint8Array([0]))))).toEqual({ kind: 'step2', update: Y.encodeStateAsUpdate(d) });
    const u = Y.encodeStateAsUpdate(d);
    expect(readFrame(yFrame(0, (e) => syncProtocol.writeUpdate(e, u)))).toEqual({ kind: 'update', update: u });
  });

  it('writes sync messages y-protocols applies', () => {
    const src = docWith('hi there');
    const dst = new Y.Doc();
    for (const f of [step2Frame(Y.encodeStateAsUpdate(src)), updateFrame(Y.encodeStateAsUpdate(src))]) {
      const d = decoding.createDecoder(f);
      expect(decoding.readVarUint(d)).toBe(0);
      syncProtocol.readSyncMessage(d, encoding.createEncoder(), dst, 'server');
    }
    expect(dst.getText('t').toString()).toBe('hi there');
    // A step 1 makes the reader answer with what the vector lacks.
    const d = decoding.createDecoder(step1Frame(Y.encodeStateVector(new Y.Doc())));
    decoding.readVarUint(d);
    const answer = encoding.createEncoder();
    expect(syncProtocol.readSyncMessage(d, answer, src, 'server')).toBe(syncProtocol.messageYjsSyncStep1);
    expect(readFrame(yFrame(0, (e) => encoding.writeUint8Array(e, encoding.toUint8Array(answer)))).kind).toBe('step2');
  });

  it('reads and writes awareness updates as y-protocols does', () => {
    const doc = new Y.Doc();
    const a = new awarenessProtocol.Awareness(doc);
    a.setLocalStateField('user', { name: 'ada', colour: '#f00' });
    const update = awarenessProtocol.encodeAwarenessUpdate(a, [doc.clientID]);
    const entries = readAwareness(update);
    expect(entries).toEqual([{ clientID: doc.clientID, clock: a.meta.get(doc.clientID)!.clock, state: JSON.stringify(a.getLocalState()) }]);
    const frame = readFrame(yFrame(1, (e) => encoding.writeVarUint8Array(e, update)));
    expect(frame).toEqual({ kind: 'awareness', entries });
    // Ours, applied by y-protocols: a removal (state "null" at a later clock) removes the client.
    const other = new awarenessProtocol.Awareness(new Y.Doc());
    awarenessProtocol.applyAwarenessUpdate(other, update, 'server');
    expect(other.getStates().get(doc.clientID)).toEqual({ user: { name: 'ada', colour: '#f00' } });
    const gone = awarenessFrame([{ ...entries[0]!, clock: entries[0]!.clock + 1, state: 'null' }]);
    const d = decoding.createDecoder(gone);
    expect(decoding.readVarUint(d)).toBe(1);
    awarenessProtocol.applyAwarenessUpdate(other, decoding.readVarUint8Array(d), 'server');
    expect(other.getStates().has(doc.clientID)).toBe(false);
  });

  it('takes query-awareness and auth frames, and refuses anything else whole', () => {
    expect(readFrame(new Uint8Array([3]))).toEqual({ kind: 'query-awareness' });
    expect(readFrame(new Uint8Array([2, 0, 5, 1, 2]))).toEqual({ kind: 'auth' });
    const bad: [string, number[]][] = [
      ['empty', []],
      ['unknown type', [7]],
      ['unknown sync step', [0, 3, 0]],
      ['payload past the end', [0, 2, 5, 1]],
      ['trailing bytes', [0, 2, 1, 0, 9]],
      ['trailing after query', [3, 0]],
      ['awareness entries past the end', [1, 3, 2, 1, 1]],
      ['awareness state not UTF-8', [1, 5, 1, 7, 1, 1, 0xff]],
    ];
    for (const [what, bytes] of bad) expect(() => readFrame(new Uint8Array(bytes)), what).toThrow(WireDecodeError);
  });
});
