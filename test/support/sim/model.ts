/**
 * The checker's model of what the documents must hold, derived only from the writes that
 * exist (every entry committed at its origin) and what each one meant to the client, never
 * from a replica's state. Deletes are observed-remove: a delete entry's `deps` is the context
 * it removes, so a write is removed exactly when some delete's context covers its dot.
 *
 * Engine semantics modelled (each checked against the real engines by the simulator):
 * - Automerge map fields: a key is visible while some put of it is not covered by a delete.
 * - Automerge text `t` exists from the set-up write until the first delete covers it; nothing
 *   re-creates it (a splice without it is refused), so its length is every splice applied.
 * - Automerge counter `c`: a delete removes the counter put it saw, and increments concurrent
 *   with that delete die with it (an increment is not a put, so it cannot keep the counter
 *   alive; Automerge hides a counter once any successor is not an increment). An increment
 *   that sees no counter creates one (`Counter(0)` then `+1`); concurrent creations conflict,
 *   and an increment adds to every counter visible to it. Which of several conflicting
 *   counters is shown depends on Automerge op ids (actor bytes), so then the value must be one
 *   of theirs; with one visible counter it is exact.
 * - Yjs: items are identified by the client that made them, so a client's update sent twice
 *   (a retry, possibly to another member) is one item; a delete removes every item it saw,
 *   that is, an item is gone once a delete covers any entry that carried it. Map `m` renders as
 *   `{}` once any key was ever set; text `t` renders only while a character is left.
 * - Engine per key: the earliest creator stamp (hlc, origin) of any entry, deletes included.
 */
import type { DocKey, MemberId } from '../../../src/core/ids.js';
import type { EngineName } from '../../../src/core/engines/engine.js';
import type { JsonObject } from '../../../src/core/json.js';
import { stampBefore, type LogEntry } from '../../../src/core/log.js';
import type { CreationStamp, DocMeta } from '../../../src/core/storage.js';
import { covers, emptyVV, type VersionVector, withDot } from '../../../src/core/version-vector.js';

/** What a client request meant, independent of which member took it. */
export type Effect =
  /** Automerge set-up: text `t` = '' and counter `c` = 0. */
  | { readonly kind: 'setup' }
  /** Automerge root field, or Yjs map `m` field (then `item` names the Yjs item). */
  | { readonly kind: 'field'; readonly name: string; readonly value: number; readonly item?: string }
  /** An increment of counter `c` by `by` (1 when absent; the guarded counter's strong decrements are -1). */
  | { readonly kind: 'counter'; readonly by?: number }
  /** One `x` inserted into text `t` (Yjs: `item` names it). */
  | { readonly kind: 'text'; readonly item?: string }
  /** Makes the document exist without content (`PUT {}`). */
  | { readonly kind: 'create' }
  | { readonly kind: 'delete' };

/** An entry that was committed at its origin, whether or not its client was told. */
export interface Write {
  readonly entry: LogEntry;
  readonly effect: Effect;
  /** The client was told the write succeeded (majority writes learn it later: {@link Model.ack}). */
  acked: boolean;
}

export interface Expected {
  readonly meta: DocMeta;
  readonly engine: EngineName;
  readonly live: boolean;
  /** The visible engine's content, with `c` left out when several counters conflict. */
  readonly json: JsonObject;
  /** When several counters conflict: the values `c` may show. */
  readonly counterChoices?: readonly number[];
}

const dotOf = (e: LogEntry) => ({ member: e.origin, seq: e.seq });

export class Model {
  private readonly byDoc = new Map<DocKey, Write[]>();
  private readonly dots = new Set<string>();
  /** Whether a counter write created a counter (its view had none), by dot. */
  private readonly created = new Map<string, boolean>();

  add(w: Write): void {
    const id = `${w.entry.origin}:${w.entry.seq}`;
    if (this.dots.has(id)) throw new Error(`two committed entries share the dot ${id}`);
    this.dots.add(id);
    const list = this.byDoc.get(w.entry.doc) ?? [];
    list.push(w);
    this.byDoc.set(w.entry.doc, list);
  }

  /** The client of the write at `dot` was told. */
  ack(dot: { member: MemberId; seq: number }): void {
    const w = this.writes().find((x) => x.entry.origin === dot.member && x.entry.seq === dot.seq);
    if (!w) throw new Error(`${dot.member}:${dot.seq} was acknowledged but never committed`);
    w.acked = true;
  }

  docs(): DocKey[] {
    return [...this.byDoc.keys()].sort();
  }

  writes(): Write[] {
    return [...this.byDoc.values()].flat();
  }

  /** The writes of `doc` a member had applied when its document vector was `ctx` (all when undefined). */
  view(doc: DocKey, ctx?: VersionVector): Write[] {
    const all = this.byDoc.get(doc) ?? [];
    return ctx ? all.filter((w) => covers(ctx, dotOf(w.entry))) : all;
  }

  /** The document's metadata at a member with document vector `ctx`; undefined when no write touched it. */
  expectMeta(doc: DocKey, ctx?: VersionVector): DocMeta | undefined {
    const v = this.view(doc, ctx);
    return v.length === 0 ? undefined : metaOf(doc, v);
  }

