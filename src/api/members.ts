/**
 * Durable Object stubs of shard members, as the edge addresses them.
 */
import { type MemberId, type ShardId, shardId } from '../core/ids.js';
import { memberName } from '../core/routing.js';
import type { Config, Env } from '../objects/config.js';
import type { DocRequest, DocResponse, FaultConfig, ListRequest, MemberStats } from '../objects/protocol.js';
import type { ReplicaObject } from '../objects/replica-object.js';
import { locationHint } from './region.js';

/**
 * The part of a member's RPC surface the edge calls.
 *
 * @remarks `DurableObjectStub<ReplicaObject>` derives its method types through the RPC
 * mapped types, which recurse into the protocol's JSON types until TypeScript gives up
 * (TS2589); this plain interface is what those types would resolve to. The assignment
 * below keeps it honest: it stops compiling if the object's methods drift from it.
 */
export interface MemberStub {
  handle(req: DocRequest): Promise<DocResponse>;
  list(req: ListRequest): Promise<string[]>;
  stats(): Promise<MemberStats>;
  setFaults(cfg: FaultConfig | null): Promise<void>;
}
const _sameSurface = (o: ReplicaObject): MemberStub => o;
void _sameSurface;

/** The stub of `replica:<shard>:<region>`, created near its region when the name is a location hint. */
export function memberStub(env: Env, shard: ShardId, region: MemberId): MemberStub {
  const ns = env.REPLICA;
  const hint = locationHint(region);
  const stub = ns.get(ns.idFromName(memberName(shard, region)), hint ? { locationHint: hint } : undefined);
  return stub as unknown as MemberStub;
}

/** The same member as a fetcher: WebSocket upgrades and change feeds go over `fetch`, not RPC. */
export function memberFetcher(env: Env, shard: ShardId, region: MemberId): { fetch(req: Request): Promise<Response> } {
  const ns = env.REPLICA;
  const hint = locationHint(region);
  return ns.get(ns.idFromName(memberName(shard, region)), hint ? { locationHint: hint } : undefined);
}

export interface MemberAddress {
  readonly shard: ShardId;
  readonly region: MemberId;
  readonly name: string;
}

/** Every member of every shard (SHARDS × REGIONS), shard-major. */
export function allMembers(config: Config): MemberAddress[] {
  const out: MemberAddress[] = [];
  for (let s = 0; s < config.shards; s++) {
    for (const region of config.regions) out.push({ shard: shardId(s), region, name: memberName(shardId(s), region) });
  }
  return out;
}

/**
 * `p`, or a rejection after `ms`: a member that hangs must not hang a fan-out that answers
 * for the others.
 */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
