/**
 * A small deterministic training run, shared by the browser page (test/tfjs/browser-page.ts, run in
 * Chromium from the esbuild bundle) and the Node test that checks the page's result against the same
 * run in Node: a 2-layer MLP on a seeded 3-class problem, trained with AdamW by model.fit.
 */
import type * as tfc from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { AdamW as AdamWClass } from '#decoupled/tfjs/index.js';

export interface TaskResult {
  backend: string;
  losses: number[];
  weights: number[][];
  iterations: number;
  accuracy: number;
}

/** mulberry32 (as test/tfjs/helpers.ts; repeated so the page bundle needs no Node helper). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export async function trainTask(
  tf: typeof tfc,
  layers: typeof tfl,
  AdamW: typeof AdamWClass,
): Promise<TaskResult> {
  const rand = prng(42);
  const n = 240;
  const xs = new Float32Array(n * 2);
  const labels = new Int32Array(n);
  // Three noisy blobs around the vertices of a triangle.
  const centers = [
    [0, 1],
    [-0.87, -0.5],
    [0.87, -0.5],
  ];
  for (let i = 0; i < n; i++) {
    const c = i % 3;
    labels[i] = c;
    xs[2 * i] = centers[c][0] + (rand() - 0.5) * 0.8;
    xs[2 * i + 1] = centers[c][1] + (rand() - 0.5) * 0.8;
  }
  const x = tf.tensor2d(xs, [n, 2]);
  const y = tf.cast(tf.oneHot(tf.tensor1d(labels, 'int32'), 3), 'float32');
  const model = layers.sequential({
    layers: [
      layers.layers.dense({ inputShape: [2], units: 16, activation: 'relu' }),
      layers.layers.dense({ units: 3, activation: 'softmax' }),
    ],
  });
  // Seeded initial weights, so the page and Node start from the same point.
  model.setWeights(
    model.getWeights().map((w) => {
      const v = new Float32Array(w.size);
      for (let i = 0; i < v.length; i++) v[i] = (rand() - 0.5) * 0.8;
      return tf.tensor(v, w.shape);
    }),
  );
  const optimizer = new AdamW({ lr: 0.03, weightDecay: 0.01, clipNorm: 5 });
  model.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  const history = await model.fit(x, y, { batchSize: 32, epochs: 15, shuffle: false, verbose: 0 });
  const acc = history.history.acc ?? history.history.accuracy;
  const result: TaskResult = {
    backend: tf.getBackend(),
    losses: (history.history.loss as number[]).map(Number),
    weights: model.getWeights().map((w) => Array.from(w.dataSync())),
    iterations: optimizer.iterations,
    accuracy: Number(acc[acc.length - 1]),
  };
  model.dispose();
  tf.dispose([x, y]);
  return result;
}
