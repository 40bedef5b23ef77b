/**
 * Which log entries a replica may drop. Entries every member is known to have (the meet of
 * the known vectors) can go at any time: nobody will ask for them. Past the log bound the
 * oldest entries go too, until the log is back to half the bound; a peer that still lacked
 * them is then behind the horizon and is repaired by a state transfer instead.
 */
import type { LogEntry } from './log.js';
import { equals, get, meet, merge, type VersionVector, withDot } from './version-vector.js';
import type { MemberId } from './ids.js';

export interface CompactionInput {
  /** The vectors of all current members (this replica's own included); removed members are not here. */
  readonly known: readonly VersionVector[];
  readonly vv: VersionVector;
  readonly horizon: VersionVector;
  readonly logBytes: number;
  readonly logMaxBytes: number;
  /** The oldest log entries, up to about `bytes`. */
  readonly oldest: (bytes: number) => readonly LogEntry[];
}

/** The new horizon, or undefined when nothing should be dropped. */
export function planCompaction(input: CompactionInput): VersionVector | undefined {
  let cut = meet(input.known);
  if (input.logBytes > input.logMaxBytes) {
    for (const e of input.oldest(input.logBytes - input.logMaxBytes / 2)) cut = withDot(cut, e.origin, e.seq);
  }
  // Never past what this replica has applied: the horizon only describes its own log.
  const bounded: Record<string, number> = {};
  for (const m of Object.keys(cut) as MemberId[]) {
    const seq = Math.min(cut[m]!, get(input.vv, m));
    if (seq > 0) bounded[m] = seq;
  }
  const next = merge(input.horizon, bounded as VersionVector);
  return equals(next, input.horizon) ? undefined : next;
}
