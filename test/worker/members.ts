/**
 * Helpers for tests that talk to shard members directly over RPC, as the Worker does.
 */
import { env } from 'cloudflare:test';
import type { Level } from '../../src/core/consistency.js';
import { memberName, shard } from '../../src/core/routing.js';
import type { DocRequest, DocResponse, DocResult, FaultConfig, MemberStats } from '../../src/objects/protocol.js';

export const REGIONS = ['wnam', 'weur', 'apac'] as const;
export type Region = (typeof REGIONS)[number];
export const SHARDS = 4;

export function stub(shardOf: number, region: string) {
  return env.REPLICA.get(env.REPLICA.idFromName(memberName(shardOf as never, region)));
}

/** A `DocRequest` at `region` for the member that owns (ns, key). */
export async function call(region: string, req: DocRequest): Promise<DocResponse> {
  const s = stub(shard(req.ns, req.key, SHARDS), region) as unknown as { handle(r: DocRequest): Promise<DocResponse> };
  return s.handle(req);
}

export async function ok(region: string, req: DocRequest): Promise<DocResult> {
  const res = await call(region, req);
  if (!res.ok) throw new Error(`${req.op} at ${region}: ${res.problem.code}: ${res.problem.detail}`);
  return res.result;
}

export function at(level: Level, ns: string, key: string) {
  return { ns, key, level } as const;
}

export async function stats(shardOf: number, region: string): Promise<MemberStats> {
  return (stub(shardOf, region) as unknown as { stats(): Promise<MemberStats> }).stats();
}

/** The member claiming leadership at the highest epoch (a deposed leader cut off may still claim an older one). */
export async function leaderOf(shardOf: number): Promise<MemberStats | undefined> {
  return (await Promise.all(REGIONS.map((r) => stats(shardOf, r)))).filter((m) => m.leader).sort((a, b) => b.epoch - a.epoch)[0];
}

export async function setFaults(shardOf: number, cfg: FaultConfig | null): Promise<void> {
  await Promise.all(REGIONS.map((r) => (stub(shardOf, r) as unknown as { setFaults(c: FaultConfig | null): Promise<void> }).setFaults(cfg)));
}

/** Polls `check` until it returns true, failing after `timeoutMs` (never a fixed sleep). */
export async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
