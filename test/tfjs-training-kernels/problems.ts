/**
 * The training kernels' test problems, shared by the kernel tests (wasm against cpu) and the thread
 * tests (1 against 2 threads): each returns a function that builds its inputs from seeded values
 * and returns the op's outputs and gradients, to run on any backend with `onBackend`.
 */

import * as tf from '@tensorflow/tfjs-core';
import { batchNormTrainingOp } from '#decoupled/tfjs/training-kernels/index.js';
import { randomArray, randomTensor } from './helpers.js';

export type Shape4 = [number, number, number, number];
export type Pad =
  | 'same'
  | 'valid'
  | number
  | [[number, number], [number, number], [number, number], [number, number]];

/** d/dx and d/dw of sum(conv(x, w) * r) for a fixed random r. */
export function convGrads(
  xShape: number[],
  wShape: number[],
  strides: number,
  pad: Pad,
  seed: number,
  depthwise = false,
): () => tf.Tensor[] {
  return () => {
    const x = tf.tensor4d(randomArray(tf.util.sizeFromShape(xShape), seed), xShape as Shape4);
    const w = tf.tensor4d(randomArray(tf.util.sizeFromShape(wShape), seed + 1), wShape as Shape4);
    const f = (a: tf.Tensor, b: tf.Tensor) =>
      depthwise
        ? tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, strides, pad as 'same')
        : tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, strides, pad as 'same');
    const y = f(x, w);
    const r = tf.tensor(randomArray(y.size, seed + 2), y.shape);
    const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(f(a, b), r)));
    return g([x, w]);
  };
}

export function pool(
  kind: 'max' | 'avg',
  x: tf.Tensor,
  size: number,
  strides: number,
  pad: Pad,
): tf.Tensor {
  const x4 = x as tf.Tensor4D;
  return kind === 'max'
    ? tf.maxPool(x4, size, strides, pad as 'same')
    : tf.avgPool(x4, size, strides, pad as 'same');
}

/** d/dx of sum(pool(x) * r). */
export function poolGrad(
  kind: 'max' | 'avg',
  xShape: number[],
  size: number,
  strides: number,
  pad: Pad,
  seed: number,
): () => tf.Tensor[] {
  return () => {
    const x = tf.tensor4d(spacedArray(tf.util.sizeFromShape(xShape), seed), xShape as Shape4);
    const y = pool(kind, x, size, strides, pad);
    const r = tf.tensor(randomArray(y.size, seed + 1), y.shape);
    return [tf.grad((a: tf.Tensor) => tf.sum(tf.mul(pool(kind, a, size, strides, pad), r)))(x)];
  };
}

/**
 * A shuffled grid of values 0.01 apart: no two pool inputs are within 2 eps of each other, so a
 * finite difference never crosses a max-pool kink.
 */
export function spacedArray(n: number, seed: number): Float32Array {
  const key = randomArray(n, seed);
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => key[a] - key[b]);
  const out = new Float32Array(n);
  order.forEach((k, i) => {
    out[k] = (i - n / 2) * 0.01;
  });
  return out;
}

/** The BatchNorm epsilon of the BatchNorm problems. */
export const BN_EPS = 1e-3;

/** The unfused reference: tfjs-layers' own training-mode graph. */
export function unfusedBatchNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor): tf.Tensor[] {
  const axes = x.shape.slice(0, -1).map((_, i) => i);
  const { mean, variance } = tf.moments(x, axes);
  return [tf.batchNorm(x, mean, variance, beta, gamma, BN_EPS), mean, variance];
}

/** The fused op (wasm only). */
export function fusedBatchNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor): tf.Tensor[] {
  return batchNormTrainingOp(x, gamma, beta, BN_EPS);
}

/** Outputs, then d/d(x, gamma, beta) of sum(y r) + sum(mean r1) + sum(var r2). */
export function batchNormValuesAndGrads(
  shape: number[],
  offset: number,
  op: typeof fusedBatchNorm,
  throughStats: boolean,
): () => tf.Tensor[] {
  return () => {
    const c = shape[shape.length - 1];
    const x = tf.add(tf.tensor(randomArray(tf.util.sizeFromShape(shape), 3), shape), offset);
    const gamma = tf.add(tf.tensor1d(randomArray(c, 5)), 1.5);
    const beta = tf.tensor1d(randomArray(c, 7));
    const r = tf.tensor(randomArray(x.size, 11), shape);
    const r1 = tf.tensor1d(randomArray(c, 13));
    const r2 = tf.tensor1d(randomArray(c, 17));
    const loss = (a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
      const [y, mean, variance] = op(a, g, b);
      const main = tf.sum(tf.mul(y, r));
      return throughStats
        ? tf.addN([main, tf.sum(tf.mul(mean, r1)), tf.sum(tf.mul(variance, r2))])
        : main;
    };
    return [...op(x, gamma, beta), ...tf.grads(loss)([x, gamma, beta])];
  };
}

