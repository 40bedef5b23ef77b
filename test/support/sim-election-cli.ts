/**
 * `npx tsx test/support/sim-election-cli.ts --seeds 5000` soaks the election simulator
 * (`sim/election.ts`) on the `proposals` write path; `--seed 42` replays one seed and prints its
 * report. Options: --from N, --members N, --commit-first (today's write order, which failover
 * makes unsafe), --mutant NAME (one of ElectionMutant: blind-votes, rankless-votes, no-settle,
 * keep-epoch, lazy-settle, drift-beyond-bound; several at once comma-separated, e.g.
 * `--mutant keep-epoch,blind-votes`).
 */
import { type ElectionMutant, simulateElection } from './sim/election.js';
import { arg } from './cli-args.js';

const MUTANTS: readonly ElectionMutant[] = ['blind-votes', 'rankless-votes', 'no-settle', 'keep-epoch', 'lazy-settle', 'drift-beyond-bound'];

const one = arg('seed');
const members = arg('members');
const from = one ?? arg('from') ?? 1;
const count = one !== undefined ? 1 : (arg('seeds') ?? 1000);
const mutantAt = process.argv.indexOf('--mutant');
const mutant = mutantAt >= 0 ? ((process.argv[mutantAt + 1] ?? '').split(',') as ElectionMutant[]) : undefined;
if (mutant?.some((m) => !MUTANTS.includes(m))) throw new Error(`--mutant needs one or more (comma-separated) of ${MUTANTS.join(', ')}`);
const writePath = process.argv.includes('--commit-first') ? 'commit-first' : 'proposals';
const started = performance.now();
let failures = 0;
const totals: Record<string, number> = {};
for (let seed = from; seed < from + count; seed++) {
  try {
    const report = await simulateElection({ seed, writePath, ...(members && { members }), ...(mutant && { mutant }) });
    if (one !== undefined) console.log(report);
    for (const [k, v] of Object.entries(report)) if (k !== 'seed' && k !== 'members') totals[k] = (totals[k] ?? 0) + Number(v);
  } catch (err) {
    failures++;
    console.error(err instanceof Error ? err.message : err);
  }
}
console.log({ seeds: count, failures, seconds: Math.round((performance.now() - started) / 100) / 10, totals });
process.exitCode = failures > 0 ? 1 : 0;
