/**
 * What a member knows of one document's awareness (presence): each client's latest clock and
 * state, by the rules of y-protocols' `applyAwarenessUpdate`. An entry counts only when its
 * clock is newer than the one known, or it removes a state at the same clock.
 *
 * @remarks The stock `WebsocketProvider` sends every awareness change back to its server,
 * including the states of other clients it has just received. Relaying those echoes would
 * multiply every presence update by the number of clients. Only entries that change this
 * table are relayed, and a client counts as a socket's own only when that socket introduced it.
 */
import type { AwarenessEntry } from './y-protocol.js';

interface Known extends AwarenessEntry {
  /** When it was last updated (ms), for expiry. */
  readonly at: number;
}

export class AwarenessTable {
  private readonly clients = new Map<number, Known>();

  /**
   * Applies `entries` at time `now`.
   * @returns `accepted`: the entries that changed the table, which is what to relay; `added`:
   * the ids of clients this table did not know (or knew as gone) that now have a state.
   */
  apply(entries: readonly AwarenessEntry[], now: number): { accepted: AwarenessEntry[]; added: number[] } {
    const accepted: AwarenessEntry[] = [];
    const added: number[] = [];
    for (const e of entries) {
      const known = this.clients.get(e.clientID);
      const removes = e.state === 'null';
      const newer = !known || e.clock > known.clock || (e.clock === known.clock && removes && known.state !== 'null');
      if (!newer) continue;
      if (!removes && (!known || known.state === 'null')) added.push(e.clientID);
      this.clients.set(e.clientID, { ...e, at: now });
      accepted.push(e);
    }
    return { accepted, added };
  }

  /**
   * The clients with a state, updated within `maxAgeMs` of `now` (clients renew theirs every
   * 15 s, y-protocols drops them after 30 s). Older entries, and removals, are forgotten.
   */
  present(now: number, maxAgeMs: number): AwarenessEntry[] {
    const out: AwarenessEntry[] = [];
    for (const [id, e] of this.clients) {
      if (now - e.at > maxAgeMs) this.clients.delete(id);
      else if (e.state !== 'null') out.push({ clientID: e.clientID, clock: e.clock, state: e.state });
    }
    return out;
  }

  /** The latest known entry of a client. */
  get(clientID: number): AwarenessEntry | undefined {
    return this.clients.get(clientID);
  }

  get size(): number {
    return this.clients.size;
  }
}
