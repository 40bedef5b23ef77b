/**
 * The engine contract, for both engines: convergence under any delivery order with
 * duplicates, merge laws, and bad input that changes nothing.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { ConcordError, EngineMismatchError, InvalidUpdateError, MissingDependenciesError } from '../../src/core/errors.js';
import type { Engine, EngineName, Op } from '../../src/core/engines/index.js';
import { createEngine, loadEngine } from '../../src/core/engines/index.js';
import type { JsonObject, JsonValue } from '../../src/core/json.js';
import { actor, applyAll, expectUnchanged, fresh, prng, reload, shuffledWithDuplicates, yClient, yEdit } from './engines-helpers.js';

const json = (e: Engine): string => JSON.stringify(e.toJSON());

/** Small JSON values: few keys so that edits collide, no unsafe floats, strings with some Unicode. */
const jsonValue: fc.Arbitrary<JsonValue> = fc.letrec<{ v: JsonValue }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    fc.integer({ min: -1000, max: 1000 }),
    fc.constantFrom(0.5, -2.25, 1e21),
    fc.string({ maxLength: 6 }),
    fc.constantFrom('héllo', '😀x'),
    fc.array(tie('v'), { maxLength: 3 }),
    fc.dictionary(fc.constantFrom('x', 'y', 'z', '0'), tie('v'), { maxKeys: 3, noNullPrototype: true }),
  ),
})).v;

const KEYS = ['a', 'b', 'text', 'list', 'n'] as const;
const key = fc.constantFrom(...KEYS);
const replica = fc.nat(2);

type AmStep =
  | { t: 'set'; r: number; key: string; value: JsonValue }
  | { t: 'inc'; r: number; key: string; by: number }
  | { t: 'splice'; r: number; key: string; pos: number; del: number; text: string }
  | { t: 'insert'; r: number; pos: number; value: JsonValue }
  | { t: 'patch'; r: number; patch: JsonObject }
  | { t: 'replace'; r: number; key: string; value: JsonValue | undefined }
  | { t: 'delete'; r: number; key: string }
  | { t: 'clear'; r: number }
  | { t: 'sync'; r: number; to: number };

const amStep: fc.Arbitrary<AmStep> = fc.oneof(
  fc.record({ t: fc.constant('set' as const), r: replica, key, value: jsonValue }),
  fc.record({ t: fc.constant('inc' as const), r: replica, key: fc.constantFrom('n', 'a'), by: fc.integer({ min: -5, max: 5 }) }),
  fc.record({ t: fc.constant('splice' as const), r: replica, key: fc.constantFrom('text', 'list'), pos: fc.nat(20), del: fc.nat(3), text: fc.string({ maxLength: 4 }) }),
  fc.record({ t: fc.constant('insert' as const), r: replica, pos: fc.nat(10), value: jsonValue }),
  fc.record({ t: fc.constant('patch' as const), r: replica, patch: fc.dictionary(key, fc.oneof(jsonValue, fc.constant(null)), { maxKeys: 2, noNullPrototype: true }) }),
  fc.record({ t: fc.constant('replace' as const), r: replica, key, value: fc.option(jsonValue, { nil: undefined }) }),
  fc.record({ t: fc.constant('delete' as const), r: replica, key }),
  fc.record({ t: fc.constant('clear' as const), r: replica }),
  fc.record({ t: fc.constant('sync' as const), r: replica, to: replica }),
);

