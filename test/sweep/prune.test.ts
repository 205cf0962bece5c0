/**
 * Successive halving over real (tiny) trainings: the executor pauses trials at rungs and resumes
 * them, the pruning runner keeps the best 1/eta of each bracket by validation error and records
 * the rest as pruned with their metrics at the rung.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { executeTrial } from '#harness/sweep/execute.js';
import { rungEpochs, rungScore, SuccessiveHalvingRunner } from '#harness/sweep/prune.js';
import { expandGrid, parseSweepSpec } from '#harness/sweep/spec.js';
import type { Trial, TrialEvent, TrialResult, TrialRunner } from '#harness/sweep/types.js';
import { writeIdxDataset } from '../experiments/fixtures.js';

/** Runs trials one after another in this process, as a pool worker would. */
class InlineRunner implements TrialRunner {
  readonly name = 'inline';
  untilEpochs: (number | undefined)[] = [];
  async run(trials: Trial[], ctx: Parameters<TrialRunner['run']>[1]) {
    for (const trial of trials) {
      this.untilEpochs.push(trial.untilEpoch);
      const result = await executeTrial(trial, ctx.trialDir(trial));
      await ctx.onResult(result);
      ctx.onEvent?.({ type: 'done', trial, result });
    }
  }
}

test('rungs are minEpochs * eta^k below the budget; bad settings are refused', () => {
  assert.deepEqual(rungEpochs(10, 3, 1), [1, 3, 9]);
  assert.deepEqual(rungEpochs(9, 3, 1), [1, 3]);
  assert.deepEqual(rungEpochs(8, 2, 2), [2, 4]);
  assert.deepEqual(rungEpochs(1, 3, 1), []);
  assert.throws(() => rungEpochs(10, 1, 1), /eta must be an integer >= 2; received 1/);
  assert.throws(() => rungEpochs(10, 3, 0), /minEpochs must be an integer >= 1; received 0/);
  assert.equal(
    rungScore({ epoch: 1, trainLoss: 0.5, trainError: 0, testError: 0, wallTimeMs: 0 }),
    0.5,
  );
  assert.equal(
    rungScore({
      epoch: 1,
      trainLoss: 0.5,
      trainError: 0,
      valError: 0.2,
      testError: 0,
      wallTimeMs: 0,
    }),
    0.2,
  );
  assert.equal(
    rungScore({ epoch: 1, trainLoss: Number.NaN, trainError: 0, testError: 0, wallTimeMs: 0 }),
    Infinity,
  );
});

test('keeps the best 1/eta by validation error at each rung and records the rest as pruned', async () => {
  const dataDir = writeIdxDataset({ train: 400, test: 60, side: 12, seed: 5 });
  const spec = parseSweepSpec({
    base: {
      dataDir,
      model: { kind: 'mlp', hidden: [16] },
      subset: 160,
      validationSize: 100,
      epochs: 4,
      batchSize: 32,
    },
    grid: {
      optimizer: ['adamw'],
      lr: [1e-4, 3e-3],
      weightDecay: [0, 0.1, 1],
      schedule: ['cosine'],
    },
  });
  const trials = expandGrid(spec);
  const root = mkdtempSync(join(tmpdir(), 'prune-'));
  const inner = new InlineRunner();
  const recorded: TrialResult[] = [];
  const events: TrialEvent[] = [];
  await new SuccessiveHalvingRunner(inner, { eta: 2, minEpochs: 1 }).run(trials, {
    trialDir: (t) => join(root, t.id),
    onResult: async (r) => {
      recorded.push(r);
    },
    onEvent: (e) => events.push(e),
  });
  // 6 trials -> 3 after rung 1 -> 2 after rung 2 -> trained to epoch 4.
  assert.deepEqual(inner.untilEpochs, [
    ...Array(6).fill(1),
    ...Array(3).fill(2),
    undefined,
    undefined,
  ]);
  assert.equal(recorded.length, 6);
  assert.equal(new Set(recorded.map((r) => r.trialId)).size, 6);
  assert.equal(events.filter((e) => e.type === 'done').length, 6);
  const pruned = recorded.filter((r) => r.pruned);
  assert.deepEqual(pruned.map((r) => r.epochs.length).sort(), [1, 1, 1, 2]);
  const full = recorded.filter((r) => !r.pruned);
  assert.equal(full.length, 2);
  for (const r of full) {
    assert.equal(r.epochs.length, 4);
    assert.ok(r.epochs.every((p) => typeof p.valError === 'number'));
    assert.equal(r.final?.valError, r.epochs[3].valError);
  }
  // Everyone pruned at rung 1 scored no better there than every trial that went on.
  const at = (r: TrialResult, epoch: number) => rungScore(r.epochs.find((p) => p.epoch === epoch));
  const continued = recorded.filter((r) => r.epochs.length > 1);
  for (const p of pruned.filter((r) => r.epochs.length === 1)) {
    for (const c of continued) assert.ok(at(p, 1) >= at(c, 1), `${p.trialId} vs ${c.trialId}`);
  }
  // A survivor paused at two rungs ends where an uninterrupted run of it ends.
  const survivor = trials.find((t) => t.id === full[0].trialId) as Trial;
  const whole = await executeTrial(survivor, join(root, 'whole'));
  const metrics = (r: TrialResult) => r.epochs.map(({ wallTimeMs: _w, ...rest }) => rest);
  assert.deepEqual(metrics(full[0]), metrics(whole));
});
