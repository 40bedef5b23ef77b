import { env } from 'cloudflare:test';
import { type CryptoKey, exportJWK, exportSPKI, generateKeyPair, type JWK, type JWTPayload, SignJWT, UnsecuredJWT } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { app } from '../../src/api/app.js';
import { authenticate, CLOCK_TOLERANCE_S, verifierFor } from '../../src/api/auth.js';
import type { Env } from '../../src/objects/config.js';
import { adminToken, call, expectProblem, mint, readToken, writeToken } from './helpers.js';

const now = (): number => Math.floor(Date.now() / 1000);
const sign = (payload: JWTPayload, secret: string): Promise<string> =>
  new SignJWT(payload).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(new TextEncoder().encode(secret));

describe('authentication', () => {
  it('remembers a verified token by its exact text, never past its expiry', async () => {
    const v = verifierFor({ JWT_SECRET: 'remembered-secret' } as Env);
    const t0 = Date.now();
    const exp = Math.floor(t0 / 1000) + 30;
    const token = await sign({ ns: 'demo', scope: 'write', exp }, 'remembered-secret');
    expect(await authenticate(`Bearer ${token}`, v, t0)).toMatchObject({ scope: 'write' });
    expect(v.verified.has(token)).toBe(true);
    expect(await authenticate(`Bearer ${token}`, v, t0 + 20_000)).toMatchObject({ scope: 'write' });
    // Past exp (and the clock tolerance) it is verified again, and refused.
    await expect(authenticate(`Bearer ${token}`, v, (exp + CLOCK_TOLERANCE_S + 1) * 1000)).rejects.toMatchObject({ code: 'unauthorized' });
    expect(v.verified.has(token)).toBe(false);
    // Another text (a forged signature) is never taken for the remembered one.
    const forged = `${token.slice(0, token.lastIndexOf('.') + 1)}${'A'.repeat(43)}`;
    await expect(authenticate(`Bearer ${forged}`, v, t0)).rejects.toMatchObject({ code: 'unauthorized' });
  });

  it('remembers a verified token for a minute at most', async () => {
    const v = verifierFor({ JWT_SECRET: 'minute-secret' } as Env);
    const t0 = Date.now();
    const token = await sign({ ns: 'demo', scope: 'read', exp: Math.floor(t0 / 1000) + 3600 }, 'minute-secret');
    await authenticate(`Bearer ${token}`, v, t0);
    expect(v.verified.get(token)!.until).toBe(t0 + 60_000);
  });

  it('refuses a request without a token with 401 and WWW-Authenticate: Bearer', async () => {
    const res = await call('/v1/demo/docs/x');
    expect(res.headers.get('WWW-Authenticate')).toMatch(/^Bearer /);
    await expectProblem(res, 401, 'unauthorized');
  });

  it('refuses an Authorization header that is not a bearer token', async () => {
    await expectProblem(await call('/v1/demo/docs/x', { headers: { Authorization: 'Basic dTpw' } }), 401, 'unauthorized');
    await expectProblem(await call('/v1/demo/docs/x', { headers: { Authorization: 'Bearer' } }), 401, 'unauthorized');
  });

  it('refuses a token signed with another secret', async () => {
    const forged = await sign({ ns: '*', scope: 'admin', exp: now() + 60 }, 'not-the-secret');
    const res = await call('/v1/demo/docs/x', { token: forged });
    expect(res.headers.get('WWW-Authenticate')).toContain('invalid_token');
    const body = await expectProblem(res, 401, 'unauthorized');
    expect(body.detail).toContain('signature');
  });

  it('refuses garbage, an expired token and one not valid yet', async () => {
    await expectProblem(await call('/v1/demo/docs/x', { token: 'a.b.c' }), 401, 'unauthorized');
    const expired = await mint({ ns: '*', scope: 'admin', iat: now() - 120, exp: now() - 60 });
    expect((await expectProblem(await call('/v1/demo/docs/x', { token: expired }), 401, 'unauthorized')).detail).toContain('expired');
    const early = await mint({ ns: '*', scope: 'admin', nbf: now() + 600 });
    await expectProblem(await call('/v1/demo/docs/x', { token: early }), 401, 'unauthorized');
  });

  it('refuses a token whose ns claim is not a string or list of strings', async () => {
    const bad = await sign({ ns: 7, scope: 'read', exp: now() + 60 }, env.JWT_SECRET!);
    await expectProblem(await call('/v1/demo/docs/x', { token: bad }), 401, 'unauthorized');
  });
});

