/**
 * The harness with the schedule-free optimizers: a short real run trains, each epoch is evaluated
 * at x (the average; checked by rebuilding x from the checkpoint's y and z), a run with BatchNorm
 * stopped mid-epoch and resumed is bit-identical to an uninterrupted one, and the config refuses
 * a schedule and the options that do not apply.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { lerpInPlace, switchWeight } from '#decoupled/core/schedule-free.js';
import { type Checkpoint, decodeTensor } from '#harness/experiments/checkpoint.js';
import { parseTrainConfig, type TrainConfigInput } from '#harness/experiments/config.js';
import { loadData } from '#harness/experiments/data/index.js';
import { buildModel } from '#harness/experiments/models.js';
import { deriveSeed } from '#harness/experiments/rng.js';
import { evaluate, runTraining } from '#harness/experiments/train.js';
import { tempDir, writeIdxDataset } from './fixtures.js';
import { checkStopAndResume } from './resume.js';

const dataDir = writeIdxDataset({ train: 480, test: 120, side: 12, seed: 3 });

function readCheckpoint(out: string): Checkpoint {
  return JSON.parse(readFileSync(join(out, 'checkpoint.json'), 'utf8')) as Checkpoint;
}

describe('runTraining with schedule-free optimizers', () => {
  it('trains an MLP, and evaluates each epoch at x, not at the y it trains at', async () => {
    const out = tempDir('sf-mlp');
    const config: TrainConfigInput = {
      dataDir,
      model: { kind: 'mlp', hidden: [32] },
      optimizer: 'schedule-free-adamw',
      lr: 0.01,
      warmupSteps: 10,
      weightDecay: 0.01,
      epochs: 3,
      batchSize: 32,
      testSubset: 100,
      out,
    };
    const result = await runTraining(config);
    const [first, , last] = result.epochs;
    assert.ok(last.trainLoss < 0.7 * first.trainLoss, `${first.trainLoss} -> ${last.trainLoss}`);
    assert.ok(last.testError < 0.5, `test error ${last.testError} (chance 0.9)`);
    assert.equal(last.lrMultiplier, 1, 'no schedule');

    // The checkpoint holds y (train mode) and z; x = lerp(y, z, 1 - 1/beta1) is what was evaluated.
    const full = parseTrainConfig(config);
    const checkpoint = readCheckpoint(out);
    const optimizer = new Map(checkpoint.optimizer.map((t) => [t.name, t]));
    const mode = decodeTensor(optimizer.get('scheduleFree') as never)[0];
    assert.equal(mode, 0, 'saved in train mode');
    const data = loadData(full);
    const { height, width, channels, classes } = data.train;
    const model = buildModel(full.model, [height, width, channels], classes, deriveSeed(1, 'init'));
    const at = (sequence: 'x' | 'y') =>
      checkpoint.model.map((saved) => {
        const values = decodeTensor(saved) as Float32Array;
        if (sequence === 'x') {
          const z = decodeTensor(optimizer.get(`${saved.name}/z`) as never) as Float32Array;
          lerpInPlace(values, z, switchWeight(full.beta1, 'eval'));
        }
        return tf.tensor(values, saved.shape);
      });
    const lossAt = (sequence: 'x' | 'y') => {
      const weights = at(sequence);
      model.setWeights(weights);
      tf.dispose(weights);
      return evaluate(model, data.test, data.normalization).loss;
    };
    const [x, y] = [lossAt('x'), lossAt('y')];
    model.dispose();
    // x is rebuilt from the y that train() restored, which rounds: close, not bit-identical.
    assert.ok(
      Math.abs(x - last.testLoss) < 1e-4 * last.testLoss,
      `at x ${x}, recorded ${last.testLoss}`,
    );
    assert.ok(Math.abs(y - last.testLoss) > 100 * Math.abs(x - last.testLoss), `at y ${y}`);
  });

  it('trains with schedule-free-sgd', async () => {
    const result = await runTraining({
      dataDir,
      model: { kind: 'mlp', hidden: [32] },
      optimizer: 'schedule-free-sgd',
      lr: 0.5,
      warmupSteps: 5,
      epochs: 2,
      batchSize: 32,
      testSubset: 100,
    });
    const [first, last] = result.epochs;
    assert.ok(last.trainLoss < first.trainLoss, `${first.trainLoss} -> ${last.trainLoss}`);
    assert.ok(last.testError < 0.5, `test error ${last.testError}`);
  });

  it('ends bit-identical to an uninterrupted run when stopped mid-epoch and resumed (BatchNorm)', async () => {
    const config: TrainConfigInput = {
      dataDir,
      model: { kind: 'cnn', width: 0.25 },
      optimizer: 'schedule-free-adamw',
      lr: 3e-3,
      warmupSteps: 4,
      r: 1,
      weightDecay: 0.05,
      augment: { cropPadding: 2, flip: true },
      validationSize: 48,
      subset: 160,
      testSubset: 40,
      epochs: 3,
      batchSize: 32,
      seed: 5,
    };
    const { whole } = await checkStopAndResume(config);
    assert.ok(
      whole.optimizer.some((t) => t.name.endsWith('/z')),
      'z is in the compared state',
    );
  });
});

describe('the config of schedule-free runs', () => {
  const base = { optimizer: 'schedule-free-adamw' } as const;
  const bad: [TrainConfigInput, RegExp][] = [
    [
      { ...base, schedule: { kind: 'cosine' } },
      /schedule: schedule-free-adamw takes no learning-rate schedule .*not cosine/,
    ],
    [
      { ...base, decayScale: 'schedule' },
      /decayScale: schedule-free-adamw scales its decay by lr_t/,
    ],
    [{ optimizer: 'schedule-free-sgd', nesterov: true }, /nesterov: applies to sgd and sgdw/],
    [
      { optimizer: 'adamw', warmupSteps: 10 },
      /warmupSteps: applies to schedule-free-adamw and schedule-free-sgd only, not adamw/,
    ],
    [{ optimizer: 'sgd', r: 1 }, /r: applies to .* only, not sgd/],
    [{ ...base, warmupSteps: -1 }, /warmupSteps/],
  ];
  for (const [input, pattern] of bad) {
    it(`refuses ${JSON.stringify(input)}`, () => {
      assert.throws(
        () => parseTrainConfig(input),
        (e: Error) =>
          pattern.test(
            (e as { issues?: { path: string[]; message: string }[] }).issues
              ?.map((i) => `${i.path.join('.')}: ${i.message}`)
              .join('\n') ?? '',
          ),
      );
    });
  }

  it('keeps the options it takes, and adds nothing to other configs', () => {
    const c = parseTrainConfig({ ...base, warmupSteps: 10, r: 0.5, weightLrPower: 1 });
    assert.deepEqual([c.warmupSteps, c.r, c.weightLrPower], [10, 0.5, 1]);
    assert.equal('warmupSteps' in parseTrainConfig({ optimizer: 'adamw' }), false);
  });
});
