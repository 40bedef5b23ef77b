import { describe, expect, it } from 'vitest';
import { call, expectProblem, writeToken } from './helpers.js';

describe('edge basics', () => {
  it('answers /healthz without a token', async () => {
    const res = await call('/healthz');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
  });

  it('answers an unknown route with a route-not-found problem, token or not', async () => {
    await expectProblem(await call('/nope'), 404, 'route-not-found');
    await expectProblem(await call('/v1/demo/things/x', { token: await writeToken() }), 404, 'route-not-found');
    await expectProblem(await call('/v1/demo/docs/a/b/c', { token: await writeToken() }), 404, 'route-not-found');
  });

  it('answers a known path with a wrong method with 405 and Allow', async () => {
    const res = await call('/v1/demo/docs/x', { method: 'POST', token: await writeToken() });
    expect(res.headers.get('Allow')).toContain('PATCH');
    await expectProblem(res, 405, 'method-not-allowed');
    await expectProblem(await call('/v1/demo/docs/x/ops', { method: 'GET' }), 405, 'method-not-allowed');
    await expectProblem(await call('/v1/cluster', { method: 'DELETE' }), 405, 'method-not-allowed');
  });

  it('answers CORS preflights without a token and exposes the Concord headers', async () => {
    const res = await call('/v1/demo/docs/x', {
      method: 'OPTIONS',
      headers: { Origin: 'https://app.example', 'Access-Control-Request-Method': 'PUT', 'Access-Control-Request-Headers': 'authorization' },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('Access-Control-Allow-Origin')).toBe('*');
    expect(res.headers.get('Access-Control-Allow-Headers')).toContain('Concord-Token');
    const denied = await call('/v1/demo/docs/x', { headers: { Origin: 'https://app.example' } });
    expect(denied.headers.get('Access-Control-Allow-Origin')).toBe('*');
    expect(denied.headers.get('Access-Control-Expose-Headers')).toContain('Concord-Token');
    await expectProblem(denied, 401, 'unauthorized');
  });
});