function runAmStep(es: Engine[], step: AmStep): Uint8Array | null {
  const e = es[step.r % es.length]!;
  const ops = (...list: Op[]) => e.applyOps(list);
  switch (step.t) {
    case 'set':
      return ops({ op: 'set', path: [step.key], value: step.value });
    case 'inc':
      return ops({ op: 'increment', path: [step.key], by: step.by });
    case 'splice': {
      const cur = e.toJSON()[step.key];
      const len = typeof cur === 'string' || Array.isArray(cur) ? cur.length : 0;
      const index = step.pos % (len + 1);
      const insert = typeof cur === 'string' ? step.text : [...step.text];
      return ops({ op: 'splice', path: [step.key], index, delete: Math.min(step.del, len - index), insert });
    }
    case 'insert': {
      const cur = e.toJSON()['list'];
      const index = Array.isArray(cur) ? step.pos % (cur.length + 1) : 0;
      return ops({ op: 'splice', path: ['list'], index, delete: 0, insert: [step.value] });
    }
    case 'patch':
      return e.mergePatch(step.patch);
    case 'replace': {
      const next = e.toJSON();
      if (step.value === undefined) delete next[step.key];
      else next[step.key] = step.value;
      return e.replace(next);
    }
    case 'delete':
      return ops({ op: 'delete', path: [step.key] });
    case 'clear':
      return e.clear();
    case 'sync':
      e.applyUpdate(es[step.to % es.length]!.save());
      return null;
  }
}

type YStep =
  | { t: 'mapSet'; r: number; key: string; value: JsonValue }
  | { t: 'mapDelete'; r: number; key: string }
  | { t: 'arrInsert'; r: number; pos: number; values: JsonValue[] }
  | { t: 'arrDelete'; r: number; pos: number; len: number }
  | { t: 'textInsert'; r: number; pos: number; text: string }
  | { t: 'textDelete'; r: number; pos: number; len: number }
  | { t: 'clear'; r: number }
  | { t: 'sync'; r: number; to: number };

const yStep: fc.Arbitrary<YStep> = fc.oneof(
  fc.record({ t: fc.constant('mapSet' as const), r: replica, key, value: jsonValue }),
  fc.record({ t: fc.constant('mapDelete' as const), r: replica, key }),
  fc.record({ t: fc.constant('arrInsert' as const), r: replica, pos: fc.nat(10), values: fc.array(jsonValue, { minLength: 1, maxLength: 3 }) }),
  fc.record({ t: fc.constant('arrDelete' as const), r: replica, pos: fc.nat(10), len: fc.integer({ min: 1, max: 3 }) }),
  fc.record({ t: fc.constant('textInsert' as const), r: replica, pos: fc.nat(20), text: fc.string({ minLength: 1, maxLength: 4 }) }),
  fc.record({ t: fc.constant('textDelete' as const), r: replica, pos: fc.nat(20), len: fc.integer({ min: 1, max: 3 }) }),
  fc.record({ t: fc.constant('clear' as const), r: replica }),
  fc.record({ t: fc.constant('sync' as const), r: replica, to: replica }),
);

/** A Yjs replica: an engine and the client whose edits it receives (as through a WebSocket). */
interface YReplica {
  readonly engine: Engine;
  readonly client: Y.Doc;
}

function runYStep(rs: YReplica[], step: YStep): Uint8Array | null {
  const { engine, client } = rs[step.r % rs.length]!;
  const edit = (f: (d: Y.Doc) => void): Uint8Array => {
    const u = yEdit(client, f);
    engine.applyUpdate(u);
    return u;
  };
  switch (step.t) {
    case 'mapSet':
      return edit((d) => d.getMap('m').set(step.key, step.value));
    case 'mapDelete':
      return edit((d) => d.getMap('m').delete(step.key));
    case 'arrInsert':
      return edit((d) => d.getArray('a').insert(step.pos % (d.getArray('a').length + 1), step.values));
    case 'arrDelete':
      return edit((d) => {
        const a = d.getArray('a');
        if (a.length > 0) a.delete(step.pos % a.length, Math.min(step.len, a.length - (step.pos % a.length)));
      });
    case 'textInsert':
      return edit((d) => d.getText('t').insert(step.pos % (d.getText('t').length + 1), step.text));
    case 'textDelete':
      return edit((d) => {
        const t = d.getText('t');
        if (t.length > 0) t.delete(step.pos % t.length, Math.min(step.len, t.length - (step.pos % t.length)));
      });
    case 'clear': {
      const u = engine.clear();
      if (u) Y.applyUpdate(client, u);
      return u;
    }
    case 'sync': {
      const to = rs[step.to % rs.length]!;
      const got = to.engine.applyUpdate(engine.deltaSince(to.engine.version()));
      if (got) Y.applyUpdate(to.client, got);
      return null;
    }
  }
}

