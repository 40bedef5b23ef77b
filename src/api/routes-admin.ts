/**
 * Admin routes: `GET /v1/cluster` (every member's view of itself) and, in the test
 * environment only, `/v1/_test/faults` (member-to-member fault injection).
 *
 * @remarks The fault routes are registered in every build but answer exactly like an unknown
 * route unless `TEST_FAULTS=on`, before authentication, so a deployed Worker reveals nothing
 * of them (DESIGN.md: "never reachable in a deployed Worker").
 */
import type { Hono, MiddlewareHandler } from 'hono';
import type { ShardId } from '../core/ids.js';
import { isJsonObject } from '../core/json.js';
import type { FaultConfig, MemberStats } from '../objects/protocol.js';
import { requireScope } from './auth.js';
import type { AppEnv, Ctx } from './context.js';
import { allMembers, memberStub, withTimeout } from './members.js';
import { limitBody } from './limits.js';
import { ApiProblem } from './problems.js';
import { readJson, requireMediaType } from './validate.js';

/** How long `/v1/cluster` waits for one member before reporting it as failed. */
export const STATS_TIMEOUT_MS = 5000;

type MemberReport = MemberStats | { member: string; shard: ShardId; region: string; error: string };

async function cluster(c: Ctx): Promise<Response> {
  const config = c.get('config');
  const members: MemberReport[] = await Promise.all(
    allMembers(config).map(async (m): Promise<MemberReport> => {
      try {
        return await withTimeout(memberStub(c.env, m.shard, m.region).stats(), STATS_TIMEOUT_MS, m.name);
      } catch (e) {
        return { member: m.name, shard: m.shard, region: m.region, error: e instanceof Error ? e.message : String(e) };
      }
    }),
  );
  return c.json({ regions: config.regions, primary: config.primary, shards: config.shards, leaders: leaders(members), members });
}

/**
 * Per shard, the member claiming the leader role at the highest epoch (two claim it only while a
 * deposed leader has not yet heard of its successor), with its lease expiry and the election
 * that made it leader.
 */
function leaders(members: readonly MemberReport[]): LeaderReport[] {
  const best = new Map<number, MemberStats>();
  for (const m of members) {
    if (!('leader' in m) || !m.leader) continue;
    const seen = best.get(m.shard);
    if (!seen || m.epoch > seen.epoch) best.set(m.shard, m);
  }
  return [...best.values()]
    .sort((a, b) => a.shard - b.shard)
    .map((m) => ({ shard: m.shard, region: m.region, epoch: m.epoch, leaseExpiresAt: m.leaseExpiresAt, lastElection: m.lastElection }));
}

interface LeaderReport {
  readonly shard: number;
  readonly region: string;
  readonly epoch: number;
  /** The leader's lease ends here (ms since the Unix epoch, its clock); null while it holds none. */
  readonly leaseExpiresAt: number | null;
  readonly lastElection: MemberStats['lastElection'];
}

const FAULT_FIELDS = new Set(['partitions', 'dropRate', 'delayMs']);

/** The body of `POST /v1/_test/faults`. @throws ApiProblem `invalid-parameter` */
export function parseFaults(body: unknown, regions: readonly string[]): FaultConfig {
  const bad = (detail: string): ApiProblem => new ApiProblem('invalid-parameter', detail);
  if (!isJsonObject(body)) throw bad('the fault configuration must be a JSON object');
  const unknown = Object.keys(body).filter((k) => !FAULT_FIELDS.has(k));
  if (unknown.length > 0) throw bad(`unknown fields ${unknown.join(', ')}; use partitions, dropRate, delayMs`);
  const { partitions, dropRate, delayMs } = body;
  if (partitions !== undefined) {
    const ok = Array.isArray(partitions) && partitions.every((g) => Array.isArray(g) && g.every((r) => typeof r === 'string' && regions.includes(r)));
    if (!ok) throw bad(`partitions must be an array of arrays of region names (${regions.join(', ')})`);
    const named = partitions.flat() as string[];
    if (new Set(named).size !== named.length) throw bad('a region may appear in only one partition group');
  }
  if (dropRate !== undefined && !(typeof dropRate === 'number' && dropRate >= 0 && dropRate <= 1)) throw bad('dropRate must be a number from 0 to 1');
  if (delayMs !== undefined && !(typeof delayMs === 'number' && Number.isInteger(delayMs) && delayMs >= 0 && delayMs <= 60_000)) {
    throw bad('delayMs must be an integer from 0 to 60000');
  }
  return {
    ...(partitions !== undefined && { partitions: partitions as string[][] }),
    ...(dropRate !== undefined && { dropRate }),
    ...(delayMs !== undefined && { delayMs }),
  };
}

/** Sets `cfg` on every member of every shard at once; one failure fails the call (the test would be meaningless). */
async function setFaultsEverywhere(c: Ctx, cfg: FaultConfig | null): Promise<Response> {
  await Promise.all(allMembers(c.get('config')).map((m) => memberStub(c.env, m.shard, m.region).setFaults(cfg)));
  return c.body(null, 204);
}

/** Middleware: outside the test environment, the route does not exist. */
export const testOnly: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (!c.get('config').testFaults) throw new ApiProblem('route-not-found', `no route ${c.req.method} ${c.req.path}`);
  await next();
};

/** Registers the admin routes on `app`. */
export function adminRoutes(app: Hono<AppEnv>): void {
  const admin = requireScope('admin', { namespaced: false });
  app.get('/v1/cluster', admin, cluster);
  app.post('/v1/_test/faults', testOnly, admin, limitBody, async (c) => {
    requireMediaType(c, ['application/json']);
    return setFaultsEverywhere(c, parseFaults(await readJson(c), c.get('config').regions));
  });
  app.delete('/v1/_test/faults', testOnly, admin, (c) => setFaultsEverywhere(c, null));
}

export const ADMIN_METHODS: ReadonlyArray<readonly [string, readonly string[]]> = [['/v1/cluster', ['GET', 'HEAD']]];
export const TEST_METHODS: ReadonlyArray<readonly [string, readonly string[]]> = [['/v1/_test/faults', ['POST', 'DELETE']]];
