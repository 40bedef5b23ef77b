/**
 * The `Concord-Token` header as clients hold it: the core's token body (`shard-token.ts`)
 * with a MAC, so that a client can only send back vectors this deployment issued. A forged
 * token could otherwise name sequences nobody wrote and keep a member pulling from every
 * peer until `SESSION_WAIT_MS` runs out, on every request.
 *
 * Format, base64url without padding: `version (1 byte) ‖ body ‖ tag (16 bytes)`, where
 * `tag` is HMAC-SHA256 over `version ‖ body` truncated to 128 bits (RFC 2104 §5 allows
 * truncation to half the output). The key is derived with HKDF-SHA256 from `TOKEN_SECRET`,
 * else `JWT_SECRET`, under a fixed label, so the bearer-token key is never used directly
 * and a Concord-Token can never pass for a JWT signature or the reverse.
 */
import { InvalidTokenError } from '../core/errors.js';
import { type CausalToken, checkTokenBounds, decodeTokenBody, encodeTokenBody } from '../core/shard-token.js';
import { fromBase64Url, toBase64Url } from '../core/wire/bytes.js';
import type { Config, Env } from '../objects/config.js';
import { ApiProblem } from './problems.js';

const VERSION = 1;
const TAG_BYTES = 16;
// Far above any real token (16 shards × a few members is some hundreds of characters), low
// enough that a huge header costs no HMAC over megabytes.
const MAX_CHARS = 8192;
const LABEL = new TextEncoder().encode('concord causal-token v1');

// One derived key per secret per isolate: HKDF and key import are the costly part.
const keys = new Map<string, Promise<CryptoKey>>();

function macKey(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret);
  if (!key) {
    key = (async () => {
      const ikm = await crypto.subtle.importKey('raw', new TextEncoder().encode(secret), 'HKDF', false, ['deriveKey']);
      return crypto.subtle.deriveKey(
        { name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0), info: LABEL },
        ikm,
        { name: 'HMAC', hash: 'SHA-256', length: 256 },
        false,
        ['sign'],
      );
    })();
    key.catch(() => keys.delete(secret));
    keys.set(secret, key);
  }
  return key;
}

async function tag(secret: string, signed: Uint8Array): Promise<Uint8Array> {
  const mac = await crypto.subtle.sign('HMAC', await macKey(secret), signed);
  return new Uint8Array(mac, 0, TAG_BYTES);
}

/** Compares in time independent of where the tags differ, so a forger learns nothing byte by byte. */
function sameTag(a: Uint8Array, b: Uint8Array): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < Math.min(a.length, b.length); i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/**
 * The secret Concord-Tokens are keyed with: `TOKEN_SECRET` when set, else `JWT_SECRET`.
 * @throws ApiProblem `not-configured` when neither is set
 */
export function tokenSecret(env: Env): string {
  if (env.TOKEN_SECRET?.trim()) return env.TOKEN_SECRET;
  if (env.JWT_SECRET?.trim()) return env.JWT_SECRET;
  throw new ApiProblem('not-configured', 'no secret keys the Concord-Token: set TOKEN_SECRET (or JWT_SECRET)');
}

/** The header value for `token`. */
export async function issueCausalToken(token: CausalToken, secret: string): Promise<string> {
  const body = encodeTokenBody(token);
  const signed = new Uint8Array(1 + body.length);
  signed[0] = VERSION;
  signed.set(body, 1);
  const t = await tag(secret, signed);
  const out = new Uint8Array(signed.length + TAG_BYTES);
  out.set(signed);
  out.set(t, signed.length);
  return toBase64Url(out);
}

/**
 * The token a client sent back, once its MAC verifies and it names only shards and members
 * of this deployment.
 * @throws InvalidTokenError
 */
export async function readCausalToken(header: string, secret: string, config: Config): Promise<CausalToken> {
  const bytes = header.length <= MAX_CHARS ? fromBase64Url(header) : undefined;
  if (!bytes || bytes.length < 1 + TAG_BYTES || bytes[0] !== VERSION) {
    throw new InvalidTokenError('Concord-Token is not a token this service issued');
  }
  const signed = bytes.subarray(0, bytes.length - TAG_BYTES);
  if (!sameTag(await tag(secret, signed), bytes.subarray(bytes.length - TAG_BYTES))) {
    throw new InvalidTokenError('Concord-Token does not verify: send back a token exactly as this service issued it');
  }
  const token = decodeTokenBody(signed.subarray(1));
  checkTokenBounds(token, config.shards, config.regions);
  return token;
}
