/**
 * State transfer: a member behind a peer's compaction horizon is repaired with whole
 * document states instead of log entries, in key-ordered chunks, over as many gossip rounds
 * as the shard needs.
 *
 * The receiver commits its progress ({@link TransferProgress}) with the documents of each
 * chunk, and every round it opens (and every digest it answers) asks the peer to resume
 * after the last key it holds, so neither the end of a round nor a restart of either side
 * sends a document twice. A peer that covers the target goes on with it. One that covers
 * only part of it goes on with that part (the meet of the two vectors), which the documents
 * already received hold too; only when that part would bring the receiver nothing does a
 * new transfer start from the first key. A chunk carries its conversation on only when it
 * starts at the receiver's last key: of several rounds that resume at once, one goes on and
 * the others stop after one chunk.
 */
import type { DocStore } from './doc-store.js';
import { indexFrom } from './doc-store.js';
import type { DocKey, MemberId } from './ids.js';
import type { TransferProgress } from './storage.js';
import { leq, meet, type VersionVector } from './version-vector.js';
import type { DocSnapshot, Resume, Transfer } from './wire/messages.js';

/** Keys examined per chunk, so that a peer that has nearly everything still costs bounded work per message. */
export const SCAN_LIMIT = 4096;
/** Framing counted per document towards the byte bound of a chunk. */
const DOC_OVERHEAD = 64;

/**
 * The chunk after `after` (from the first key when undefined) for a peer at `peerVV`: the
 * state of each document, in key order, that the peer's vector does not cover, up to about
 * `maxBytes`.
 */
export function chunk(docs: DocStore, maxBytes: number, peerVV: VersionVector, target: VersionVector, after: DocKey | undefined, hlc: number): Transfer {
  const keys = docs.sortedKeys();
  const start = after === undefined ? 0 : indexFrom(keys, after, true);
  const out: DocSnapshot[] = [];
  let bytes = 0;
  for (let i = start; i < keys.length; i++) {
    const meta = docs.meta(keys[i]!)!;
    if (!leq(meta.vv, peerVV)) {
      const states = Object.keys(meta.creators).map((engine) => {
        const name = engine as keyof typeof meta.creators;
        return { engine: name, bytes: docs.saved(meta.doc, name) };
      });
      out.push({ meta, states });
      bytes += states.reduce((n, s) => n + s.bytes.length, DOC_OVERHEAD);
    }
    if (i + 1 < keys.length && (bytes >= maxBytes || i + 1 - start >= SCAN_LIMIT)) {
      return { target, hlc, after, docs: out, next: keys[i] };
    }
  }
  return { target, hlc, after, docs: out, next: undefined };
}

/**
 * The sender's answer to a peer at `peerVV` asking to resume: the transfer itself if this
 * member covers its target, else the part of the target it covers, else (that part would
 * bring the peer nothing) a new transfer to this member's vector `own`.
 */
export function resumed(docs: DocStore, maxBytes: number, own: VersionVector, peerVV: VersionVector, r: Resume, hlc: number): Transfer {
  if (leq(r.target, own)) return chunk(docs, maxBytes, peerVV, r.target, r.after, hlc);
  const part = meet([r.target, own]);
  if (!leq(part, peerVV)) return chunk(docs, maxBytes, peerVV, part, r.after, hlc);
  return chunk(docs, maxBytes, peerVV, own, undefined, hlc);
}

/** What a received chunk does to the receiver's transfer. */
export interface ChunkStep {
  readonly progress: TransferProgress | undefined;
  /** Present after the last chunk: the vector the receiver may now claim. */
  readonly adopt?: VersionVector;
  /** Present when this conversation should carry the transfer on. */
  readonly resume?: Resume;
}

/**
 * The receiver's progress after chunk `t` from `from`, for a receiver at `vv` with progress
 * `p`. The chunk's documents are applied whatever this answers (merging states is always
 * safe); this decides only what the receiver may claim and where it resumes.
 */
export function afterChunk(p: TransferProgress | undefined, from: MemberId, t: Transfer, vv: VersionVector): ChunkStep {
  const n = t.docs.length;
  if (!p || (t.after === undefined && leq(meet([p.target, t.target]), vv))) {
    // Only a first chunk starts a transfer; a later one belongs to a transfer this receiver no longer follows.
    if (t.after !== undefined) return { progress: p };
    return reach(t.target, from, n, t.next, true);
  }
  // A gap before the chunk, or nothing past what is already held: nothing to record.
  if (t.after !== undefined && t.after > p.after) return { progress: p };
  if (t.next !== undefined && t.next <= p.after) return { progress: p };
  const target = meet([p.target, t.target]);
  if (leq(target, vv)) return { progress: p };
  return reach(target, from, p.docs + n, t.next, t.after === p.after);
}

function reach(target: VersionVector, from: MemberId, docs: number, next: DocKey | undefined, frontier: boolean): ChunkStep {
  if (next === undefined) return { progress: undefined, adopt: target };
  const progress: TransferProgress = { target, after: next, from, docs };
  return frontier ? { progress, resume: { target, after: next } } : { progress };
}

/** What a round should ask a peer for: the rest of the transfer under way, if any. */
export function resumeOf(p: TransferProgress | undefined): Resume | undefined {
  return p && { target: p.target, after: p.after };
}
