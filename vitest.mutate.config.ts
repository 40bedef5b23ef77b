/**
 * The vitest configuration of `npm run mutate` (Stryker, see stryker.config.json): the `core`
 * project alone, with the simulator's 1,000 seeds cut to a few per file (`SIM_SEEDS`) and
 * fewer fast-check runs in the engine properties (`ENGINE_RUNS`); both can be raised from the
 * environment. Test files run cheapest first: Stryker stops at the first failing test, so a
 * mutant that a unit test kills costs that unit test, not a simulator run.
 *
 * Two files are left out, because a surviving mutant runs every test that covers it and these
 * two ignore `SIM_SEEDS`: `simulator-mutants.test.ts` tests the simulator's checks (up to 200
 * seeds per broken replica), and `simulator.test.ts` runs 50 fixed simulations. Set
 * `MUTATE_ALL_TESTS=1` to put them back.
 */
import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { defineConfig } from 'vitest/config';

/** Rough cost of each test file in ms (measured on the development machine); unknown files 2,000. */
const COST: Record<string, number> = {
  'purity.test.ts': 70,
  'engines-ops.test.ts': 20,
  'storage-memory.test.ts': 130,
  'replica-faults.test.ts': 160,
  'version-vector.test.ts': 240,
  'routing.test.ts': 300,
  'eager-push.test.ts': 300,
  'engines-yjs.test.ts': 300,
  'codec.test.ts': 600,
  'engines-depth.test.ts': 2_600,
  'strong.test.ts': 3_400,
  'engines-automerge.test.ts': 5_000,
  'memory-bound.test.ts': 5_000,
  'simulator-1.test.ts': 6_000,
  'simulator-2.test.ts': 6_000,
  'simulator-3.test.ts': 6_000,
  'simulator-4.test.ts': 6_000,
  'simulator-mutants.test.ts': 9_000,
  'engines.test.ts': 9_700,
  'doc-store.test.ts': 11_000,
  'replica.test.ts': 14_500,
  'simulator.test.ts': 26_000,
  'transfer.test.ts': 36_000,
};

function cost(spec: TestSpecification): number {
  const file = spec.moduleId.slice(spec.moduleId.lastIndexOf('/') + 1);
  if (file.startsWith('mutants-')) return 0;
  return COST[file] ?? 2_000;
}

class CheapestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    return [...files].sort((a, b) => cost(a) - cost(b) || a.moduleId.localeCompare(b.moduleId));
  }
}

export default defineConfig({
  test: {
    name: 'core',
    environment: 'node',
    include: ['test/core/**/*.test.ts'],
    exclude: process.env['MUTATE_ALL_TESTS'] ? [] : ['test/core/simulator.test.ts', 'test/core/simulator-mutants.test.ts'],
    testTimeout: 120_000,
    sequence: { sequencer: CheapestFirst },
    env: {
      SIM_SEEDS: process.env['SIM_SEEDS'] ?? '3',
      ENGINE_RUNS: process.env['ENGINE_RUNS'] ?? '10',
    },
  },
});
