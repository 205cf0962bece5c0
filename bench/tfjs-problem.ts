/**
 * The optimizer-step problem the tfjs benchmarks share (bench/tfjs.ts in Node, bench/browser-page.ts
 * in Chromium): `variables` float32 variables of `shape` with seeded uniform values and gradients,
 * one set per optimizer so none shares state; and the median of the timings.
 */
import type * as tfc from '@tensorflow/tfjs-core';

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Variables in [-1, 1) and gradients in [-0.01, 0.01), seeded from `seed`. */
export function problem(tf: typeof tfc, variables: number, shape: [number, number], seed: number) {
  const vars = Array.from({ length: variables }, (_, i) =>
    tf.variable(tf.randomUniform(shape, -1, 1, 'float32', seed + i)),
  );
  const grads = vars.map((v, i) => ({
    name: v.name,
    tensor: tf.randomUniform(shape, -1e-2, 1e-2, 'float32', seed + 100 + i),
  }));
  return { vars, grads };
}
