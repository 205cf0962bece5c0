/**
 * Models of the harness train on tfjs-backend-wasm with the training kernels: a ResNet with
 * BatchNorm (strided 3x3 and 1x1 convs, global average pooling) and the small CNN (max pools)
 * lower their loss on a fixed batch, and a training step leaves no tensor or wasm buffer behind.
 */

import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import type { ModelConfig } from '#harness/experiments/config.js';
import { buildModel } from '#harness/experiments/models.js';
import { randomArray, setup } from './helpers.js';

before(setup);

function trainLosses(config: ModelConfig, steps: number): { losses: number[]; leaks: number[] } {
  tf.setBackend('wasm');
  const model = buildModel(config, [16, 16, 1], 4, 5);
  const optimizer = tf.train.adam(3e-3);
  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const batch = 6;
  const x = tf.tensor4d(randomArray(batch * 16 * 16, 21), [batch, 16, 16, 1]);
  const y = tf.oneHot(tf.tensor1d([0, 1, 2, 3, 0, 1], 'int32'), 4);
  const losses: number[] = [];
  const leaks: number[] = [];
  const backend = tf.engine().backend;
  for (let i = 0; i < steps; i++) {
    const tensors = tf.memory().numTensors;
    const buffers = backend.numDataIds();
    const loss = tf.tidy(() => {
      const cost = optimizer.minimize(
        () => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor),
        true,
        variables,
      ) as tf.Scalar;
      return cost.dataSync()[0];
    });
    losses.push(loss);
    // Step 1 creates the optimizer's slots; from then on a step must allocate nothing lasting.
    if (i >= 1) leaks.push(tf.memory().numTensors - tensors, backend.numDataIds() - buffers);
  }
  tf.dispose([x, y]);
  optimizer.dispose();
  model.dispose();
  return { losses, leaks };
}

describe('training on wasm', () => {
  for (const config of [
    { kind: 'resnet', blocksPerStage: 1, width: 4 },
    { kind: 'cnn', width: 0.25 },
  ] as ModelConfig[]) {
    it(`${config.kind} with BatchNorm: loss decreases, no leak across steps`, () => {
      const { losses, leaks } = trainLosses(config, 12);
      assert.ok(losses.every(Number.isFinite), `losses ${losses}`);
      assert.ok(losses[11] < 0.7 * losses[0], `loss ${losses[0]} -> ${losses[11]}`);
      assert.deepEqual(leaks, new Array(leaks.length).fill(0));
    });
  }
});
