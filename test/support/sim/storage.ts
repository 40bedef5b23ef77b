/**
 * A member's storage in the simulator: {@link MemoryStorage} (what survives a crash) with
 * seeded commit faults, and a record of every entry this member originated, which is how the
 * checker learns of each write that exists, whether or not its client was told.
 *
 * Faults, drawn per commit at `faultRate`:
 * - `fail`: the commit throws before anything is applied (a full disk, a storage error). The
 *   replica must throw too and stay usable: memory equal to storage.
 * - `crash-before` / `crash-after`: the process dies inside the commit. Storage is atomic, so
 *   the commit either lands fully or not at all, and the member is gone before its memory is
 *   updated; the simulator then crashes it.
 */
import type { MemberId } from '../../../src/core/ids.js';
import type { LogEntry } from '../../../src/core/log.js';
import type { Random } from '../../../src/core/ports.js';
import { MemoryStorage } from '../../../src/core/storage-memory.js';
import type { Commit } from '../../../src/core/storage.js';

/** The storage refused a commit; nothing of it was applied. */
export class CommitFailure extends Error {
  constructor() {
    super('simulated commit failure');
  }
}

/** The member died inside a commit (which landed or not, as `landed` says). */
export class SimCrash extends Error {
  constructor(readonly landed: boolean) {
    super(`simulated crash inside a commit (${landed ? 'after' : 'before'} it landed)`);
  }
}

export class SimStorage extends MemoryStorage {
  /** Entries this member originated, in commit order: every write of this member that exists. */
  readonly own: LogEntry[] = [];
  /** Probability that one commit fails or crashes; 0 outside the chaos phase. */
  faultRate = 0;
  failures = 0;
  crashes = 0;

  constructor(private readonly self: MemberId, private readonly random: Random) {
    super();
  }

  override commit(c: Commit): void {
    const roll = this.faultRate > 0 && this.random.next() < this.faultRate ? this.random.next() : 1;
    if (roll < 0.4) {
      this.failures++;
      throw new CommitFailure();
    }
    if (roll < 0.7) {
      this.crashes++;
      throw new SimCrash(false);
    }
    super.commit(c);
    for (const e of c.append ?? []) if (e.origin === this.self) this.own.push(e);
    if (roll < 1) {
      this.crashes++;
      throw new SimCrash(true);
    }
  }
}
