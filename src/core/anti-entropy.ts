/**
 * The anti-entropy conversation: what a replica answers to a peer's message, and the async
 * drivers that run a gossip round over a {@link Transport}.
 *
 * A round, with A initiating towards B:
 * 1. A → B `digest` (A's vector, asks for a reply).
 * 2. B → A `delta`: the entries A lacks (or a state transfer if A is behind B's horizon), B's
 *    vector, asking for a reply so that A can return the favour.
 * 3. A → B `delta` with what B lacks, if anything.
 * Either side sets `more` when a byte bound cut its batch, and the other side then asks
 * again; a transfer chunk with `next` is answered with `resume`. The conversation ends when a
 * message needs no answer or the driver's step bound is reached; the next round goes on.
 * Eager push, batched per peer, is in `eager-push.ts`.
 */
import type { DocKey, MemberId } from './ids.js';
import type { LogEntry } from './log.js';
import type { Random, Transport } from './ports.js';
import { indexFrom } from './doc-store.js';
import type { Replica } from './replica.js';
import { get, leq, members, type VersionVector } from './version-vector.js';
import type { DocSnapshot, SyncMessage, Transfer } from './wire/messages.js';

/** The answer to `msg` (already applied by `r`), or undefined when none is needed. */
export function answer(r: Replica, msg: SyncMessage): SyncMessage | undefined {
  let entries: readonly LogEntry[] = [];
  let more = false;
  let transfer: Transfer | undefined;
  if (msg.resume) {
    transfer = transferChunk(r, msg.vv, msg.resume.target, msg.resume.after);
  } else if (msg.reply) {
    if (behindHorizon(msg.vv, r.horizon)) transfer = transferChunk(r, msg.vv, r.vv, undefined);
    else ({ entries, more } = r.entriesFor(msg.vv));
  }
  const next = msg.transfer?.next;
  const resume = next === undefined ? undefined : { target: msg.transfer!.target, after: next };
  const reply = msg.kind === 'digest' || msg.more;
  if (entries.length === 0 && !transfer && !resume && !reply) return undefined;
  return {
    kind: 'delta',
    from: r.self,
    vv: r.vv,
    more,
    reply,
    entries,
    ...(transfer && { transfer }),
    ...(resume && { resume }),
  };
}

/** True when `peer` lacks entries this replica no longer keeps. */
export function behindHorizon(peer: VersionVector, horizon: VersionVector): boolean {
  return members(horizon).some((m) => get(peer, m) < horizon[m]!);
}

/**
 * The next chunk of a state transfer to a peer at `peerVV`: the full state of every
 * document (in key order, after `after`) that the peer's vector does not cover.
 */
function transferChunk(r: Replica, peerVV: VersionVector, target: VersionVector, after: DocKey | undefined): Transfer {
  const keys = r.docs.sortedKeys();
  const docs: DocSnapshot[] = [];
  let bytes = 0;
  for (let i = after === undefined ? 0 : indexFrom(keys, after, true); i < keys.length; i++) {
    const meta = r.docs.meta(keys[i]!)!;
    if (leq(meta.vv, peerVV)) continue;
    const states = Object.keys(meta.creators).map((engine) => {
      const name = engine as keyof typeof meta.creators;
      return { engine: name, bytes: r.docs.engine(meta.doc, name).save() };
    });
    r.docs.trim();
    docs.push({ meta, states });
    bytes += states.reduce((n, s) => n + s.bytes.length, 0) + 64;
    if (bytes >= r.maxBatchBytes && i + 1 < keys.length) return { target, docs, next: keys[i] };
  }
  return { target, docs, next: undefined };
}

/**
 * Runs one push-pull round with `peer`. Rejects when the transport fails: background gossip
 * ignores that (the next round repairs), a majority round counts it as a missing member.
 */
export async function gossipRound(r: Replica, peer: MemberId, transport: Transport, maxSteps = 32): Promise<void> {
  let out: Uint8Array | undefined = r.digest();
  for (let step = 0; out && step < maxSteps; step++) {
    const reply = await transport.request(peer, out);
    if (!reply) return;
    out = r.receive(reply);
  }
}

/** `fanout` distinct random peers of `r`. */
export function pickPeers(r: Replica, fanout: number, random: Random): MemberId[] {
  const peers = r.memberList.filter((m) => m !== r.self);
  for (let i = peers.length - 1; i > 0; i--) {
    const j = Math.floor(random.next() * (i + 1));
    [peers[i], peers[j]] = [peers[j]!, peers[i]!];
  }
  return peers.slice(0, fanout);
}
