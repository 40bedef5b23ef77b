/**
 * Changing a shard's members (`REGIONS`) between deploys. While a deploy rolls out, some
 * members run the old list and some the new, each counting majorities of its own list. One
 * region added or removed at a time is safe (Raft's single-server changes): any majority of
 * the old list and any majority of the new share a member, which votes once per epoch and
 * holds every acknowledged write. Two or more at once are not: a partition between the members
 * on each list can elect a leader on each side in one epoch (test/core/election.test.ts).
 */
export interface RegionsChange {
  readonly added: readonly string[];
  readonly removed: readonly string[];
  /** At most one region added or removed (or a member's first start, with nothing stored). */
  readonly safe: boolean;
}

/** The change from `before` (the list a member last ran with; undefined for a new member) to `after`. */
export function regionsChange(before: readonly string[] | undefined, after: readonly string[]): RegionsChange {
  if (!before) return { added: [], removed: [], safe: true };
  const added = after.filter((r) => !before.includes(r));
  const removed = before.filter((r) => !after.includes(r));
  return { added, removed, safe: added.length + removed.length <= 1 };
}
