/**
 * A hybrid logical clock folded into one number of milliseconds: never behind the wall
 * clock, strictly increasing per member, and never behind any timestamp it has seen. Under
 * bursts of more than one write per millisecond it runs ahead of the wall clock and falls
 * back in step once the burst ends.
 */
export class HybridClock {
  constructor(private last = 0) {}

  /** A fresh timestamp for a local event at wall time `now`. */
  tick(now: number): number {
    this.last = Math.max(now, this.last + 1);
    return this.last;
  }

  /** Takes a remote timestamp into account so later local events order after it. */
  observe(remote: number): void {
    if (remote > this.last) this.last = remote;
  }

  get current(): number {
    return this.last;
  }
}
