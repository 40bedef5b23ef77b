/**
 * What a write request says about itself beyond its body: who it is (`Idempotency-Key`, the
 * IETF httpapi draft, or an id the edge gives every strong write so that member-to-member
 * retries apply it once) and how much answer it wants (`Prefer: return=minimal`, RFC 7240).
 */
import type { RequestIdentity } from '../objects/protocol.js';
import type { Ctx } from './context.js';
import { ApiProblem } from './problems.js';
import type { Target } from './target.js';

// The draft makes the key a Structured Field string; bare tokens are common and accepted.
const KEY = /^[\x21\x23-\x5b\x5d-\x7e]{1,255}$/;

export interface WriteIdentity {
  readonly request?: RequestIdentity;
  readonly minimal?: true;
}

/** The key as sent, unquoted. @throws ApiProblem `invalid-idempotency-key` */
export function parseIdempotencyKey(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  let key = header.trim();
  if (key.length >= 2 && key.startsWith('"') && key.endsWith('"')) key = key.slice(1, -1);
  if (!KEY.test(key)) {
    throw new ApiProblem('invalid-idempotency-key', 'Idempotency-Key must be 1 to 255 visible ASCII characters (optionally in double quotes), without " or \\');
  }
  return key;
}

/** `Prefer` holds `return=minimal` (preferences are a comma-separated list; tokens are case-insensitive). */
export function prefersMinimal(header: string | undefined): boolean {
  return (header ?? '').split(',').some((p) => p.split(';')[0]!.trim().toLowerCase() === 'return=minimal');
}

const hex = (bytes: ArrayBuffer): string => [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, '0')).join('');
const utf8 = new TextEncoder();

/**
 * The identity and answer preference of a write. `content` is what the body meant (its
 * parsed JSON re-serialised, or its bytes): a retry with the same key must carry the same,
 * at the same document, level and preconditions.
 */
export async function writeIdentity(c: Ctx, t: Target, content: string | Uint8Array): Promise<WriteIdentity> {
  const key = parseIdempotencyKey(c.req.header('Idempotency-Key'));
  const minimal = prefersMinimal(c.req.header('Prefer'));
  let request: RequestIdentity | undefined;
  if (key !== undefined) {
    const head = utf8.encode([c.req.method, t.ns, t.key, t.level, c.req.header('If-Match') ?? '', c.req.header('Content-Type') ?? ''].join('\n') + '\n');
    const body = typeof content === 'string' ? utf8.encode(content) : content;
    const all = new Uint8Array(head.length + body.length);
    all.set(head);
    all.set(body, head.length);
    request = { id: `k:${key}`, fingerprint: hex(await crypto.subtle.digest('SHA-256', all)), client: true };
  } else if (t.level === 'strong') {
    request = { id: `r:${crypto.randomUUID()}`, fingerprint: '', client: false };
  }
  return { ...(request && { request }), ...(minimal && { minimal: true as const }) };
}