/** Runs steps on 2–3 replicas; returns the replicas and every update any of them produced. */
function play(name: EngineName, count: number, steps: readonly (AmStep | YStep)[]): { engines: Engine[]; updates: Uint8Array[] } {
  const updates: Uint8Array[] = [];
  const engines = Array.from({ length: count }, (_, i) => createEngine(name, { actor: actor(i + 1) }));
  const ys = engines.map((engine, i) => ({ engine, client: yClient(100 + i) }));
  for (const step of steps) {
    try {
      const u = name === 'automerge' ? runAmStep(engines, step as AmStep) : runYStep(ys, step as YStep);
      if (u) updates.push(u);
    } catch (err) {
      if (!(err instanceof ConcordError)) throw err;
    }
  }
  return { engines, updates };
}

const merged = (a: Engine, b: Engine): Engine => {
  const m = reload(a);
  m.applyUpdate(b.save());
  return m;
};

const RUNS = { numRuns: Number(process.env["ENGINE_RUNS"] ?? 120) };

describe.each([
  ['automerge', amStep],
  ['yjs', yStep],
] as const)('%s engine: convergence', (name, step: fc.Arbitrary<AmStep | YStep>) => {
  const scenario = fc.record({
    count: fc.integer({ min: 2, max: 3 }),
    steps: fc.array(step, { minLength: 1, maxLength: 25 }),
    seed: fc.integer(),
  });

  it('replicas that receive every update, in any order and with duplicates, agree', () => {
    fc.assert(
      fc.property(scenario, ({ count, steps, seed }) => {
        const { engines, updates } = play(name, count, steps);
        for (const e of engines) applyAll(e, updates);
        const expected = json(engines[0]!);
        for (const e of engines) expect(json(e)).toBe(expected);

        // Peers' entries arrive by merge, in any order and more than once.
        const late = fresh(name);
        for (const u of shuffledWithDuplicates(updates, seed)) late.merge(u);
        expect(json(late)).toBe(expected);
        expect(json(reload(late))).toBe(expected);
        expect(json(loadEngine(name, shuffledWithDuplicates(updates, seed + 2), { actor: actor(99) }))).toBe(expected);
        // What applyUpdate reported as new (clients send in their own order, and retry) is all a
        // replica needs: nothing is lost by a null.
        const reported = applyAll(fresh(name), updates.flatMap((u) => [u, u]));
        const fromReported = fresh(name);
        for (const u of shuffledWithDuplicates(reported, seed + 1)) fromReported.merge(u);
        expect(json(fromReported)).toBe(expected);
        for (const e of engines) expect(json(reload(e))).toBe(expected);
      }),
      RUNS,
    );
  });

  it('merge is commutative, associative and idempotent', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 20 }), (steps) => {
        const { engines } = play(name, 3, steps);
        const [a, b, c] = engines as [Engine, Engine, Engine];
        expect(json(merged(a, b))).toBe(json(merged(b, a)));
        expect(json(merged(merged(a, b), c))).toBe(json(merged(a, merged(b, c))));
        expect(json(merged(a, a))).toBe(json(a));
        expect(a.applyUpdate(a.save())).toBeNull();
      }),
      RUNS,
    );
  });
});

/** A valid update of each engine, made on a fresh replica. */
function validUpdate(name: EngineName): Uint8Array {
  if (name === 'automerge') return fresh('automerge').replace({ title: 'x', items: [1, 2, 3] })!;
  return yEdit(yClient(77), (d) => d.getMap('m').set('title', 'x'));
}

