/**
 * The harness with `ema` and `accumulate` (TrainConfig fields, `--ema` / `--accumulate`):
 *  - ema trains exactly as without it, and each epoch's test metrics are those of the averaged
 *    weights (rebuilt here from the checkpoint's `ema` slots), the record saying so;
 *  - accumulate: a step per k batches, the schedule and normalized decay counting those steps;
 *  - a run with both, stopped mid-window twice and resumed, ends bit-identical to one run;
 *  - sweep specs take both in `base`.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { type Checkpoint, decodeTensor } from '#harness/experiments/checkpoint.js';
import type { EpochRecord, TrainConfigInput } from '#harness/experiments/config.js';
import { parseTrainConfig } from '#harness/experiments/config.js';
import { loadData } from '#harness/experiments/data/index.js';
import { buildModel } from '#harness/experiments/models.js';
import { evaluate, runTraining } from '#harness/experiments/train.js';
import { expandGrid, parseSweepSpec } from '#harness/sweep/spec.js';
import { tempDir, writeIdxDataset } from './fixtures.js';

const dataDir = writeIdxDataset({ train: 400, test: 60, side: 12, seed: 6 });

const readCheckpoint = (out: string) =>
  JSON.parse(readFileSync(join(out, 'checkpoint.json'), 'utf8')) as Checkpoint;

const withoutTime = (records: EpochRecord[]) =>
  records.map(({ seconds: _s, imagesPerSecond: _i, ...rest }) => rest);

const base: TrainConfigInput = {
  dataDir,
  model: { kind: 'mlp', hidden: [16] },
  optimizer: 'adamw',
  lr: 3e-3,
  weightDecay: 0.05,
  subset: 160,
  testSubset: 40,
  validationSize: 20,
  batchSize: 32,
  epochs: 2,
  seed: 3,
};

describe('ema in the harness', () => {
  it('trains as without it and evaluates the averaged weights, saying so in the record', async () => {
    const plainOut = tempDir('plain');
    const emaOut = tempDir('ema');
    const plain = await runTraining({ ...base, out: plainOut });
    const averaged = await runTraining({ ...base, ema: 0.9, out: emaOut });
    assert.deepEqual(
      readCheckpoint(emaOut).model.map((t) => t.data),
      readCheckpoint(plainOut).model.map((t) => t.data),
      'the trained weights do not depend on ema',
    );
    assert.deepEqual(
      averaged.epochs.map((r) => [r.trainLoss, r.trainError, r.evaluated]),
      plain.epochs.map((r) => [r.trainLoss, r.trainError, 'ema']),
    );
    assert.ok(plain.epochs.every((r) => !('evaluated' in r)));

    // The test metrics of the last epoch, from the checkpoint's averages put in a fresh model.
    const checkpoint = readCheckpoint(emaOut);
    const config = parseTrainConfig(checkpoint.config);
    const data = loadData(config);
    const { height, width, channels, classes } = data.train;
    const model = buildModel(config.model, [height, width, channels], classes, 1);
    const byName = new Map(checkpoint.optimizer.map((t) => [t.name, t]));
    const tensors = checkpoint.model.map((t) => {
      const average = byName.get(`${t.name}/ema`);
      return tf.tensor(decodeTensor(average ?? t), t.shape);
    });
    assert.equal(
      checkpoint.model.filter((t) => byName.has(`${t.name}/ema`)).length,
      model.trainableWeights.length,
      'every trainable weight has its average',
    );
    model.setWeights(tensors);
    const test = evaluate(model, data.test, data.normalization);
    const last = averaged.epochs[1];
    assert.equal(test.error, last.testError);
    assert.equal(test.loss, last.testLoss);
    assert.notEqual(last.testLoss, plain.epochs[1].testLoss, 'the averages were evaluated');
    tf.dispose(tensors);
    model.dispose();
  });
});

describe('accumulate in the harness', () => {
  it('steps once per k batches; the schedule and normalized decay count those steps', async () => {
    // 160 images, batch 32: 5 batches per epoch, 2.5 steps with k = 2.
    const k = 2;
    const result = await runTraining({
      ...base,
      accumulate: k,
      weightDecayNorm: true,
      schedule: { kind: 'cosine' },
    });
    assert.deepEqual(
      result.epochs.map((r) => r.step),
      [2, 5],
    );
    // cosine over epochs * 5 / k = 5 steps; the last record is at step 4.
    const total = (2 * 5) / k;
    assert.equal(result.epochs[1].lrMultiplier, (1 + Math.cos((Math.PI * 4) / total)) / 2);
    // lambda = lambda_norm * sqrt(k * batch / (trainSize * epochs)).
    assert.equal(result.epochs[1].weightDecay, 0.05 * Math.sqrt((k * 32) / (160 * 2)));
  });

  it('with ema, stopped mid-window twice and resumed, ends bit-identical to one run', async () => {
    const config: TrainConfigInput = {
      ...base,
      epochs: 3,
      accumulate: 3,
      ema: 0.8,
      schedule: { kind: 'warm-restarts', t0: 1, tMult: 2 },
      weightDecayNorm: true,
    };
    const whole = await runTraining({ ...config, out: tempDir('whole') });
    const out = tempDir('parts');
    const tensors = tf.memory().numTensors;
    await runTraining({ ...config, out }, { stopAfterSteps: 4 });
    let saved = readCheckpoint(out);
    assert.deepEqual([saved.state.batch, saved.state.step], [4, 1]);
    const calls = saved.optimizer.find((t) => t.name === 'accumulate_calls');
    assert.deepEqual(calls && Array.from(decodeTensor(calls)), [1], 'one call in the window');
    await runTraining({ ...config, out }, { resume: true, stopAfterSteps: 3 });
    saved = readCheckpoint(out);
    assert.deepEqual([saved.state.epoch, saved.state.batch, saved.state.step], [1, 2, 2]);
    const rest = await runTraining({ ...config, out }, { resume: true });
    assert.equal(tf.memory().numTensors, tensors, 'runs leave no tensors behind');
    assert.deepEqual(withoutTime(rest.epochs), withoutTime(whole.epochs));
    assert.ok(rest.epochs.every((r) => r.evaluated === 'ema'));
    const a = readCheckpoint(out);
    const b = readCheckpoint(join(whole.config.out as string));
    assert.deepEqual(
      a.model.map((t) => t.data),
      b.model.map((t) => t.data),
    );
    assert.deepEqual(
      a.optimizer.map((t) => [t.name.replace(/_\d+/g, ''), t.data]),
      b.optimizer.map((t) => [t.name.replace(/_\d+/g, ''), t.data]),
    );
  });
});

describe('sweep specs', () => {
  it('take ema and accumulate in base, and check them', () => {
    const grid = { optimizer: ['adamw'], lr: [1e-3], weightDecay: [0] };
    const trials = expandGrid(parseSweepSpec({ base: { ema: 0.999, accumulate: 4 }, grid }));
    assert.equal(trials[0].config.ema, 0.999);
    assert.equal(trials[0].config.accumulate, 4);
    assert.throws(
      () => expandGrid(parseSweepSpec({ base: { accumulate: 0 }, grid })),
      (e: unknown) => e instanceof z.ZodError && e.issues[0].path.join('.') === 'accumulate',
    );
  });
});
