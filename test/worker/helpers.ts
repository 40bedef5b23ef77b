/**
 * Shared helpers of the workerd API tests: minting bearer tokens with the test secret and
 * calling the Worker the way a client does.
 */
import { env, SELF } from 'cloudflare:test';
import { SignJWT } from 'jose';
import { expect } from 'vitest';

export const ORIGIN = 'https://concord.test';

export interface TokenClaims {
  ns?: string | string[];
  scope?: string;
  exp?: number;
  nbf?: number;
  iat?: number;
  iss?: string;
  aud?: string | string[];
}

const now = (): number => Math.floor(Date.now() / 1000);

/**
 * A token signed with the Worker's secret (`.dev.vars`); valid for an hour unless `claims`
 * say otherwise (`exp: undefined` leaves `exp` out).
 */
export function mint(claims: TokenClaims = {}, secret = env.JWT_SECRET ?? ''): Promise<string> {
  return new SignJWT({ iat: now(), exp: now() + 3600, ...claims }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(new TextEncoder().encode(secret));
}

export const readToken = (ns: string | string[] = 'demo*'): Promise<string> => mint({ ns, scope: 'read' });
export const writeToken = (ns: string | string[] = 'demo*'): Promise<string> => mint({ ns, scope: 'write' });
export const adminToken = (ns: string | string[] = '*'): Promise<string> => mint({ ns, scope: 'admin' });

export interface CallInit extends RequestInit {
  /** A bearer token to send as `Authorization`. */
  token?: string;
  /** Sets `Content-Type: application/json` and serialises `json` as the body. */
  json?: unknown;
}

/** A request to the Worker under test, through its real entry point. */
export function call(path: string, init: CallInit = {}): Promise<Response> {
  const { token, json, ...rest } = init;
  const headers = new Headers(rest.headers);
  if (token !== undefined) headers.set('Authorization', `Bearer ${token}`);
  let body = rest.body;
  if (json !== undefined) {
    headers.set('Content-Type', 'application/json');
    body = JSON.stringify(json);
  }
  return SELF.fetch(`${ORIGIN}${path}`, { ...rest, headers, body: body ?? null });
}

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
}

/** Asserts an RFC 9457 problem response with the documented type and returns its body. */
export async function expectProblem(res: Response, status: number, code: string): Promise<ProblemBody> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  expect(res.headers.get('Content-Type')).toBe('application/problem+json');
  const body = JSON.parse(text) as ProblemBody;
  expect(body).toMatchObject({ type: `https://concord.dev/problems/${code}`, status });
  expect(typeof body.title).toBe('string');
  expect(typeof body.detail).toBe('string');
  return body;
}
