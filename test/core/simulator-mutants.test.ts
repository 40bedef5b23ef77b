/**
 * The simulator must catch broken replicas (`test/support/sim/mutants.ts`). The first two
 * kinds once passed 200 seeds, because the checker skipped the content of documents that see
 * deletes and checked deletes only by vector coverage; the storage-fault ones had no faults
 * to meet. Each must now fail within the seed budget with the failure of the check meant to
 * catch it, while the real replica passes the seed that caught it.
 */
import { describe, expect, it } from 'vitest';
import {
  EmptyData, ForgetsTransferProgress, RefusesAsMissingDependencies, IgnoresTransferClock, SwallowsCommitFailure, UncountedEngineFaults, deleteWins, forgetsClockOnRestart,
  forgetsTransferAtRestart, keepsEnginesAfterEngineFault, keepsEnginesAfterFailure,
} from '../support/sim/mutants.js';
import { SimFailure, simulate, type SimOptions } from '../support/sim/simulation.js';
import type { StrongMutant } from '../support/sim/strong.js';
import { AM_DOCS, MIXED_DOC, YJS_DOCS } from '../support/sim/workload.js';

const BUDGET = 200;

/** The first seed in 1..BUDGET at which the simulator fails with `replica`, and its failure. */
async function firstCaught(replica: SimOptions['replica'], opts: Partial<SimOptions> = {}, budget = BUDGET): Promise<{ seed: number; message: string } | undefined> {
  for (let seed = 1; seed <= budget; seed++) {
    try {
      await simulate({ seed, ...(replica && { replica }), ...opts });
    } catch (err) {
      if (!(err instanceof SimFailure)) throw err;
      return { seed, message: err.message };
    }
  }
  return undefined;
}

/** A failure of the model's checks, not an accident such as a crash of the simulator itself. */
const MODEL_FAILURE = /holds\n|metadata .*the writes give|live=\w+, the writes give|is missing; writes/;

describe('the simulator catches broken replicas', () => {
  for (const victim of [AM_DOCS[3]!, YJS_DOCS[2]!, MIXED_DOC]) {
    it(`a replica that acknowledges writes to ${victim.replace('\u0000', '/')} but stores empty data`, async () => {
      const caught = await firstCaught((config, env) => new EmptyData(config, env, victim));
      expect(caught, `not caught within ${BUDGET} seeds`).toBeDefined();
      expect(caught!.message).toMatch(MODEL_FAILURE);
      await expect(simulate({ seed: caught!.seed })).resolves.toBeDefined();
    });
  }

  it('a replica where a delete wins over a concurrent write', async () => {
    const caught = await firstCaught(deleteWins);
    expect(caught, `not caught within ${BUDGET} seeds`).toBeDefined();
    expect(caught!.message).toMatch(MODEL_FAILURE);
    await expect(simulate({ seed: caught!.seed })).resolves.toBeDefined();
  });

  it('a replica that answers a write whose commit failed as acknowledged', async () => {
    const caught = await firstCaught((config, env) => new SwallowsCommitFailure(config, env));
    expect(caught, `not caught within ${BUDGET} seeds`).toBeDefined();
    expect(caught!.message).toMatch(/acknowledged \w+:\d+ but storage does not hold it/);
    await expect(simulate({ seed: caught!.seed })).resolves.toBeDefined();
  });

  it('a replica whose engines stay ahead of storage after a failed commit', async () => {
    const caught = await firstCaught(keepsEnginesAfterFailure);
    expect(caught, `not caught within ${BUDGET} seeds`).toBeDefined();
    expect(caught!.message).toMatch(/state of .* in memory is .*, storage holds/);
    await expect(simulate({ seed: caught!.seed })).resolves.toBeDefined();
  });

  it('a replica that refuses Yjs updates as missing dependencies though it holds what their client had seen', async () => {
    const caught = await firstCaught((config, env) => new RefusesAsMissingDependencies(config, env, YJS_DOCS[0]!));
    expect(caught, `not caught within ${BUDGET} seeds`).toBeDefined();
    expect(caught!.message).toMatch(/missing-dependencies\) though it held everything the client had seen/);
    await expect(simulate({ seed: caught!.seed })).resolves.toBeDefined();
  });

  it('a replica that does not count its engine faults in stats()', async () => {
    const caught = await firstCaught((config, env) => new UncountedEngineFaults(config, env));
    expect(caught, `not caught within ${BUDGET} seeds`).toBeDefined();
    expect(caught!.message).toMatch(/an engine fault .* counted 0 times/);
    await expect(simulate({ seed: caught!.seed })).resolves.toBeDefined();
  });

  it('a replica whose engines keep what a batch merged before an engine fault', async () => {
    const caught = await firstCaught(keepsEnginesAfterEngineFault);
    expect(caught, `not caught within ${BUDGET} seeds`).toBeDefined();
    expect(caught!.message).toMatch(/state of .* in memory is .*, storage holds/);
    await expect(simulate({ seed: caught!.seed })).resolves.toBeDefined();
  });

  it('a replica that forgets its hybrid clock at a restart, whose clock may come back behind', async () => {
    const caught = await firstCaught(forgetsClockOnRestart);
    expect(caught, `not caught within ${BUDGET} seeds`).toBeDefined();
    expect(caught!.message).toMatch(/has hlc \d+, not after/);
    await expect(simulate({ seed: caught!.seed })).resolves.toBeDefined();
  });

  it('a replica that ignores the hybrid clock a state transfer carries (a later write may be earlier than what it brought)', async () => {
    const opts = { steps: 400, logMaxBytes: 6144, longOutage: true };
    const caught = await firstCaught((config, env) => new IgnoresTransferClock(config, env), opts, 20);
    expect(caught, 'not caught within 20 seeds').toBeDefined();
    expect(caught!.message).toMatch(/has hlc \d+, not after .* which its deps cover/);
    await expect(simulate({ seed: caught!.seed, ...opts })).resolves.toBeDefined();
  });

  for (const [what, replica] of [
    ['forgets its state transfer\'s progress at a restart', forgetsTransferAtRestart],
    ['asks for no resume of its state transfer in the rounds it opens', (config, env) => new ForgetsTransferProgress(config, env)],
  ] as [string, NonNullable<SimOptions['replica']>][]) {
    it(`a replica that ${what}: its transfer starts over and does not finish`, async () => {
      const opts = { steps: 300, transferScenario: true };
      const caught = await firstCaught(replica, opts, 6);
      expect(caught, 'not caught within 6 seeds').toBeDefined();
      expect(caught!.message).toMatch(/did not finish catching up within \d+ steps|was sent \d+ documents again/);
      await expect(simulate({ seed: caught!.seed, ...opts })).resolves.toBeDefined();
    });
  }

  const strong: [StrongMutant, string, RegExp][] = [
    ['no-gather', 'a leader that reads and decides without pulling from a majority', /read of .* misses|below its floor/],
    ['early-ack', 'strong writes answered before a majority stores them', /acknowledged stored on \d+ members, \d+ needed/],
    ['no-replay', 'a leader that runs a retried request again instead of answering its recorded outcome', /request \w+ (produced \d+ entries|was answered)/],
    ['session-no-wait', 'session reads answered before the member covers the token', /session read .* shows/],
  ];
  for (const [mutant, what, failure] of strong) {
    it(`the strong paths: ${what}`, async () => {
      const caught = await firstCaught(undefined, { strongMutant: mutant });
      expect(caught, `not caught within ${BUDGET} seeds`).toBeDefined();
      expect(caught!.message).toMatch(failure);
      await expect(simulate({ seed: caught!.seed })).resolves.toBeDefined();
    });
  }
});
