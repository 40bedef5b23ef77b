/**
 * The simulator's end-of-run checks, seen from several angles (as yjs' `compare(users)`):
 * identical vectors, identical document metadata, identical JSON, and every acknowledged
 * write still there.
 */
import { sameDocMeta, isLive } from '../../../src/core/doc-meta.js';
import type { DocKey } from '../../../src/core/ids.js';
import type { Replica } from '../../../src/core/replica.js';
import { covers, equals, normalize } from '../../../src/core/version-vector.js';
import type { Simulation } from './simulation.js';
import { DELETABLE } from './workload.js';

/** JSON with object keys sorted, so equal documents print equally whatever the insertion order. */
export function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o).sort().map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

function replicas(sim: Simulation): Replica[] {
  return sim.nodes.map((n) => n.replica!).filter(Boolean);
}

function docKeys(rs: Replica[]): DocKey[] {
  const keys = new Set<DocKey>();
  for (const r of rs) for (const m of r.docs.all()) keys.add(m.doc);
  return [...keys].sort();
}

/** Cheap test used between heal rounds. */
export function converged(sim: Simulation): boolean {
  const rs = replicas(sim);
  return rs.every((r) => equals(r.vv, rs[0]!.vv));
}

function view(r: Replica, doc: DocKey): string {
  const read = r.read(doc);
  if (!read) return 'absent';
  return `${read.engine} live=${read.live} ${canonical(read.live ? read.state.toJSON() : null)}`;
}

export function checkConverged(sim: Simulation): void {
  const rs = replicas(sim);
  if (rs.length !== sim.nodes.length) throw new Error('a member is still down after the heal');
  const [first, ...rest] = rs as [Replica, ...Replica[]];
  for (const r of rest) {
    if (!equals(r.vv, first.vv)) {
      throw new Error(`vectors differ after heal: ${first.self}=${canonical(normalize(first.vv))} ${r.self}=${canonical(normalize(r.vv))}`);
    }
  }
  for (const doc of docKeys(rs)) {
    const want = view(first, doc);
    const meta = first.docs.meta(doc);
    for (const r of rest) {
      const got = view(r, doc);
      if (got !== want) throw new Error(`document ${JSON.stringify(doc)} differs:\n  ${first.self}: ${want}\n  ${r.self}: ${got}`);
      const m = r.docs.meta(doc);
      if (!meta || !m || !sameDocMeta(meta, m)) throw new Error(`document ${JSON.stringify(doc)} metadata differs`);
    }
  }
  checkAcknowledged(sim, first);
}

/** Every acknowledged write is applied everywhere and, where no delete may hide it, visible. */
function checkAcknowledged(sim: Simulation, r: Replica): void {
  const counters = new Map<DocKey, number>();
  const chars = new Map<DocKey, number>();
  for (const a of sim.acked) {
    if (!covers(r.vv, a.dot)) throw new Error(`acknowledged write ${a.dot.member}:${a.dot.seq} is missing`);
    if (DELETABLE.has(a.doc)) continue;
    const json = r.json(a.doc);
    if (!json) throw new Error(`document ${a.doc} with acknowledged writes is gone`);
    if (a.field) {
      const holder = (json['m'] as Record<string, unknown> | undefined) ?? json;
      const value = holder[a.field.name] ?? json[a.field.name];
      if (value !== a.field.value) throw new Error(`acknowledged field ${a.field.name} of ${a.doc} is ${String(value)}`);
    }
    if (a.counter) counters.set(a.doc, (counters.get(a.doc) ?? 0) + 1);
    if (a.textChar) chars.set(a.doc, (chars.get(a.doc) ?? 0) + 1);
  }
  for (const [doc, n] of counters) {
    const c = r.json(doc)?.['c'];
    if (c !== n) throw new Error(`counter of ${doc} is ${String(c)}, expected ${n} acknowledged increments`);
  }
  for (const [doc, n] of chars) {
    const t = r.json(doc)?.['t'];
    if (typeof t !== 'string' || t.length !== n) throw new Error(`text of ${doc} has ${String(t?.toString().length)} chars, expected ${n}`);
  }
  for (const doc of docKeys([r])) {
    const meta = r.docs.meta(doc)!;
    if (!DELETABLE.has(doc) && !isLive(meta)) throw new Error(`${doc} is not live but was never deleted`);
  }
}
