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
import { get, members, type VersionVector } from '../core/version-vector.js';

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

export class SqliteStorage implements Storage {
  private readonly sql: SqlStorage;
  /**
   * The log's size and its origins, kept beside the table: counting or scanning the log on
   * every message cost a full table scan each time.
   */
  private size: { entries: number; bytes: number };
  private readonly origins: Set<MemberId>;

  constructor(private readonly storage: DurableObjectStorage) {
    this.sql = storage.sql;
    this.sql.exec(SCHEMA);
    // Logs created before entries carried their request (Idempotency-Key) gain the column.
    const columns = this.sql.exec<{ name: string }>('PRAGMA table_info(log)').toArray();
    if (!columns.some((c) => c.name === 'request')) this.sql.exec('ALTER TABLE log ADD COLUMN request TEXT');
    const r = this.sql.exec<{ n: number; b: number }>('SELECT count(*) AS n, coalesce(sum(size), 0) AS b FROM log').one();
    this.size = { entries: r.n, bytes: r.b };
    this.origins = new Set(this.sql.exec<{ origin: string }>('SELECT DISTINCT origin FROM log').toArray().map((o) => o.origin as MemberId));
  }

  loadMeta(): ReplicaMeta | undefined {
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
    for (const origin of this.origins) {
      const rest = this.sql.exec<Row>('SELECT * FROM log WHERE origin = ? AND seq > ? ORDER BY seq', origin, get(vv, origin))[Symbol.iterator]();
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

  commit(c: Commit): void {
    // The log's counters change only once the transaction has landed.
    const delta = { entries: 0, bytes: 0 };
    this.storage.transactionSync(() => {
      if (c.meta) this.sql.exec('INSERT OR REPLACE INTO meta (id, json) VALUES (1, ?)', JSON.stringify(c.meta));
      for (const e of c.append ?? []) {
        this.appendEntry(e);
        delta.entries++;
        delta.bytes += entrySize(e);
      }
      for (const d of c.docs ?? []) this.sql.exec('INSERT OR REPLACE INTO docs (doc, json) VALUES (?, ?)', d.doc, JSON.stringify(d));
      for (const { doc, write } of c.states ?? []) {
        if ('snapshot' in write) {
          this.deleteStates(doc, write.engine);
          this.insertState(doc, write.engine, 0, write.snapshot);
        } else {
          const next = this.sql
            .exec<{ n: number }>('SELECT coalesce(max(idx), 0) + 1 AS n FROM states WHERE doc = ? AND engine = ?', doc, write.engine)
            .one().n;
          this.insertState(doc, write.engine, next, write.increment);
        }
      }
      if (c.truncate) {
        const gone = this.truncate(c.truncate);
        delta.entries -= gone.entries;
        delta.bytes -= gone.bytes;
      }
      for (const o of c.outcomes ?? []) {
        this.sql.exec(
          `INSERT OR ${o.replicated ? 'IGNORE' : 'REPLACE'} INTO outcomes (doc, id, fingerprint, expires, response, status) VALUES (?, ?, ?, ?, ?, ?)`,
          o.doc, o.id, o.fingerprint, o.expires, o.response, o.status ?? null,
        );
      }
      if (c.expireOutcomes !== undefined) this.sql.exec('DELETE FROM outcomes WHERE expires < ?', c.expireOutcomes);
    });
    this.size = { entries: this.size.entries + delta.entries, bytes: this.size.bytes + delta.bytes };
    for (const e of c.append ?? []) this.origins.add(e.origin);
  }

  private appendEntry(e: LogEntry): void {
    const parts = partsOf(e.data);
    const row = this.sql
      .exec<{ lsn: number }>(
        'INSERT INTO log (origin, seq, doc, engine, kind, hlc, deps, size, parts, data, request) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING lsn',
        e.origin, e.seq, e.doc, e.engine, e.kind, e.hlc, JSON.stringify(e.deps), entrySize(e), parts.length,
        parts.length === 1 ? parts[0]! : null, e.request ? JSON.stringify(e.request) : null,
      )
      .one();
    if (parts.length > 1) this.writeParts(logOwner(row.lsn), parts);
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

  /** Drops entries at or below `upTo`; answers what was dropped. */
  private truncate(upTo: VersionVector): { entries: number; bytes: number } {
    const gone = { entries: 0, bytes: 0 };
    for (const m of members(upTo)) {
      const r = this.sql
        .exec<{ n: number; b: number }>('SELECT count(*) AS n, coalesce(sum(size), 0) AS b FROM log WHERE origin = ? AND seq <= ?', m, upTo[m]!)
        .one();
      if (r.n === 0) continue;
      gone.entries += r.n;
      gone.bytes += r.b;
      const chunked = this.sql.exec<{ lsn: number }>('SELECT lsn FROM log WHERE origin = ? AND seq <= ? AND parts > 1', m, upTo[m]!);
      for (const { lsn } of chunked.toArray()) this.sql.exec('DELETE FROM parts WHERE owner = ?', logOwner(lsn));
      this.sql.exec('DELETE FROM log WHERE origin = ? AND seq <= ?', m, upTo[m]!);
    }
    return gone;
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

function partsOf(value: Uint8Array): Uint8Array[] {
  if (value.length <= PART_BYTES) return [value];
  const out: Uint8Array[] = [];
  for (let i = 0; i < value.length; i += PART_BYTES) out.push(value.subarray(i, i + PART_BYTES));
  return out;
}

function bytes(v: SqlStorageValue | undefined): Uint8Array {
  return v instanceof ArrayBuffer ? new Uint8Array(v) : new Uint8Array(0);
}
