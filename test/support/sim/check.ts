/**
 * The simulator's checks, seen from several angles (as yjs' `compare(users)`): identical
 * vectors, metadata and documents on every member at the end, and every document exactly as
 * the observed-remove model (`model.ts`) derives it from the writes that exist; during the
 * run, each member's document as the model says whenever a client reaches it, and every
 * acceptance or refusal justified by what the member had seen.
 */
import { sameDocMeta } from '../../../src/core/doc-meta.js';
import { restoreEngine } from '../../../src/core/engines/index.js';
import type { EngineName } from '../../../src/core/engines/engine.js';
import type { DocKey } from '../../../src/core/ids.js';
import type { JsonObject } from '../../../src/core/json.js';
import type { Replica } from '../../../src/core/replica.js';
import { covers, equals, leq, normalize, type VersionVector } from '../../../src/core/version-vector.js';
import type { Expected, Model } from './model.js';
import type { Node, Simulation } from './simulation.js';

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
  checkAgainstModel(sim, first);
}

/**
 * Every write that exists (acknowledged or not) is applied, every document is what the
 * model derives from all of them, and each write and refusal was right in its context.
 */
function checkAgainstModel(sim: Simulation, r: Replica): void {
  const model = sim.model;
  for (const w of model.writes()) {
    if (!covers(r.vv, { member: w.entry.origin, seq: w.entry.seq })) {
      throw new Error(`${w.acked ? 'acknowledged' : 'committed'} write ${w.entry.origin}:${w.entry.seq} is missing`);
    }
  }
  checkClocks(model);
  const keys = new Set([...model.docs(), ...docKeys([r])]);
  for (const doc of [...keys].sort()) checkDoc(r, doc, model.expect(doc), 'at the end');
  checkDecisions(sim, model);
}

/** The member's document `doc` against what the model derives for it (undefined: no write touched it). */
function checkDoc(r: Replica, doc: DocKey, want: Expected | undefined, when: string): void {
  const name = `${r.self}: ${JSON.stringify(doc)} ${when}`;
  const meta = r.docs.meta(doc);
  if (!want) {
    if (meta) throw new Error(`${name} exists but no write touched it`);
    return;
  }
  if (!meta) throw new Error(`${name} is missing; writes ${canonical(normalize(want.meta.vv))} touched it`);
  if (!sameDocMeta(meta, want.meta)) {
    throw new Error(`${name} metadata ${canonical(meta)}, the writes give ${canonical(want.meta)}`);
  }
  const read = r.read(doc)!;
  if (read.engine !== want.engine || read.live !== want.live) {
    throw new Error(`${name} is ${read.engine} live=${read.live}, the writes give ${want.engine} live=${want.live}`);
  }
  const got: JsonObject = { ...read.state.toJSON() };
  if (want.counterChoices) {
    if (!want.counterChoices.includes(got['c'] as number)) {
      throw new Error(`${name}: counter is ${String(got['c'])}, one of the conflicting counters ${want.counterChoices.join(', ')} expected`);
    }
    delete got['c'];
  }
  if (canonical(got) !== canonical(want.json)) {
    throw new Error(`${name} holds\n  ${canonical(got)}\n  the writes give\n  ${canonical(want.json)}`);
  }
}

/**
 * What a member holds of `doc` when a client reaches it: the model's document at the member's
 * document vector; its metadata always, its content when `content` (rendering costs). Every
 * write the member has applied is in the model by then, because the model records each entry
 * as it commits at its origin.
 */
export function checkMemberView(sim: Simulation, node: Node, doc: DocKey, content: boolean): void {
  const r = node.replica!;
  const ctx = r.docs.meta(doc)?.vv;
  if (content || !ctx) return checkDoc(r, doc, ctx ? sim.model.expect(doc, ctx) : undefined, 'when a client came');
  const want = sim.model.expectMeta(doc, ctx);
  if (!want) throw new Error(`${r.self}: ${JSON.stringify(doc)} when a client came exists but no write touched it`);
  if (!sameDocMeta(r.docs.meta(doc)!, want)) {
    throw new Error(`${r.self}: ${JSON.stringify(doc)} when a client came: metadata ${canonical(r.docs.meta(doc))}, the writes give ${canonical(want)}`);
  }
}

/**
 * What a member holds in memory is what its storage committed: vector and document metadata
 * always, and with `engines` (after a failed commit) every document's engine states too.
 */
