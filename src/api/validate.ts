/**
 * Input checks of the edge: everything a request carries is validated here, before a member
 * sees it, so bad input gets a 4xx naming the problem and changes no state.
 */
import { DepthLimitError } from '../core/errors.js';
import { checkJsonValue, jsonTextDepth } from '../core/json-limits.js';
import { fromBase64Url, toBase64Url } from '../core/wire/bytes.js';
import type { Ctx } from './context.js';
import { ApiProblem } from './problems.js';

const NAMESPACE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
// C0 and C1 controls and DEL. NUL matters most: it separates namespace and key internally.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
export const MAX_KEY_CHARS = 512;
const BODY = 'the request body';

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

const wellEncoded = (s: string): boolean => {
  try {
    decodeURIComponent(s);
    return true;
  } catch {
    return false;
  }
};

/**
 * Refuses malformed percent-encoding anywhere in the request's path or query: a `%` that
 * starts no escape, or escapes that are not UTF-8. Hono decodes what it can and keeps the
 * rest literally, so `alias%FF` and `alias%25FF` would both read as the key `alias%FF`;
 * the raw URL is the only place the difference shows.
 * @throws ApiProblem `invalid-name` (path), `invalid-parameter` (query)
 */
export function checkUrlEncoding(c: Ctx): void {
  const url = new URL(c.req.url);
  for (const segment of url.pathname.split('/')) {
    if (!wellEncoded(segment)) throw new ApiProblem('invalid-name', `the path segment ${JSON.stringify(segment)} is not well-formed percent-encoded UTF-8`);
  }
  for (const pair of url.search.slice(1).split('&')) {
    if (!wellEncoded(pair)) {
      const name = pair.split('=')[0]!;
      throw new ApiProblem('invalid-parameter', `the query parameter ${JSON.stringify(name)} is not well-formed percent-encoded UTF-8`);
    }
  }
}

/** @throws ApiProblem `invalid-name` */
export function checkNamespace(ns: string): string {
  if (!NAMESPACE.test(ns)) {
    throw new ApiProblem('invalid-name', `namespace ${JSON.stringify(ns)} must match ${NAMESPACE.source}`);
  }
  return ns;
}

function keyProblem(key: string, allowEmpty: boolean): string | undefined {
  const chars = [...key].length;
  if (chars === 0 && !allowEmpty) return 'must not be empty';
  if (chars > MAX_KEY_CHARS) return `must be at most ${MAX_KEY_CHARS} characters`;
  if (CONTROL.test(key)) return 'must not contain control characters';
  if (LONE_SURROGATE.test(key)) return 'must be well-formed Unicode';
  return undefined;
}

/** A key (already URL-decoded): 1–512 Unicode characters, no control characters. @throws ApiProblem `invalid-name` */
export function checkKey(key: string): string {
  const problem = keyProblem(key, false);
  if (problem) throw new ApiProblem('invalid-name', `key ${problem}`);
  return key;
}

/** A list `prefix`: like a key, but may be empty. @throws ApiProblem `invalid-parameter` */
export function checkPrefix(prefix: string): string {
  const problem = keyProblem(prefix, true);
  if (problem) throw new ApiProblem('invalid-parameter', `prefix ${problem}`);
  return prefix;
}

/** The media type of the request without parameters, lowercased (`''` when absent). */
export function mediaType(c: Ctx): string {
  return (c.req.header('Content-Type') ?? '').split(';')[0]!.trim().toLowerCase();
}

/** @throws ApiProblem `unsupported-media-type` unless the body is one of `allowed`. */
export function requireMediaType<T extends string>(c: Ctx, allowed: readonly T[]): T {
  const type = mediaType(c);
  if ((allowed as readonly string[]).includes(type)) return type as T;
  throw new ApiProblem(
    'unsupported-media-type',
    `Content-Type must be ${allowed.join(' or ')}, not ${type ? JSON.stringify(type) : 'absent'}`,
    // RFC 5789 §2.2: a 415 to PATCH names the patch formats the resource takes.
    c.req.method === 'PATCH' ? { 'Accept-Patch': allowed.join(', ') } : {},
  );
}

/**
 * A body as text. JSON is UTF-8 (RFC 8259 §8.1); `Request.text()` would turn bad bytes into
 * U+FFFD and store a document the client never sent.
 * @throws ApiProblem `invalid-encoding`
 */
