/**
 * Automerge values as JSON and JSON values into Automerge: the kinds a value can have, the
 * JSON rendering, equality against JSON, and writes through the proxies of `Automerge.change`.
 *
 * @remarks Reads work on the materialised document as well as on change proxies: both show
 * text as strings, counters as `Counter`, immutable strings as `ImmutableString`.
 */
import * as A from '@automerge/automerge';
import type { JsonObject, JsonValue } from '../json.js';
import { isJsonObject } from '../json.js';
import { toBase64Url } from '../wire/bytes.js';

export type Prop = string | number;
/** A map of a document (materialised or a change proxy). */
export type AmMap = { [key: string]: unknown };
/** A list of a document (materialised or a change proxy). */
export type AmList = unknown[];

export type AmKind = 'map' | 'list' | 'text' | 'str' | 'counter' | 'scalar';

export function kindOf(v: unknown): AmKind {
  if (typeof v === 'string') return 'text';
  if (typeof v !== 'object' || v === null) return 'scalar';
  // Lists first: a list proxy answers `hasOwnProperty` for any symbol, so it passes both checks below.
  if (Array.isArray(v)) return 'list';
  if (A.isCounter(v)) return 'counter';
  if (A.isImmutableString(v)) return 'str';
  if (v instanceof Date || v instanceof Uint8Array) return 'scalar';
  return 'map';
}

export const hasOwn = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);

/** Assigns an own property even for `__proto__`, which plain assignment would treat as the prototype. */
export function setOwn(o: JsonObject, k: string, v: JsonValue): void {
  if (k === '__proto__') Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  else o[k] = v;
}

/**
 * The JSON form of a document value. Values JSON cannot hold, which only arrive from other
 * Automerge clients, get the nearest JSON form: timestamps as ISO strings, bytes as base64url,
 * 64-bit integers as (possibly rounded) numbers, non-finite floats as null.
 */
export function renderValue(v: unknown): JsonValue {
  switch (kindOf(v)) {
    case 'text':
      return v as string;
    case 'str':
      return (v as A.ImmutableString).val;
    case 'counter':
      return (v as A.Counter).value;
    case 'list':
      return (v as AmList).map(renderValue);
    case 'map': {
      // Sorted, because a loaded document lists keys sorted and a live one in insertion order.
      const out: JsonObject = {};
      for (const k of Object.keys(v as AmMap).sort()) setOwn(out, k, renderValue((v as AmMap)[k]));
      return out;
    }
    case 'scalar':
      return renderScalar(v);
  }
}

function renderScalar(v: unknown): JsonValue {
  if (v === null || typeof v === 'boolean') return v;
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof Date) return Number.isFinite(v.getTime()) ? v.toISOString() : null;
  if (v instanceof Uint8Array) return toBase64Url(v);
  return null;
}

/** Whether the document value `old` renders as `json`. */
export function sameJson(old: unknown, json: JsonValue): boolean {
  if (json === null || typeof json === 'boolean') return old === json;
  if (typeof json === 'number') return old === json || (kindOf(old) === 'counter' && (old as A.Counter).value === json);
  if (typeof json === 'string') return old === json || (kindOf(old) === 'str' && (old as A.ImmutableString).val === json);
  if (Array.isArray(json)) {
    if (kindOf(old) !== 'list') return false;
    const list = old as AmList;
    return list.length === json.length && json.every((j, i) => sameJson(list[i], j));
  }
  if (kindOf(old) !== 'map') return false;
  const map = old as AmMap;
  const keys = Object.keys(json);
  return (
    Object.keys(map).length === keys.length && keys.every((k) => hasOwn(map, k) && sameJson(map[k], json[k]!))
  );
}

/** Integers that Automerge would clamp to 64 bits; they are written as floats instead. */
const isUnsafeInt = (v: JsonValue): v is number => typeof v === 'number' && Number.isInteger(v) && !Number.isSafeInteger(v);

function hasUnsafeInt(v: JsonValue): boolean {
  if (typeof v === 'number') return isUnsafeInt(v);
  if (Array.isArray(v)) return v.some(hasUnsafeInt);
  if (isJsonObject(v)) return Object.values(v).some(hasUnsafeInt);
  return false;
}

/** The first `__proto__` key inside `v` (Automerge refuses it), as a path; undefined if none. */
export function findProtoKey(v: JsonValue, path: Prop[] = []): Prop[] | undefined {
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const found = findProtoKey(v[i]!, [...path, i]);
      if (found) return found;
    }
  } else if (isJsonObject(v)) {
    for (const k of Object.keys(v)) {
      if (k === '__proto__') return [...path, k];
      const found = findProtoKey(v[k]!, [...path, k]);
      if (found) return found;
    }
  }
  return undefined;
}

/**
 * Writes a JSON value at `parent[key]` inside a change: strings become text, objects and
 * arrays become maps and lists. On a list, `key === length` appends.
 */
export function putValue(parent: AmMap | AmList, key: Prop, value: JsonValue): void {
  if (!hasUnsafeInt(value)) {
    putRaw(parent, key, value);
  } else if (typeof value === 'number') {
    putRaw(parent, key, new A.Float64(value));
  } else if (Array.isArray(value)) {
    putRaw(parent, key, []);
    insertValues(getChild(parent, key) as AmList, 0, value);
  } else {
    putRaw(parent, key, {});
    const child = getChild(parent, key) as AmMap;
    for (const [k, v] of Object.entries(value as JsonObject)) putValue(child, k, v);
  }
}

const INSERT_SLICE = 10_000;

/** Inserts JSON values into a list inside a change. */
export function insertValues(list: AmList, index: number, values: readonly JsonValue[]): void {
  if (values.length === 0) return;
  if (!values.some(hasUnsafeInt)) {
    // In slices, because spreading a very long array overflows the argument limit.
    for (let i = 0; i < values.length; i += INSERT_SLICE) A.insertAt(list, index + i, ...values.slice(i, i + INSERT_SLICE));
    return;
  }
  // Only a put goes through the proxy's own conversion (which honours Float64): insert a
  // placeholder, then overwrite it.
  values.forEach((v, i) => {
    A.insertAt(list, index + i, null);
    putValue(list, index + i, v);
  });
}

export function getChild(parent: AmMap | AmList, key: Prop): unknown {
  return Array.isArray(parent) ? parent[key as number] : parent[key as string];
}

/** On a list proxy, assigning at `length` inserts. */
function putRaw(parent: AmMap | AmList, key: Prop, value: unknown): void {
  if (Array.isArray(parent)) parent[key as number] = value;
  else parent[key as string] = value;
}
