/**
 * `GET /v1/dev/token` (src/api/routes-dev.ts): in the test configuration (DEV_TOKENS=on) it
 * hands out a one-hour write token for namespace `demo` that the edge accepts; with the
 * setting off, as in a deployed Worker, it answers exactly like a route that does not exist.
 */
import { env } from 'cloudflare:test';
import { decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
import { app } from '../../src/api/app.js';
import { DEV_TOKEN_TTL_S } from '../../src/api/routes-dev.js';
import type { Env } from '../../src/objects/config.js';
import { adminToken, call, expectProblem } from './helpers.js';

interface DevTokenBody {
  token: string;
  ns: string;
  scope: string;
  expiresAt: number;
  regions: string[];
  primary: string;
}

async function devToken(): Promise<DevTokenBody> {
  const res = await call('/v1/dev/token');
  expect(res.status, await res.clone().text()).toBe(200);
  expect(res.headers.get('Cache-Control')).toBe('no-store');
  return (await res.json()) as DevTokenBody;
}

describe('GET /v1/dev/token in the test configuration', () => {
  it('is on in the test environment', () => {
    expect(env.DEV_TOKENS).toBe('on');
  });

  it('answers a write token for namespace demo that expires in an hour', async () => {
    const before = Math.floor(Date.now() / 1000);
    const body = await devToken();
    const after = Math.floor(Date.now() / 1000);
    expect(body).toMatchObject({ ns: 'demo', scope: 'write', regions: ['wnam', 'weur', 'apac'], primary: 'wnam' });
    const claims = decodeJwt(body.token);
    expect(claims).toMatchObject({ ns: 'demo', scope: 'write' });
    expect(claims.exp).toBe(body.expiresAt);
    expect(DEV_TOKEN_TTL_S).toBe(3600);
    expect(body.expiresAt).toBeGreaterThanOrEqual(before + 3600);
    expect(body.expiresAt).toBeLessThanOrEqual(after + 3600);
  });

  it('is accepted by the edge for writes in demo, and for nothing else', async () => {
    const { token } = await devToken();
    const key = `dev-token-${crypto.randomUUID()}`;
    const put = await call(`/v1/demo/docs/${key}`, { method: 'PUT', token, json: { made: 'with a dev token' } });
    expect(put.status, await put.clone().text()).toBe(201);
    const get = await call(`/v1/demo/docs/${key}`, { token });
    expect(await get.json()).toEqual({ made: 'with a dev token' });
    // Exactly `demo`: not a glob over demo-anything, not another namespace, not admin.
    await expectProblem(await call(`/v1/demo-eu/docs/${key}`, { token }), 403, 'forbidden');
    await expectProblem(await call(`/v1/other/docs/${key}`, { token }), 403, 'forbidden');
    await expectProblem(await call('/v1/cluster', { token }), 403, 'forbidden');
  });

  it('carries iss and aud when the deployment checks them, so that it still verifies', async () => {
    const strict = { ...env, JWT_ISSUER: 'https://issuer.test/', JWT_AUDIENCE: 'concord' } as Env;
    const res = await app.request('/v1/dev/token', {}, strict);
    expect(res.status).toBe(200);
    const { token } = (await res.json()) as DevTokenBody;
    expect(decodeJwt(token)).toMatchObject({ iss: 'https://issuer.test/', aud: 'concord' });
    const put = await app.request(
      `/v1/demo/docs/dev-token-iss-${crypto.randomUUID()}`,
      { method: 'PUT', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: '{"a":1}' },
      strict,
    );
    expect(put.status, await put.clone().text()).toBe(201);
  });

  it('answers other methods with 405 and Allow', async () => {
    const res = await call('/v1/dev/token', { method: 'POST' });
    expect(res.headers.get('Allow')).toBe('GET, HEAD, OPTIONS');
    await expectProblem(res, 405, 'method-not-allowed');
  });
});

describe('GET /v1/dev/token with DEV_TOKENS off (a deployed Worker)', () => {
  const deployed = { ...env, DEV_TOKENS: undefined } as Env;
  const off = { ...env, DEV_TOKENS: 'off' } as Env;

  it('answers like an unknown route, for every method, token or not', async () => {
    for (const e of [deployed, off]) {
      for (const method of ['GET', 'POST', 'DELETE']) {
        const body = await expectProblem(await app.request('/v1/dev/token', { method }, e), 404, 'route-not-found');
        expect(body.detail).toBe(`no route ${method} /v1/dev/token`);
      }
    }
    const unknown = await expectProblem(await app.request('/v1/dev/nothing', {}, deployed), 404, 'route-not-found');
    const gated = await expectProblem(await app.request('/v1/dev/token', {}, deployed), 404, 'route-not-found');
    expect({ ...gated, detail: '' }).toEqual({ ...unknown, detail: '' });
  });

  it('hands out no token even to a caller holding an admin token', async () => {
    const res = await app.request('/v1/dev/token', { headers: { Authorization: `Bearer ${await adminToken()}` } }, deployed);
    const text = await res.text();
    expect(res.status).toBe(404);
    expect(text).not.toContain('eyJ');
  });
});
