/**
 * Reconnect delays: exponential backoff with full jitter, capped (the "Full Jitter" of
 * AWS's "Exponential Backoff and Jitter"): attempt n waits a uniformly random time in
 * [0, min(cap, base * 2^n)). Full jitter spreads the reconnects of many clients that lost
 * one server at the same moment, instead of bringing them back in waves.
 */
export interface BackoffOptions {
  /** The ceiling of the first retry's window, ms. Default 250. */
  baseMs?: number;
  /** No window grows past this, ms. Default 30,000. */
  capMs?: number;
}

export const DEFAULT_BACKOFF = { baseMs: 250, capMs: 30_000 } as const;

/** The window (upper bound) of attempt `attempt` (0-based): min(cap, base * 2^attempt). */
export function backoffCeiling(attempt: number, opts: BackoffOptions = {}): number {
  const base = opts.baseMs ?? DEFAULT_BACKOFF.baseMs;
  const cap = opts.capMs ?? DEFAULT_BACKOFF.capMs;
  const n = Math.max(0, Math.floor(attempt));
  // 2^n overflows to Infinity for large n, and min() then gives the cap.
  return Math.min(cap, base * 2 ** n);
}

/**
 * The delay before reconnect attempt `attempt` (0-based): floor(random() * ceiling), with
 * `random` returning values in [0, 1) like `Math.random`. A pure function of its inputs.
 */
export function backoffDelay(attempt: number, random: () => number, opts: BackoffOptions = {}): number {
  const r = random();
  const unit = r >= 0 && r < 1 ? r : 0;
  return Math.floor(unit * backoffCeiling(attempt, opts));
}
