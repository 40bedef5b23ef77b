/**
 * Local persistence in IndexedDB, shared by every tab of an origin.
 *
 * Uses `idb` (Jake Archibald's promise wrapper, about 1.2 kB, maintained, no dependencies)
 * rather than a CRDT-specific store: `y-indexeddb` serves Yjs alone and keeps no outbox, and
 * automerge-repo's adapter comes with automerge-repo's document ids, which this API does not
 * use. `idb` keeps IndexedDB's own transactions visible, and the multi-tab design rests on them.
 *
 * Object stores (one database per server, `concord:<origin>` unless named):
 * - `log` (auto-increment `id`, index `doc`): engine-native update rows of each document:
 *   Yjs updates, Automerge changes or saved chunks. Append-only; compaction replaces a
 *   document's rows by one merged snapshot in one transaction.
 * - `outbox` (auto-increment `id`, indexes `doc` and unique `key`): local updates the server
 *   has not acknowledged, each with its own `Idempotency-Key` (`key`). Appended in the same
 *   transaction as their log row, so a reader in another tab never sees one without the other.
 * - `meta` (key `doc`): the engine, the newest `Concord-Token`, Automerge's sync state.
 *
 * Concurrency between tabs: IndexedDB runs readwrite transactions over overlapping stores one
 * at a time, in the order they were created. Appends never overwrite anything (the CRDT merge
 * makes rows from several tabs commute), and compaction reads a document's rows, merges them
 * and deletes exactly the ids it merged, all in one transaction: a row another tab appends
 * commits either before it (and is merged) or after it (and is left alone).
 */
import { type DBSchema, type IDBPDatabase, wrap } from 'idb';

export type EngineName = 'automerge' | 'yjs';

export interface LogRow {
  id?: number;
  doc: string;
  data: Uint8Array;
  /** A merged snapshot written by compaction (for diagnostics). */
  snapshot?: boolean;
}

export interface OutboxRow {
  id?: number;
  doc: string;
  /** The `Idempotency-Key` of this update's HTTP POST. */
  key: string;
  data: Uint8Array;
  /** The log row holding the same update. */
  logId: number;
  /** The update's change hash (Automerge; empty for Yjs), kept so that opening need not decode it. */
  hash?: string;
}

export interface MetaRow {
  doc: string;
  engine?: EngineName;
  /** The newest `Concord-Token` received for this document. */
  token?: string;
  /** Automerge's sync state with the server (`encodeSyncState`): resumes from shared heads. */
  syncState?: Uint8Array;
}

interface Schema extends DBSchema {
  log: { key: number; value: LogRow; indexes: { doc: string } };
  outbox: { key: number; value: OutboxRow; indexes: { doc: string; key: string } };
  meta: { key: string; value: MetaRow };
}

const VERSION = 1;

/** A document's id in the store: namespace and key, NUL-separated (neither may hold control characters). */
export const docId = (ns: string, key: string): string => `${ns}\u0000${key}`;

export interface Loaded {
  rows: LogRow[];
  outbox: OutboxRow[];
}

export class Store {
  private constructor(private readonly db: IDBPDatabase<Schema>) {}

  static async open(factory: IDBFactory, name: string): Promise<Store> {
    const request = factory.open(name, VERSION);
    request.addEventListener('upgradeneeded', () => {
      const db = request.result;
      if (!db.objectStoreNames.contains('log')) {
        db.createObjectStore('log', { keyPath: 'id', autoIncrement: true }).createIndex('doc', 'doc');
      }
      if (!db.objectStoreNames.contains('outbox')) {
        const outbox = db.createObjectStore('outbox', { keyPath: 'id', autoIncrement: true });
        outbox.createIndex('doc', 'doc');
        outbox.createIndex('key', 'key', { unique: true });
      }
      if (!db.objectStoreNames.contains('meta')) db.createObjectStore('meta', { keyPath: 'doc' });
    });
    const db = (await wrap(request)) as unknown as IDBPDatabase<Schema>;
    // Another tab upgrading the schema: let it, this connection is done.
    db.addEventListener('versionchange', () => db.close());
    return new Store(db);
  }