  /** The document as a member with document vector `ctx` must hold it; undefined when no write touched it. */
  expect(doc: DocKey, ctx?: VersionVector): Expected | undefined {
    const v = this.view(doc, ctx);
    if (v.length === 0) return undefined;
    const meta = metaOf(doc, v);
    const engine = visible(meta)!;
    const live = v.some((w) => !removedBy(v, w, undefined));
    const content = engine === 'automerge' ? this.automerge(v) : yjs(v);
    return { meta, engine, live, ...content };
  }

  private automerge(v: readonly Write[]): { json: JsonObject; counterChoices?: number[] } {
    const mine = v.filter((w) => w.entry.engine === 'automerge');
    const json: Record<string, unknown> = {};
    const setup = mine.filter((w) => w.effect.kind === 'setup');
    if (setup.some((w) => !removedBy(mine, w, 'automerge'))) {
      json['t'] = 'x'.repeat(mine.filter((w) => w.effect.kind === 'text').length);
    }
    for (const w of mine) {
      if (w.effect.kind === 'field' && !removedBy(mine, w, 'automerge')) json[w.effect.name] = w.effect.value;
    }
    const counters = this.counters(mine);
    if (counters.length === 1) json['c'] = counters[0]!.value;
    return { json: json as JsonObject, ...(counters.length > 1 && { counterChoices: counters.map((c) => c.value) }) };
  }

  /** The counters visible in view `v` (Automerge writes of one document) and their values. */
  private counters(v: readonly Write[]): { put: Write; value: number }[] {
    const puts = this.alivePuts(v);
    return puts.map((put) => {
      let value = put.effect.kind === 'counter' ? (put.effect.by ?? 1) : 0;
      for (const w of v) {
        if (w.effect.kind !== 'counter' || this.creates(w) || w === put) continue;
        if (this.alivePuts(this.priorView(w)).includes(put)) value += w.effect.by ?? 1;
      }
      return { put, value };
    });
  }

  /** Counter puts in `v` that no delete in `v` removed. */
  private alivePuts(v: readonly Write[]): Write[] {
    return v.filter((w) => (w.effect.kind === 'setup' || (w.effect.kind === 'counter' && this.creates(w))) && !removedBy(v, w, 'automerge'));
  }

  /** True when counter write `w` saw no counter and so created one. */
  private creates(w: Write): boolean {
    const id = `${w.entry.origin}:${w.entry.seq}`;
    let c = this.created.get(id);
    if (c === undefined) {
      c = this.alivePuts(this.priorView(w)).length === 0;
      this.created.set(id, c);
    }
    return c;
  }

  /** The Automerge writes `w`'s origin had applied to the document when it made `w`. */
  private priorView(w: Write): Write[] {
    return this.view(w.entry.doc, w.entry.deps).filter((x) => x.entry.engine === 'automerge');
  }
}

/** True when a delete in `v` (of `engine`'s state, or of any engine when undefined) covers `w`. */
function removedBy(v: readonly Write[], w: Write, engine: EngineName | undefined): boolean {
  return v.some(
    (d) => d.entry.kind === 'delete' && (engine === undefined || d.entry.engine === engine) && (d === w || covers(d.entry.deps, dotOf(w.entry))),
  );
}

/** Yjs items are gone once a delete covers any entry that carried them. */
function yjs(v: readonly Write[]): { json: JsonObject } {
  const mine = v.filter((w) => w.entry.engine === 'yjs');
  const gone = new Set<string>();
  for (const w of mine) {
    const item = 'item' in w.effect ? w.effect.item : undefined;
    if (item !== undefined && removedBy(mine, w, 'yjs')) gone.add(item);
  }
  const json: Record<string, unknown> = {};
  const m: Record<string, unknown> = {};
  const chars = new Set<string>();
  let maps = 0;
  for (const w of mine) {
    const e = w.effect;
    if (e.kind === 'field') {
      maps++;
      if (!gone.has(e.item!)) m[e.name] = e.value;
    } else if (e.kind === 'text' && !gone.has(e.item!)) {
      chars.add(e.item!);
    }
  }
  if (maps > 0) json['m'] = m;
  if (chars.size > 0) json['t'] = 'x'.repeat(chars.size);
  return { json: json as JsonObject };
}

/** The metadata every member must hold once it has applied exactly the writes `v`. */
function metaOf(doc: DocKey, v: readonly Write[]): DocMeta {
  let vv: VersionVector = emptyVV;
  let removed: VersionVector = emptyVV;
  const creators: Partial<Record<EngineName, CreationStamp>> = {};
  for (const { entry: e } of v) {
    vv = withDot(vv, e.origin, e.seq);
    if (e.kind === 'delete') {
      for (const [m, seq] of Object.entries(e.deps) as [MemberId, number][]) removed = withDot(removed, m, seq);
      removed = withDot(removed, e.origin, e.seq);
    }
    const stamp = { hlc: e.hlc, origin: e.origin };
    const cur = creators[e.engine];
    if (!cur || stampBefore(stamp, cur)) creators[e.engine] = stamp;
  }
  return { doc, vv, removed, creators };
}

function visible(m: DocMeta): EngineName | undefined {
  let best: { engine: EngineName; stamp: CreationStamp } | undefined;
  for (const [engine, stamp] of Object.entries(m.creators) as [EngineName, CreationStamp][]) {
    if (!best || stampBefore(stamp, best.stamp)) best = { engine, stamp };
  }
  return best?.engine;
}
