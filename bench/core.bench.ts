/**
 * `npm run bench`: figures for the replication core, each beside a baseline measured in the
 * same run. Prints a Markdown table (copied into the README with the machine it ran on).
 *
 * 1. Local writes/s through the replica (validate, apply, log, commit to in-memory storage)
 *    vs the raw engine applying the same updates in a loop.
 * 2. Anti-entropy bytes on the wire for one round vs the bytes of the missing updates.
 * 3. Time and rounds to converge N members after a partition with K writes per side.
 */
import * as A from '@automerge/automerge';
import * as Y from 'yjs';
import os from 'node:os';
import { docKey, memberId } from '../src/core/ids.js';
import { seededRandom } from '../src/core/ports.js';
import { Replica } from '../src/core/replica.js';
import { MemoryStorage } from '../src/core/storage-memory.js';
import { equals } from '../src/core/version-vector.js';
import { sync } from '../test/support/cluster.js';

const DOC = docKey('bench', 'doc');
const WRITES = Number(process.env['BENCH_WRITES'] ?? 5000);

function replica(self: string, members: string[]): Replica {
  let now = 0;
  return new Replica(
    { self: memberId(self), members: members.map(memberId) },
    { storage: new MemoryStorage(), clock: { now: () => now++ }, random: seededRandom([...self].reduce((h, ch) => h * 31 + ch.charCodeAt(0), 7)) },
  );
}

function time(f: () => void): number {
  const t = performance.now();
  f();
  return performance.now() - t;
}

/** One-keystroke Yjs updates, as an editor sends them. */
function yjsKeystrokes(n: number): Uint8Array[] {
  const d = new Y.Doc();
  d.clientID = 1;
  const out: Uint8Array[] = [];
  d.on('update', (u: Uint8Array) => out.push(u));
  const t = d.getText('t');
  for (let i = 0; i < n; i++) t.insert(t.length, String.fromCharCode(97 + (i % 26)));
  return out;
}

/** One-keystroke Automerge changes. */
function automergeKeystrokes(n: number): Uint8Array[] {
  let d = A.from({ t: '' }, { actor: '01'.repeat(16) });
  const out: Uint8Array[] = [A.getLastLocalChange(d)!];
  for (let i = 0; i < n; i++) {
    d = A.change(d, { time: 0 }, (x) => A.splice(x, ['t'], i, 0, String.fromCharCode(97 + (i % 26))));
    out.push(A.getLastLocalChange(d)!);
  }
  return out;
}

function localWrites(): string[] {
  const rows: string[] = [];
  const y = yjsKeystrokes(WRITES);
  const yRaw = time(() => {
    const d = new Y.Doc();
    for (const u of y) Y.applyUpdate(d, u);
  });
  const yCore = time(() => {
    const r = replica('wnam', ['wnam', 'weur', 'apac']);
    for (const u of y) r.write(DOC, 'yjs', (e) => e.applyUpdate(u));
  });
  rows.push(row('yjs', 'local writes/s (1-char updates)', WRITES / (yCore / 1000), WRITES / (yRaw / 1000), 'Y.applyUpdate loop'));
  const am = automergeKeystrokes(WRITES);
  const aRaw = time(() => {
    let d = A.init<{ t: string }>();
    for (const c of am) d = A.applyChanges(d, [c])[0];
  });
  const aCore = time(() => {
    const r = replica('wnam', ['wnam', 'weur', 'apac']);
    for (const c of am) r.write(DOC, 'automerge', (e) => e.applyUpdate(c));
  });
  rows.push(row('automerge', 'local writes/s (1-char changes)', WRITES / (aCore / 1000), WRITES / (aRaw / 1000), 'Automerge.applyChanges loop'));
  const opsCore = time(() => {
    const r = replica('wnam', ['wnam', 'weur', 'apac']);
    r.write(DOC, 'automerge', (e) => e.replace({ t: '' }));
    for (let i = 0; i < WRITES; i++) r.write(DOC, 'automerge', (e) => e.applyOps([{ op: 'splice', path: ['t'], index: i, delete: 0, insert: 'x' }]));
  });
  rows.push(row('automerge', 'local JSON ops/s (splice)', WRITES / (opsCore / 1000), WRITES / (aRaw / 1000), 'Automerge.applyChanges loop'));
  return rows;
}

