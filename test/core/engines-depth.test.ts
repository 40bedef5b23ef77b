import * as A from '@automerge/automerge';
import * as Y from 'yjs';
import { describe, expect, it } from 'vitest';
import { DepthLimitError, InvalidDocumentError } from '../../src/core/errors.js';
import { createEngine, type Engine, type EngineName, loadEngine } from '../../src/core/engines/index.js';
import { DEFAULT_MAX_DEPTH, jsonDepth, jsonTextDepth, checkJsonValue } from '../../src/core/json-limits.js';
import { actor } from './engines-helpers.js';
import type { JsonObject, JsonValue } from '../../src/core/json.js';

let n = 5000;
const engine = (name: EngineName, maxDepth = DEFAULT_MAX_DEPTH): Engine => createEngine(name, { actor: actor(n++), maxDepth });

/** `{"a":{"a":...1}}` with `depth` objects. */
function nested(depth: number): JsonObject {
  let v: JsonValue = 1;
  for (let i = 0; i < depth; i++) v = { a: v };
  return v as JsonObject;
}

function unchanged(e: Engine, f: () => unknown, error: new (...args: never[]) => Error): void {
  const json = JSON.stringify(e.toJSON());
  const version = e.version();
  expect(f).toThrow(error);
  expect(JSON.stringify(e.toJSON())).toBe(json);
  expect(e.version()).toEqual(version);
}

describe('JSON limits', () => {
  it('measure depth without recursion, even 100,000 levels deep', () => {
    const text = '['.repeat(100_000) + ']'.repeat(100_000);
    expect(jsonTextDepth(text)).toBe(100_000);
    expect(jsonTextDepth(text, 64)).toBe(65);
    expect(jsonTextDepth('{"a":"[[[[{{{\\"]]]"}')).toBe(1);
    expect(jsonDepth(JSON.parse(text))).toBe(100_000);
    expect(jsonDepth(1)).toBe(0);
    expect(jsonDepth({ a: [] })).toBe(2);
    expect(() => checkJsonValue(JSON.parse(text), 64, 'the body')).toThrow(DepthLimitError);
    expect(() => checkJsonValue({ n: Infinity }, 64, 'the body')).toThrow(InvalidDocumentError);
    expect(() => checkJsonValue(nested(64), 64, 'the body')).not.toThrow();
  });
});

describe('Automerge refuses nesting past maxDepth, changing nothing', () => {
  it('in replace, merge patch and ops', () => {
    const e = engine('automerge', 8);
    e.replace({ keep: 1 });
    unchanged(e, () => e.replace({ keep: 1, deep: nested(8) }), DepthLimitError);
    unchanged(e, () => e.mergePatch({ deep: nested(8) }), DepthLimitError);
    unchanged(e, () => e.applyOps([{ op: 'set', path: ['x'], value: nested(8) }]), DepthLimitError);
    unchanged(e, () => e.applyOps([{ op: 'splice', path: ['l'], index: 0, delete: 0, insert: [nested(7)] }]), DepthLimitError);
    unchanged(e, () => e.replace({ n: Infinity }), InvalidDocumentError);
    unchanged(e, () => e.mergePatch({ n: -Infinity }), InvalidDocumentError);
    // The deepest allowed: 7 nested objects under the root object is depth 8.
    expect(e.mergePatch({ deep: nested(7) })).not.toBeNull();
  });

  it('in engine bytes, whether the change nests from the root or inside existing objects', () => {
    const e = engine('automerge', 8);
    e.replace({ a: nested(5) });
    const client = A.load<Record<string, unknown>>(e.save());
    const deeper = A.change(client, (d) => {
      let o = d['a'] as Record<string, unknown>;
      for (let i = 0; i < 4; i++) o = o['a'] as Record<string, unknown>;
      o['b'] = nested(3);
    });
    // Refused updates leave the instance to be discarded (the engine contract): what goes on is a
    // reload of what was stored, which has none of them.
    const stored = e.save();
    expect(() => e.applyUpdate(A.getLastLocalChange(deeper)!)).toThrow(DepthLimitError);
    const fresh = A.change(A.init<Record<string, unknown>>(), (d) => {
      d['z'] = nested(20);
    });
    const second = loadEngine('automerge', [stored], { actor: actor(90), maxDepth: 8 });
    expect(() => second.applyUpdate(A.save(fresh))).toThrow(DepthLimitError);
    const next = loadEngine('automerge', [stored], { actor: actor(91), maxDepth: 8 });
    expect(next.toJSON()).toEqual({ a: nested(5) });
    const ok = A.change(A.load<Record<string, unknown>>(stored), (d) => {
      d['b'] = nested(6);
    });
    expect(next.applyUpdate(A.getLastLocalChange(ok)!)).not.toBeNull();
    expect(jsonDepth(next.toJSON())).toBe(7);
  });
});

describe('Yjs refuses nesting past maxDepth', () => {
  function nestedMaps(doc: Y.Doc, depth: number): void {
    let m = doc.getMap('root');
    for (let i = 0; i < depth; i++) {
      const child = new Y.Map<unknown>();
      m.set('m', child);
      m = child;
    }
  }

  it('a 33 KB update of 3,000 nested maps', () => {
    const client = new Y.Doc();
    nestedMaps(client, 3000);
    const update = Y.encodeStateAsUpdate(client);
    expect(update.length).toBeGreaterThan(20_000);
    expect(() => engine('yjs').applyUpdate(update)).toThrow(DepthLimitError);
  });

  it('nesting into types of earlier updates, and JSON values embedded in a map', () => {
    const client = new Y.Doc();
    const e = engine('yjs', 8);
    nestedMaps(client, 5);
    expect(e.applyUpdate(Y.encodeStateAsUpdate(client))).not.toBeNull();
    const sv = Y.encodeStateVector(client);
    let m = client.getMap('root');
    for (let i = 0; i < 5; i++) m = m.get('m') as Y.Map<unknown>;
    m.set('m', new Y.Map());
    (m.get('m') as Y.Map<unknown>).set('m', new Y.Map());
    expect(() => engine('yjs', 8).applyUpdate(Y.encodeStateAsUpdate(client))).toThrow(DepthLimitError);
    expect(() => e.applyUpdate(Y.encodeStateAsUpdate(client, sv))).toThrow(DepthLimitError);

    const values = new Y.Doc();
    values.getMap('root').set('v', nested(7) as never);
    expect(() => engine('yjs', 8).applyUpdate(Y.encodeStateAsUpdate(values))).toThrow(DepthLimitError);
    const shallow = new Y.Doc();
    shallow.getMap('root').set('v', nested(6) as never);
    expect(engine('yjs', 8).applyUpdate(Y.encodeStateAsUpdate(shallow))).not.toBeNull();
  });
});