describe('authorisation', () => {
  it('forbids a namespace the token does not match', async () => {
    const res = await call('/v1/other/docs/x', { token: await writeToken('demo*') });
    await expectProblem(res, 403, 'forbidden');
    await expectProblem(await call('/v1/other/docs', { token: await readToken(['demo', 'test-*']) }), 403, 'forbidden');
  });

  it('forbids writes with a read token, on every write route', async () => {
    const token = await readToken();
    const writes: [string, RequestInit][] = [
      ['/v1/demo/docs/x', { method: 'PUT', body: '{}', headers: { 'Content-Type': 'application/json' } }],
      ['/v1/demo/docs/x', { method: 'PATCH', body: '{}', headers: { 'Content-Type': 'application/merge-patch+json' } }],
      ['/v1/demo/docs/x', { method: 'DELETE' }],
      ['/v1/demo/docs/x/ops', { method: 'POST', body: '{"ops":[]}', headers: { 'Content-Type': 'application/json' } }],
      ['/v1/demo/docs/x/crdt', { method: 'POST', body: 'x', headers: { 'Content-Type': 'application/vnd.concord.yjs' } }],
    ];
    for (const [path, init] of writes) {
      const res = await call(path, { ...init, token });
      expect(res.headers.get('WWW-Authenticate')).toContain('insufficient_scope');
      await expectProblem(res, 403, 'forbidden');
    }
  });

  it('forbids a token that names no known scope', async () => {
    await expectProblem(await call('/v1/demo/docs/x', { token: await mint({ ns: '*', scope: 'superuser' }) }), 403, 'forbidden');
    await expectProblem(await call('/v1/demo/docs/x', { token: await mint({ ns: '*' }) }), 403, 'forbidden');
  });

  it('keeps /v1/cluster and the fault routes for admin tokens', async () => {
    await expectProblem(await call('/v1/cluster'), 401, 'unauthorized');
    await expectProblem(await call('/v1/cluster', { token: await writeToken('*') }), 403, 'forbidden');
    await expectProblem(await call('/v1/_test/faults', { method: 'DELETE', token: await writeToken('*') }), 403, 'forbidden');
    await expectProblem(await call('/v1/_test/faults', { method: 'POST', json: {}, token: await readToken('*') }), 403, 'forbidden');
  });

  it('lets an admin token with a namespace glob pass the scope and namespace checks', async () => {
    // Validation runs after authorisation: a 400 here means the token was accepted.
    const res = await call('/v1/demo/docs/x', { token: await adminToken('de*'), headers: { Consistency: 'bogus' } });
    await expectProblem(res, 400, 'invalid-consistency');
  });
});

describe('a deployment without JWT_SECRET', () => {
  const unconfigured = (secret?: string): Env => ({ ...env, JWT_SECRET: secret }) as Env;

  it('refuses every request but /healthz with a not-configured problem', async () => {
    for (const secret of [undefined, '', '  ']) {
      const res = await app.request('/v1/demo/docs/x', { headers: { Authorization: `Bearer ${await writeToken()}` } }, unconfigured(secret));
      const body = await expectProblem(res, 500, 'not-configured');
      expect(body.detail).toContain('wrangler secret put JWT_SECRET');
      await expectProblem(await app.request('/v1/cluster', {}, unconfigured(secret)), 500, 'not-configured');
    }
    const health = await app.request('/healthz', {}, unconfigured());
    expect(health.status).toBe(200);
  });
});

// Deployments configured otherwise than wrangler.toml's test environment, served by the
// real app with the real bindings: only the vars differ.
const withVars = (vars: { [K in keyof Env]?: string | undefined }): Env => ({ ...env, ...vars }) as Env;
const bearer = (token: string): Record<string, string> => ({ Authorization: `Bearer ${token}` });
let probes = 0;

