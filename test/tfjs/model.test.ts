/**
 * The optimizers inside tfjs-layers: model.compile / model.fit on a real task (a Fashion-MNIST
 * subset), exact resume through model.save({ includeOptimizer }) and loadLayersModel, and the
 * serialization round trip.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { cosine, warmRestarts } from '#decoupled/core/schedules.js';
import { AdamW, AdamWR, type DecoupledOptimizer, SGDW } from '#decoupled/tfjs/index.js';
import { loadIdxSplit } from '#harness/experiments/data/idx.js';
import { prng, randomArray, saveToMemory, useBackend } from './helpers.js';

const FASHION = '/usr/share/datasets/fashion-mnist';

/** A small MLP with BatchNormalization (trainable gamma/beta, non-trainable moving stats). */
function smallModel(inputs: number, classes: number, seed: number): tfl.LayersModel {
  const model = tfl.sequential({
    layers: [
      tfl.layers.dense({
        inputShape: [inputs],
        units: 16,
        kernelInitializer: tfl.initializers.glorotUniform({ seed }),
      }),
      tfl.layers.batchNormalization(),
      tfl.layers.activation({ activation: 'relu' }),
      tfl.layers.dense({
        units: classes,
        activation: 'softmax',
        kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 1 }),
      }),
    ],
  });
  return model;
}

function toyData(n: number, inputs: number, classes: number) {
  const rand = prng(5);
  const x = tf.tensor2d(randomArray(rand, n * inputs), [n, inputs]);
  const labels = Array.from({ length: n }, () => Math.floor(rand() * classes));
  const y = tf.cast(tf.oneHot(tf.tensor1d(labels, 'int32'), classes), 'float32');
  return { x, y };
}

const weightsOf = (model: tfl.LayersModel) =>
  model.getWeights().map((w) => Array.from(w.dataSync()));

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`tfjs optimizers in tfjs-layers on ${backend}`, () => {
    test('save with includeOptimizer, load, continue fit == one uninterrupted fit', async () => {
      await useBackend(backend);
      const { x, y } = toyData(48, 6, 3);
      const make = () =>
        new AdamW({
          lr: 0.05,
          weightDecay: 0.1,
          amsgrad: true,
          schedule: warmRestarts({ t0: 4, tMult: 2 }),
          clipNorm: 2,
          excludeFromDecay: { patterns: ['dense_'], useDefaultRule: true },
        });
      const model = smallModel(6, 3, 1);
      model.compile({ optimizer: make(), loss: 'categoricalCrossentropy' });
      const fitArgs = { batchSize: 16, epochs: 2, shuffle: false, verbose: 0 } as const;
      await model.fit(x, y, fitArgs);
      const artifacts = await saveToMemory(model);
      await model.fit(x, y, fitArgs);
      const uninterrupted = weightsOf(model);

      // Loading in the same process renames the variables (kernel -> kernel_1).
      const loaded = await tfl.loadLayersModel(tf.io.fromMemory(artifacts));
      assert.notDeepEqual(
        loaded.trainableWeights.map((w) => w.name),
        model.trainableWeights.map((w) => w.name),
      );
      const opt = loaded.optimizer as DecoupledOptimizer;
      assert.ok(opt instanceof AdamW);
      assert.equal(opt.iterations, 6);
      assert.deepEqual(opt.getConfig(), (model.optimizer as DecoupledOptimizer).getConfig());
      await loaded.fit(x, y, fitArgs);
      assert.deepEqual(weightsOf(loaded), uninterrupted);
      assert.equal(opt.iterations, 12);
      model.dispose();
      loaded.dispose();
      tf.dispose([x, y]);
    });
  });
}

