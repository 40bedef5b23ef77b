/**
 * What the Worker asks a shard member, and what it answers, over Durable Object RPC. Plain
 * structured-clonable values only: errors cross as a {@link Problem} with the core error's
 * `code`, because exception classes do not survive RPC.
 */
import type { Level } from '../core/consistency.js';
import type { EngineName, Op } from '../core/engines/engine.js';
import type { JsonObject, JsonValue } from '../core/json.js';
import type { AcceptRefusal } from '../core/proposals.js';
import type { ReplicaStats } from '../core/replica.js';
import type { VersionVector } from '../core/version-vector.js';

interface Target {
  readonly ns: string;
  readonly key: string;
  readonly level: Level;
  /** The caller's causal token for this shard (session reads wait until it is covered). */
  readonly token?: VersionVector;
  /** Milliseconds the caller will wait; a strong operation not started by then is dropped. */
  readonly budgetMs?: number;
}

/**
 * Who a write is, so that a retry is carried out once: the client's `Idempotency-Key`
 * (`client: true`) or an id the edge gave the request. `fingerprint` identifies the
 * request's content; a retry under the same id must carry the same.
 */
export interface RequestIdentity {
  readonly id: string;
  readonly fingerprint: string;
  readonly client: boolean;
}

interface Preconditions {
  /** `If-Match` ETags (`*` matches any existing document). */
  readonly ifMatch?: readonly string[];
  /** `Prefer: return=minimal` (RFC 7240): answer without the document's JSON. */
  readonly minimal?: boolean;
  readonly request?: RequestIdentity;
}

export type DocRequest =
  | (Target & { readonly op: 'get' })
  | (Target & Preconditions & { readonly op: 'put'; readonly json: JsonObject })
  | (Target & Preconditions & { readonly op: 'patch'; readonly patch: JsonValue })
  | (Target & Preconditions & { readonly op: 'ops'; readonly ops: readonly Op[] })
  | (Target & Preconditions & { readonly op: 'delete' })
  | (Target & { readonly op: 'getCrdt'; readonly since?: Uint8Array })
  | (Target & Preconditions & { readonly op: 'postCrdt'; readonly engine: EngineName; readonly bytes: Uint8Array });

export interface Problem {
  /** The core error's `code` (e.g. `not-found`, `unavailable`, `guard-violation`). */
  readonly code: string;
  readonly detail: string;
  readonly retryAfterSeconds?: number;
}

export interface DocResult {
  /** 200, or 201 when the request created the document, or 204 after a delete. */
  readonly status: 200 | 201 | 204;
  readonly json?: JsonObject;
  readonly bytes?: Uint8Array;
  readonly engine?: EngineName;
  /** The document's ETag (quoted), when there is a document. */
  readonly etag?: string;
  /** The shard vector the answer reflects: the response's causal token. */
  readonly vv: VersionVector;
  /** Which member answered (`replica:<shard>:<region>`). */
  readonly member: string;
}

export type DocResponse = { readonly ok: true; readonly result: DocResult } | { readonly ok: false; readonly problem: Problem };

export interface ListRequest {
  readonly ns: string;
  readonly prefix: string;
  /** Only keys strictly after this one. */
  readonly after?: string;
  readonly limit: number;
}

/** A member's replica figures ({@link ReplicaStats}) and its place in the shard. */
export interface MemberStats extends ReplicaStats {
  readonly member: string;
  readonly shard: number;
  readonly region: string;
  /** This member is the leader and takes strong operations now. */
  readonly leader: boolean;
  /** The member's leader epoch (the election's term, durable). */
  readonly epoch: number;
  /** follower, pre-candidate, candidate or leader. */
  readonly electionState: string;
  /** The shard is quiesced as this member knows it: no heartbeats, no election timers (README, Failover). */
  readonly quiesced: boolean;
  /** The region this member knows as its shard's leader at `epoch` (null while none is known). */
  readonly leaderRegion: string | null;
  /** The leader's lease ends here (ms since the epoch, its clock); null unless this member is a leader holding one. */
  readonly leaseExpiresAt: number | null;
  readonly lastElection: ElectionSeen | null;
  /** The REGIONS this member runs with (during a rolling deploy, members may differ). */
  readonly regions: readonly string[];
  /** Why this member takes no part in elections (REGIONS changed by more than one region at once), or null. */
  readonly regionsRefused: string | null;
  /** Entries other members are known to have that this one has not applied yet. */
  readonly behind: number;
  /** Milliseconds since the newest entry this member applied was written at its origin. */
  readonly lastAppliedAgeMs: number | null;
  /** Pull rounds run for waiting session requests (shared by the requests waiting together). */
  readonly sessionPulls: number;
  /** The leader's strong queue: operations waiting, and running (0 or 1). */
  readonly strongQueue: { readonly waiting: number; readonly running: number };
  /** When this instance of the object was constructed (ms): it changes when the object was evicted, hibernated or restarted. */
  readonly startedAt: number;
  /** WebSockets the member holds (they outlive the instance when it hibernates). */
  readonly sockets: number;
}

/** The fault configuration of the test environment (`POST /v1/_test/faults`). */
export interface FaultConfig {
  /** Groups of regions; members in different groups cannot reach each other. Unlisted regions reach everyone. */
  readonly partitions?: readonly (readonly string[])[];
  /** Probability that a member-to-member message is lost. */
  readonly dropRate?: number;
  /** Added latency of every member-to-member message. */
  readonly delayMs?: number;
  /**
   * The next `times` messages this member sends fail before they leave, with an error shaped
   * as the runtime's (`retryable`, `overloaded`), so that the transport's retry paths run.
   * Set over RPC by the workerd tests only; the HTTP fault route does not take it.
   */
  readonly failNext?: { readonly times: number; readonly retryable?: boolean; readonly overloaded?: boolean };
}

/** The answer to a leader's replication request (errors cross RPC as values, not exceptions). */
export type ReplicateResult =
  | { readonly ok: true; readonly vv: VersionVector }
  | { readonly ok: false; readonly code: 'stale-epoch'; readonly detail: string; readonly epoch?: number };

/** A member's answer to a strong write proposal (src/core/proposals.ts): kept, refused, or refused for a later epoch. */
export type ProposeResult =
  | { readonly ok: true; readonly vv: VersionVector }
  | { readonly ok: false; readonly reason: AcceptRefusal; readonly vv: VersionVector }
  | { readonly ok: false; readonly reason: 'stale-epoch'; readonly detail: string; readonly epoch: number };

/** The answer to a leader's fenced pull (`syncAt`): the anti-entropy reply, or a refusal naming the later epoch. */
export type SyncResult =
  | { readonly ok: true; readonly reply: Uint8Array | undefined }
  | { readonly ok: false; readonly detail: string; readonly epoch: number };

/** The last election this member saw won (by itself or another member). */
export interface ElectionSeen {
  readonly epoch: number;
  /** The region of the leader it elected. */
  readonly leader: string;
  /** When this member learnt of it (ms since the epoch, its own clock). */
  readonly at: number;
}
