/**
 * Shared setup for the wasm training-kernel tests: loads the wasm and cpu backends once, registers
 * the kernels, and runs a function on a chosen backend with plain arrays in and out, so the two
 * backends see identical inputs.
 */

import assert from 'node:assert/strict';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
// tfjs-core's node bundle registers no gradients; tfjs-layers' bundle registers them all.
import '@tensorflow/tfjs-layers';
import { registerWasmTrainingKernels } from '#decoupled/tfjs/training-kernels/index.js';
import type { ModelConfig } from '#harness/experiments/config.js';
import { buildModel } from '#harness/experiments/models.js';

let ready: Promise<void> | undefined;

/** Initializes both backends (wasm loads its binary from node_modules) and the kernels. */
export function setup(): Promise<void> {
  ready ??= (async () => {
    registerWasmTrainingKernels();
    await tf.setBackend('cpu');
    await tf.setBackend('wasm');
    await tf.ready();
  })();
  return ready;
}

/** Deterministic values in [-1, 1) from a 32-bit LCG. */
export function randomArray(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

export type Backend = 'cpu' | 'wasm';

/** Runs `f` on `backend` inside tidy and returns every output as a flat Float32Array. */
export function onBackend(backend: Backend, f: () => tf.Tensor[]): Float32Array[] {
  const previous = tf.getBackend();
  tf.setBackend(backend);
  try {
    const outs = tf.tidy(f);
    const values = outs.map((t) => t.dataSync() as Float32Array);
    tf.dispose(outs);
    return values;
  } finally {
    tf.setBackend(previous);
  }
}

/** Largest |a - b| relative to max(1, max |b|); fails on a length mismatch. */
export function maxRelDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Number.POSITIVE_INFINITY;
  let scale = 1;
  for (const v of b) scale = Math.max(scale, Math.abs(v));
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= worst)) worst = Number.isNaN(d) ? Number.POSITIVE_INFINITY : d;
  }
  return worst / scale;
}

/** Asserts that every output of `a` agrees with `b`'s within relative tolerance `tol`. */
export function assertClose(a: Float32Array[], b: Float32Array[], tol: number, what: string): void {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) {
    const d = maxRelDiff(a[i], b[i]);
    assert.ok(d <= tol, `${what}: output ${i} differs by ${d}`);
  }
}

/** Runs `f` on wasm and on cpu and asserts each output agrees within relative tolerance `tol`. */
export function sameOnBoth(f: () => tf.Tensor[], tol: number, what: string): void {
  assertClose(onBackend('wasm', f), onBackend('cpu', f), tol, `${what} (wasm vs cpu)`);
}

/** A tensor of `shape` with the seeded values of randomArray. */
export function randomTensor(shape: number[], seed: number): tf.Tensor {
  return tf.tensor(randomArray(tf.util.sizeFromShape(shape), seed), shape);
}

/**
 * Losses of `steps` SGD steps of a width-4 ResNet-8 on a fixed 5-image batch (12x12x1, 3 classes)
 * on the current backend, then its inference-mode loss (which reads the moving statistics).
 */
export function resnetLosses(steps: number): number[] {
  const config: ModelConfig = { kind: 'resnet', blocksPerStage: 1, width: 4 };
  const model = buildModel(config, [12, 12, 1], 3, 9);
  const optimizer = tf.train.sgd(0.05);
  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const x = tf.tensor4d(randomArray(5 * 12 * 12, 47), [5, 12, 12, 1]);
  const y = tf.oneHot(tf.tensor1d([0, 1, 2, 0, 1], 'int32'), 3);
  const losses: number[] = [];
  for (let i = 0; i < steps; i++) {
    const cost = optimizer.minimize(
      () => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor),
      true,
      variables,
    ) as tf.Scalar;
    losses.push(cost.dataSync()[0]);
    cost.dispose();
  }
  const evalLoss = tf.tidy(() => tf.losses.softmaxCrossEntropy(y, model.predict(x) as tf.Tensor));
  losses.push(evalLoss.dataSync()[0]);
  tf.dispose([x, y, evalLoss]);
  optimizer.dispose();
  model.dispose();
  return losses;
}
