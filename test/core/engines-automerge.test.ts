/** Behaviour of the Automerge engine: minimal edits, merge patch, operations, deltas. */
import * as A from '@automerge/automerge';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { sha256 } from '../../src/core/engines/automerge-chunks.js';
import { parseOps } from '../../src/core/engines/ops.js';
import type { Engine } from '../../src/core/engines/index.js';
import { createEngine, loadEngine } from '../../src/core/engines/index.js';
import {
  GuardViolationError,
  InvalidDocumentError,
  InvalidOperationError,
  InvalidUpdateError,
  InvalidVersionError,
  MissingDependenciesError,
  PathNotFoundError,
  UnknownOperationError,
} from '../../src/core/errors.js';
import type { JsonObject, JsonValue } from '../../src/core/json.js';
import { actor, applyAll, expectRefused, expectUnchanged, fresh, reload } from './engines-helpers.js';

/** Two replicas that share `base`, as after a sync. */
function pair(base: JsonObject): [Engine, Engine] {
  const a = createEngine('automerge', { actor: actor(1) });
  a.replace(base);
  const b = loadEngine('automerge', [a.save()], { actor: actor(2) });
  return [a, b];
}

/** Exchanges everything both ways. */
function sync(a: Engine, b: Engine): void {
  a.applyUpdate(b.save());
  b.applyUpdate(a.save());
}

const ops = (e: Engine, body: unknown) => e.applyOps(parseOps(body, 100));

describe('replace', () => {
  it('returns null when the content is already equal', () => {
    const e = fresh('automerge');
    const doc = { title: 'Widget', tags: ['a', 'b'], dims: { w: 1, h: 2.5 }, ok: true, none: null };
    expect(e.replace(doc)).not.toBeNull();
    expect(e.replace(doc)).toBeNull();
    expect(e.replace(JSON.parse(JSON.stringify(doc)))).toBeNull();
    expect(e.toJSON()).toEqual(doc);
  });

  it('writes one field of a large document as a small change', () => {
    const e = fresh('automerge');
    const big: JsonObject = {};
    for (let i = 0; i < 500; i++) big[`field${i}`] = { n: i, s: `value number ${i}`, list: [i, i + 1] };
    e.replace(big);
    const edited = { ...big, field250: { n: -1, s: 'value number 250', list: [250, 251] } };
    const change = e.replace(edited)!;
    expect(change.length).toBeLessThan(200);
    expect(change.length * 50).toBeLessThan(e.save().length);
    expect(e.toJSON()).toEqual(edited);
  });

  it('deletes fields absent from the new content and rejects non-objects', () => {
    const e = fresh('automerge');
    e.replace({ a: 1, b: 2 });
    e.replace({ b: 3 });
    expect(e.toJSON()).toEqual({ b: 3 });
    for (const bad of [[1], 'x', null, 3]) {
      expect(expectUnchanged(e, () => e.replace(bad as unknown as JsonObject))).toBeInstanceOf(InvalidDocumentError);
    }
    expect(expectUnchanged(e, () => e.replace(JSON.parse('{"x":{"__proto__":1}}')))).toBeInstanceOf(InvalidDocumentError);
  });

  it('diffs text, so concurrent edits of different words both survive', () => {
    const [a, b] = pair({ t: 'the quick brown fox' });
    a.replace({ t: 'the slow brown fox' });
    b.replace({ t: 'the quick brown cat' });
    sync(a, b);
    expect(a.toJSON()).toEqual({ t: 'the slow brown cat' });
    expect(b.toJSON()).toEqual(a.toJSON());
  });

  it('edits lists in place: a concurrent insert and an element edit both survive', () => {
    const [a, b] = pair({ items: [{ id: 1, n: 'one' }, { id: 2, n: 'two' }, { id: 3, n: 'three' }] });
    const insert = a.replace({ items: [{ id: 0, n: 'zero' }, { id: 1, n: 'one' }, { id: 2, n: 'two' }, { id: 3, n: 'three' }] })!;
    b.replace({ items: [{ id: 1, n: 'one' }, { id: 2, n: 'TWO' }, { id: 3, n: 'three' }] });
    sync(a, b);
    expect(a.toJSON()).toEqual({
      items: [{ id: 0, n: 'zero' }, { id: 1, n: 'one' }, { id: 2, n: 'TWO' }, { id: 3, n: 'three' }],
    });
    // One inserted element (a map, its number, its text of four characters), not a rewrite.
    expect(A.decodeChange(insert).ops.length).toBe(7);
  });

  it('inserts long lists', () => {
    const e = fresh('automerge');
    const long = Array.from({ length: 25_000 }, (_, i) => i % 7);
    e.replace({ long });
    expect((e.toJSON()['long'] as number[]).length).toBe(25_000);
  });

  it('shortens and lengthens lists at the end of the differing middle', () => {
    const e = fresh('automerge');
    e.replace({ l: [1, 2, 3, 4, 5] });
    e.replace({ l: [1, 5] });
    expect(e.toJSON()).toEqual({ l: [1, 5] });
    e.replace({ l: [1, 7, 8, 5, [9]] });
    expect(e.toJSON()).toEqual({ l: [1, 7, 8, 5, [9]] });
    expect(reload(e).toJSON()).toEqual(e.toJSON());
  });

  it('moves a counter by the difference, so a concurrent increment still adds up', () => {
    const [a, b] = pair({});
    a.applyOps([{ op: 'increment', path: ['likes'], by: 5 }]);
    sync(a, b);
    a.replace({ likes: 7 });
    b.applyOps([{ op: 'increment', path: ['likes'], by: 3 }]);
    sync(a, b);
    expect(a.toJSON()).toEqual({ likes: 10 });
    expect(b.toJSON()).toEqual({ likes: 10 });
  });

  it('keeps integers beyond 2^53 as numbers rather than clamping them to 64 bits', () => {
    const e = fresh('automerge');
    e.replace({ big: 1e21, nested: { list: [1e300, 2 ** 60] } });
    expect(e.toJSON()).toEqual({ big: 1e21, nested: { list: [1e300, 2 ** 60] } });
    e.applyOps([{ op: 'splice', path: ['nested', 'list'], index: 1, delete: 0, insert: [1e22, { x: [2 ** 70] }] }]);
    expect(e.toJSON()).toEqual({ big: 1e21, nested: { list: [1e300, 1e22, { x: [2 ** 70] }, 2 ** 60] } });
    expect(reload(e).toJSON()).toEqual(e.toJSON());
  });
});