/** Bytes exchanged in one gossip round that repairs `n` missing writes. */
function roundBytes(engine: 'yjs' | 'automerge', n: number): string {
  const a = replica('wnam', ['wnam', 'weur']);
  const b = replica('weur', ['wnam', 'weur']);
  const updates = engine === 'yjs' ? yjsKeystrokes(n) : automergeKeystrokes(n);
  let payload = 0;
  for (const u of updates) {
    const res = a.write(DOC, engine, (e) => e.applyUpdate(u));
    payload += res.entry?.data.length ?? 0;
  }
  let wire = 0;
  let messages = 0;
  let out: Uint8Array | undefined = b.digest();
  let [here, there] = [b, a];
  while (out) {
    wire += out.length;
    messages++;
    out = there.receive(out);
    [here, there] = [there, here];
  }
  if (!equals(a.vv, b.vv)) throw new Error('round did not converge');
  return `| ${engine} | anti-entropy bytes for ${n} missing writes | ${wire} B in ${messages} messages | ${payload} B of updates | ${(wire / payload).toFixed(2)}× |`;
}

/**
 * Members split into two sides, K writes on each, then healed by full-mesh rounds. Baseline:
 * the raw engine work of that healing, each member applying the other side's updates.
 */
function partition(engine: 'yjs' | 'automerge', n: number, k: number): string {
  const ids = ['wnam', 'weur', 'apac', 'enam', 'eeur'].slice(0, n);
  const rs = ids.map((id) => replica(id, ids));
  const sides = [rs.slice(0, Math.ceil(n / 2)), rs.slice(Math.ceil(n / 2))];
  const written: Uint8Array[][] = [[], []];
  sides.forEach((side, s) => {
    for (let i = 0; i < k; i++) {
      const key = docKey('bench', `d${i % 50}`);
      const res =
        engine === 'automerge'
          ? side[0]!.write(key, engine, (e) => e.mergePatch({ [`s${s}k${i}`]: i }))
          : side[0]!.write(key, engine, (e) => e.applyUpdate(yMapSet(`s${s}k${i}`, i, 10 + s)));
      written[s]!.push(res.entry!.data);
    }
  });
  let rounds = 0;
  const ms = time(() => {
    while (!rs.every((r) => equals(r.vv, rs[0]!.vv))) {
      rounds++;
      for (const a of rs) for (const b of rs) if (a !== b) sync(a, b);
    }
  });
  const raw = rawHeal(engine, sides.map((side) => side.length), written);
  return `| ${engine} | converge ${n} members after a partition, ${k} writes per side | ${ms.toFixed(0)} ms, ${rounds} full-mesh round(s) | ${raw.toFixed(0)} ms (raw engines apply the missing updates) | ${(raw / ms).toFixed(2)}× |`;
}

/** Milliseconds for every member to apply, with the bare engine, the updates of the other side (50 documents). */
function rawHeal(engine: 'yjs' | 'automerge', members: number[], written: Uint8Array[][]): number {
  let total = 0;
  members.forEach((count, s) => {
    const theirs = written[1 - s]!;
    for (let m = 0; m < count; m++) {
      if (engine === 'yjs') {
        const docs = Array.from({ length: 50 }, () => new Y.Doc());
        written[s]!.forEach((u, i) => Y.applyUpdate(docs[i % 50]!, u));
        total += time(() => theirs.forEach((u, i) => Y.applyUpdate(docs[i % 50]!, u)));
      } else {
        const docs = Array.from({ length: 50 }, () => A.init<Record<string, number>>());
        written[s]!.forEach((c, i) => (docs[i % 50] = A.loadIncremental(docs[i % 50]!, c)));
        total += time(() => theirs.forEach((c, i) => (docs[i % 50] = A.loadIncremental(docs[i % 50]!, c))));
      }
    }
  });
  return total;
}

function yMapSet(key: string, value: number, client: number): Uint8Array {
  const d = new Y.Doc();
  d.clientID = client * 100_000 + value;
  d.getMap('m').set(key, value);
  return Y.encodeStateAsUpdate(d);
}

function row(engine: string, what: string, core: number, raw: number, baseline: string): string {
  return `| ${engine} | ${what} | ${fmt(core)} | ${fmt(raw)} (${baseline}) | ${(core / raw).toFixed(2)}× |`;
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

console.log(`Concord core bench — ${os.cpus()[0]?.model ?? 'cpu'} × ${os.cpus().length}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${WRITES} writes`);
console.log('');
console.log('| engine | figure | Concord core | baseline | ratio |');
console.log('| --- | --- | --- | --- | --- |');
for (const r of localWrites()) console.log(r);
for (const engine of ['yjs', 'automerge'] as const) {
  for (const n of [1, 100, 1000]) console.log(roundBytes(engine, n));
}
for (const engine of ['yjs', 'automerge'] as const) {
  console.log(partition(engine, 3, 1000));
  console.log(partition(engine, 5, 1000));
}