describe('tfjs optimizers: serialization', () => {
  test('getConfig holds the base lr, schedule, decay and exclusion rules; fromConfig rebuilds', async () => {
    await useBackend('cpu');
    const cases: DecoupledOptimizer[] = [
      new AdamW({
        lr: 0.01,
        weightDecay: 0.05,
        decayScale: 'schedule',
        schedule: cosine({ total: 100, min: 0.1 }),
        clipNorm: 1,
        excludeFromDecay: { patterns: ['layer_norm', /^emb_\d+$/i], useDefaultRule: false },
      }),
      new SGDW({ lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 5e-4, nonFinite: 'skip' }),
      new AdamWR({
        lr: 1e-3,
        lambdaNorm: 0.05,
        batchSize: 128,
        datasetSize: 50000,
        t0: 10,
        tMult: 2,
      }),
    ];
    for (const opt of cases) {
      const config = opt.getConfig();
      // Through tfjs' registry directly, and through model.save / loadLayersModel (JSON, and the
      // loader's camel-casing of strings with '_').
      const [cls, fromConfig] =
        tf.serialization.SerializationMap.getMap().classNameMap[opt.getClassName()];
      assert.deepEqual(fromConfig(cls, config).getConfig(), config);
      const model = smallModel(3, 2, 2);
      model.compile({ optimizer: opt, loss: 'meanSquaredError' });
      const loaded = await tfl.loadLayersModel(tf.io.fromMemory(await saveToMemory(model)));
      assert.equal(loaded.optimizer.getClassName(), opt.getClassName());
      assert.deepEqual(loaded.optimizer.getConfig(), config);
      model.dispose();
      loaded.dispose();
    }
    const adamw = cases[0].getConfig();
    assert.equal(adamw.lr, 0.01, 'the base lr, not the scheduled one');
    assert.deepEqual(adamw.schedule, { type: 'cosine', total: 100, min: 0.1 });
    assert.equal(adamw.decayScale, 'schedule');
    assert.equal(adamw.clipNorm, 1);
    assert.deepEqual(cases[2].getConfig().t0, 10);
  });
});

describe('tfjs optimizers: model.fit on a real task', () => {
  const present = existsSync(`${FASHION}/t10k-images-idx3-ubyte.gz`);
  test('AdamW trains an MLP on a Fashion-MNIST subset (wasm) to > 75% held-out accuracy', {
    skip: present ? false : `no ${FASHION} (apt-get install dataset-fashion-mnist)`,
  }, async () => {
    await useBackend('wasm');
    const set = loadIdxSplit(FASHION, 't10k', 'apt-get install dataset-fashion-mnist');
    const pixels = 28 * 28;
    const take = (from: number, n: number) => {
      const x = new Float32Array(n * pixels);
      for (let i = 0; i < n * pixels; i++) x[i] = set.images[from * pixels + i] / 255;
      const y = tf.oneHot(tf.tensor1d(set.labels.subarray(from, from + n), 'int32'), 10);
      return { x: tf.tensor2d(x, [n, pixels]), y: tf.cast(y, 'float32') };
    };
    const train = take(0, 4000);
    const held = take(8000, 1000);
    const model = tfl.sequential({
      layers: [
        tfl.layers.dense({ inputShape: [pixels], units: 64, activation: 'relu' }),
        tfl.layers.dense({ units: 10, activation: 'softmax' }),
      ],
    });
    const opt = new AdamW({ lr: 3e-3, weightDecay: 0.05, schedule: cosine({ total: 4 * 63 }) });
    model.compile({ optimizer: opt, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    const history = await model.fit(train.x, train.y, { batchSize: 64, epochs: 4, verbose: 0 });
    const losses = history.history.loss as number[];
    assert.ok(losses[3] < losses[0], `loss decreases: ${losses}`);
    const [, acc] = model.evaluate(held.x, held.y) as tf.Scalar[];
    const accuracy = acc.dataSync()[0];
    assert.ok(accuracy > 0.75, `held-out accuracy ${accuracy}`);
    assert.equal(opt.iterations, 4 * 63);
    model.dispose();
    tf.dispose([train.x, train.y, held.x, held.y]);
  });
});
