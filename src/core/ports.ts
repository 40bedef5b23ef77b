/**
 * The side effects the core needs, as small interfaces. Durable Object adapters live in
 * `src/objects/`; in-memory and simulated ones beside the tests. Nothing in `src/core/`
 * reads a clock, draws randomness or performs I/O except through these.
 */
import type { MemberId } from './ids.js';

export type { Storage } from './storage.js';

/** Wall-clock milliseconds since the epoch. The simulator drives a virtual one. */
export interface Clock {
  now(): number;
}

/** A source of uniform randomness in [0, 1). Seeded in the simulator. */
export interface Random {
  next(): number;
}

/**
 * Request/response messaging between the members of one shard. `request` resolves with the
 * peer's reply (`undefined` when it had nothing to say) and rejects when the peer cannot be
 * reached; the core treats every failure as a lost message and repairs it by gossip.
 */
export interface Transport {
  request(to: MemberId, message: Uint8Array): Promise<Uint8Array | undefined>;
}

export function randomBytes(random: Random, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(random.next() * 256);
  return out;
}

/** A small seeded PRNG (sfc32) for simulators, benches and tests. */
export function seededRandom(seed: number): Random {
  let a = 0x9e3779b9 ^ seed;
  let b = 0x243f6a88 ^ (seed * 31);
  let c = 0xb7e15162;
  let d = 1;
  const next = (): number => {
    a >>>= 0; b >>>= 0; c >>>= 0; d >>>= 0;
    let t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    t = (t + d) | 0;
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 12; i++) next();
  return { next };
}
