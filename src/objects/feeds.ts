/**
 * Change feeds: for clients that do not speak a CRDT protocol, the JSON view of a document
 * after each change, as a stream of newline-delimited JSON events that the edge turns into
 * Server-Sent Events (`src/api/routes-events.ts`).
 *
 * @remarks Each event carries the whole view, not a diff. A listener that misses events
 * therefore misses nothing but intermediate states, and a resumed feed starts with one event
 * that brings it up to date. An event is sent only when the document changed beyond what the
 * listener has seen (its token), so a resume sends no duplicate.
 *
 * A feed is a streaming response held by this object, which keeps it in memory while the feed
 * is open (unlike WebSockets, which hibernate). A listener with {@link MAX_QUEUED_BYTES} of
 * events waiting is dropped with a last `dropped` event, and reconnects from its token.
 */
import type { DocKey } from '../core/ids.js';
import type { JsonObject } from '../core/json.js';
import { leq, type VersionVector } from '../core/version-vector.js';

/** One event: the shard vector it reflects (the edge makes it the event id), and the document then. */
export interface FeedEvent {
  readonly vv: VersionVector;
  /** The document's own vector: what a listener must have seen for this event to be news to it. */
  readonly docVv: VersionVector;
  readonly deleted: boolean;
  readonly json?: JsonObject;
  readonly etag?: string;
}

/**
 * Bytes of events a listener may have waiting before it is dropped as a slow consumer: each
 * event is a whole view, so a count would let a large document hold a lot of memory.
 */
const MAX_QUEUED_BYTES = 1024 * 1024;
const utf8 = new TextEncoder();

interface Listener {
  readonly writer: WritableStreamDefaultWriter<Uint8Array>;
  /** The document's vector as of the last event sent (or the token it came with). */
  seen: VersionVector;
}

export class ChangeFeeds {
  private readonly listeners = new Map<DocKey, Set<Listener>>();

  /** @param current the document as it is now; undefined when it never existed here */
  constructor(private readonly current: (doc: DocKey) => FeedEvent | undefined) {}

  get size(): number {
    let n = 0;
    for (const set of this.listeners.values()) n += set.size;
    return n;
  }

  /**
   * A feed of `doc` for a listener that has seen the shard up to `seen`: the document now, if
   * it changed since, then every change.
   */
  open(doc: DocKey, seen: VersionVector): ReadableStream<Uint8Array> {
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>(undefined, new ByteLengthQueuingStrategy({ highWaterMark: MAX_QUEUED_BYTES }));
    const listener: Listener = { writer: writable.getWriter(), seen };
    let set = this.listeners.get(doc);
    if (!set) this.listeners.set(doc, (set = new Set()));
    set.add(listener);
    const now = this.current(doc);
    if (now) this.send(doc, listener, now);
    return readable;
  }

  /** After a commit: every listener of a changed document gets its view. */
  changed(docs: readonly DocKey[]): void {
    for (const doc of docs) {
      const set = this.listeners.get(doc);
      if (!set || set.size === 0) continue;
      const event = this.current(doc);
      if (!event) continue;
      for (const l of set) this.send(doc, l, event);
    }
  }

  private send(doc: DocKey, l: Listener, event: FeedEvent): void {
    if (leq(event.docVv, l.seen)) return;
    l.seen = event.docVv;
    const { writer } = l;
    if (writer.desiredSize !== null && writer.desiredSize <= 0) {
      this.drop(doc, l, { dropped: 'this listener fell too far behind: reconnect with the last event id' });
      return;
    }
    writer.write(line(event)).catch(() => this.forget(doc, l));
  }

  private drop(doc: DocKey, l: Listener, last: object): void {
    this.forget(doc, l);
    l.writer.write(utf8.encode(`${JSON.stringify(last)}\n`)).catch(() => undefined);
    l.writer.close().catch(() => undefined);
  }

  private forget(doc: DocKey, l: Listener): void {
    const set = this.listeners.get(doc);
    set?.delete(l);
    if (set?.size === 0) this.listeners.delete(doc);
  }
}

const line = (e: FeedEvent): Uint8Array =>
  utf8.encode(`${JSON.stringify({ vv: e.vv, deleted: e.deleted, ...(e.json && { json: e.json }), ...(e.etag && { etag: e.etag }) })}\n`);
