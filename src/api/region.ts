/**
 * Which shard member serves a caller: the one in the region nearest to them (DESIGN.md,
 * Routing). In order: the `Concord-Region` header, the `region` query parameter (for
 * clients that cannot set headers, such as browser WebSockets), then the caller's location
 * from `request.cf`, then `PRIMARY_REGION`.
 *
 * Region names are Cloudflare's Durable Object location hints when they can be, so a member
 * is created where its name says; any other configured name works but gets no hint.
 */
import type { MemberId } from '../core/ids.js';
import type { Config } from '../objects/config.js';
import type { Ctx } from './context.js';
import { ApiProblem } from './problems.js';

const LOCATION_HINTS: ReadonlySet<string> = new Set(['wnam', 'enam', 'sam', 'weur', 'eeur', 'apac', 'oc', 'afr', 'me']);

/** The Durable Object location hint for a region, when its name is one. */
export const locationHint = (region: string): DurableObjectLocationHint | undefined =>
  LOCATION_HINTS.has(region) ? (region as DurableObjectLocationHint) : undefined;

interface Location {
  readonly continent?: string;
  readonly longitude?: string;
}

/**
 * Hint regions in order of preference for a caller's continent. Longitude splits the wide
 * continents (the US at ~100°W, Europe at ~20°E, the Middle East from Asia at ~60°E); the
 * first configured region in the list wins.
 */
function preferences({ continent, longitude }: Location): readonly string[] {
  const lon = Number(longitude);
  const east = (boundary: number): boolean => Number.isFinite(lon) && lon > boundary;
  switch (continent) {
    case 'NA':
      return east(-100) ? ['enam', 'wnam', 'sam'] : ['wnam', 'enam', 'sam'];
    case 'SA':
      return ['sam', 'enam', 'wnam'];
    case 'EU':
      return east(20) ? ['eeur', 'weur', 'me'] : ['weur', 'eeur'];
    case 'AF':
      return ['afr', 'weur', 'eeur', 'me'];
    case 'AS':
      return east(60) ? ['apac', 'oc', 'me'] : ['me', 'eeur', 'weur', 'apac'];
    case 'OC':
      return ['oc', 'apac'];
    default:
      return [];
  }
}

/** The configured region nearest to a caller at `cf`, else the primary. */
export function nearestRegion(cf: Location | undefined, config: Config): MemberId {
  for (const hint of cf ? preferences(cf) : []) {
    const found = config.regions.find((r) => r === hint);
    if (found) return found;
  }
  return config.primary;
}

/** A region name the caller asked for. @throws ApiProblem `unknown-region` */
export function checkRegion(name: string, config: Config): MemberId {
  const found = config.regions.find((r) => r === name.trim().toLowerCase());
  if (!found) throw new ApiProblem('unknown-region', `unknown region ${JSON.stringify(name)}; this deployment has ${config.regions.join(', ')}`);
  return found;
}

/** The region whose member serves this request. @throws ApiProblem `unknown-region` */
export function pickRegion(c: Ctx): MemberId {
  const config = c.get('config');
  const asked = c.req.header('Concord-Region') ?? c.req.query('region');
  if (asked !== undefined && asked !== '') return checkRegion(asked, config);
  return nearestRegion(c.req.raw.cf as Location | undefined, config);
}
