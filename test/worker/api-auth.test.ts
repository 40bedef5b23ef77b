import { env } from 'cloudflare:test';
import { sign } from 'hono/jwt';
import { describe, expect, it } from 'vitest';
import { app } from '../../src/api/app.js';
import type { Env } from '../../src/objects/config.js';
import { adminToken, call, expectProblem, mint, readToken, writeToken } from './helpers.js';

const now = (): number => Math.floor(Date.now() / 1000);

describe('authentication', () => {
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
    const forged = await sign({ ns: '*', scope: 'admin', exp: now() + 60 }, 'not-the-secret', 'HS256');
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
    const bad = await sign({ ns: 7, scope: 'read', exp: now() + 60 }, env.JWT_SECRET!, 'HS256');
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
