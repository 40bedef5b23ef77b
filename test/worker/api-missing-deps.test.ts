/**
 * A Yjs update made against one region's state and sent to a region that has not received
 * that state yet: the update's items would wait unseen, so it is refused (409
 * missing-dependencies, Retry-After) with nothing stored; sent with the session token of
 * the read it builds on, the member first waits for that state and takes it.
 */
import * as Y from 'yjs';
import { afterEach, describe, expect, it } from 'vitest';
import { adminToken, call, expectProblem, writeToken } from './helpers.js';

const YJS = { 'Content-Type': 'application/vnd.concord.yjs' };

afterEach(async () => {
  expect((await call('/v1/_test/faults', { method: 'DELETE', token: await adminToken() })).status).toBe(204);
});

describe('a Yjs update that builds on what this region lacks', () => {
  it('is refused with nothing stored, and taken with the session token once the region has caught up', async () => {
    const token = await writeToken('deps1');
    const admin = await adminToken();
    const path = '/v1/deps1/docs/text/crdt';
    // apac is cut off while the client's base text is written in wnam.
    expect((await call('/v1/_test/faults', { method: 'POST', token: admin, json: { partitions: [['wnam', 'weur'], ['apac']] } })).status).toBe(204);
    const client = new Y.Doc();
    client.getText('t').insert(0, 'ab');
    const base = await call(`${path}?region=wnam`, { method: 'POST', token, body: Y.encodeStateAsUpdate(client), headers: YJS });
    expect(base.status).toBe(201);
    const seen = base.headers.get('Concord-Token')!;
    const before = Y.encodeStateVector(client);
    client.getText('t').insert(1, 'x');
    const x = Y.encodeStateAsUpdate(client, before);

    const refused = await call(`${path}?region=apac`, { method: 'POST', token, body: x, headers: YJS });
    const problem = await expectProblem(refused, 409, 'missing-dependencies');
    expect(problem.detail).toContain('state vector');
    expect(refused.headers.get('Retry-After')).toBe('1');
    await expectProblem(await call('/v1/deps1/docs/text?region=apac', { token }), 404, 'not-found');

    // With the token of what it saw, the write waits for the heal and is taken whole.
    const taking = call(`${path}?region=apac`, { method: 'POST', token, body: x, headers: { ...YJS, Consistency: 'session', 'Concord-Token': seen } });
    expect((await call('/v1/_test/faults', { method: 'DELETE', token: admin })).status).toBe(204);
    const taken = await taking;
    expect(taken.status).toBe(200);
    const read = await call('/v1/deps1/docs/text?region=apac', { token, headers: { Consistency: 'session', 'Concord-Token': taken.headers.get('Concord-Token')! } });
    expect(await read.json()).toEqual({ t: 'axb' });
  });
});
