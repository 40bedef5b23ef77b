/**
 * Validation of the `POST .../ops` body into {@link Op}s, before any engine sees it.
 *
 * @remarks Paths are either arrays of keys and indexes or RFC 6901 JSON Pointers. A pointer
 * has no types, so its canonical non-negative integer segments (`0`, `12`, not `01`) become
 * numbers at parse time; the engine turns a number back into a key when the container is an
 * object and a digit string into an index when it is a list, so either spelling reaches the
 * same place. Unknown extra fields on an op are ignored.
 */
import { InvalidOperationError, UnknownOperationError } from '../errors.js';
import type { JsonValue } from '../json.js';
import { isJsonObject } from '../json.js';
import type { JsonPath, Op } from './engine.js';

const OP_NAMES: ReadonlySet<string> = new Set(['set', 'delete', 'increment', 'splice']);

/**
 * @example parseOps({ ops: [{ op: 'increment', path: '/stock', by: -1, min: 0 }] }, 100)
 * @throws InvalidOperationError (index -1 for the body as a whole), UnknownOperationError
 */
export function parseOps(input: unknown, maxOps: number): Op[] {
  if (!isJsonObject(input)) throw new InvalidOperationError(-1, 'the body must be an object {"ops": [...]}');
  const list = input['ops'];
  if (!Array.isArray(list)) throw new InvalidOperationError(-1, '"ops" must be an array');
  if (list.length === 0) throw new InvalidOperationError(-1, '"ops" must not be empty');
  if (list.length > maxOps) throw new InvalidOperationError(-1, `at most ${maxOps} operations per request`);
  return list.map((raw, i) => parseOp(raw, i));
}

/** Whether any op carries a guard (`min`/`max`), which only strong writes may honour. */
export function hasGuards(ops: readonly Op[]): boolean {
  return ops.some((op) => op.op === 'increment' && (op.min !== undefined || op.max !== undefined));
}

function parseOp(raw: unknown, i: number): Op {
  if (!isJsonObject(raw)) throw new InvalidOperationError(i, 'an operation must be an object');
  const name = raw['op'];
  if (name === undefined) throw new InvalidOperationError(i, 'missing "op"');
  if (typeof name !== 'string' || !OP_NAMES.has(name)) throw new UnknownOperationError(name, i);
  const path = parsePath(raw['path'], i);
  switch (name) {
    case 'set': {
      if (!('value' in raw)) throw new InvalidOperationError(i, 'set needs a "value"');
      return { op: 'set', path, value: jsonValue(raw['value'], i) };
    }
    case 'delete':
      return { op: 'delete', path };
    case 'increment': {
      const by = raw['by'];
      if (typeof by !== 'number' || !Number.isSafeInteger(by)) {
        throw new InvalidOperationError(i, '"by" must be an integer (counters count in whole steps)');
      }
      const min = bound(raw, 'min', i);
      const max = bound(raw, 'max', i);
      if (min !== undefined && max !== undefined && min > max) throw new InvalidOperationError(i, '"min" exceeds "max"');
      return { op: 'increment', path, by, ...(min !== undefined && { min }), ...(max !== undefined && { max }) };
    }
    default:
      return parseSplice(raw, path, i);
  }
}

/** `delete` defaults to 0 and `insert` to nothing, so a splice may only insert or only delete. */
function parseSplice(raw: Record<string, unknown>, path: JsonPath, i: number): Op {
  const index = raw['index'];
  const del = raw['delete'] ?? 0;
  const insert = raw['insert'] ?? '';
  if (!isCount(index)) throw new InvalidOperationError(i, '"index" must be a non-negative integer');
  if (!isCount(del)) throw new InvalidOperationError(i, '"delete" must be a non-negative integer');
  if (typeof insert === 'string') return { op: 'splice', path, index, delete: del, insert };
  if (!Array.isArray(insert)) throw new InvalidOperationError(i, '"insert" must be a string (text) or an array (list)');
  return { op: 'splice', path, index, delete: del, insert: insert.map((v) => jsonValue(v, i)) };
}

function bound(raw: Record<string, unknown>, field: 'min' | 'max', i: number): number | undefined {
  const v = raw[field];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new InvalidOperationError(i, `"${field}" must be a finite number`);
  return v;
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

function parsePath(raw: unknown, i: number): JsonPath {
  let path: (string | number)[];
  if (typeof raw === 'string') {
    path = parsePointer(raw, i);
  } else if (Array.isArray(raw)) {
    path = raw.map((seg) => {
      if (typeof seg === 'string' || isCount(seg)) return seg;
      throw new InvalidOperationError(i, 'path segments must be strings or non-negative integers');
    });
  } else {
    throw new InvalidOperationError(i, '"path" must be an array or a JSON Pointer string');
  }
  if (path.length === 0) throw new InvalidOperationError(i, '"path" must not be empty (the root is not a field)');
  return path;
}

/** RFC 6901: "" is the root, every other pointer starts with "/", `~1` is "/" and `~0` is "~". */
function parsePointer(pointer: string, i: number): (string | number)[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw new InvalidOperationError(i, 'a JSON Pointer must start with "/"');
  return pointer
    .slice(1)
    .split('/')
    .map((seg) => {
      if (/~(?![01])/.test(seg)) throw new InvalidOperationError(i, `bad escape in JSON Pointer segment ${JSON.stringify(seg)}`);
      const key = seg.replace(/~1/g, '/').replace(/~0/g, '~');
      return /^(0|[1-9][0-9]*)$/.test(key) && Number.isSafeInteger(Number(key)) ? Number(key) : key;
    });
}

/** Checks that `v` is what JSON.parse could return (the body may not have come from it). */
function jsonValue(v: unknown, i: number): JsonValue {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'number') {
    if (Number.isFinite(v)) return v;
    throw new InvalidOperationError(i, 'numbers must be finite');
  }
  if (Array.isArray(v)) {
    v.forEach((x) => jsonValue(x, i));
    return v as JsonValue[];
  }
  if (isJsonObject(v) && [Object.prototype, null].includes(Object.getPrototypeOf(v))) {
    for (const [k, x] of Object.entries(v)) {
      if (k === '__proto__') throw new InvalidOperationError(i, 'the key "__proto__" is not allowed');
      jsonValue(x, i);
    }
    return v;
  }
  throw new InvalidOperationError(i, 'values must be JSON');
}
