/**
 * The {@link Storage} port on a Durable Object's SQLite database.
 *
 * @remarks A commit is one `transactionSync`, so a log entry and the document state it
 * changes land together or not at all. SQLite rows are limited to 2 MB, so any value above
 * {@link PART_BYTES} is split into rows of the `parts` table, and a document or entry can be
 * as large as the object's storage allows. Vectors are small and stored as JSON text.
 */
import type { DocKey, MemberId } from '../core/ids.js';
import type { EngineName } from '../core/engines/engine.js';
import { type EntryKind, type EntryRequest, entrySize, type LogEntry } from '../core/log.js';
import type { Commit, DocMeta, LogScan, ReplicaMeta, Storage, StoredOutcome, StoredState } from '../core/storage.js';
import { get, leq, members, type VersionVector } from '../core/version-vector.js';

/** Values above this size are stored in parts (the SQLite row limit is 2 MB). */
export const PART_BYTES = 1024 * 1024;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (id INTEGER PRIMARY KEY CHECK (id = 1), json TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS docs (doc TEXT PRIMARY KEY, json TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS states (
  doc TEXT NOT NULL, engine TEXT NOT NULL, idx INTEGER NOT NULL, parts INTEGER NOT NULL, data BLOB,
  PRIMARY KEY (doc, engine, idx));
CREATE TABLE IF NOT EXISTS log (
  lsn INTEGER PRIMARY KEY AUTOINCREMENT, origin TEXT NOT NULL, seq INTEGER NOT NULL, doc TEXT NOT NULL,
  engine TEXT NOT NULL, kind TEXT NOT NULL, hlc INTEGER NOT NULL, deps TEXT NOT NULL, size INTEGER NOT NULL,
  parts INTEGER NOT NULL, data BLOB);
CREATE INDEX IF NOT EXISTS log_by_origin ON log (origin, seq);
CREATE TABLE IF NOT EXISTS parts (owner TEXT NOT NULL, part INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (owner, part));
CREATE TABLE IF NOT EXISTS outcomes (
  doc TEXT NOT NULL, id TEXT NOT NULL, fingerprint TEXT NOT NULL, expires INTEGER NOT NULL, response TEXT NOT NULL,
  status INTEGER, PRIMARY KEY (doc, id));
CREATE INDEX IF NOT EXISTS outcomes_by_expiry ON outcomes (expires);
`;

type Row = Record<string, SqlStorageValue>;

/**
 * Entries truncated only in memory (see {@link SqliteStorage.commit}) are deleted from the
 * table once this many have gathered, or this many bytes.
 */
const LAZY_TRUNCATE_ENTRIES = 256;
const LAZY_TRUNCATE_BYTES = 256 * 1024;

/** One origin's entries in the log, in sequence order: what truncation drops, without a query. */
interface OriginLog {
  /** Entries at or above `head` are live. */
  readonly seqs: number[];
  readonly sizes: number[];
  /** The `lsn` of entries stored in parts (their parts go with them), by sequence number. */
  readonly chunked: Map<number, number>;
  head: number;
  /** Entries up to this sequence number are truncated but may still be rows of the table. */
  lazyUpTo: number;
}

export class SqliteStorage implements Storage {
  private readonly sql: SqlStorage;
  /**
   * The log's size and its origins, kept beside the table: counting or scanning the log on
   * every message cost a full table scan each time.
   */
  private size: { entries: number; bytes: number };
  /** Every origin's entries, as the table holds them. */
  private readonly logs = new Map<MemberId, OriginLog>();
  /** Entries truncated in memory but still rows of the table. */
  private lazy = { entries: 0, bytes: 0 };
  /** The next increment's index of each document state written since start (spares a `max(idx)` per write). */
  private readonly nextIdx = new Map<string, number>();
  /** The newest meta committed, and the same if its writing was put off (see {@link commit}). */
  private latest: ReplicaMeta | undefined;
  private unwritten: ReplicaMeta | undefined;

  constructor(private readonly storage: DurableObjectStorage) {
    this.sql = storage.sql;
    this.sql.exec(SCHEMA);
    // Logs created before entries carried their request (Idempotency-Key) gain the column.
    const columns = this.sql.exec<{ name: string }>('PRAGMA table_info(log)').toArray();
    if (!columns.some((c) => c.name === 'request')) this.sql.exec('ALTER TABLE log ADD COLUMN request TEXT');
    this.size = { entries: 0, bytes: 0 };
    this.reload();
  }

  /**
   * Rebuilds what is kept beside the log table from the table and the committed horizon:
   * rows at or below it were truncated only in memory before a restart (or a failed commit)
   * and stay truncated.
   */
  private reload(): void {
    this.logs.clear();
    this.nextIdx.clear();
    this.size = { entries: 0, bytes: 0 };
    this.lazy = { entries: 0, bytes: 0 };
    const rows = this.sql.exec<{ origin: string; seq: number; size: number; lsn: number; parts: number }>(
      'SELECT origin, seq, size, lsn, parts FROM log ORDER BY origin, seq',
    );
    for (const r of rows) {
      this.track(r.origin as MemberId, r.seq, r.size, r.parts > 1 ? r.lsn : undefined);
      this.size.entries++;
      this.size.bytes += r.size;
    }
    const horizon = this.loadMeta()?.horizon;
    if (horizon) this.truncateInMemory(horizon);
  }

  /** Adds an entry to its origin's list, in sequence order. */
  private track(origin: MemberId, seq: number, size: number, chunkedLsn: number | undefined): void {
    let log = this.logs.get(origin);
    if (!log) this.logs.set(origin, (log = { seqs: [], sizes: [], chunked: new Map(), head: 0, lazyUpTo: 0 }));
    let at = log.seqs.length;
    while (at > log.head && log.seqs[at - 1]! > seq) at--;
    log.seqs.splice(at, 0, seq);
    log.sizes.splice(at, 0, size);
    if (chunkedLsn !== undefined) log.chunked.set(seq, chunkedLsn);
  }

  loadMeta(): ReplicaMeta | undefined {
    if (this.unwritten) return this.unwritten;
    const row = this.sql.exec<{ json: string }>('SELECT json FROM meta WHERE id = 1').toArray()[0];
    return row && (JSON.parse(row.json) as ReplicaMeta);
  }

  loadDocs(): DocMeta[] {
    return this.sql.exec<{ json: string }>('SELECT json FROM docs').toArray().map((r) => JSON.parse(r.json) as DocMeta);
  }

  loadState(doc: DocKey, engine: EngineName): StoredState | undefined {
    const rows = this.sql
      .exec<Row>('SELECT idx, parts, data FROM states WHERE doc = ? AND engine = ? ORDER BY idx', doc, engine)
      .toArray();
    if (rows.length === 0) return undefined;
    let snapshot: Uint8Array | undefined;
    const increments: Uint8Array[] = [];
    for (const r of rows) {
      const value = this.readValue(stateOwner(doc, engine, r['idx'] as number), r);
      if (r['idx'] === 0) snapshot = value;
      else increments.push(value);
    }
    return { snapshot, increments };
  }

  /**
   * One index range per origin (what `vv` lacks of it), merged in log order: the cost is the
   * entries returned, not the log's length.
   */
  scanLog(vv: VersionVector, maxBytes: number): LogScan {
    const heads: { row: Row; rest: Iterator<Row> }[] = [];
    for (const [origin, log] of this.logs) {
      if (log.head >= log.seqs.length) continue;
      // Rows truncated in memory only are not in the log any more.
      const after = Math.max(get(vv, origin), log.lazyUpTo);
      const rest = this.sql.exec<Row>('SELECT * FROM log WHERE origin = ? AND seq > ? ORDER BY seq', origin, after)[Symbol.iterator]();
      const first = rest.next();
      if (!first.done) heads.push({ row: first.value, rest });
    }
    const entries: LogEntry[] = [];
    let bytes = 0;
    while (heads.length > 0) {
      let at = 0;
      for (let i = 1; i < heads.length; i++) if ((heads[i]!.row['lsn'] as number) < (heads[at]!.row['lsn'] as number)) at = i;
      const head = heads[at]!;
      const size = head.row['size'] as number;
      if (entries.length > 0 && bytes + size > maxBytes) return { entries, more: true };
      entries.push(this.readEntry(head.row));
      bytes += size;
      const next = head.rest.next();
      if (next.done) heads.splice(at, 1);
      else head.row = next.value;
    }
    return { entries, more: false };
  }

  loadOutcome(doc: DocKey, id: string): StoredOutcome | undefined {
    const row = this.sql
      .exec<{ fingerprint: string; expires: number; response: string; status: number | null }>(
        'SELECT fingerprint, expires, response, status FROM outcomes WHERE doc = ? AND id = ?', doc, id,
      )
      .toArray()[0];
    if (!row) return undefined;
    const { fingerprint, expires, response, status } = row;
    return { doc, id, fingerprint, expires, response, ...(status !== null && { status }), ...(response === '' && { replicated: true }) };
  }

  logSize(): { entries: number; bytes: number } {
    return { ...this.size };
  }

  /**
   * @remarks Truncation is mostly done in memory: the entries at or below `truncate` leave the
   * log's counts and scans at once, and their rows are deleted by a later commit, once
   * {@link LAZY_TRUNCATE_ENTRIES} have gathered. Compaction truncates a little on nearly every
   * message, and the statements of each truncation were a tenth of a member's time. Such rows
   * are always at or below the committed horizon, so a restart knows them; a commit that
   * truncates past its own meta's horizon (or without a meta) deletes the rows at once.
   *
   * A commit that only moves the horizon (what a push's answer does when peers have caught
   * up: most of a sender's commits) writes nothing: its meta is written with the next
   * transaction. A restart before then finds the previous horizon, and the rows above it are
   * still there, since rows are only deleted in a transaction that writes the newest meta;
   * what peers were known to have is re-learned by gossip.
   *
   * What is kept beside the table is updated as the transaction goes and rebuilt from the
   * table if the transaction fails.
   */
  commit(c: Commit): void {
    if (this.onlyMovesHorizon(c)) {
      this.truncateInMemory(c.truncate!);
      if (this.lazy.entries < LAZY_TRUNCATE_ENTRIES && this.lazy.bytes < LAZY_TRUNCATE_BYTES) {
        this.latest = this.unwritten = c.meta;
        return;
      }
    }
    const meta = c.meta ?? this.unwritten;
    try {
      this.storage.transactionSync(() => {
        // Upserts, not REPLACE: a replaced row is deleted and inserted again, index and all.
        if (meta) this.sql.exec('INSERT INTO meta (id, json) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET json = excluded.json', JSON.stringify(meta));
        for (const e of c.append ?? []) {
          // An entry at or below a truncation still in memory would be hidden by it: those rows go first.
          if (e.seq <= (this.logs.get(e.origin)?.lazyUpTo ?? 0)) this.deleteLazy();
          const { lsn, chunked } = this.appendEntry(e);
          const size = entrySize(e);
          this.track(e.origin, e.seq, size, chunked ? lsn : undefined);
          this.size.entries++;
          this.size.bytes += size;
        }
        for (const d of c.docs ?? []) {
          this.sql.exec('INSERT INTO docs (doc, json) VALUES (?, ?) ON CONFLICT (doc) DO UPDATE SET json = excluded.json', d.doc, JSON.stringify(d));
        }
        for (const { doc, write } of c.states ?? []) {
          const key = stateKey(doc, write.engine);
          if ('snapshot' in write) {
            this.deleteStates(doc, write.engine);
            this.insertState(doc, write.engine, 0, write.snapshot);
            this.nextIdx.set(key, 1);
          } else {
            const next =
              this.nextIdx.get(key) ??
              this.sql.exec<{ n: number }>('SELECT coalesce(max(idx), 0) + 1 AS n FROM states WHERE doc = ? AND engine = ?', doc, write.engine).one().n;
            this.insertState(doc, write.engine, next, write.increment);
            this.nextIdx.set(key, next + 1);
          }
        }
        if (c.truncate) {
          this.truncateInMemory(c.truncate);
          const lazy = c.meta !== undefined && leq(c.truncate, c.meta.horizon);
          if (!lazy || this.lazy.entries >= LAZY_TRUNCATE_ENTRIES || this.lazy.bytes >= LAZY_TRUNCATE_BYTES) this.deleteLazy();
        }
        for (const o of c.outcomes ?? []) {
          this.sql.exec(
            `INSERT OR ${o.replicated ? 'IGNORE' : 'REPLACE'} INTO outcomes (doc, id, fingerprint, expires, response, status) VALUES (?, ?, ?, ?, ?, ?)`,
            o.doc, o.id, o.fingerprint, o.expires, o.response, o.status ?? null,
          );
        }
        if (c.expireOutcomes !== undefined) this.sql.exec('DELETE FROM outcomes WHERE expires < ?', c.expireOutcomes);
      });
      this.unwritten = undefined;
      if (c.meta) this.latest = c.meta;
    } catch (err) {
      try {
        this.reload();
      } catch {
        // The object is being reset: nothing will read these counts again.
      }
      throw err;
    }
  }

  /**
   * True for a commit of a meta that differs from the newest only in its horizon (and what
   * peers are known to have), truncating no further than that horizon.
   */
  private onlyMovesHorizon(c: Commit): boolean {
    const last = this.latest;
    return (
      last !== undefined && c.meta !== undefined && c.truncate !== undefined &&
      !c.append?.length && !c.docs?.length && !c.states?.length && !c.outcomes?.length && c.expireOutcomes === undefined &&
      c.meta.vv === last.vv && c.meta.hlc === last.hlc && c.meta.transfer === last.transfer &&
      leq(c.truncate, c.meta.horizon)
    );
  }

  /** Drops the entries at or below `upTo` from the counts and scans; their rows stay until {@link deleteLazy}. */
  private truncateInMemory(upTo: VersionVector): void {
    for (const m of members(upTo)) {
      const log = this.logs.get(m);
      if (!log) continue;
      const start = log.head;
      while (log.head < log.seqs.length && log.seqs[log.head]! <= upTo[m]!) {
        this.size.bytes -= log.sizes[log.head]!;
        this.lazy.bytes += log.sizes[log.head]!;
        log.head++;
      }
      if (log.head === start) continue;
      this.size.entries -= log.head - start;
      this.lazy.entries += log.head - start;
      log.lazyUpTo = log.seqs[log.head - 1]!;
    }
  }

  /** Deletes the rows of the entries truncated in memory only. */
  private deleteLazy(): void {
    for (const [m, log] of this.logs) {
      if (log.head === 0) continue;
      const upTo = log.lazyUpTo;
      for (const [seq, lsn] of log.chunked) {
        if (seq > upTo) continue;
        this.sql.exec('DELETE FROM parts WHERE owner = ?', logOwner(lsn));
        log.chunked.delete(seq);
      }
      this.sql.exec('DELETE FROM log WHERE origin = ? AND seq <= ?', m, upTo);
      log.seqs.splice(0, log.head);
      log.sizes.splice(0, log.head);
      log.head = 0;
      log.lazyUpTo = 0;
    }
    this.lazy = { entries: 0, bytes: 0 };
  }

  private appendEntry(e: LogEntry): { lsn: number; chunked: boolean } {
    const parts = partsOf(e.data);
    const args = [
      e.origin, e.seq, e.doc, e.engine, e.kind, e.hlc, JSON.stringify(e.deps), entrySize(e), parts.length,
      parts.length === 1 ? parts[0]! : null, e.request ? JSON.stringify(e.request) : null,
    ];
    const insert = 'INSERT INTO log (origin, seq, doc, engine, kind, hlc, deps, size, parts, data, request) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)';
    // Only an entry stored in parts needs its lsn (its parts are named by it).
    if (parts.length === 1) {
      this.sql.exec(insert, ...args);
      return { lsn: 0, chunked: false };
    }
    const { lsn } = this.sql.exec<{ lsn: number }>(`${insert} RETURNING lsn`, ...args).one();
    this.writeParts(logOwner(lsn), parts);
    return { lsn, chunked: true };
  }

  private insertState(doc: DocKey, engine: EngineName, idx: number, value: Uint8Array): void {
    const parts = partsOf(value);
    this.sql.exec(
      'INSERT INTO states (doc, engine, idx, parts, data) VALUES (?, ?, ?, ?, ?)',
      doc, engine, idx, parts.length, parts.length === 1 ? parts[0]! : null,
    );
    if (parts.length > 1) this.writeParts(stateOwner(doc, engine, idx), parts);
  }

  private deleteStates(doc: DocKey, engine: EngineName): void {
    const chunked = this.sql.exec<{ idx: number }>('SELECT idx FROM states WHERE doc = ? AND engine = ? AND parts > 1', doc, engine);
    for (const { idx } of chunked.toArray()) this.sql.exec('DELETE FROM parts WHERE owner = ?', stateOwner(doc, engine, idx));
    this.sql.exec('DELETE FROM states WHERE doc = ? AND engine = ?', doc, engine);
  }

  private writeParts(owner: string, parts: Uint8Array[]): void {
    parts.forEach((p, i) => this.sql.exec('INSERT INTO parts (owner, part, data) VALUES (?, ?, ?)', owner, i, p));
  }

  private readValue(owner: string, row: Row): Uint8Array {
    if ((row['parts'] as number) <= 1) return bytes(row['data']);
    const parts = this.sql.exec<{ data: ArrayBuffer }>('SELECT data FROM parts WHERE owner = ? ORDER BY part', owner).toArray();
    const out = new Uint8Array(parts.reduce((n, p) => n + p.data.byteLength, 0));
    let at = 0;
    for (const p of parts) {
      out.set(new Uint8Array(p.data), at);
      at += p.data.byteLength;
    }
    return out;
  }

  private readEntry(row: Row): LogEntry {
    return {
      origin: row['origin'] as MemberId,
      seq: row['seq'] as number,
      doc: row['doc'] as DocKey,
      engine: row['engine'] as EngineName,
      kind: row['kind'] as EntryKind,
      hlc: row['hlc'] as number,
      deps: JSON.parse(row['deps'] as string) as VersionVector,
      data: this.readValue(logOwner(row['lsn'] as number), row),
      ...(typeof row['request'] === 'string' && { request: JSON.parse(row['request']) as EntryRequest }),
    };
  }
}

const stateOwner = (doc: DocKey, engine: EngineName, idx: number): string => `s\u0001${engine}\u0001${idx}\u0001${doc}`;
const logOwner = (lsn: number): string => `l\u0001${lsn}`;
const stateKey = (doc: DocKey, engine: EngineName): string => `${engine}\u0001${doc}`;

function partsOf(value: Uint8Array): Uint8Array[] {
  if (value.length <= PART_BYTES) return [value];
  const out: Uint8Array[] = [];
  for (let i = 0; i < value.length; i += PART_BYTES) out.push(value.subarray(i, i + PART_BYTES));
  return out;
}

function bytes(v: SqlStorageValue | undefined): Uint8Array {
  return v instanceof ArrayBuffer ? new Uint8Array(v) : new Uint8Array(0);
}