describe('mergePatch (RFC 7396 appendix A)', () => {
  const examples: [JsonObject, JsonValue, JsonObject][] = [
    [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
    [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
    [{ a: 'b' }, { a: null }, {}],
    [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
    [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
    [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
    [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
    [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
    [
      { title: 'Goodbye!', author: { givenName: 'John', familyName: 'Doe' }, tags: ['example', 'sample'], content: 'This will be unchanged' },
      { title: 'Hello!', phoneNumber: '+01-123-456-7890', author: { familyName: null }, tags: ['example'] },
      { title: 'Hello!', author: { givenName: 'John' }, tags: ['example'], content: 'This will be unchanged', phoneNumber: '+01-123-456-7890' },
    ],
  ];
  for (const [target, patch, result] of examples) {
    it(`${JSON.stringify(target)} + ${JSON.stringify(patch)}`, () => {
      const e = fresh('automerge');
      e.replace(target);
      e.mergePatch(patch);
      expect(e.toJSON()).toEqual(result);
      expect(e.mergePatch(patch)).toBeNull();
    });
  }

  it('rejects a patch that is not an object (the RFC would replace the whole document)', () => {
    const e = fresh('automerge');
    e.replace({ a: 'b' });
    for (const patch of [['c'], null, 'bar', 1]) {
      expect(expectUnchanged(e, () => e.mergePatch(patch))).toBeInstanceOf(InvalidDocumentError);
    }
  });

  it('is one change', () => {
    const e = fresh('automerge');
    e.replace({ a: 1 });
    const change = e.mergePatch({ a: null, b: { c: [1, 2] }, d: 'x' })!;
    expect(A.decodeChange(change).seq).toBe(2);
    expect(e.toJSON()).toEqual({ b: { c: [1, 2] }, d: 'x' });
  });
});

describe('applyOps', () => {
  it('increment creates a counter, and concurrent increments add up', () => {
    const [a, b] = pair({ title: 't' });
    a.applyOps([{ op: 'increment', path: ['stock'], by: 10 }]);
    sync(a, b);
    a.applyOps([{ op: 'increment', path: ['stock'], by: -1 }]);
    b.applyOps([{ op: 'increment', path: ['stock'], by: -2 }]);
    sync(a, b);
    expect(a.toJSON()).toEqual({ title: 't', stock: 7 });
    expect(b.toJSON()).toEqual(a.toJSON());
  });

  it('increment on a value that is not a counter is an invalid operation', () => {
    const e = fresh('automerge');
    e.replace({ n: 1, l: [1] });
    expect(expectUnchanged(e, () => e.applyOps([{ op: 'increment', path: ['n'], by: 1 }]))).toBeInstanceOf(InvalidOperationError);
    expect(expectUnchanged(e, () => e.applyOps([{ op: 'increment', path: ['l'], by: 1 }]))).toBeInstanceOf(InvalidOperationError);
  });

  it('a guard that would be violated throws GuardViolationError and changes nothing', () => {
    const e = fresh('automerge');
    e.applyOps([{ op: 'increment', path: ['stock'], by: 1 }]);
    const err = expectUnchanged(e, () =>
      e.applyOps([
        { op: 'set', path: ['note'], value: 'sold' },
        { op: 'increment', path: ['stock'], by: -2, min: 0 },
      ]),
    ) as GuardViolationError;
    expect(err).toBeInstanceOf(GuardViolationError);
    expect([err.current, err.result]).toEqual([1, -1]);
    expect(expectUnchanged(e, () => e.applyOps([{ op: 'increment', path: ['stock'], by: 5, max: 3 }]))).toBeInstanceOf(GuardViolationError);
    expect(e.applyOps([{ op: 'increment', path: ['stock'], by: -1, min: 0 }])).not.toBeNull();
    expect(e.toJSON()).toEqual({ stock: 0 });
  });

  it('is all or nothing: a later op on a missing path undoes the earlier ones', () => {
    const e = fresh('automerge');
    e.replace({ a: 1, list: [1, 2] });
    const err = expectUnchanged(e, () =>
      e.applyOps([
        { op: 'set', path: ['a'], value: 2 },
        { op: 'splice', path: ['list'], index: 0, delete: 1, insert: [] },
        { op: 'delete', path: ['missing'] },
      ]),
    );
    expect(err).toBeInstanceOf(PathNotFoundError);
    expect(e.toJSON()).toEqual({ a: 1, list: [1, 2] });
    expect(e.applyOps([{ op: 'set', path: ['a'], value: 3 }])).not.toBeNull();
  });

  it('paths that do not exist throw PathNotFoundError', () => {
    const e = fresh('automerge');
    e.replace({ a: { b: 1 }, l: [1], s: 'text' });
    const cases: unknown[] = [
      { op: 'set', path: ['missing', 'deep'], value: 1 },
      { op: 'set', path: ['a', 'b', 'c'], value: 1 },
      { op: 'set', path: ['s', 'x'], value: 1 },
      { op: 'set', path: ['l', 2], value: 1 },
      { op: 'set', path: ['l', 'x'], value: 1 },
      { op: 'delete', path: ['a', 'zz'] },
      { op: 'delete', path: ['l', 1] },
      { op: 'splice', path: ['nope'], index: 0, insert: 'x' },
      { op: 'increment', path: ['l', 5], by: 1 },
    ];
    for (const op of cases) {
      expect(expectUnchanged(e, () => ops(e, { ops: [op] })), JSON.stringify(op)).toBeInstanceOf(PathNotFoundError);
    }
  });

  it('an unknown op never reaches the document', () => {
    const e = fresh('automerge');
    e.replace({ a: 1 });
    expect(expectUnchanged(e, () => ops(e, { ops: [{ op: 'frobnicate', path: ['a'] }] }))).toBeInstanceOf(UnknownOperationError);
  });

  it('set creates, overwrites, and appends to lists; strings become text', () => {
    const e = fresh('automerge');
    ops(e, {
      ops: [
        { op: 'set', path: ['title'], value: 'Widget' },
        { op: 'set', path: ['items'], value: [] },
        { op: 'set', path: '/items/0', value: { name: 'a' } },
        { op: 'set', path: ['items', 1], value: 'b' },
        { op: 'set', path: ['items', '1'], value: 'B' },
        { op: 'set', path: '/items/0/name', value: 'A' },
      ],
    });
    expect(e.toJSON()).toEqual({ title: 'Widget', items: [{ name: 'A' }, 'B'] });
    ops(e, { ops: [{ op: 'splice', path: ['title'], index: 0, delete: 0, insert: 'Big ' }] });
    expect(e.toJSON()['title']).toBe('Big Widget');
  });

  it('splice edits text and lists, and checks its range', () => {
    const e = fresh('automerge');
    e.replace({ notes: 'world', list: [1, 2, 3] });
    ops(e, {
      ops: [
        { op: 'splice', path: ['notes'], index: 0, delete: 0, insert: 'hello ' },
        { op: 'splice', path: ['notes'], index: 11, insert: '!' },
        { op: 'splice', path: ['list'], index: 1, delete: 1, insert: [20, { x: 1 }] },
        { op: 'splice', path: ['list'], index: 0, delete: 1 },
      ],
    });
    expect(e.toJSON()).toEqual({ notes: 'hello world!', list: [20, { x: 1 }, 3] });
    const bad: unknown[] = [
      { op: 'splice', path: ['notes'], index: 13, delete: 0, insert: 'x' },
      { op: 'splice', path: ['notes'], index: 10, delete: 3, insert: '' },
      { op: 'splice', path: ['notes'], index: 0, insert: ['x'] },
      { op: 'splice', path: ['list'], index: 0, insert: 'x' },
      { op: 'splice', path: ['list', 1], index: 0, insert: 'x' },
    ];
    for (const op of bad) {
      expect(expectUnchanged(e, () => ops(e, { ops: [op] })), JSON.stringify(op)).toBeInstanceOf(InvalidOperationError);
    }
  });

  it('concurrent splices into one text both survive', () => {
    const [a, b] = pair({ t: 'ac' });
    ops(a, { ops: [{ op: 'splice', path: '/t', index: 1, insert: 'b' }] });
    ops(b, { ops: [{ op: 'splice', path: '/t', index: 2, insert: 'd' }] });
    sync(a, b);
    expect(a.toJSON()).toEqual({ t: 'abcd' });
  });

  it('JSON Pointer paths unescape ~0 and ~1 and index lists', () => {
    const e = fresh('automerge');
    e.replace({ 'a/b': { '~k': [0, { '0': 'zero' }] } });
    ops(e, { ops: [{ op: 'set', path: '/a~1b/~0k/1/0', value: 'ZERO' }, { op: 'increment', path: '/a~1b/c', by: 2 }] });
    expect(e.toJSON()).toEqual({ 'a/b': { '~k': [0, { '0': 'ZERO' }], c: 2 } });
  });
});

describe('clear', () => {
  it('removes what it has seen; a concurrent write survives', () => {
    const [a, b] = pair({ a: 1, b: 2 });
    expect(a.clear()).not.toBeNull();
    expect(a.clear()).toBeNull();
    b.replace({ a: 1, b: 2, c: 3 });
    b.applyOps([{ op: 'set', path: ['a'], value: 10 }]);
    sync(a, b);
    expect(a.toJSON()).toEqual({ a: 10, c: 3 });
    expect(b.toJSON()).toEqual(a.toJSON());
  });
});

describe('applyUpdate, version and deltaSince', () => {
  it('returns null for a duplicate and the new changes otherwise', () => {
    const a = fresh('automerge');
    const c1 = a.replace({ x: 1 })!;
    const b = fresh('automerge');
    expect(b.applyUpdate(c1)).toEqual(c1);
    expect(b.applyUpdate(c1)).toBeNull();
    expect(b.applyUpdate(a.save())).toBeNull();
    const c2 = a.replace({ x: 2 })!;
    expect(b.applyUpdate(a.save())).toEqual(c2);
  });

  it('refuses changes whose dependencies it lacks; a reloaded instance takes them once it has those', () => {
    const a = fresh('automerge');
    const c1 = a.replace({ x: 1 })!;
    const c2 = a.replace({ x: 1, y: 2 })!;
    const c3 = a.replace({ x: 1, y: 2, z: 3 })!;
    const first = expectRefused(fresh('automerge'), (e) => e.applyUpdate(c3));
    expect(first.thrown).toBeInstanceOf(MissingDependenciesError);
    const second = expectRefused(first.next, (e) => e.applyUpdate(new Uint8Array([...c2, ...c3])));
    expect(second.thrown).toBeInstanceOf(MissingDependenciesError);
    const b = second.next;
    expect(b.toJSON()).toEqual({});
    expect(b.applyUpdate(c1)).toEqual(c1);
    expect(b.applyUpdate(new Uint8Array([...c3, ...c2]))).not.toBeNull();
    expect(b.toJSON()).toEqual({ x: 1, y: 2, z: 3 });
    // Peers' entries arrive by merge, which still takes them in any order.
    const m = fresh('automerge');
    for (const u of [c3, c2, c1]) m.merge(u);
    expect(m.toJSON()).toEqual({ x: 1, y: 2, z: 3 });
  });

  it('rejects a change with a valid hash that refers to objects that do not exist; nothing of it is stored', () => {
    const e = fresh('automerge');
    e.replace({ kept: 1 });
    const heads = A.getHeads(A.load(e.save()));
    const good = A.encodeChange({ actor: 'ab', author: null, seq: 1, startOp: 100, time: 0, message: null, deps: heads, ops: [{ action: 'set', obj: '_root', key: 'ok', value: 1, pred: [] }] });
    const bogus = A.encodeChange({
      actor: 'ab', author: null, seq: 2, startOp: 101, time: 0, message: null, deps: [A.decodeChange(good).hash!],
      ops: [{ action: 'set', obj: '7@cd', key: 'x', value: 1, pred: [] }],
    });
    const { thrown, next } = expectRefused(e, (x) => x.applyUpdate(new Uint8Array([...good, ...bogus])));
    expect(thrown).toBeInstanceOf(InvalidUpdateError);
    expect(next.toJSON()).toEqual({ kept: 1 });
    expect(next.applyUpdate(good)).not.toBeNull();
    expect(next.toJSON()).toEqual({ kept: 1, ok: 1 });
  });

  it('rejects a chunk with a valid checksum that does not parse, even after a valid one', () => {
    // Automerge itself drops such a chunk, and the valid ones before it, without an error.
    const body = [1, 2, 3, 4, 5, 6, 7, 8, 9];
    const tail = new Uint8Array([1, body.length, ...body]);
    const checksum = createHash('sha256').update(tail).digest().subarray(0, 4);
    const garbage = new Uint8Array([0x85, 0x6f, 0x4a, 0x83, ...checksum, ...tail]);
    const valid = fresh('automerge').replace({ x: 1 })!;
    const e = fresh('automerge');
    e.replace({ kept: 1 });
    for (const bytes of [garbage, new Uint8Array([...valid, ...garbage])]) {
      expect(expectUnchanged(e, () => e.applyUpdate(bytes))).toBeInstanceOf(InvalidUpdateError);
      expect(() => loadEngine('automerge', [e.save(), bytes], { actor: actor(80) })).toThrow(InvalidUpdateError);
    }
  });

  it('deltaSince gives only what is newer, and the older copy converges with it', () => {
    const a = fresh('automerge');
    const big: JsonObject = {};
    for (let i = 0; i < 200; i++) big[`k${i}`] = `value ${i}`;
    a.replace(big);
    const b = reload(a);
    const v = b.version();
    expect(v.length).toBe(32);
    ops(a, { ops: [{ op: 'set', path: ['new'], value: 'x' }, { op: 'increment', path: ['n'], by: 1 }] });
    const delta = a.deltaSince(v);
    expect(delta.length * 10).toBeLessThan(a.save().length);
    expect(b.applyUpdate(delta)).not.toBeNull();
    expect(b.toJSON()).toEqual(a.toJSON());
    expect(b.version()).toEqual(a.version());
    expect(a.deltaSince(a.version()).length).toBe(0);
  });

  it('deltaSince of unknown heads is the whole state; of malformed bytes, InvalidVersionError', () => {
    const a = fresh('automerge');
    a.replace({ x: 1 });
    const unknown = new Uint8Array(32).fill(7);
    const b = fresh('automerge');
    b.applyUpdate(a.deltaSince(unknown));
    expect(b.toJSON()).toEqual({ x: 1 });
    expect(() => a.deltaSince(new Uint8Array(31))).toThrow(InvalidVersionError);
    expect(a.deltaSince(new Uint8Array(0))).toEqual(a.save());
  });

  it('applyAll of deltas between three replicas converges', () => {
    const a = fresh('automerge');
    const b = fresh('automerge');
    const c = fresh('automerge');
    const ua = a.replace({ from: 'a' })!;
    const ub = b.applyOps([{ op: 'increment', path: ['n'], by: 2 }])!;
    const uc = c.mergePatch({ t: 'c' })!;
    for (const r of [a, b, c]) applyAll(r, [ua, ub, uc]);
    expect(a.toJSON()).toEqual({ from: 'a', n: 2, t: 'c' });
    expect(b.toJSON()).toEqual(a.toJSON());
    expect(c.toJSON()).toEqual(a.toJSON());
  });
});

describe('toJSON', () => {
  it('renders counters as numbers and immutable strings as strings', () => {
    let d = A.init<Record<string, unknown>>({ actor: 'ee' });
    d = A.change(d, { time: 0 }, (r) => {
      r['c'] = new A.Counter(4);
      r['s'] = new A.ImmutableString('imm');
      r['t'] = 'text';
      r['l'] = [new A.Counter(1)];
    });
    const e = loadEngine('automerge', [A.save(d)], { actor: actor(60) });
    expect(e.toJSON()).toEqual({ c: 4, s: 'imm', t: 'text', l: [1] });
    // Replacing keeps each kind: the counter moves, the immutable string stays immutable.
    e.replace({ c: 6, s: 'other', t: 'text!', l: [3] });
    const after = A.load<Record<string, unknown>>(e.save());
    expect(A.isCounter(after['c'])).toBe(true);
    expect(A.isImmutableString(after['s'])).toBe(true);
    expect(e.toJSON()).toEqual({ c: 6, s: 'other', t: 'text!', l: [3] });
  });

  it('shows a counter that wins again after a conflicting value is deleted (Automerge 3.5 patch bug)', () => {
    const a = createEngine('automerge', { actor: actor(1) });
    const b = createEngine('automerge', { actor: actor(2) });
    const u1 = a.replace({ a: null })!;
    b.applyOps([{ op: 'increment', path: ['a'], by: 1 }]);
    const u2 = a.mergePatch({ a: null })!;
    b.applyUpdate(u1);
    b.applyUpdate(u2);
    expect(b.toJSON()).toEqual(reload(b).toJSON());
    expect(b.toJSON()).toEqual({ a: 1 });
    expect(b.replace({ a: 3 })).not.toBeNull();
    expect(reload(b).toJSON()).toEqual({ a: 3 });
  });
});

describe('sha256', () => {
  it('matches node:crypto', () => {
    for (const n of [0, 3, 55, 56, 63, 64, 65, 1000, 100_000]) {
      const data = Uint8Array.from({ length: n }, (_, i) => (i * 131 + 7) & 0xff);
      expect(Buffer.from(sha256(data)).toString('hex')).toBe(createHash('sha256').update(data).digest('hex'));
    }
  });
});
