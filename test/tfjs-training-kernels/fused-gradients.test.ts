/**
 * The one-kernel Relu and Mean gradients and the SIMD forward Conv2D on wasm against tfjs' own ops
 * on the cpu backend, over batch 1, odd sizes and channel counts; Mean over leading, middle
 * (global average pooling), trailing and non-contiguous axes (the last falls back to tfjs), with
 * and without keepDims; no tensor leaks.
 */

import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { convGradientTuning } from '#decoupled/tfjs/training-kernels/conv2d.js';
import { randomTensor, sameOnBoth, setup } from './helpers.js';
import { reluValueAndGrad } from './problems.js';

before(setup);

describe('fused Relu gradient on wasm matches tfjs on cpu', () => {
  for (const shape of [
    [1, 1, 1, 1],
    [1, 3, 5, 7],
    [4, 6, 6, 16],
    [2, 9],
  ]) {
    it(`[${shape}]: value and gradient (including exact zeros)`, () => {
      sameOnBoth(reluValueAndGrad(shape, 3), 0, `relu [${shape}]`);
    });
  }
});

describe('fused Mean gradient on wasm matches tfjs on cpu', () => {
  const cases: Array<[number[], number[]]> = [
    [
      [4, 5, 5, 8],
      [1, 2],
    ], // global average pooling
    [
      [1, 3, 3, 7],
      [1, 2],
    ], // batch 1, odd channels
    [[6, 5], [0]], // leading
    [[3, 4, 5], [2]], // trailing
    [
      [3, 4, 5],
      [0, 1, 2],
    ], // everything
    [
      [3, 4, 5, 2],
      [0, 2],
    ], // not contiguous: tfjs' own gradient
  ];
  for (const [shape, axes] of cases) {
    for (const keepDims of [false, true]) {
      it(`[${shape}] axes ${axes}${keepDims ? ', keepDims' : ''}`, () => {
        sameOnBoth(
          () => {
            const x = randomTensor(shape, 7);
            const y = tf.mean(x, axes, keepDims);
            const r = randomTensor(y.shape, 11);
            return [tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.mean(a, axes, keepDims), r)))(x)];
          },
          1e-6,
          `mean [${shape}] ${axes}`,
        );
      });
    }
  }
  it('the fused kernels are what runs on wasm', async () => {
    tf.setBackend('wasm');
    const x = randomTensor([2, 3, 3, 4], 13);
    const { kernelNames } = await tf.profile(() =>
      tf.grad((a: tf.Tensor) => tf.sum(tf.mean(tf.relu(a), [1, 2])))(x),
    );
    assert.ok(kernelNames.includes('DecoupledReluGrad'), `${kernelNames}`);
    assert.ok(kernelNames.includes('DecoupledMeanGrad'), `${kernelNames}`);
    assert.ok(!kernelNames.includes('Step'), `${kernelNames}`);
    x.dispose();
  });
  it('leaves no tensor behind', () => {
    tf.setBackend('wasm');
    const x = randomTensor([2, 3, 3, 4], 13);
    const g = () => tf.grad((a: tf.Tensor) => tf.sum(tf.relu(tf.mean(a, [1, 2]))))(x);
    tf.dispose(g());
    const before = tf.memory().numTensors;
    tf.dispose(g());
    assert.equal(tf.memory().numTensors, before);
    x.dispose();
  });
});

describe('SIMD forward Conv2D on wasm matches the cpu backend', () => {
  const cases: Array<[number[], number[], number, 'same' | 'valid' | number]> = [
    [[1, 7, 7, 3], [3, 3, 3, 4], 1, 'same'],
    [[2, 9, 8, 5], [3, 3, 5, 12], 2, 'same'],
    [[3, 6, 6, 16], [1, 1, 16, 8], 2, 'valid'],
    [[1, 10, 9, 2], [5, 5, 2, 8], 1, 2],
    [[2, 5, 5, 4], [5, 5, 4, 4], 1, 'valid'], // window = input
    [[2, 3, 3, 6], [3, 3, 6, 20], 1, 'same'], // output narrower than a 4-pixel tile
  ];
  for (const [xs, ws, strides, pad] of cases) {
    it(`x ${xs} w ${ws} stride ${strides} pad ${pad}`, () => {
      assert.ok(convGradientTuning.directForward);
      assert.equal(ws[3] % 4, 0, 'the SIMD route needs Co % 4 == 0');
      sameOnBoth(
        () => [
          tf.conv2d(
            randomTensor(xs, 17) as tf.Tensor4D,
            randomTensor(ws, 19) as tf.Tensor4D,
            strides,
            pad,
          ),
        ],
        1e-5,
        `conv ${xs} ${ws}`,
      );
    });
  }
});
