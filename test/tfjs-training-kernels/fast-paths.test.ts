/**
 * The wrapped shipped kernels (BatchMatMul with transposes, Tile, Sum, Mean, Identity) give the
 * cpu backend's results on wasm, in their fast cases and in the cases they hand back to the
 * shipped kernel.
 */

import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { maxRelDiff, onBackend, randomArray, setup } from './helpers.js';

before(setup);

function sameOnBoth(f: () => tf.Tensor[], tol: number, what: string): void {
  const wasm = onBackend('wasm', f);
  const cpu = onBackend('cpu', f);
  assert.equal(wasm.length, cpu.length);
  for (let i = 0; i < wasm.length; i++) {
    const d = maxRelDiff(wasm[i], cpu[i]);
    assert.ok(d <= tol, `${what}: output ${i} differs from cpu by ${d}`);
  }
}

const rand = (shape: number[], seed: number) =>
  tf.tensor(randomArray(tf.util.sizeFromShape(shape), seed), shape);

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
          const a2 = rand(ta ? [7, 5] : [5, 7], 1) as tf.Tensor2D;
          const b2 = rand(tb ? [3, 7] : [7, 3], 2) as tf.Tensor2D;
          const a3 = rand(ta ? [2, 7, 5] : [2, 5, 7], 3) as tf.Tensor3D;
          const b3 = rand(tb ? [2, 3, 7] : [2, 7, 3], 4) as tf.Tensor3D;
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
        const x = rand([6, 9], 5);
        const w = rand([9, 4], 6);
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
        () => [tf.cast(tf.tile(tf.cast(tf.mul(rand(shape, 7), 10), dtype), reps), 'float32')],
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
            const x = rand(shape, 9);
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
