/**
 * Eager push with natural batching, one queue per peer: the first write after a quiet
 * moment is sent at once; writes accepted while a push to that peer is still under way wait
 * and leave together in the next message. At one keystroke per write, an editor typing fast
 * costs one message per round trip per peer instead of one per keystroke, and a slow or
 * unreachable peer holds back only its own queue.
 */
import type { MemberId } from './ids.js';
import { entrySize, type LogEntry } from './log.js';
import type { Transport } from './ports.js';
import type { Replica } from './replica.js';

/** Entries held for a peer beyond this are dropped from the queue: gossip repairs them. */
const MAX_QUEUED_BYTES = 4 * 1024 * 1024;

class PeerQueue {
  private queued: LogEntry[] = [];
  private bytes = 0;
  private running: Promise<void> | undefined;

  constructor(
    private readonly replica: Replica,
    private readonly peer: MemberId,
    private readonly transport: Transport,
  ) {}

  add(entries: readonly LogEntry[]): Promise<void> {
    for (const e of entries) {
      const size = entrySize(e);
      if (this.bytes + size > MAX_QUEUED_BYTES) break;
      this.queued.push(e);
      this.bytes += size;
    }
    return this.running ?? this.start();
  }

  private start(): Promise<void> {
    this.running = this.drain().finally(() => {
      this.running = undefined;
      // Entries queued between the last send and this callback still leave.
      if (this.queued.length > 0) void this.start();
    });
    return this.running;
  }

  private async drain(): Promise<void> {
    while (this.queued.length > 0) {
      const batch = this.takeBatch();
      // A lost push is repaired by gossip; the queue goes on with later entries. The answer
      // tells what the peer now has, which spares gossip rounds with a peer that is current.
      try {
        const ack = await this.transport.request(this.peer, this.replica.push(batch));
        if (ack) this.replica.receive(ack);
      } catch {
        // Unreachable or refused: gossip repairs it.
      }
    }
  }

  private takeBatch(): LogEntry[] {
    const limit = this.replica.maxBatchBytes;
    let n = 0;
    let bytes = 0;
    while (n < this.queued.length && (n === 0 || bytes + entrySize(this.queued[n]!) <= limit)) bytes += entrySize(this.queued[n++]!);
    const batch = this.queued.slice(0, n);
    this.queued = this.queued.slice(n);
    this.bytes -= bytes;
    return batch;
  }
}

export class EagerPusher {
  private readonly queues = new Map<MemberId, PeerQueue>();

  constructor(
    private readonly replica: Replica,
    private readonly transport: Transport,
  ) {}

  /** Queues freshly committed entries for every peer; resolves when those queues are drained. */
  push(entries: readonly LogEntry[]): Promise<void> {
    const peers = this.replica.memberList.filter((m) => m !== this.replica.self);
    return Promise.all(peers.map((p) => this.queue(p).add(entries))).then(() => undefined);
  }

  private queue(peer: MemberId): PeerQueue {
    let q = this.queues.get(peer);
    if (!q) this.queues.set(peer, (q = new PeerQueue(this.replica, peer, this.transport)));
    return q;
  }
}