/** Whether `token` gets past authentication: a read of a missing document answers 404. */
async function expectAccepted(token: string, deployment: Env = env): Promise<void> {
  const res = await app.request(`/v1/demo/docs/auth-probe-${++probes}`, { headers: bearer(token) }, deployment);
  await expectProblem(res, 404, 'not-found');
}

async function expectRefused(token: string, deployment: Env, detail: RegExp | string): Promise<void> {
  const res = await app.request('/v1/demo/docs/x', { headers: bearer(token) }, deployment);
  const body = await expectProblem(res, 401, 'unauthorized');
  expect(res.headers.get('WWW-Authenticate')).toContain('invalid_token');
  if (typeof detail === 'string') expect(body.detail).toContain(detail);
  else expect(body.detail).toMatch(detail);
}

describe('token lifetime', () => {
  it('refuses a token without exp, naming the claim', async () => {
    const forever = await mint({ ns: '*', scope: 'admin', exp: undefined });
    await expectRefused(forever, env, '"exp"');
    await expectProblem(await call('/v1/demo/docs/x', { token: forever }), 401, 'unauthorized');
  });

  it(`forgives ${CLOCK_TOLERANCE_S} s of clock skew on exp and nbf, and no more`, async () => {
    await expectAccepted(await mint({ ns: 'demo', scope: 'read', exp: now() - 1 }));
    await expectAccepted(await mint({ ns: 'demo', scope: 'read', nbf: now() + 1 }));
    await expectRefused(await mint({ ns: 'demo', scope: 'read', exp: now() - CLOCK_TOLERANCE_S - 30 }), env, 'expired');
    await expectRefused(await mint({ ns: 'demo', scope: 'read', nbf: now() + CLOCK_TOLERANCE_S + 30 }), env, 'nbf');
  });
});

describe('issuer and audience, when configured', () => {
  const ISS = 'https://id.example.com/';
  const idp = withVars({ JWT_ISSUER: ISS, JWT_AUDIENCE: 'concord' });
  const token = (claims: { iss?: string; aud?: string | string[] }): Promise<string> => mint({ ns: 'demo', scope: 'read', ...claims });

  it('refuses a token with another or no iss', async () => {
    await expectAccepted(await token({ iss: ISS, aud: 'concord' }), idp);
    await expectRefused(await token({ iss: 'https://evil.example.com/', aud: 'concord' }), idp, 'issuer');
    await expectRefused(await token({ aud: 'concord' }), idp, '"iss"');
  });

  it('refuses a token with another or no aud; a list containing JWT_AUDIENCE is enough', async () => {
    await expectAccepted(await token({ iss: ISS, aud: 'concord' }), idp);
    await expectAccepted(await token({ iss: ISS, aud: ['billing', 'concord'] }), idp);
    await expectRefused(await token({ iss: ISS, aud: 'billing' }), idp, 'audience');
    await expectRefused(await token({ iss: ISS, aud: ['billing', 'concord-staging'] }), idp, 'audience');
    await expectRefused(await token({ iss: ISS }), idp, '"aud"');
  });
});

type KeyAlg = 'ES256' | 'RS256' | 'EdDSA';
const KEY_ALGS: KeyAlg[] = ['ES256', 'RS256', 'EdDSA'];

interface Signer {
  readonly alg: KeyAlg;
  readonly kid: string;
  readonly privateKey: CryptoKey;
  readonly publicKey: CryptoKey;
  /** The public key as published in the JWKS. */
  readonly jwk: JWK;
}