export function checkMemoryMatchesStorage(node: Node, engines: boolean): void {
  const r = node.replica!;
  const committed = node.storage.loadMeta();
  if (committed && !equals(committed.vv, r.vv)) throw new Error(`${node.id}: vector in memory differs from storage`);
  const stored = node.storage.loadDocs();
  if (stored.length !== r.docs.size) throw new Error(`${node.id}: ${r.docs.size} documents in memory, ${stored.length} in storage`);
  for (const s of stored) {
    const m = r.docs.meta(s.doc);
    if (!m || !sameDocMeta(m, s)) throw new Error(`${node.id}: metadata of ${JSON.stringify(s.doc)} in memory differs from storage`);
    if (!engines) continue;
    for (const engine of Object.keys(s.creators) as EngineName[]) {
      const state = node.storage.loadState(s.doc, engine);
      const chunks = state ? [...(state.snapshot ? [state.snapshot] : []), ...state.increments] : [];
      const fresh = restoreEngine(engine, chunks, { actor: new Uint8Array(16).fill(1) });
      const want = canonical(fresh.toJSON());
      fresh.free();
      const got = canonical(r.docs.engine(s.doc, engine).toJSON());
      if (got !== want) throw new Error(`${node.id}: ${engine} state of ${JSON.stringify(s.doc)} in memory is ${got}, storage holds ${want}`);
    }
  }
}

/** Hybrid clocks: each member's entries carry strictly increasing times, crashes and skew notwithstanding. */
function checkClocks(model: Model): void {
  const last = new Map<string, { seq: number; hlc: number }>();
  for (const { entry: e } of [...model.writes()].sort((a, b) => a.entry.seq - b.entry.seq)) {
    const prev = last.get(e.origin);
    if (prev && e.hlc <= prev.hlc) throw new Error(`${e.origin}:${e.seq} has hlc ${e.hlc}, not after ${e.origin}:${prev.seq} at ${prev.hlc}`);
    last.set(e.origin, { seq: e.seq, hlc: e.hlc });
  }
}

/**
 * Causality of hybrid times: an entry's time is above that of every entry its `deps` cover
 * (what its member had applied of the document), state transfers included.
 */
function checkCausality(model: Model): void {
  for (const doc of model.docs()) {
    const writes = model.view(doc);
    for (const w of writes) {
      for (const x of writes) {
        if (x !== w && covers(w.entry.deps, { member: x.entry.origin, seq: x.entry.seq }) && w.entry.hlc <= x.entry.hlc) {
          throw new Error(`${w.entry.origin}:${w.entry.seq} has hlc ${w.entry.hlc}, not after ${x.entry.origin}:${x.entry.seq} at ${x.entry.hlc}, which its deps cover`);
        }
      }
    }
  }
}

/** Each accepted write was allowed, and each refusal forced, by what its member had seen (its context). */
function checkDecisions(sim: Simulation, model: Model): void {
  checkCausality(model);
  for (const w of model.writes()) {
    const e = w.entry;
    const seen = model.expect(e.doc, e.deps);
    const name = `${e.origin}:${e.seq} (${w.effect.kind} of ${JSON.stringify(e.doc)})`;
    if (e.kind === 'delete' && !seen?.live) throw new Error(`${name} deleted a document that was not live in its context`);
    if (seen && seen.engine !== e.engine) throw new Error(`${name} was accepted with ${e.engine} where ${seen.engine} was visible`);
    if (w.effect.kind === 'text' && e.engine === 'automerge' && !(seen && 't' in seen.json)) {
      throw new Error(`${name} spliced text that its context had deleted`);
    }
  }
  for (const f of sim.refusals) {
    const seen = model.expect(f.doc, f.ctx as VersionVector);
    const name = `${f.member} refused ${f.engine ?? 'a delete'} on ${JSON.stringify(f.doc)} (${f.reason})`;
    if (f.reason === 'nothing-to-delete' && seen?.live) throw new Error(`${name} though the document was live`);
    if (f.reason === 'engine-mismatch' && (!seen || seen.engine === f.engine)) throw new Error(`${name} though ${f.engine} was visible or nothing was`);
    if (f.reason === 'path-not-found' && seen?.engine === 'automerge' && 't' in seen.json) throw new Error(`${name} though the text exists`);
    // A Yjs update is refused for missing dependencies only where the member lacks part of what its client had seen.
    if (f.reason === 'missing-dependencies' && (!f.basis || leq(f.basis, f.ctx))) throw new Error(`${name} though it held everything the client had seen`);
  }
}