describe.each(['automerge', 'yjs'] as const)('%s engine: bad input changes nothing', (name) => {
  function seeded(): Engine {
    const e = fresh(name);
    if (name === 'automerge') e.replace({ kept: 'yes', n: 1, list: [1, 2] });
    else e.applyUpdate(yEdit(yClient(5), (d) => d.getMap('m').set('kept', 'yes')));
    return e;
  }
  const valid = validUpdate(name);
  const rnd = prng(42);
  const cases: [string, Uint8Array][] = [
    ['a few random bytes', new Uint8Array([1, 2, 3, 4, 5])],
    ['64 random bytes', Uint8Array.from({ length: 64 }, () => Math.floor(rnd() * 256))],
    ['an empty array', new Uint8Array(0)],
    ['a truncated valid update', valid.slice(0, valid.length - 3)],
    ['a valid update with trailing garbage', new Uint8Array([...valid, 0xde, 0xad, 0xbe])],
  ];
  if (name === 'automerge') {
    const flipped = valid.map((b, i) => (i === valid.length >> 1 ? b ^ 0x5a : b));
    cases.push(
      ['a valid change with one byte flipped (bad checksum)', flipped],
      ['a valid change followed by a corrupt one', new Uint8Array([...validUpdate(name), ...flipped])],
      ['magic bytes and nothing else', new Uint8Array([0x85, 0x6f, 0x4a, 0x83])],
    );
  } else {
    cases.push(['a delete set that runs out', new Uint8Array([0, 9, 9, 9])]);
  }

  for (const [label, bytes] of cases) {
    it(label, () => {
      const e = seeded();
      const err = expectUnchanged(e, () => e.applyUpdate(bytes));
      expect(err).toBeInstanceOf(InvalidUpdateError);
      expect(e.applyUpdate(valid)).not.toBeNull();
    });
  }

  it('loading undecodable chunks throws InvalidUpdateError', () => {
    expect(() => loadEngine(name, [new Uint8Array([9, 9, 9])], { actor: actor(9) })).toThrow(InvalidUpdateError);
    expect(() => loadEngine(name, [valid, new Uint8Array([...valid, 1])], { actor: actor(9) })).toThrow(InvalidUpdateError);
  });

  it('mangled updates either apply or throw InvalidUpdateError, never corrupt the document', () => {
    let refused = 0;
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 80 }),
          fc.record({ at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }) }).map(({ at, xor }) => valid.map((b, i) => (i === at % valid.length ? b ^ xor : b))),
          fc.nat().map((n) => valid.slice(0, n % valid.length)),
        ),
        (bytes) => {
          const e = seeded();
          const save = e.save();
          let thrown: unknown;
          try {
            e.applyUpdate(bytes);
          } catch (err) {
            thrown = err;
          }
          // Refused: the typed error and nothing changed. Applied: the document still reloads to itself.
          // (An update refused for missing dependencies is refused after the document took it in:
          // the caller discards that instance, as the engine contract says. Mangled bytes are
          // otherwise refused before the document is touched: every chunk carries a checksum.)
          if (thrown !== undefined) refused++;
          const discard = thrown instanceof MissingDependenciesError;
          expect(thrown === undefined || thrown instanceof InvalidUpdateError || thrown instanceof MissingDependenciesError, String(thrown)).toBe(true);
          if (discard) return;
          expect(thrown === undefined || Buffer.compare(Buffer.from(e.save()), Buffer.from(save)) === 0, 'a refused update changed the document').toBe(true);
          expect(json(reload(e))).toBe(json(e));
        },
      ),
      { numRuns: 200 },
    );
    // The refusal checks above ran: most mangled inputs are refused.
    expect(refused).toBeGreaterThan(50);
  });
});

describe('yjs engine: JSON operations', () => {
  it('throw EngineMismatchError and change nothing', () => {
    const e = fresh('yjs');
    e.applyUpdate(validUpdate('yjs'));
    for (const act of [() => e.replace({ a: 1 }), () => e.mergePatch({ a: 1 }), () => e.applyOps([{ op: 'delete', path: ['a'] }])]) {
      expect(expectUnchanged(e, act)).toBeInstanceOf(EngineMismatchError);
    }
  });
});

describe('engine bytes of the other engine', () => {
  it('are undecodable', () => {
    const am = fresh('automerge');
    const y = fresh('yjs');
    expect(expectUnchanged(am, () => am.applyUpdate(validUpdate('yjs')))).toBeInstanceOf(InvalidUpdateError);
    expect(expectUnchanged(y, () => y.applyUpdate(validUpdate('automerge')))).toBeInstanceOf(InvalidUpdateError);
  });
});