function decodeUtf8(bytes: Uint8Array): string {
  try {
    return utf8Strict.decode(bytes);
  } catch {
    throw new ApiProblem('invalid-encoding', 'the request body is not valid UTF-8');
  }
}

/**
 * The request body parsed as JSON, nested at most `MAX_DEPTH` deep, every number finite.
 * @remarks The depth is read from the text before `JSON.parse`, so no recursive code (the
 * parser, Automerge, the renderers) ever walks a body deeper than the limit.
 * @throws ApiProblem `invalid-encoding`, `malformed-json`; DepthLimitError; InvalidDocumentError (e.g. `1e999`)
 */
export async function readJson(c: Ctx): Promise<unknown> {
  const text = decodeUtf8(new Uint8Array(await c.req.arrayBuffer()));
  if (text.trim() === '') throw new ApiProblem('malformed-json', 'the request body is empty');
  const { maxDepth } = c.get('config');
  if (jsonTextDepth(text, maxDepth) > maxDepth) throw new DepthLimitError(BODY, maxDepth);
  let value: unknown;
  try {
    value = JSON.parse(text) as unknown;
  } catch (e) {
    throw new ApiProblem('malformed-json', `the request body is not JSON: ${(e as Error).message}`);
  }
  // JSON.parse turns 1e999 into Infinity, which Automerge would store as null.
  checkJsonValue(value, maxDepth, BODY);
  return value;
}

// RFC 9110 §8.8.3: entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE; a list separated by commas.
const ENTITY_TAG = /[ \t]*((?:W\/)?"[\x21\x23-\x7e\x80-\xff]*")[ \t]*(?:,|$)/y;

/**
 * `If-Match` as a list of entity tags (or `['*']`); undefined when absent. Tags are kept as
 * sent, quotes included; a weak tag never matches (If-Match compares strongly).
 * @throws ApiProblem `invalid-parameter` for a header that is not an entity-tag list.
 */
export function parseIfMatch(header: string | undefined): string[] | undefined {
  if (header === undefined) return undefined;
  const value = header.trim();
  if (value === '*') return ['*'];
  const tags: string[] = [];
  ENTITY_TAG.lastIndex = 0;
  while (ENTITY_TAG.lastIndex < value.length) {
    const at = ENTITY_TAG.lastIndex;
    const m = ENTITY_TAG.exec(value);
    if (!m || ENTITY_TAG.lastIndex === at) throw new ApiProblem('invalid-parameter', 'If-Match must be "*" or a list of quoted entity tags');
    tags.push(m[1]!);
  }
  if (tags.length === 0) throw new ApiProblem('invalid-parameter', 'If-Match must be "*" or a list of quoted entity tags');
  return tags;
}

/** `since=`: base64url engine version bytes. @throws ApiProblem `invalid-version` */
export function parseSince(value: string | undefined): Uint8Array | undefined {
  if (value === undefined) return undefined;
  const bytes = fromBase64Url(value);
  if (!bytes) throw new ApiProblem('invalid-version', 'since must be base64url (a Yjs state vector or Automerge heads)');
  return bytes;
}

/** `limit=`: 1..max, default 100 (or max when lower). @throws ApiProblem `invalid-parameter` */
export function parseLimit(value: string | undefined, max: number): number {
  if (value === undefined || value === '') return Math.min(100, max);
  const n = /^[0-9]{1,9}$/.test(value) ? Number(value) : NaN;
  if (!(n >= 1 && n <= max)) throw new ApiProblem('invalid-parameter', `limit must be an integer from 1 to ${max}`);
  return n;
}

/** The opaque list cursor: base64url of the UTF-8 of the last key returned. */
export const encodeCursor = (lastKey: string): string => toBase64Url(utf8.encode(lastKey));

/** @throws ApiProblem `invalid-parameter` for anything {@link encodeCursor} did not write. */
export function decodeCursor(value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined;
  const bytes = fromBase64Url(value);
  let key: string | undefined;
  try {
    key = bytes && utf8Strict.decode(bytes);
  } catch {
    key = undefined;
  }
  if (key === undefined || keyProblem(key, false)) throw new ApiProblem('invalid-parameter', 'cursor is not one this service issued');
  return key;
}
