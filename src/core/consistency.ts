/**
 * Consistency levels and what each one requires (DESIGN.md, "Consistency"). The objects ask
 * these questions instead of branching on level names themselves.
 */
import { InvalidConsistencyError, PreconditionNeedsStrongError } from './errors.js';

export const LEVELS = ['eventual', 'session', 'quorum', 'strong'] as const;
export type Level = (typeof LEVELS)[number];

/** The `Consistency` header or `consistency=` query value; absent means `eventual`. */
export function parseLevel(value: string | null | undefined): Level {
  if (value === null || value === undefined || value === '') return 'eventual';
  const v = value.trim().toLowerCase();
  if ((LEVELS as readonly string[]).includes(v)) return v as Level;
  throw new InvalidConsistencyError(`unknown consistency level ${JSON.stringify(value)}; use one of ${LEVELS.join(', ')}`);
}

/** Reads that must be answered by the shard's leader after it merged a majority's state. */
export const readAtLeader = (level: Level): boolean => level === 'quorum' || level === 'strong';

/** Writes the leader orders (strong) versus those any member accepts. */
export const writeAtLeader = (level: Level): boolean => level === 'strong';

/** Writes acknowledged only once a majority holds them durably. */
export const writeNeedsMajority = (level: Level): boolean => level === 'quorum' || level === 'strong';

/**
 * Preconditions (`If-Match`, `min`/`max` guards) need one order of all writes that could
 * break them, which only the leader's strong path has.
 * @throws PreconditionNeedsStrongError at any other level.
 */
export function checkPreconditionsAllowed(level: Level, has: { ifMatch: boolean; guards: boolean }): void {
  if (level === 'strong' || (!has.ifMatch && !has.guards)) return;
  const what = has.ifMatch ? 'If-Match' : 'increment guards (min/max)';
  throw new PreconditionNeedsStrongError(`${what} can only be honoured at consistency strong, not ${level}`);
}
