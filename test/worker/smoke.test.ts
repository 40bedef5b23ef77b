import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';

describe('workerd', () => {
  it('runs a replica object with Automerge loaded', async () => {
    const stub = env.REPLICA.get(env.REPLICA.idFromName('replica:0:wnam'));
    expect(await stub.whoami()).toBe('replica:0:wnam {"a":1}');
  });
});
