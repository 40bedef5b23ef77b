/**
 * One document request carried out on a replica, synchronously: reads, writes, preconditions
 * and the shape of the answer. Which member runs it, and what waits happen before and after,
 * is the object's business; what it does to the document is decided here.
 */
import { isLive, visibleEngine } from '../core/doc-meta.js';
import { NotFoundError, PreconditionFailedError } from '../core/errors.js';
import { docKey } from '../core/ids.js';
import type { LogEntry } from '../core/log.js';
import type { Replica, WriteOptions, WriteResult } from '../core/replica.js';
import type { DocMeta, StoredOutcome } from '../core/storage.js';
import { encodeToken } from '../core/version-vector.js';
import type { DocRequest, DocResult } from './protocol.js';

export interface Executed {
  readonly result: DocResult;
  /** Entries the request wrote (to push or replicate). */
  readonly entries: readonly LogEntry[];
}

/** The ETag of a document: its version vector, which changes with every write to it. */
export const etagOf = (meta: DocMeta): string => `"${encodeToken(meta.vv)}"`;

export const isRead = (req: DocRequest): boolean => req.op === 'get' || req.op === 'getCrdt';

/** Makes the record of a write's outcome from its answer (see `outcomes.ts`). */
export type RecordOutcome = (result: DocResult, entries: readonly LogEntry[]) => StoredOutcome;

/**
 * @param record when given, the write's outcome is stored in the same commit as the write.
 * @throws NotFoundError, PreconditionFailedError and the engines' typed errors; nothing is
 * changed when it throws.
 */
export function execute(r: Replica, req: DocRequest, member: string, record?: RecordOutcome): Executed {
  const doc = docKey(req.ns, req.key);
  const found = r.read(doc);
  const live = found?.live === true;

  if (req.op === 'get' || req.op === 'getCrdt') {
    if (!found || !live) throw new NotFoundError(`no document ${req.key} in ${req.ns}`);
    const { engine, meta } = found;
    const since = req.op === 'getCrdt' ? req.since : undefined;
    const body = r.view(doc, (state) =>
      req.op === 'get' ? { json: state.toJSON() } : { bytes: since ? state.deltaSince(since) : state.save() },
    )!;
    return { result: { status: 200, vv: r.vv, member, ...body, engine, etag: etagOf(meta) }, entries: [] };
  }

  if ('ifMatch' in req && req.ifMatch) checkIfMatch(req.ifMatch, live ? found.meta : undefined);

  // The answer is made from the write's result before its commit, and rendered JSON too: a
  // write is never stored when its answer could not be made, and its outcome lands with it.
  const resultOf = (w: WriteResult): DocResult => {
    if (req.op === 'delete') return { status: 204, vv: w.vv, member };
    const json = req.minimal ? undefined : (w.json ?? r.view(doc, (state) => state.toJSON()));
    const created = !live && isLive(w.doc);
    return { status: created ? 201 : 200, vv: w.vv, member, ...(json && { json }), engine: visibleEngine(w.doc)!, etag: etagOf(w.doc) };
  };
  const opts: WriteOptions = {
    render: !req.minimal,
    ...(record && { outcome: (w: WriteResult) => record(resultOf(w), entriesOf(w)) }),
  };

  if (req.op === 'delete') {
    const w = r.remove(doc, opts);
    if (!w) throw new NotFoundError(`no document ${req.key} in ${req.ns}`);
    return { result: resultOf(w), entries: entriesOf(w) };
  }

  const engine = req.op === 'postCrdt' ? req.engine : 'automerge';
  let w: WriteResult;
  if (req.op === 'put') w = r.write(doc, engine, (e) => e.replace(req.json), opts);
  else if (req.op === 'patch') w = r.write(doc, engine, (e) => e.mergePatch(req.patch), opts);
  else if (req.op === 'ops') w = r.write(doc, engine, (e) => e.applyOps(req.ops), opts);
  else w = r.write(doc, engine, (e) => e.applyUpdate(req.bytes), opts);
  // A write to a missing document creates it, even when it brought no content (`PUT {}`).
  if (!w.entry && !live) w = r.create(doc, engine, opts);
  const result = resultOf(w);
  // A write that changed nothing commits nothing: its outcome is recorded on its own.
  if (!w.entry && record) r.recordOutcome(record(result, []));
  return { result, entries: entriesOf(w) };
}

function entriesOf(w: WriteResult): LogEntry[] {
  return w.entry ? [w.entry] : [];
}

/** `If-Match`: `*` needs a live document; otherwise one of the tags must be the current one. */
function checkIfMatch(tags: readonly string[], meta: DocMeta | undefined): void {
  if (!meta) throw new PreconditionFailedError('If-Match: the document does not exist');
  if (tags.includes('*')) return;
  const current = etagOf(meta);
  if (!tags.some((t) => t.replace(/^W\//, '') === current)) {
    throw new PreconditionFailedError(`If-Match: the document's ETag is now ${current}`);
  }
}
