import { describe, expect, it } from 'vitest';
import { docKey, type MemberId } from '../../src/core/ids.js';
import { EagerPusher } from '../../src/core/eager-push.js';
import type { Transport } from '../../src/core/ports.js';
import { decodeMessage } from '../../src/core/wire/codec.js';
import { cluster } from '../support/cluster.js';

const DOC = docKey('demo', 'typing');

/**
 * A transport to real replicas whose deliveries wait until the test lets them through, so
 * that the test decides what is in flight; `down` peers fail at once.
 */
function heldTransport(deliver: (to: MemberId, bytes: Uint8Array) => Uint8Array | undefined, down = new Set<string>()) {
  const held: (() => void)[] = [];
  const sent: { to: MemberId; entries: number }[] = [];
  const transport: Transport = {
    request: (to, bytes) => {
      sent.push({ to, entries: decodeMessage(bytes).entries.length });
      if (down.has(to)) return Promise.reject(new Error(`${to} is down`));
      return new Promise((resolve) => held.push(() => resolve(deliver(to, bytes))));
    },
  };
  const release = async () => {
    while (held.length > 0) {
      held.shift()!();
      await new Promise((r) => setImmediate(r));
    }
  };
  return { transport, sent, release };
}

describe('eager push', () => {
  it('sends the first write at once and the writes made meanwhile together, so each peer gets one message per round trip', async () => {
    const ms = cluster(['wnam', 'weur', 'apac']);
    const [a] = ms;
    const byId = new Map(ms.map((m) => [m.id as string, m]));
    const { transport, sent, release } = heldTransport((to, bytes) => byId.get(to)!.replica.receive(bytes));
    const pusher = new EagerPusher(a!.replica, transport);
    const done: Promise<void>[] = [];
    for (let i = 0; i < 10; i++) {
      const w = a!.replica.write(DOC, 'automerge', (e) => e.mergePatch({ [`k${i}`]: i }));
      done.push(pusher.push([w.entry!]));
    }
    await release();
    await Promise.all(done);
    expect(sent.filter((s) => s.to === 'weur').map((s) => s.entries)).toEqual([1, 9]);
    for (const m of ms) expect(Object.keys(m.replica.json(DOC) ?? {})).toHaveLength(10);
  });

  it('lets an unreachable peer hold back nobody else', async () => {
    const ms = cluster(['wnam', 'weur', 'apac']);
    const [a, b] = ms;
    const { transport, release } = heldTransport((to, bytes) => (to === b!.id ? b!.replica.receive(bytes) : undefined), new Set(['apac']));
    const pusher = new EagerPusher(a!.replica, transport);
    const pushes = [0, 1, 2].map((i) => pusher.push([a!.replica.write(DOC, 'automerge', (e) => e.mergePatch({ [`k${i}`]: i })).entry!]));
    await release();
    await Promise.all(pushes);
    expect(Object.keys(b!.replica.json(DOC)!)).toHaveLength(3);
    expect(ms[2]!.replica.json(DOC)).toBeUndefined();
  });
});
