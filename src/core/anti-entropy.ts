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
 * again. A state transfer (`transfer.ts`) goes on while the receiver answers a chunk with
 * `resume`. The conversation ends when a message needs no answer or the driver's step bound
 * is reached; the next round goes on, and resumes a transfer where the last one stopped.
 * Eager push, batched per peer, is in `eager-push.ts`.
 */
import type { MemberId } from './ids.js';
import type { LogEntry } from './log.js';
import type { Random, Transport } from './ports.js';
import type { Replica } from './replica.js';
import { chunk, resumed } from './transfer.js';
import { get, members, type VersionVector } from './version-vector.js';
import type { Resume, SyncMessage, Transfer } from './wire/messages.js';
import { decodeMessage } from './wire/codec.js';

/**
 * The answer to `msg` (already applied by `r`), or undefined when none is needed. `resume`
 * carries on a transfer to `r` whose chunk `msg` brought; otherwise a peer that wants an
 * answer is asked to resume the transfer `r` has under way, if any.
 */
export function answer(r: Replica, msg: SyncMessage, resume?: Resume): SyncMessage | undefined {
  let entries: readonly LogEntry[] = [];
  let more = false;
  let transfer: Transfer | undefined;
  if (msg.resume || msg.reply) {
    if (behindHorizon(msg.vv, r.horizon)) {
      transfer = msg.resume
        ? resumed(r.docs, r.maxBatchBytes, r.vv, msg.vv, msg.resume, r.lastHlc)
        : chunk(r.docs, r.maxBatchBytes, msg.vv, r.vv, undefined, r.lastHlc);
    } else {
      ({ entries, more } = r.entriesFor(msg.vv));
    }
  }
  if (!resume && !msg.transfer && msg.reply) resume = r.transferResume();
  const reply = msg.kind === 'digest' || msg.more;
  // Entries that asked for nothing back (an eager push, a round's last delta) are answered
  // with this replica's vector alone: the sender then knows this peer is current and need
  // not gossip with it.
  const ack = msg.kind === 'delta' && msg.entries.length > 0;
  if (entries.length === 0 && !transfer && !resume && !reply && !ack) return undefined;
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
 * Runs one push-pull round with `peer`. Rejects when the transport fails: background gossip
 * ignores that (the next round repairs), a majority round counts it as a missing member.
 */
export async function gossipRound(r: Replica, peer: MemberId, transport: Transport, maxSteps = 32): Promise<VersionVector | undefined> {
  let out: Uint8Array | undefined = r.digest();
  // What the peer had when it first answered: a majority pull counts the peer only once this
  // replica covers it (a round cut short by the step bound may not have brought everything).
  let heard: VersionVector | undefined;
  for (let step = 0; out && step < maxSteps; step++) {
    const reply = await transport.request(peer, out);
    if (!reply) return heard;
    heard ??= decodeMessage(reply).vv;
    out = r.receive(reply);
  }
  return heard;
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
