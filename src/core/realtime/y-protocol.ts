/**
 * The frames of the y-websocket protocol (y-protocols' `sync` and `awareness` messages, as the
 * stock `WebsocketProvider` and every y-websocket server speak them), read and written with
 * the core's own varints: lib0's `varUint` is the same unsigned LEB128, its `varString` and
 * `varUint8Array` are length-prefixed like {@link ByteWriter.string} and {@link ByteWriter.bytes}.
 *
 * ```
 * frame     = type:uint body
 * sync      = 0 step:uint(0 step1, 1 step2, 2 update) payload:bytes   step1: a state vector; else an update
 * awareness = 1 update:bytes
 *             update = count:uint (clientID:uint clock:uint state:string)*   state is JSON, "null" when gone
 * auth      = 2 ...                                                          server to client only
 * query     = 3                                                              asks for every awareness state
 * ```
 *
 * Reading is strict: a frame with trailing bytes, an unknown type or a truncated field throws
 * {@link WireDecodeError}, so that a malformed frame can close its socket before anything is
 * applied.
 */
import { WireDecodeError } from '../errors.js';
import { ByteReader, ByteWriter } from '../wire/bytes.js';

const SYNC = 0;
const AWARENESS = 1;
const AUTH = 2;
const QUERY_AWARENESS = 3;
const STEP1 = 0;
const STEP2 = 1;
const UPDATE = 2;

/** One client's entry of an awareness update: `state` is its JSON text, `null` when it left. */
export interface AwarenessEntry {
  readonly clientID: number;
  readonly clock: number;
  readonly state: string;
}

export type YFrame =
  | { readonly kind: 'step1'; readonly stateVector: Uint8Array }
  | { readonly kind: 'step2'; readonly update: Uint8Array }
  | { readonly kind: 'update'; readonly update: Uint8Array }
  | { readonly kind: 'awareness'; readonly entries: readonly AwarenessEntry[] }
  | { readonly kind: 'query-awareness' }
  /** Permission messages travel from server to client; one from a client means nothing. */
  | { readonly kind: 'auth' };

/** @throws WireDecodeError for anything that is not one whole frame. */
export function readFrame(bytes: Uint8Array): YFrame {
  const r = new ByteReader(bytes);
  const type = r.uint();
  let frame: YFrame;
  if (type === SYNC) {
    const step = r.uint();
    const payload = r.bytes();
    if (step === STEP1) frame = { kind: 'step1', stateVector: payload };
    else if (step === STEP2) frame = { kind: 'step2', update: payload };
    else if (step === UPDATE) frame = { kind: 'update', update: payload };
    else throw new WireDecodeError(`unknown sync step ${step}`);
  } else if (type === AWARENESS) {
    frame = { kind: 'awareness', entries: readAwareness(r.bytes()) };
  } else if (type === AUTH) {
    // Its body is the server's business; a client has nothing to say in it.
    return { kind: 'auth' };
  } else if (type === QUERY_AWARENESS) {
    frame = { kind: 'query-awareness' };
  } else {
    throw new WireDecodeError(`unknown message type ${type}`);
  }
  r.end();
  return frame;
}

/** @throws WireDecodeError for anything that is not one whole awareness update. */
export function readAwareness(update: Uint8Array): AwarenessEntry[] {
  const r = new ByteReader(update);
  const n = r.uint();
  if (n > update.length) throw new WireDecodeError('more awareness entries than bytes');
  const out: AwarenessEntry[] = [];
  for (let i = 0; i < n; i++) out.push({ clientID: r.uint(), clock: r.uint(), state: r.string() });
  r.end();
  return out;
}

export function encodeAwareness(entries: readonly AwarenessEntry[]): Uint8Array {
  const w = new ByteWriter(16 + entries.reduce((n, e) => n + e.state.length + 8, 0));
  w.uint(entries.length);
  for (const e of entries) w.uint(e.clientID).uint(e.clock).string(e.state);
  return w.finish();
}

const sync = (step: number, payload: Uint8Array): Uint8Array =>
  new ByteWriter(payload.length + 8).uint(SYNC).uint(step).bytes(payload).finish();

/** Asks the other side for what `stateVector` lacks. */
export const step1Frame = (stateVector: Uint8Array): Uint8Array => sync(STEP1, stateVector);
/** Answers a step 1 with what the asker lacks. */
export const step2Frame = (update: Uint8Array): Uint8Array => sync(STEP2, update);
/** A change as it happens. */
export const updateFrame = (update: Uint8Array): Uint8Array => sync(UPDATE, update);

export const awarenessFrame = (entries: readonly AwarenessEntry[]): Uint8Array => {
  const update = encodeAwareness(entries);
  return new ByteWriter(update.length + 8).uint(AWARENESS).bytes(update).finish();
};