/** Value and gradient of sum(relu(x) r), with exact zeros in x (rounded to a grid of 1/4). */
export function reluValueAndGrad(shape: number[], seed: number): () => tf.Tensor[] {
  return () => {
    const x = tf.div(tf.round(tf.mul(randomTensor(shape, seed), 4)), 4);
    const r = randomTensor(shape, seed + 2);
    const { value, grad } = tf.valueAndGrad((a: tf.Tensor) => tf.sum(tf.mul(tf.relu(a), r)))(x);
    return [value, grad];
  };
}

/** A problem to run on wasm (1 and 2 threads) and on cpu, compared at `tol`. */
export interface ThreadProblem {
  name: string;
  wasm: () => tf.Tensor[];
  cpu: () => tf.Tensor[];
  tol: number;
}

/** Forward output, then d/dx and d/dw of sum(conv(x, w) * r). */
function convValueAndGrads(xs: number[], ws: number[], strides: number, pad: Pad, seed: number) {
  return () => {
    const x = tf.tensor4d(randomArray(tf.util.sizeFromShape(xs), seed), xs as Shape4);
    const w = tf.tensor4d(randomArray(tf.util.sizeFromShape(ws), seed + 1), ws as Shape4);
    return [tf.conv2d(x, w, strides, pad as 'same'), ...convGrads(xs, ws, strides, pad, seed)()];
  };
}

/**
 * The kernels that split over threads, on shapes whose splits are uneven or fall inside a SIMD
 * tile's reach: the SIMD filter gradient over blocks of input channels (a block with the ci
 * remainder, co remainders) or, with one input channel, over taps; the direct forward conv and
 * the stride-1 input gradient over output rows; col2im (strided input gradient, im2col route) over
 * input rows with batch 1 and 3; BatchNorm's output passes over rows (odd channel counts); the
 * ReLU gradient over 16-float blocks; the 2x2 max-pool gradient over images.
 */
export function threadProblems(): ThreadProblem[] {
  const conv = (xs: number[], ws: number[], strides: number, pad: Pad, seed: number) => {
    const f = convValueAndGrads(xs, ws, strides, pad, seed);
    return { name: `conv2d x ${xs} w ${ws} stride ${strides} ${pad}`, wasm: f, cpu: f, tol: 1e-5 };
  };
  const bn = (shape: number[]) => ({
    name: `batchNorm [${shape}]`,
    wasm: batchNormValuesAndGrads(shape, 0.25, fusedBatchNorm, true),
    cpu: batchNormValuesAndGrads(shape, 0.25, unfusedBatchNorm, true),
    tol: 2e-5,
  });
  const relu = (shape: number[]) => {
    const f = reluValueAndGrad(shape, 3);
    return { name: `relu [${shape}]`, wasm: f, cpu: f, tol: 0 };
  };
  const maxPool = (xs: number[]) => {
    const f = poolGrad('max', xs, 2, 2, 'valid', 9);
    return { name: `maxPool 2x2 x ${xs}`, wasm: f, cpu: f, tol: 0 };
  };
  return [
    conv([3, 9, 7, 5], [3, 3, 5, 12], 1, 'same', 1),
    conv([1, 9, 9, 8], [3, 3, 8, 16], 2, 'same', 4),
    conv([2, 8, 8, 3], [3, 3, 3, 16], 1, 'valid', 7),
    conv([3, 6, 5, 4], [1, 1, 4, 8], 2, 'valid', 10),
    conv([4, 14, 14, 16], [3, 3, 16, 32], 2, 'same', 13),
    conv([2, 10, 10, 16], [3, 3, 16, 16], 1, 'same', 16),
    conv([2, 7, 6, 13], [3, 3, 13, 12], 2, 'same', 19),
    conv([3, 12, 12, 1], [3, 3, 1, 8], 1, 'same', 22),
    bn([2, 4, 4, 16]),
    bn([2, 3, 3, 37]),
    bn([1, 5, 3, 7]),
    bn([5, 9]),
    relu([1, 3, 5, 7]),
    relu([4, 6, 6, 16]),
    maxPool([3, 9, 7, 6]),
    maxPool([2, 8, 8, 3]),
  ];
}