async function signer(alg: KeyAlg, kid: string): Promise<Signer> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  return { alg, kid, privateKey, publicKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

/** A token as an identity provider issues it: signed with `s`'s private key, naming its kid. */
function issue(s: Signer, claims: JWTPayload = {}, header: { kid?: string } = {}): Promise<string> {
  return new SignJWT({ ns: 'demo*', scope: 'write', iat: now(), exp: now() + 600, ...claims })
    .setProtectedHeader({ alg: s.alg, kid: s.kid, typ: 'JWT', ...header })
    .sign(s.privateKey);
}

const b64url = (bytes: Uint8Array): string => btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

/** A compact JWS whose header says `header` but whose signature is HMAC-SHA256 under `secret`. */
async function hmacSigned(header: Record<string, unknown>, payload: JWTPayload, secret: string): Promise<string> {
  const text = (v: unknown): string => b64url(new TextEncoder().encode(JSON.stringify(v)));
  const input = `${text(header)}.${text(payload)}`;
  const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return `${input}.${b64url(new Uint8Array(await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(input))))}`;
}

describe('asymmetric tokens verified against JWT_JWKS', () => {
  const signers = {} as Record<KeyAlg, Signer>;
  /** JWT_SECRET (from the test environment) and a JWKS. */
  let both: Env;
  /** A JWKS and TOKEN_SECRET, no JWT_SECRET: an application using only its identity provider. */
  let jwksOnly: Env;
  const claims = { ns: 'demo*', scope: 'write', exp: now() + 600 };

  beforeAll(async () => {
    for (const alg of KEY_ALGS) signers[alg] = await signer(alg, `${alg.toLowerCase()}-1`);
    const JWT_JWKS = JSON.stringify({ keys: KEY_ALGS.map((a) => signers[a].jwk) });
    both = withVars({ JWT_JWKS });
    jwksOnly = withVars({ JWT_JWKS, JWT_SECRET: undefined, TOKEN_SECRET: 'a-secret-for-concord-tokens' });
  });

  it.each(KEY_ALGS)('accepts a %s token signed by a key of the set, for writes and reads', async (alg) => {
    const path = `/v1/demo/docs/jwks-${alg}`;
    const put = await app.request(path, { method: 'PUT', headers: { ...bearer(await issue(signers[alg])), 'Content-Type': 'application/json' }, body: JSON.stringify({ alg }) }, jwksOnly);
    expect(put.status, await put.clone().text()).toBe(201);
    const get = await app.request(path, { headers: bearer(await issue(signers[alg], { scope: 'read' })) }, both);
    expect(get.status).toBe(200);
    expect(await get.json()).toEqual({ alg });
  });

  it('keeps accepting HS256 tokens signed with JWT_SECRET alongside the set', async () => {
    await expectAccepted(await readToken('demo'), both);
    await expectRefused(await readToken('demo'), jwksOnly, 'HS256 tokens are not accepted');
  });

  it('refuses a token signed with another key under a kid of the set', async () => {
    for (const alg of KEY_ALGS) {
      await expectAccepted(await issue(signers[alg]), jwksOnly);
      const impostor = await signer(alg, signers[alg].kid);
      await expectRefused(await issue(impostor), jwksOnly, 'signature');
      await expectRefused(await issue(impostor), both, 'signature');
    }
  });

  it('refuses a token whose kid is not in the set', async () => {
    await expectAccepted(await issue(signers.ES256), jwksOnly);
    await expectRefused(await issue(signers.ES256, {}, { kid: 'retired-2019' }), jwksOnly, '"retired-2019"');
    await expectRefused(await issue(signers.RS256, {}, { kid: 'retired-2019' }), both, '"retired-2019"');
  });

  it('refuses an unsecured token (alg none)', async () => {
    await expectAccepted(await issue(signers.ES256), both);
    const unsecured = new UnsecuredJWT({ ...claims, scope: 'admin' }).encode();
    await expectRefused(unsecured, both, 'algorithm');
    await expectRefused(unsecured, jwksOnly, 'algorithm');
    await expectRefused(unsecured, env, 'algorithm');
  });

  it('refuses an HS256 token keyed with the public key text (algorithm confusion)', async () => {
    for (const alg of KEY_ALGS) {
      const s = signers[alg];
      await expectAccepted(await issue(s), jwksOnly);
      for (const publicText of [JSON.stringify(s.jwk), await exportSPKI(s.publicKey)]) {
        const confused = await hmacSigned({ alg: 'HS256', typ: 'JWT', kid: s.kid }, claims, publicText);
        await expectRefused(confused, jwksOnly, 'HS256 tokens are not accepted');
        await expectRefused(confused, both, 'signature');
      }
    }
  });

  it('refuses an asymmetric-labelled token signed with JWT_SECRET (algorithm confusion the other way)', async () => {
    for (const alg of KEY_ALGS) {
      await expectAccepted(await issue(signers[alg]), both);
      const confused = await hmacSigned({ alg, typ: 'JWT', kid: signers[alg].kid }, claims, env.JWT_SECRET!);
      await expectRefused(confused, both, 'signature');
    }
  });

  it('still requires exp and checks iss and aud on asymmetric tokens', async () => {
    const idp = withVars({ JWT_JWKS: both.JWT_JWKS, JWT_ISSUER: 'https://id.example.com/', JWT_AUDIENCE: 'concord' });
    await expectAccepted(await issue(signers.EdDSA, { iss: 'https://id.example.com/', aud: 'concord' }), idp);
    await expectRefused(await issue(signers.EdDSA, { iss: 'https://id.example.com/', aud: 'concord', exp: undefined }), idp, '"exp"');
    await expectRefused(await issue(signers.EdDSA, { iss: 'https://other.example.com/', aud: 'concord' }), idp, 'issuer');
    await expectRefused(await issue(signers.EdDSA, { iss: 'https://id.example.com/', aud: 'other' }), idp, 'audience');
  });
});

describe('deployments that verify tokens with a key set', () => {
  it('refuses every request while only a JWKS is set and no TOKEN_SECRET keys Concord-Tokens', async () => {
    const s = await signer('ES256', 'k1');
    const JWT_JWKS = JSON.stringify({ keys: [s.jwk] });
    const half = withVars({ JWT_JWKS, JWT_SECRET: undefined });
    const body = await expectProblem(await app.request('/v1/demo/docs/x', { headers: bearer(await issue(s)) }, half), 500, 'not-configured');
    expect(body.detail).toContain('TOKEN_SECRET');
    await expectAccepted(await issue(s), withVars({ JWT_JWKS, JWT_SECRET: undefined, TOKEN_SECRET: 'a-secret-for-concord-tokens' }));
  });

  it('refuses every request while a key setting is malformed, rather than ignore it', async () => {
    const s = await signer('ES256', 'k1');
    const privateJwk = { ...(await exportJWK(s.privateKey)), kid: 'k1' };
    const token = await readToken('demo');
    const broken: [{ [K in keyof Env]?: string }, string][] = [
      [{ JWT_JWKS: '{"keys": [' }, 'JWT_JWKS'],
      [{ JWT_JWKS: '{"keys": []}' }, 'JWT_JWKS'],
      [{ JWT_JWKS: JSON.stringify({ keys: [privateJwk] }) }, 'public keys only'],
      [{ JWT_JWKS: JSON.stringify({ keys: [{ kty: 'oct', k: b64url(new TextEncoder().encode('shared')) }] }) }, 'public keys only'],
      [{ JWT_JWKS: JSON.stringify({ keys: [s.jwk] }), JWT_JWKS_URL: 'https://id.example.com/jwks.json' }, 'set one'],
      [{ JWT_JWKS_URL: 'http://id.example.com/jwks.json' }, 'https'],
      [{ JWT_JWKS_URL: 'jwks.json' }, 'JWT_JWKS_URL'],
    ];
    for (const [vars, detail] of broken) {
      const res = await app.request('/v1/demo/docs/x', { headers: bearer(token) }, withVars(vars));
      expect((await expectProblem(res, 500, 'not-configured')).detail).toContain(detail);
    }
  });

  it('answers 503 with Retry-After, not 401, while JWT_JWKS_URL cannot be fetched', async () => {
    // Port 9 (discard) has no listener: the fetch fails at once, as with an unreachable IdP.
    const remote = withVars({ JWT_JWKS_URL: 'http://127.0.0.1:9/.well-known/jwks.json' });
    const res = await app.request('/v1/demo/docs/x', { headers: bearer(await issue(await signer('ES256', 'k1'))) }, remote);
    expect(res.headers.get('Retry-After')).toBeTruthy();
    expect((await expectProblem(res, 503, 'unavailable')).detail).toContain('JWT_JWKS_URL');
    await expectAccepted(await readToken('demo'), remote);
  });
});
