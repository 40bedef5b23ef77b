/**
 * JSON operations (`POST .../ops`) run inside one `Automerge.change`. Every check throws
 * before or between writes; the caller relies on `Automerge.change` rolling the whole change
 * back when the callback throws, which makes the list all or nothing.
 */
import * as A from '@automerge/automerge';
import { GuardViolationError, InvalidOperationError, PathNotFoundError } from '../errors.js';
import type { JsonValue } from '../json.js';
import type { JsonPath, Op } from './engine.js';
import { type AmList, type AmMap, type Prop, findProtoKey, getChild, insertValues, kindOf, putValue } from './automerge-values.js';

/** Where an op's path ends: the container, the key or index in it, and the path as resolved. */
interface Slot {
  readonly parent: AmMap | AmList;
  readonly key: Prop;
  readonly path: Prop[];
  /** Whether `parent[key]` holds a value now. */
  readonly exists: boolean;
}

export function runOps(root: AmMap, ops: readonly Op[]): void {
  ops.forEach((op, i) => runOp(root, op, i));
}

function runOp(root: AmMap, op: Op, index: number): void {
  const slot = locate(root, op.path, index);
  switch (op.op) {
    case 'set':
      return set(slot, op.value, op.path, index);
    case 'delete':
      return del(slot, op.path);
    case 'increment':
      return increment(slot, op, index);
    case 'splice':
      return splice(root, slot, op, index);
    default:
      throw new InvalidOperationError(index, `unknown op ${JSON.stringify((op as { op: unknown }).op)}`);
  }
}

/**
 * Walks `path` from the root. A number names a map key by its decimal form, and a string of
 * digits (as JSON Pointer produces) names a list index, so both path spellings work.
 */
function locate(root: AmMap, path: JsonPath, index: number): Slot {
  if (path.length === 0) throw new InvalidOperationError(index, 'path must not be empty');
  let cur: AmMap | AmList = root;
  const resolved: Prop[] = [];
  for (let d = 0; ; d++) {
    const key = keyFor(cur, path[d]!, path);
    resolved.push(key);
    const exists = Array.isArray(cur) ? (key as number) < cur.length : key in cur;
    if (d === path.length - 1) return { parent: cur, key, path: resolved, exists };
    if (!exists) throw new PathNotFoundError(path);
    const next = getChild(cur, key);
    const kind = kindOf(next);
    if (kind !== 'map' && kind !== 'list') {
      throw new PathNotFoundError(path, `does not exist: ${JSON.stringify(resolved)} is not an object or list`);
    }
    cur = next as AmMap | AmList;
  }
}

function keyFor(container: AmMap | AmList, seg: string | number, path: JsonPath): Prop {
  if (!Array.isArray(container)) return String(seg);
  if (typeof seg === 'number') return seg;
  if (/^(0|[1-9][0-9]*)$/.test(seg) && Number.isSafeInteger(Number(seg))) return Number(seg);
  throw new PathNotFoundError(path, `does not exist: ${JSON.stringify(seg)} is not a list index`);
}

function set(slot: Slot, value: JsonValue, path: JsonPath, index: number): void {
  if (Array.isArray(slot.parent) && (slot.key as number) > slot.parent.length) {
    throw new PathNotFoundError(path, 'does not exist: index past the end of the list');
  }
  if (slot.key === '__proto__') throw new InvalidOperationError(index, 'the key "__proto__" is not allowed');
  const proto = findProtoKey(value);
  if (proto) throw new InvalidOperationError(index, `the key "__proto__" is not allowed (at ${JSON.stringify(proto)})`);
  putValue(slot.parent, slot.key, value);
}

function del(slot: Slot, path: JsonPath): void {
  if (!slot.exists) throw new PathNotFoundError(path);
  if (Array.isArray(slot.parent)) A.deleteAt(slot.parent, slot.key as number, 1);
  else delete slot.parent[slot.key as string];
}

function increment(slot: Slot, op: Extract<Op, { op: 'increment' }>, index: number): void {
  let current = 0;
  if (slot.exists) {
    const value = getChild(slot.parent, slot.key);
    if (kindOf(value) !== 'counter') throw new InvalidOperationError(index, 'not a counter');
    current = (value as A.Counter).value;
  } else if (Array.isArray(slot.parent)) {
    throw new PathNotFoundError(op.path);
  }
  const result = current + op.by;
  if (!Number.isSafeInteger(result)) throw new InvalidOperationError(index, 'counter would leave the safe integer range');
  if ((op.min !== undefined && result < op.min) || (op.max !== undefined && result > op.max)) {
    throw new GuardViolationError(op.path, current, result);
  }
  if (!slot.exists) {
    if (slot.key === '__proto__') throw new InvalidOperationError(index, 'the key "__proto__" is not allowed');
    (slot.parent as AmMap)[slot.key as string] = new A.Counter(0);
  }
  (getChild(slot.parent, slot.key) as A.Counter).increment(op.by);
}

/** An empty `insert` of either kind is accepted for both targets, so a pure delete needs no typed placeholder. */
function splice(root: AmMap, slot: Slot, op: Extract<Op, { op: 'splice' }>, index: number): void {
  if (!slot.exists) throw new PathNotFoundError(op.path);
  const target = getChild(slot.parent, slot.key);
  const kind = kindOf(target);
  if (kind !== 'text' && kind !== 'list') throw new InvalidOperationError(index, 'splice needs text or a list');
  const length = (target as string | AmList).length;
  if (op.index > length || op.delete > length - op.index) {
    throw new InvalidOperationError(index, `splice range ${op.index}+${op.delete} is outside length ${length}`);
  }
  const empty = op.insert.length === 0;
  if (kind === 'text') {
    if (typeof op.insert !== 'string' && !empty) throw new InvalidOperationError(index, 'splice on text needs a string insert');
    A.splice(root, slot.path, op.index, op.delete, empty ? undefined : (op.insert as string));
    return;
  }
  if (!Array.isArray(op.insert) && !empty) throw new InvalidOperationError(index, 'splice on a list needs an array insert');
  const values = empty ? [] : (op.insert as readonly JsonValue[]);
  const proto = findProtoKey(values as JsonValue[]);
  if (proto) throw new InvalidOperationError(index, 'the key "__proto__" is not allowed');
  if (op.delete > 0) A.deleteAt(target as AmList, op.index, op.delete);
  insertValues(target as AmList, op.index, values);
}
