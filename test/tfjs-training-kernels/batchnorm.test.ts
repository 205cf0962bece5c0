/**
 * The fused BatchNorm training op on wasm against tfjs' unfused graph (tf.moments + tf.batchNorm)
 * on the cpu backend: outputs, batch statistics and gradients for x, gamma and beta (including
 * gradients that reach the mean and variance outputs), over batch 1, odd sizes and channel counts
 * and a large mean; tf.layers.batchNormalization in training and inference mode, with its moving
 * statistics; no tensor leaks; a ResNet trained with and without the fused op.
 */

import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { setFusedBatchNorm } from '#decoupled/tfjs/training-kernels/index.js';
import { assertClose, onBackend, randomArray, resnetLosses, setup } from './helpers.js';
import { BN_EPS, batchNormValuesAndGrads, fusedBatchNorm, unfusedBatchNorm } from './problems.js';

before(setup);

describe('fused BatchNorm op on wasm matches tf.moments + tf.batchNorm on cpu', () => {
  const shapes = [
    [1, 1, 1, 3], // batch 1, one pixel: variance 0
    [1, 5, 3, 7], // batch 1, odd sizes and channels
    [3, 5, 5, 6],
    [2, 4, 4, 16],
    [5, 9], // rank 2 (dense)
    [2, 3, 3, 37], // channels not a multiple of 4
  ];
  for (const shape of shapes) {
    for (const throughStats of [false, true]) {
      it(`[${shape}]${throughStats ? ', gradients through mean and variance' : ''}`, () => {
        const wasm = onBackend(
          'wasm',
          batchNormValuesAndGrads(shape, 0.25, fusedBatchNorm, throughStats),
        );
        const cpu = onBackend(
          'cpu',
          batchNormValuesAndGrads(shape, 0.25, unfusedBatchNorm, throughStats),
        );
        // The pixel-less case has var 0: y = beta exactly, dx scaled by 1/sqrt(eps).
        assertClose(wasm, cpu, 2e-5, `[${shape}]`);
      });
    }
  }
  it('a large mean (100 + x) does not cancel', () => {
    const wasm = onBackend(
      'wasm',
      batchNormValuesAndGrads([4, 6, 6, 8], 100, fusedBatchNorm, true),
    );
    const cpu = onBackend(
      'cpu',
      batchNormValuesAndGrads([4, 6, 6, 8], 100, unfusedBatchNorm, true),
    );
    assertClose(wasm, cpu, 1e-4, 'offset 100');
  });
  it('leaves no tensor behind (forward and gradients)', () => {
    tf.setBackend('wasm');
    const f = batchNormValuesAndGrads([2, 3, 3, 5], 0, fusedBatchNorm, true);
    tf.tidy(f); // warm-up
    const before = tf.memory().numTensors;
    const outs = tf.tidy(f);
    assert.equal(tf.memory().numTensors, before + outs.length);
    tf.dispose(outs);
    assert.equal(tf.memory().numTensors, before);
  });
});

/** Applies a BatchNormalization layer with fixed weights; returns y, moving stats, gradients. */
function layerRun(shape: number[], training: boolean, momentum: number): () => tf.Tensor[] {
  return () => {
    const c = shape[shape.length - 1];
    const layer = tfl.layers.batchNormalization({ momentum, epsilon: BN_EPS });
    const x = tf.tensor(randomArray(tf.util.sizeFromShape(shape), 23), shape);
    layer.build(x.shape);
    layer.setWeights([
      tf.add(tf.tensor1d(randomArray(c, 29)), 1),
      tf.tensor1d(randomArray(c, 31)),
      tf.tensor1d(randomArray(c, 37)),
      tf.add(tf.tensor1d(randomArray(c, 41)), 2),
    ]);
    const r = tf.tensor(randomArray(x.size, 43), shape);
    const weights = layer.trainableWeights.map((w) => w.read() as tf.Variable);
    // Two applications: the moving averages move twice.
    const { value, grads } = tf.variableGrads(() => {
      layer.apply(x, { training });
      return tf.sum(tf.mul(layer.apply(x, { training }) as tf.Tensor, r));
    }, weights);
    const dx = tf.grad((a: tf.Tensor) =>
      tf.sum(tf.mul(layer.apply(a, { training }) as tf.Tensor, r)),
    )(x);
    const moving = layer
      .getWeights()
      .slice(2)
      .map((w) => tf.clone(w));
    const out = [value, ...weights.map((w) => grads[w.name]), dx, ...moving];
    for (const w of layer.weights) w.dispose(); // layer.dispose() needs a symbolic apply
    return out;
  };
}

describe('tf.layers.batchNormalization on wasm (fused) matches the layer on cpu', () => {
  for (const training of [true, false]) {
    for (const shape of [
      [1, 3, 5, 7],
      [4, 6, 6, 12],
    ]) {
      it(`${training ? 'training' : 'inference'} mode, [${shape}]: output, gradients, moving stats`, () => {
        const wasm = onBackend('wasm', layerRun(shape, training, 0.9));
        const cpu = onBackend('cpu', layerRun(shape, training, 0.9));
        assertClose(wasm, cpu, 2e-5, `[${shape}]`);
      });
    }
  }
  it('training mode on wasm runs the fused kernels, and the unfused graph when turned off', async () => {
    tf.setBackend('wasm');
    const kernels = async () =>
      (await tf.profile(() => tf.dispose(layerRun([2, 3, 3, 4], true, 0.9)()))).kernelNames;
    assert.ok((await kernels()).includes('DecoupledBatchNormTraining'));
    assert.ok((await kernels()).includes('DecoupledBatchNormTrainingGrad'));
    setFusedBatchNorm(false);
    try {
      const names = await kernels();
      assert.ok(!names.includes('DecoupledBatchNormTraining'));
      assert.ok(names.includes('FusedBatchNorm'));
    } finally {
      setFusedBatchNorm(true);
    }
  });
});

function resnetLossesWith(fusedOn: boolean, steps: number): number[] {
  setFusedBatchNorm(fusedOn);
  try {
    tf.setBackend('wasm');
    return resnetLosses(steps);
  } finally {
    setFusedBatchNorm(true);
  }
}

describe('a ResNet trains the same with and without the fused BatchNorm', () => {
  it('losses of 6 SGD steps and the inference loss agree', () => {
    const withFused = resnetLossesWith(true, 6);
    const without = resnetLossesWith(false, 6);
    assert.ok(withFused[5] < withFused[0], `loss did not fall: ${withFused}`);
    for (let i = 0; i < without.length; i++) {
      assert.ok(
        Math.abs(withFused[i] - without[i]) <= 1e-4 * Math.max(1, Math.abs(without[i])),
        `step ${i}: fused ${withFused[i]} vs unfused ${without[i]}`,
      );
    }
  });
});
