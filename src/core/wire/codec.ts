/**
 * Binary encoding of {@link SyncMessage}. Integers are unsigned LEB128 varints, strings and
 * byte strings are length-prefixed (see `bytes.ts`), vectors are `count (name seq)*` in
 * member order.
 *
 * ```
 * message  = version:u8(=1) kind:u8(0 digest, 1 delta) flags:u8 from:string vv:vector
 *            count:uint entry*  [transfer]  [resume]
 * flags    = bit0 more | bit1 reply | bit2 transfer present | bit3 resume present
 * entry    = origin:string seq:uint doc:string engine:u8(0 automerge, 1 yjs)
 *            kind:u8(0 update, 1 delete) hlc:uint deps:vector data:bytes
 * transfer = target:vector count:uint snapshot* hasNext:u8 [next:string]
 * snapshot = doc:string vv:vector removed:vector creators:u8(bit per engine)
 *            (hlc:uint origin:string)* count:uint (engine:u8 state:bytes)*
 * resume   = target:vector after:string
 * ```
 *
 * An eager push of one keystroke is the 3-byte header, the sender and its vector, and one
 * entry: tens of bytes plus the engine's own update.
 */
import { WireDecodeError } from '../errors.js';
import type { DocKey, MemberId } from '../ids.js';
import { ENGINE_NAMES, type EngineName } from '../engines/engine.js';
import type { EntryKind, LogEntry } from '../log.js';
import type { CreationStamp, DocMeta } from '../storage.js';
import { readVV, writeVV } from '../version-vector.js';
import { ByteReader, ByteWriter } from './bytes.js';
import type { DocSnapshot, SyncMessage, Transfer } from './messages.js';

const VERSION = 1;
const MORE = 1;
const REPLY = 2;
const HAS_TRANSFER = 4;
const HAS_RESUME = 8;
const KINDS: readonly EntryKind[] = ['update', 'delete'];

export function encodeMessage(m: SyncMessage): Uint8Array {
  const w = new ByteWriter(256);
  const flags =
    (m.more ? MORE : 0) | (m.reply ? REPLY : 0) | (m.transfer ? HAS_TRANSFER : 0) | (m.resume ? HAS_RESUME : 0);
  w.u8(VERSION).u8(m.kind === 'digest' ? 0 : 1).u8(flags).string(m.from);
  writeVV(w, m.vv);
  w.uint(m.entries.length);
  for (const e of m.entries) writeEntry(w, e);
  if (m.transfer) writeTransfer(w, m.transfer);
  if (m.resume) {
    writeVV(w, m.resume.target);
    w.string(m.resume.after);
  }
  return w.finish();
}

/** @throws WireDecodeError for anything this module did not write. */
export function decodeMessage(bytes: Uint8Array): SyncMessage {
  const r = new ByteReader(bytes);
  if (r.u8() !== VERSION) throw new WireDecodeError('unknown message version');
  const kindByte = r.u8();
  if (kindByte > 1) throw new WireDecodeError('unknown message kind');
  const flags = r.u8();
  if (flags > 15) throw new WireDecodeError('unknown flags');
  const from = r.string() as MemberId;
  const vv = readVV(r);
  const n = r.uint();
  const entries: LogEntry[] = [];
  for (let i = 0; i < n; i++) entries.push(readEntry(r));
  const transfer = flags & HAS_TRANSFER ? readTransfer(r) : undefined;
  const resume = flags & HAS_RESUME ? { target: readVV(r), after: r.string() as DocKey } : undefined;
  r.end();
  return {
    kind: kindByte === 0 ? 'digest' : 'delta',
    from,
    vv,
    more: (flags & MORE) !== 0,
    reply: (flags & REPLY) !== 0,
    entries,
    ...(transfer && { transfer }),
    ...(resume && { resume }),
  };
}

function writeEntry(w: ByteWriter, e: LogEntry): void {
  w.string(e.origin).uint(e.seq).string(e.doc).u8(engineByte(e.engine)).u8(KINDS.indexOf(e.kind)).uint(e.hlc);
  writeVV(w, e.deps);
  w.bytes(e.data);
}

function readEntry(r: ByteReader): LogEntry {
  const origin = r.string() as MemberId;
  const seq = r.uint();
  if (seq < 1) throw new WireDecodeError('entry seq must be positive');
  const doc = r.string() as DocKey;
  const engine = readEngine(r);
  const kind = KINDS[r.u8()];
  if (!kind) throw new WireDecodeError('unknown entry kind');
  const hlc = r.uint();
  const deps = readVV(r);
  const data = r.bytes().slice();
  return { origin, seq, doc, engine, kind, hlc, deps, data };
}

function writeTransfer(w: ByteWriter, t: Transfer): void {
  writeVV(w, t.target);
  w.uint(t.docs.length);
  for (const d of t.docs) writeSnapshot(w, d);
  w.u8(t.next === undefined ? 0 : 1);
  if (t.next !== undefined) w.string(t.next);
}

function readTransfer(r: ByteReader): Transfer {
  const target = readVV(r);
  const n = r.uint();
  const docs: DocSnapshot[] = [];
  for (let i = 0; i < n; i++) docs.push(readSnapshot(r));
  const next = r.u8() === 1 ? (r.string() as DocKey) : undefined;
  return { target, docs, next };
}

function writeSnapshot(w: ByteWriter, s: DocSnapshot): void {
  const { meta } = s;
  w.string(meta.doc);
  writeVV(w, meta.vv);
  writeVV(w, meta.removed);
  let mask = 0;
  ENGINE_NAMES.forEach((name, i) => {
    if (meta.creators[name]) mask |= 1 << i;
  });
  w.u8(mask);
  for (const name of ENGINE_NAMES) {
    const c = meta.creators[name];
    if (c) w.uint(c.hlc).string(c.origin);
  }
  w.uint(s.states.length);
  for (const st of s.states) w.u8(engineByte(st.engine)).bytes(st.bytes);
}

function readSnapshot(r: ByteReader): DocSnapshot {
  const doc = r.string() as DocKey;
  const vv = readVV(r);
  const removed = readVV(r);
  const mask = r.u8();
  if (mask >= 1 << ENGINE_NAMES.length) throw new WireDecodeError('unknown engine in creators');
  const creators: Partial<Record<EngineName, CreationStamp>> = {};
  ENGINE_NAMES.forEach((name, i) => {
    if (mask & (1 << i)) creators[name] = { hlc: r.uint(), origin: r.string() as MemberId };
  });
  const n = r.uint();
  const states: { engine: EngineName; bytes: Uint8Array }[] = [];
  for (let i = 0; i < n; i++) states.push({ engine: readEngine(r), bytes: r.bytes().slice() });
  const meta: DocMeta = { doc, vv, removed, creators };
  return { meta, states };
}

function engineByte(e: EngineName): number {
  return ENGINE_NAMES.indexOf(e);
}

function readEngine(r: ByteReader): EngineName {
  const e = ENGINE_NAMES[r.u8()];
  if (!e) throw new WireDecodeError('unknown engine');
  return e;
}
