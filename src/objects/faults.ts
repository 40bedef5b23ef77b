/**
 * The fault-injecting side of member-to-member traffic, active only in the test
 * environment (`TEST_FAULTS=on`): partitions between regions, lost messages, added delay.
 */
import type { FaultConfig } from './protocol.js';

/** A peer that cannot be reached; what a partition or a lost message looks like to the caller. */
export class UnreachableError extends Error {
  override readonly name = 'UnreachableError';
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** True when the partitions put `a` and `b` in different groups (unlisted regions reach everyone). */
export function partitioned(cfg: FaultConfig | null, a: string, b: string): boolean {
  const groups = cfg?.partitions;
  if (!groups || a === b) return false;
  const ga = groups.findIndex((g) => g.includes(a));
  const gb = groups.findIndex((g) => g.includes(b));
  return ga >= 0 && gb >= 0 && ga !== gb;
}

/** How many of a configuration's `failNext` failures have been thrown (per member: each holds its own). */
const failed = new WeakMap<FaultConfig, number>();

/** Applies the faults to one message from `from` to `to`: delays it, or throws as if it were lost. */
export async function injectFaults(cfg: FaultConfig | null, from: string, to: string): Promise<void> {
  if (!cfg) return;
  if (partitioned(cfg, from, to)) throw new UnreachableError(`${to} is partitioned from ${from}`);
  const n = failed.get(cfg) ?? 0;
  if (cfg.failNext && n < cfg.failNext.times) {
    failed.set(cfg, n + 1);
    const { retryable = false, overloaded = false } = cfg.failNext;
    throw Object.assign(new Error(`injected failure ${n + 1} of ${cfg.failNext.times} from ${from} to ${to}`), { retryable, overloaded });
  }
  if (cfg.delayMs) await sleep(cfg.delayMs);
  if (cfg.dropRate && Math.random() < cfg.dropRate) throw new UnreachableError(`message from ${from} to ${to} was dropped`);
}
