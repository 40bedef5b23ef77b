/**
 * `npm run sim -- --seeds 100000` soaks the simulator over many seeds;
 * `npm run sim -- --seed 42` replays one seed and prints its report.
 * Options: --from N (first seed), --members N, --steps N, --log-max-bytes N (with a small
 * bound, compaction and state transfer run often), --long-outage (one member down for most
 * of each run), --clock-skew N (bound of the clock offsets in ms instead of one drawn per seed),
 * --no-strong (no strong, quorum or session clients), --no-engine-faults,
 * --transfer-scenario (a transfer of many chunks across restarts; use with --steps 300),
 * --strong-mutant NAME (a deliberately broken strong path, see StrongMutant in sim/strong.ts).
 */
import { SimFailure, simulate } from './sim/simulation.js';
import type { StrongMutant } from './sim/strong.js';
import { arg } from './cli-args.js';


const one = arg('seed');
const members = arg('members');
const steps = arg('steps');
const logMaxBytes = arg('log-max-bytes');
const longOutage = process.argv.includes('--long-outage');
const clockSkew = arg('clock-skew');
const noStrong = process.argv.includes('--no-strong');
const noEngineFaults = process.argv.includes('--no-engine-faults');
const transferScenario = process.argv.includes('--transfer-scenario');
const mutantAt = process.argv.indexOf('--strong-mutant');
const strongMutant = mutantAt >= 0 ? (process.argv[mutantAt + 1] as StrongMutant) : undefined;
const from = one ?? arg('from') ?? 1;
const count = one !== undefined ? 1 : (arg('seeds') ?? 1000);
const started = performance.now();
let writes = 0;
let failures = 0;
/** What the soak exercised, summed over the seeds that passed. */
const TOTALS = [
  'unacknowledged', 'crashes', 'commitFailures', 'commitCrashes', 'engineFaults', 'engineBreaks', 'acksLost', 'retries', 'repliesLost', 'transfers',
  'strongWrites', 'quorumWrites', 'strongReads', 'floorRefusals', 'duplicates', 'replays', 'sessionReads', 'missingDependencies',
] as const;
const totals = Object.fromEntries(TOTALS.map((k) => [k, 0])) as Record<(typeof TOTALS)[number], number>;
for (let seed = from; seed < from + count; seed++) {
  try {
    const report = await simulate({
      seed,
      ...(members && { members }),
      ...(steps && { steps }),
      ...(logMaxBytes && { logMaxBytes }),
      ...(longOutage && { longOutage }),
      ...(clockSkew !== undefined && { clockSkew }),
      ...(noStrong && { strong: false }),
      ...(noEngineFaults && { engineFaults: false }),
      ...(transferScenario && { transferScenario }),
      ...(strongMutant && { strongMutant }),
    });
    writes += report.writes;
    for (const k of TOTALS) totals[k] += report[k];
    if (one !== undefined) console.log(report);
  } catch (err) {
    failures++;
    console.error(err instanceof SimFailure ? err.message : err);
    if (failures >= 5) break;
  }
  if ((seed - from + 1) % 1000 === 0) {
    const s = (performance.now() - started) / 1000;
    console.log(`${seed - from + 1} seeds, ${writes} acknowledged writes, ${failures} failures, ${s.toFixed(1)} s`);
  }
}
console.log(`${count} seeds done: ${failures} failed, ${writes} acknowledged writes checked`);
if (one === undefined) console.log(Object.entries(totals).map(([k, v]) => `${k} ${v}`).join(', '));
process.exit(failures > 0 ? 1 : 0);
