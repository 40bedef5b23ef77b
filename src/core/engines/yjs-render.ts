/**
 * Yjs root types as JSON.
 *
 * @remarks A root type that arrived in a remote update is an untyped `AbstractType`
 * placeholder until someone calls `getMap`/`getText`/…, and asking for the wrong kind throws
 * forever after. Its kind is therefore read from its content, and always from its content,
 * even for roots already typed: the JSON then depends on the document state alone, never on
 * which instance happened to type a root, so every replica renders the same state the same.
 * A root with nothing live to tell its kind from (never written, or a sequence whose content
 * is all deleted) is left out; a map whose keys were all deleted still renders as `{}`.
 */
import * as Y from 'yjs';
import type { JsonObject, JsonValue } from '../json.js';
import { toBase64Url } from '../wire/bytes.js';

export type RootKind = 'map' | 'array' | 'text' | 'xml';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- Yjs types its roots so
type AnyType = Y.AbstractType<any>;

export function rootKind(type: AnyType): RootKind | null {
  if (type._start === null) return type._map.size > 0 ? 'map' : null;
  for (let item: Y.Item | null = type._start; item !== null; item = item.right) {
    if (item.deleted) continue;
    const c = item.content;
    if (c instanceof Y.ContentString || c instanceof Y.ContentFormat || c instanceof Y.ContentEmbed) return 'text';
    if (c instanceof Y.ContentType) {
      const t = c.type;
      return t instanceof Y.XmlElement || t instanceof Y.XmlText || t instanceof Y.XmlHook ? 'xml' : 'array';
    }
    return 'array';
  }
  return null;
}

const CONSTRUCTORS = { map: Y.Map, array: Y.Array, text: Y.Text, xml: Y.XmlFragment } as const;

/** The root `name` as a typed instance; a root typed earlier keeps its type. */
export function materialize(doc: Y.Doc, name: string, kind: RootKind): AnyType {
  const existing = doc.share.get(name);
  if (existing !== undefined && existing.constructor !== Y.AbstractType) return existing;
  return doc.get(name, CONSTRUCTORS[kind]) as AnyType;
}

export function renderRoot(type: AnyType): JsonValue {
  if (type instanceof Y.XmlFragment || type instanceof Y.Text) return type.toString();
  return toJsonValue(type.toJSON());
}

/**
 * What Yjs `toJSON` returns, made JSON: binary content as base64url, bigints as numbers,
 * `undefined` and subdocuments as null.
 */
export function toJsonValue(v: unknown): JsonValue {
  if (v === null || v === undefined) return null;
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return v;
    case 'number':
      return Number.isFinite(v) ? v : null;
    case 'bigint':
      return Number(v);
    case 'object':
      break;
    default:
      return null;
  }
  if (v instanceof Uint8Array) return toBase64Url(v);
  if (Array.isArray(v)) return v.map(toJsonValue);
  if (v instanceof Y.Doc) return null;
  // Sorted: Yjs lists map keys in the order this replica happened to integrate them.
  const out: JsonObject = {};
  for (const k of Object.keys(v).sort()) setOwn(out, k, toJsonValue((v as Record<string, unknown>)[k]));
  return out;
}

/** Assigns an own property even for `__proto__`, which plain assignment would treat as the prototype. */
export function setOwn(o: JsonObject, k: string, v: JsonValue): void {
  if (k === '__proto__') Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  else o[k] = v;
}
