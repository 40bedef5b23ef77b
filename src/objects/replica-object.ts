import { DurableObject } from 'cloudflare:workers';
import type { VersionVector } from '../core/version-vector.js';
import type { Env } from './config.js';
import type { DocRequest, DocResponse, FaultConfig, ListRequest, MemberStats } from './protocol.js';

/** One member of one shard: `replica:<shard>:<region>`. (Skeleton; being written.) */
export class ReplicaObject extends DurableObject<Env> {
  /** A client request routed here by the Worker (the member nearest the caller). */
  async handle(req: DocRequest): Promise<DocResponse> {
    void req;
    throw new Error('not yet');
  }

  /** Keys of namespace `ns` with `prefix`, after `after`, ascending, at most `limit`. */
  async list(req: ListRequest): Promise<string[]> {
    void req;
    throw new Error('not yet');
  }

  async stats(): Promise<MemberStats> {
    throw new Error('not yet');
  }

  /** Test environment only: the fault configuration of member-to-member traffic (null heals). */
  async setFaults(cfg: FaultConfig | null): Promise<void> {
    void cfg;
    throw new Error('not yet');
  }

  /** Anti-entropy from a peer: returns the answer. */
  async sync(bytes: Uint8Array): Promise<Uint8Array | undefined> {
    void bytes;
    throw new Error('not yet');
  }

  /** Entries a quorum or strong write needs durable here; returns this member's vector after applying. */
  async replicate(bytes: Uint8Array, epoch: number): Promise<VersionVector> {
    void bytes;
    void epoch;
    throw new Error('not yet');
  }

  /** A quorum read or strong operation forwarded to the shard's leader. */
  async lead(req: DocRequest): Promise<DocResponse> {
    void req;
    throw new Error('not yet');
  }
}
