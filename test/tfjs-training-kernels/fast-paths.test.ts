/**
 * The wrapped shipped kernels (BatchMatMul with transposes, Tile, Sum, Mean, Identity) give the
 * cpu backend's results on wasm, in their fast cases and in the cases they hand back to the
 * shipped kernel.
 */

import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { randomTensor, sameOnBoth, setup } from './helpers.js';

before(setup);

describe('BatchMatMul with transposes', () => {
  for (const [ta, tb] of [
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ]) {
    it(`transposeA ${ta} transposeB ${tb}, 2-D and batched`, () => {
      sameOnBoth(
        () => {
          const a2 = randomTensor(ta ? [7, 5] : [5, 7], 1) as tf.Tensor2D;
          const b2 = randomTensor(tb ? [3, 7] : [7, 3], 2) as tf.Tensor2D;
          const a3 = randomTensor(ta ? [2, 7, 5] : [2, 5, 7], 3) as tf.Tensor3D;
          const b3 = randomTensor(tb ? [2, 3, 7] : [2, 7, 3], 4) as tf.Tensor3D;
          return [tf.matMul(a2, b2, ta, tb), tf.matMul(a3, b3, ta, tb)];
        },
        1e-5,
        'matMul',
      );
    });
  }

  it('dense layer gradients (the transposed products of backprop)', () => {
    sameOnBoth(
      () => {
        const x = randomTensor([6, 9], 5);
        const w = randomTensor([9, 4], 6);
        return tf.grads((a: tf.Tensor, b: tf.Tensor) =>
          tf.sum(tf.square(tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D))),
        )([x, w]);
      },
      1e-5,
      'dense grads',
    );
  });
});

describe('Tile', () => {
  const cases: Array<[number[], number[], 'float32' | 'int32']> = [
    [[1, 1, 1, 3], [4, 2, 3, 1], 'float32'],
    [[2, 3], [3, 2], 'float32'],
    [[5], [4], 'int32'],
    [[2, 1, 3], [1, 4, 2], 'int32'],
    [[2, 2], [1, 1], 'float32'],
  ];
  for (const [shape, reps, dtype] of cases) {
    it(`${dtype} ${shape} x ${reps}`, () => {
      sameOnBoth(
        () => [
          tf.cast(tf.tile(tf.cast(tf.mul(randomTensor(shape, 7), 10), dtype), reps), 'float32'),
        ],
        0,
        'tile',
      );
    });
  }
});

describe('Sum and Mean', () => {
  const cases: Array<[number[], number | number[]]> = [
    [
      [4, 3, 5, 6],
      [0, 1, 2],
    ], // leading axes (BatchNorm)
    [[4, 3, 5, 6], [3]], // trailing axis (softmax)
    [
      [4, 3, 5, 6],
      [2, 3],
    ],
    [
      [4, 3, 5, 6],
      [0, 1, 2, 3],
    ],
    [[4, 3, 5, 6], [1]], // middle axis: shipped kernel
    [
      [4, 3, 5, 6],
      [0, 2],
    ], // non-contiguous: shipped kernel
    [[7], 0],
    [[3, 4], -1],
  ];
  for (const [shape, axis] of cases) {
    for (const keepDims of [false, true]) {
      it(`shape ${shape} axis ${axis} keepDims ${keepDims}`, () => {
        sameOnBoth(
          () => {
            const x = randomTensor(shape, 9);
            const s = tf.sum(x, axis, keepDims);
            const m = tf.mean(x, axis, keepDims);
            return [s, m, tf.tensor(s.shape), tf.tensor(m.shape)];
          },
          1e-5,
          'reduce',
        );
      });
    }
  }

  it('int32 sums go to the shipped kernel', () => {
    sameOnBoth(
      () => [
        tf.cast(
          tf.sum(
            tf.tensor2d(
              [
                [1, 2],
                [3, 4],
              ],
              [2, 2],
              'int32',
            ),
            0,
          ),
          'float32',
        ),
      ],
      0,
      'int sum',
    );
  });
});

describe('Identity', () => {
  it('shares the buffer: a clone survives disposing the original and frees with the last one', async () => {
    await tf.setBackend('wasm');
    const before = tf.engine().backend.numDataIds();
    const x = tf.tensor1d([1, 2, 3]);
    const y = tf.clone(x);
    x.dispose();
    assert.deepEqual(Array.from(y.dataSync()), [1, 2, 3]);
    y.dispose();
    assert.equal(tf.engine().backend.numDataIds(), before);
  });
});