  close(): void {
    this.db.close();
  }

  /**
   * Appends one update to `doc`'s log and, when `outboxKey` is given, to its outbox, in one
   * transaction. Resolves with the log row's id.
   */
  async append(doc: string, data: Uint8Array, outboxKey?: string, hash?: string): Promise<number> {
    const tx = this.db.transaction(outboxKey === undefined ? ['log'] : ['log', 'outbox'], 'readwrite');
    tx.done.catch(() => {}); // a failed request aborts the transaction: the caller hears of it from that request
    const logId = await tx.objectStore('log').add({ doc, data });
    if (outboxKey !== undefined) await tx.objectStore('outbox').add({ doc, key: outboxKey, data, logId, ...(hash !== undefined && { hash }) });
    await tx.done;
    return logId;
  }

  /** `doc`'s log rows with an id above `after`, and its whole outbox, read in one transaction (a consistent snapshot). */
  async load(doc: string, after = 0): Promise<Loaded> {
    const tx = this.db.transaction(['log', 'outbox'], 'readonly');
    const log = tx.objectStore('log');
    const ids = (await log.index('doc').getAllKeys(doc)).filter((id) => id > after);
    const rows: LogRow[] = [];
    for (const id of ids) {
      const row = await log.get(id);
      if (row) rows.push(row);
    }
    const outbox = await tx.objectStore('outbox').index('doc').getAll(doc);
    await tx.done;
    return { rows, outbox };
  }

  /** `doc`'s outbox, oldest first. */
  async outbox(doc: string): Promise<OutboxRow[]> {
    return this.db.getAllFromIndex('outbox', 'doc', doc);
  }

  /** Removes the outbox rows with these idempotency keys (acknowledged by the server); unknown keys are ignored. */
  async acknowledge(keys: readonly string[]): Promise<number> {
    if (keys.length === 0) return 0;
    const tx = this.db.transaction('outbox', 'readwrite');
    const index = tx.store.index('key');
    let removed = 0;
    for (const key of keys) {
      const id = await index.getKey(key);
      if (id !== undefined) {
        await tx.store.delete(id);
        removed++;
      }
    }
    await tx.done;
    return removed;
  }

  /** How many log rows `doc` has. */
  async logSize(doc: string): Promise<number> {
    return this.db.countFromIndex('log', 'doc', doc);
  }

  /**
   * Replaces `doc`'s log rows by one row, `merge` of their data (in id order), in one
   * readwrite transaction that deletes exactly the rows it merged. `merge` must be
   * synchronous: a transaction commits as soon as nothing is pending on it. Resolves with
   * the ids merged and the new row's id, or undefined when there were fewer than two rows.
   */
  async compact(doc: string, merge: (data: Uint8Array[]) => Uint8Array): Promise<{ merged: number[]; id: number } | undefined> {
    const tx = this.db.transaction('log', 'readwrite');
    const rows = await tx.store.index('doc').getAll(doc);
    if (rows.length < 2) {
      await tx.done;
      return undefined;
    }
    const merged = rows.map((r) => r.id!);
    const data = merge(rows.map((r) => r.data));
    for (const id of merged) await tx.store.delete(id);
    const id = await tx.store.add({ doc, data, snapshot: true });
    await tx.done;
    return { merged, id };
  }

  async meta(doc: string): Promise<MetaRow> {
    return (await this.db.get('meta', doc)) ?? { doc };
  }

  /** Sets fields of `doc`'s meta row (read and written in one transaction). */
  async updateMeta(doc: string, fields: Partial<Omit<MetaRow, 'doc'>>): Promise<void> {
    const tx = this.db.transaction('meta', 'readwrite');
    const row = (await tx.store.get(doc)) ?? { doc };
    await tx.store.put({ ...row, ...fields, doc });
    await tx.done;
  }
}
